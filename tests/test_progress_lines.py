"""Long work shows progress: ``tuneforge score`` (and every round the validator scores, localnet's
first one included) logs "scoring N clips …" and one line per clip and step on ``scoring.progress``."""

import argparse
import logging
import re

import soundfile as sf

from scoring import cli
from scoring.music_theory import Key
from scoring.synth import render_piece


def _score(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(["score", *argv])
    return args.func(args)


def _wav(tmp_path, name: str, seed: int):
    x = render_piece(key=Key(2, "minor"), tempo_bpm=96, seconds=3.0, sample_rate=22_050, seed=seed)
    path = tmp_path / name
    sf.write(path, x.T, 22_050, subtype="PCM_16")
    return path


def _messages(caplog, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name and r.levelno == logging.INFO]


def test_a_round_of_files_logs_every_clip_and_step(tmp_path, caplog) -> None:
    a, b = _wav(tmp_path, "a.wav", 1), _wav(tmp_path, "b.wav", 2)
    caplog.set_level(logging.INFO, logger="scoring")
    assert _score([str(a), str(b), "--prompt", "dark folk", "--duration", "3", "--round", "--json"]) == 0
    lines = _messages(caplog, "scoring.progress")
    assert lines[0] == "scoring 2 clips …"
    assert [re.sub(r"in [0-9.]+ s", "in T s", line) for line in lines[1:]] == [
        "clip 1/2 (a.wav) analysed in T s",
        "clip 2/2 (b.wav) analysed in T s",
        "clip 1/2 (a.wav) measured in T s",
        "clip 2/2 (b.wav) measured in T s",
        "scored 2 clips in T s",
    ]


def test_files_scored_one_by_one_are_named_first(tmp_path, caplog) -> None:
    a, b = _wav(tmp_path, "a.wav", 1), _wav(tmp_path, "b.wav", 2)
    caplog.set_level(logging.INFO, logger="scoring")
    assert _score([str(a), str(b), "--prompt", "dark folk", "--duration", "3", "--json"]) == 0
    assert _messages(caplog, "scoring.cli") == [f"file 1/2: {a}", f"file 2/2: {b}"]
    assert _messages(caplog, "scoring.progress").count("scoring 1 clip …") == 2


def test_a_clip_that_fails_its_intake_gets_no_analysed_line(tmp_path, caplog) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(silent, [[0.0, 0.0]] * 22_050 * 3, 22_050, subtype="PCM_16")
    caplog.set_level(logging.INFO, logger="scoring")
    _score([str(silent), "--prompt", "x", "--duration", "3", "--json"])
    lines = _messages(caplog, "scoring.progress")
    assert lines[0] == "scoring 1 clip …" and lines[-1].startswith("scored 1 clip in ")
    assert not any("analysed" in line or "measured" in line for line in lines)
