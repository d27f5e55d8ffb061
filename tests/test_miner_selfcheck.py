"""``tuneforge miner --self-check``: one clip per available backend, measured against the request."""

import importlib.util

import pytest
from test_miner_doubles import SineBackend

from scoring.music_theory import Key
from tuneforge import cli
from tuneforge.generation.base import BackendUnavailable, GenerationSettings
from tuneforge.miner import selfcheck
from tuneforge.miner.selfcheck import (
    Measurement,
    SelfCheckRow,
    check_backend,
    format_table,
    musicgen_model_present,
    run_self_check,
)
from tuneforge.spec import spec_from_fields

SPEC = spec_from_fields(prompt="jazz", tempo_bpm=100, key_signature="F major", duration_seconds=2.0, seed=3)
ABSENT_MODEL = "tuneforge-tests/no-such-model"


def _sine_builder(settings: GenerationSettings):
    return SineBackend()


def test_backend_clip_is_measured():
    row = check_backend("procedural", GenerationSettings(), SPEC, builder=_sine_builder)
    assert row.status == "ok"
    assert row.model_id == "test-sine"
    assert row.measured.duration_seconds == pytest.approx(2.0)
    assert row.generation_time_s >= 0


def test_musicgen_is_skipped_when_its_model_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    built = []
    row = check_backend("musicgen", GenerationSettings(model=ABSENT_MODEL), SPEC, builder=built.append)
    assert row.status == "skipped"
    assert "not in the local Hugging Face cache" in row.reason
    assert built == []  # never tried to build (which could download)


def test_model_directory_detection(tmp_path):
    assert musicgen_model_present(str(tmp_path))[0] is False
    (tmp_path / "config.json").write_text("{}")
    assert musicgen_model_present(str(tmp_path)) == (True, str(tmp_path))


@pytest.mark.parametrize(
    "error, reason",
    [(BackendUnavailable("needs a GPU"), "needs a GPU"), (ImportError("no module x"), "backend not installed")],
)
def test_unavailable_backend_is_skipped_with_reason(error, reason):
    def builder(settings):
        raise error

    row = check_backend("procedural", GenerationSettings(), SPEC, builder=builder)
    assert row.status == "skipped"
    assert reason in row.reason


def test_backend_that_raises_is_failed():
    backend = SineBackend()
    backend.fail = True
    row = check_backend("procedural", GenerationSettings(), SPEC, builder=lambda s: backend)
    assert row.status == "failed"
    assert "synth exploded" in row.reason


def test_table_shows_requested_next_to_measured():
    rows = [
        SelfCheckRow("procedural", "ok", "", SPEC, "m", 0.5, Measurement(200.4, Key(5, "major"), 2.0)),
        SelfCheckRow("other", "ok", "", SPEC, "m", 0.5, Measurement(131.0, Key(2, "minor"), 2.0)),
        SelfCheckRow("musicgen", "skipped", "model absent", SPEC),
    ]
    table = format_table(rows)
    assert "100 / 200.4 (ok (double-time))" in table
    assert "F major / F major (exact)" in table
    assert "F major / D minor (relative)" in table
    assert "100 / 131.0 (off)" in table
    assert "2 / 2.000" in table


def test_cli_self_check_prints_table_and_exit_status(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(selfcheck, "build_backend", _sine_builder)
    status = cli.main(["miner", "--self-check", "--check.duration", "1.5", "--generation.model", ABSENT_MODEL])
    out = capsys.readouterr().out
    assert status == 0
    assert "procedural  ok" in out
    assert "musicgen: skipped" in out

    def broken(settings):
        backend = SineBackend()
        backend.fail = True
        return backend

    monkeypatch.setattr(selfcheck, "build_backend", broken)
    assert cli.main(["miner", "--self-check", "--generation.backend", "procedural", "--check.duration", "1"]) == 1
    out = capsys.readouterr().out
    assert "musicgen" not in out  # only the named backend is checked


def test_cli_rejects_unworkable_flag(capsys):
    assert cli.main(["miner", "--self-check", "--miner.queue_size", "0"]) == 2
    assert "--miner.queue_size" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("tuneforge.generation.procedural.backend") is None, reason="procedural backend absent"
)
def test_self_check_with_the_real_procedural_backend():
    spec = spec_from_fields(prompt="upbeat jazz", tempo_bpm=112, key_signature="F major", duration_seconds=4.0, seed=1)
    (row,) = run_self_check(GenerationSettings(sample_rate=22_050), spec, backends=("procedural",))
    assert row.status == "ok", row.reason
    assert row.measured.duration_seconds == pytest.approx(4.0)
