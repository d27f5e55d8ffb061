"""``tuneforge score``: JSON line shape, table output, unreadable files, exit codes."""

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


def _wav(tmp_path, name="clip.wav", seconds=4.0):
    x = render_piece(key=Key(2, "minor"), tempo_bpm=96, seconds=seconds, sample_rate=22_050, seed=5)
    path = tmp_path / name
    sf.write(path, x.T, 22_050, subtype="PCM_16")
    return path


def test_json_lines_and_unreadable_file(tmp_path, capsys):
    good = _wav(tmp_path)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....garbage")
    rc, out = _run([str(good), str(bad), "--prompt", "dark folk", "--duration", "4", "--tempo", "96",
                    "--key", "D minor", "--instruments", "guitar, violin", "--json"], capsys)
    assert rc == 0
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert len(lines) == 2
    ok, err = lines
    assert set(ok) == {"file", "final_score", "composite", "signals", "penalties", "unavailable", "error"}
    assert ok["file"] == str(good) and ok["error"] is None and 0 < ok["final_score"] <= 1
    assert set(ok["signals"]) == set(C.SIGNAL_WEIGHTS) and set(ok["penalties"]) == set(C.PENALTIES)
    assert "clap" in ok["unavailable"] and "attribute" not in ok["unavailable"]
    assert err["final_score"] == 0 and err["error"].startswith("unreadable file")


def test_all_unreadable_exit_1(tmp_path, capsys):
    rc, out = _run([str(tmp_path / "missing.wav"), "--prompt", "x", "--duration", "4", "--json"], capsys)
    assert rc == 1
    assert json.loads(out)["error"].startswith("unreadable file: no such file")


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
