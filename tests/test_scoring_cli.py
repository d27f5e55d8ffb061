"""``tuneforge score``: JSON line shape, table output, unreadable files, exit codes, ``--round``."""

import argparse
import json
import logging

import soundfile as sf

from scoring import cli
from scoring import constants as C
from scoring.music_theory import Key
from scoring.synth import render_piece


def _run(argv, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(["score", *argv])
    rc = args.func(args)
    captured = capsys.readouterr()
    _run.last_err = captured.err
    return rc, captured.out


def _wav(tmp_path, name="clip.wav", seconds=4.0, seed=5):
    x = render_piece(key=Key(2, "minor"), tempo_bpm=96, seconds=seconds, sample_rate=22_050, seed=seed)
    path = tmp_path / name
    sf.write(path, x.T, 22_050, subtype="PCM_16")
    return path


def test_json_lines_and_unreadable_file(tmp_path, capsys):
    good = _wav(tmp_path)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....garbage")
    rc, out = _run([str(good), str(bad), "--prompt", "dark folk", "--duration", "4", "--tempo", "96",
                    "--key", "D minor", "--instruments", "guitar, violin", "--json"], capsys)
    assert rc == 1  # one file failed; the good one is still scored and printed
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert len(lines) == 2
    ok, err = lines
    assert set(ok) == {"file", "final_score", "composite", "signals", "penalties", "unavailable", "error"}
    assert ok["file"] == str(good) and ok["error"] is None and 0 < ok["final_score"] <= 1
    assert set(ok["signals"]) == set(C.SIGNAL_WEIGHTS) and set(ok["penalties"]) == set(C.PENALTIES)
    assert "clap" in ok["unavailable"] and "attribute" not in ok["unavailable"]
    assert err["file"] == str(bad) and err["final_score"] is None and err["error"].startswith("unreadable file")
    assert err["reason"] == "unsupported_container"
    stderr = _run.last_err.strip().splitlines()
    assert stderr == [f"error: {bad}: {err['error'].removeprefix('unreadable file: ')}"]


def test_all_unreadable_exit_1(tmp_path, capsys):
    rc, out = _run([str(tmp_path / "missing.wav"), "--prompt", "x", "--duration", "4", "--json"], capsys)
    assert rc == 1
    line = json.loads(out)
    assert line["error"].startswith("unreadable file: not_found: no such file") and line["reason"] == "not_found"


def test_directory_is_one_stderr_line_and_no_column(tmp_path, capsys):
    good = _wav(tmp_path, name="good.wav")
    folder = tmp_path / "clips"
    folder.mkdir()
    rc, out = _run([str(folder), str(good), "--prompt", "x", "--duration", "4"], capsys)
    assert rc == 1
    assert _run.last_err == f"error: {folder}: is_directory: a directory, not an audio file\n"
    header = out.splitlines()[0]
    assert "good.wav" in header and "clips" not in out
    assert len(out.splitlines()[1].split()) == 2  # "final_score" and one column


def test_every_file_fails_prints_no_table(tmp_path, capsys):
    rc, out = _run([str(tmp_path), "/dev/zero", "--prompt", "x", "--duration", "4"], capsys)
    assert rc == 1 and out == ""
    assert _run.last_err.splitlines() == [
        f"error: {tmp_path}: is_directory: a directory, not an audio file",
        "error: /dev/zero: not_regular_file: not a regular file (a device, FIFO or socket is never read)",
    ]


def test_intake_bounds_apply_to_files(tmp_path, capsys):
    """The validator's limits: a 1 Hz WAV is refused from its header, not resampled into gigabytes."""
    import struct

    fmt = struct.pack("<HHIIHH", 1, 1, 1, 2, 2, 16)
    path = tmp_path / "one_hertz.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + 2000) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", 2000) + b"\x01\x00" * 1000)
    rc, out = _run([str(path), "--prompt", "x", "--duration", "4", "--json"], capsys)
    assert rc == 1 and json.loads(out)["reason"] == "bad_sample_rate"
    assert "bad_sample_rate: 1 Hz outside 8000-96000 Hz" in _run.last_err


def test_table_output(tmp_path, capsys):
    good = _wav(tmp_path)
    rc, out = _run([str(good), "--prompt", "x", "--duration", "4"], capsys)
    assert rc == 0
    assert "final_score" in out and "artifact_penalty" in out and "clip.wav" in out


def test_bad_duration_is_a_clear_error(tmp_path, capsys):
    rc, out = _run([str(_wav(tmp_path)), "--prompt", "x", "--duration", "0"], capsys)
    assert rc == 2 and out == ""
    assert "--duration must be positive" in _run.last_err


def test_models_dir_without_loader_falls_back(tmp_path, capsys, caplog, monkeypatch):
    import scoring.models as models_pkg

    monkeypatch.delattr(models_pkg, "load_models", raising=False)
    good = _wav(tmp_path)
    # bittensor's import raises the level of loggers that already exist; ask for WARNING explicitly.
    with caplog.at_level(logging.WARNING, logger="scoring.cli"):
        rc, out = _run([str(good), "--prompt", "x", "--duration", "4", "--models-dir", str(tmp_path), "--json"], capsys)
    assert rc == 0
    assert "neural models are unavailable" in caplog.text
    line = json.loads(out)
    assert line["final_score"] > 0 and "clap" in line["unavailable"]


def test_long_names_are_never_cut(tmp_path, capsys):
    long_name = "a_really_long_descriptive_clip_name_from_some_miner_0001.wav"
    a = _wav(tmp_path, name=long_name)
    b = _wav(tmp_path, name="short.wav", seconds=3.0)
    rc, out = _run([str(a), str(b), "--prompt", "x", "--duration", "4"], capsys)
    assert rc == 0
    lines = out.splitlines()
    assert any(line.strip() == f"#1  {long_name}" for line in lines)
    assert any(line.strip() == "#2  short.wav" for line in lines)
    assert lines[3].split() == ["#1", "#2"]


def test_same_base_name_in_two_folders_gets_two_labels(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = _wav(tmp_path / "x", name="clip.wav")
    b = _wav(tmp_path / "y", name="clip.wav")
    rc, out = _run([str(a), str(b), "--prompt", "x", "--duration", "4"], capsys)
    assert rc == 0
    assert out.splitlines()[0].split() == ["clip.wav", "clip.wav#2"]
    assert cli.file_hotkeys(["a/c.wav", "b/c.wav", "c.wav#2", "c.wav"]) == ["c.wav", "c.wav#2", "c.wav#2#2", "c.wav#3"]


def _fingerprints(lines):
    return [line["penalties"]["fingerprint_penalty"] for line in lines]


def test_round_penalises_the_second_of_two_identical_files(tmp_path, capsys):
    first = _wav(tmp_path, name="first.wav", seconds=6.0)
    second = tmp_path / "second.wav"
    second.write_bytes(first.read_bytes())
    args = [str(first), str(second), "--prompt", "dark folk", "--duration", "6", "--json"]

    rc, out = _run([*args, "--round"], capsys)
    assert rc == 0
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert [line["hotkey"] for line in lines] == ["first.wav", "second.wav"]
    assert _fingerprints(lines) == [1.0, 0.0]
    assert lines[0]["final_score"] > 0 and lines[1]["final_score"] == 0
    assert lines[0]["signals"]["diversity"] is not None  # the other file of the round counts

    # delivered in argument order: swap the arguments and the other copy keeps its score
    rc, out = _run([str(second), str(first), *args[2:], "--round"], capsys)
    assert [json.loads(line)["hotkey"] for line in out.strip().splitlines()] == ["second.wav", "first.wav"]
    assert _fingerprints([json.loads(line) for line in out.strip().splitlines()]) == [1.0, 0.0]

    rc, out = _run(args, capsys)  # without --round each file is scored alone
    assert rc == 0
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert _fingerprints(lines) == [1.0, 1.0] and "hotkey" not in lines[0]
    assert lines[0]["signals"]["diversity"] is None


def test_round_with_an_unreadable_file_scores_the_rest(tmp_path, capsys):
    a = _wav(tmp_path, name="a.wav")
    b = _wav(tmp_path, name="b.wav", seed=11)
    rc, out = _run([str(a), str(tmp_path / "gone.wav"), str(b), "--prompt", "x", "--duration", "4", "--round", "--json"], capsys)
    assert rc == 1
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert [line["hotkey"] for line in lines] == ["a.wav", None, "b.wav"]
    assert lines[1]["reason"] == "not_found" and lines[0]["final_score"] > 0 and lines[2]["final_score"] > 0
    assert "gone.wav: not_found" in _run.last_err
