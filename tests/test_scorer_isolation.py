"""Round isolation: nothing one clip contains can stop a round or change another clip's score.

Each attack is a round of two honest clips plus one hostile clip, compared with the round of the
two honest clips alone: the hostile clip is a hard zero with its reason, the honest breakdowns
are byte-identical to the round without it, and the hostile clip never reaches the history.
"""

import io

import numpy as np
import pytest
import soundfile as sf

from scoring.features import Features
from scoring.history import MinerHistory
from scoring.models import ModelBundle
from scoring.music_theory import Key
from scoring.request import ScoringRequest
from scoring.scorer import RoundEntry, Scorer
from scoring.synth import render_piece

SR = 22_050
SECONDS = 4.0
MARK = 0.0123  # sample value planted at frame 0 of the hostile clip: lets a fault pick it out


def _req() -> ScoringRequest:
    return ScoringRequest(prompt="calm piano piece", duration_seconds=SECONDS, tempo_bpm=100.0,
                          key_signature="C major", time_signature="4/4")


def _honest(seed: int) -> np.ndarray:
    return render_piece(key=Key(0, "major"), tempo_bpm=100, seconds=SECONDS, sample_rate=SR, seed=seed)


def _hostile() -> np.ndarray:
    x = _honest(7).copy()
    x[:, 0] = MARK
    return x


def _is_hostile(features) -> bool:
    return float(features.samples[0, 0]) == pytest.approx(MARK)


def _entries(*clips: tuple[str, np.ndarray | None]) -> list[RoundEntry]:
    return [RoundEntry(hotkey=k, samples=x, sample_rate=SR, request=_req(), generation_seconds=1.0 + i)
            for i, (k, x) in enumerate(clips)]


def _score(entries, models=None):
    history = MinerHistory()
    return Scorer(models=models, history=history).score_round(entries), history


@pytest.fixture(scope="module")
def honest():
    return {"a": _honest(1), "b": _honest(2)}


@pytest.fixture(scope="module")
def baseline(honest):
    """The honest round alone: breakdown dicts by hotkey, and the history it leaves."""
    results, history = _score(_entries(("a", honest["a"]), ("b", honest["b"])))
    assert all(r.error is None and r.final_score > 0 for r in results)
    return {"a": results[0].to_dict(), "b": results[1].to_dict()}, history


def _check_isolated(results, baseline, history, *, hostile_index: int, reason: str) -> None:
    base, base_history = baseline
    hostile = results[hostile_index]
    assert hostile.final_score == 0.0 and hostile.error is not None and reason in hostile.error
    honest = [r for i, r in enumerate(results) if i != hostile_index]
    assert [r.to_dict() for r in honest] == [base["a"], base["b"]]
    assert history.hotkeys() == ["a", "b"]
    for hk in ("a", "b"):
        assert np.array_equal(history.embeddings(hk), base_history.embeddings(hk))


def _wav_float32(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples.T, SR, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def test_issue_crash_oversized_float_wav_is_one_clip_zero(honest, baseline):
    """Issue 8: a float32 WAV with finite samples ~1e18 raised ParameterError outside any guard."""
    data, rate = sf.read(io.BytesIO(_wav_float32(_honest(3) * np.float32(1e18))), dtype="float32", always_2d=True)
    huge = data.T
    assert np.all(np.isfinite(huge)) and float(np.max(np.abs(huge))) > 1e17 and rate == SR
    results, history = _score(_entries(("a", honest["a"]), ("x", huge), ("b", honest["b"])))
    _check_isolated(results, baseline, history, hostile_index=1, reason="Input must be finite")
    assert results[1].error.startswith("invalid audio")


def test_float32_max_samples_are_one_clip_zero(honest, baseline):
    extreme = np.full((2, int(SECONDS * SR)), np.finfo(np.float32).max, dtype=np.float32)
    extreme[:, ::2] *= -1
    results, history = _score(_entries(("a", honest["a"]), ("b", honest["b"]), ("x", extreme)))
    _check_isolated(results, baseline, history, hostile_index=2, reason="invalid audio")


def test_features_that_raise_fail_only_their_clip(honest, baseline, monkeypatch):
    real = Features.__dict__["fingerprint"].func

    def fingerprint(self):
        if _is_hostile(self):
            raise MemoryError("fingerprint exploded")
        return real(self)

    monkeypatch.setattr(Features, "fingerprint", property(fingerprint))
    results, history = _score(_entries(("x", _hostile()), ("a", honest["a"]), ("b", honest["b"])))
    _check_isolated(results, baseline, history, hostile_index=0, reason="fingerprint exploded")


def test_silence_check_that_raises_fails_only_its_clip(honest, baseline, monkeypatch):
    from scoring import scorer as scorer_mod

    real = scorer_mod.silence_reason

    def silence_reason(features):
        if _is_hostile(features):
            raise FloatingPointError("overflow in rms")
        return real(features)

    monkeypatch.setattr(scorer_mod, "silence_reason", silence_reason)
    results, history = _score(_entries(("a", honest["a"]), ("x", _hostile()), ("b", honest["b"])))
    _check_isolated(results, baseline, history, hostile_index=1, reason="silence check failed")


def test_analysis_a_peer_reads_that_raises_fails_the_peer_not_the_reader(honest, monkeypatch):
    """A signal reads an analysis of the other clips that the intake did not compute; on the
    hostile clip that analysis raises. The hostile clip fails, the readers do not, and their
    round-reading signals are measured again without it."""
    from scoring import scorer as scorer_mod

    real = Features.__dict__["onset_envelope"].func

    def onset_envelope(self):
        if _is_hostile(self):
            raise ValueError("onset envelope of a hostile clip")
        return real(self)

    def peer_reader(ctx):
        others = [float(np.mean(f.onset_envelope)) for f in ctx.round.entries.values()]
        return float(np.mean(ctx.features.onset_envelope)) / (1.0 + sum(others)) if others else 0.5

    monkeypatch.setitem(scorer_mod.SIGNALS, "timbral", peer_reader)
    base, _ = _score(_entries(("a", honest["a"]), ("b", honest["b"])))
    monkeypatch.setattr(Features, "onset_envelope", property(onset_envelope))
    results, history = _score(_entries(("a", honest["a"]), ("b", honest["b"]), ("x", _hostile())))
    assert results[2].final_score == 0 and "onset_envelope failed" in results[2].error
    assert [r.to_dict() for r in results[:2]] == [r.to_dict() for r in base]
    assert history.hotkeys() == ["a", "b"]


def test_signal_that_fails_on_one_clip_zeroes_that_clip_only(honest, baseline, monkeypatch):
    from scoring import scorer as scorer_mod

    real = scorer_mod.SIGNALS["musicality"]

    def musicality(ctx):
        if _is_hostile(ctx.features):
            raise IndexError("out of range on a crafted clip")
        return real(ctx)

    monkeypatch.setitem(scorer_mod.SIGNALS, "musicality", musicality)
    # The hostile clip comes first: the honest clips have already read it as a round peer when
    # it fails, so their round-reading signals must be measured again without it.
    results, history = _score(_entries(("a", honest["a"]), ("x", _hostile()), ("b", honest["b"])))
    _check_isolated(results, baseline, history, hostile_index=1, reason="musicality failed: IndexError")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_signal_value_zeroes_that_clip_only(honest, baseline, monkeypatch, bad):
    from scoring import scorer as scorer_mod

    real = scorer_mod.PENALTIES["artifact_penalty"]

    def artifact(ctx):
        return bad if _is_hostile(ctx.features) else real(ctx)

    monkeypatch.setitem(scorer_mod.PENALTIES, "artifact_penalty", artifact)
    results, history = _score(_entries(("x", _hostile()), ("a", honest["a"]), ("b", honest["b"])))
    _check_isolated(results, baseline, history, hostile_index=0, reason="artifact_penalty failed: non-finite")


def test_signal_broken_on_every_clip_is_left_out_not_fatal(honest, monkeypatch):
    """A measure that raises on every clip is a validator bug, not the clips': it is left out for all."""
    from scoring import scorer as scorer_mod

    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(scorer_mod.SIGNALS, "timbral", broken)
    results, _ = _score(_entries(("a", honest["a"]), ("b", honest["b"])))
    for r in results:
        assert r.error is None and r.final_score > 0
        assert r.signals["timbral"] is None and "boom" in r.unavailable["timbral"]


class _RaisingModels:
    """A model double whose batch ``prepare`` raises when the hostile clip is in it."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def prepare(self, features, requests):
        self.calls.append(len(features))
        if any(_is_hostile(f) for f in features):
            raise RuntimeError("CUDA error: an illegal memory access")
        for f in features:
            f.set_extra("clap_audio_embedding", np.ones(8, np.float32) / np.sqrt(8))


def test_models_prepare_raising_is_retried_clip_by_clip(honest):
    models = _RaisingModels()
    results, history = _score(_entries(("a", honest["a"]), ("x", _hostile()), ("b", honest["b"])), models=models)
    assert models.calls == [3, 1, 1, 1]
    assert results[1].final_score == 0 and "model prepare failed" in results[1].error
    clean_models = _RaisingModels()
    base, base_history = _score(_entries(("a", honest["a"]), ("b", honest["b"])), models=clean_models)
    assert clean_models.calls == [2]
    assert [results[0].to_dict(), results[2].to_dict()] == [b.to_dict() for b in base]
    assert history.embeddings("a").shape == (1, 8)  # the CLAP embedding of the retry reached the history
    assert history.hotkeys() == ["a", "b"] == base_history.hotkeys()


class _FakeClap:
    """Stands in for ``ClapEmbedder``: a fixed projection of the clip; fails on the hostile clip."""

    name = "fake-clap"
    identity = "fake"
    dim = 8

    def embed_recordings(self, recordings):
        out = []
        for mono, _ in recordings:
            if float(mono[0]) == pytest.approx(MARK):
                raise RuntimeError("CLAP overflowed on a crafted clip")
            v = np.array([np.mean(np.abs(mono[k::8])) for k in range(8)], dtype=np.float64) + 1e-3
            out.append(v / np.linalg.norm(v))
        return np.stack(out).astype(np.float32)

    def embed_texts(self, texts):
        rows = [np.roll(np.arange(1.0, 9.0), len(t) % 8) for t in texts]
        return np.stack([r / np.linalg.norm(r) for r in rows]).astype(np.float32)


def test_neural_batch_failure_from_one_clip_does_not_take_the_others_signals(honest):
    """The real ``ModelBundle`` records a batch failure on every clip of the batch; the scorer
    prepares each clip again on its own, so the honest clips keep their CLAP signal."""
    results, _ = _score(_entries(("a", honest["a"]), ("b", honest["b"]), ("x", _hostile())),
                        models=ModelBundle(clap=_FakeClap()))
    base, _ = _score(_entries(("a", honest["a"]), ("b", honest["b"])), models=ModelBundle(clap=_FakeClap()))
    assert results[2].final_score == 0 and "model clap failed on this clip" in results[2].error
    assert all(r.signals["clap"] is not None for r in results[:2])
    assert [r.to_dict() for r in results[:2]] == [b.to_dict() for b in base]


def test_model_broken_on_every_clip_leaves_its_signals_out_for_all(honest):
    class _BrokenClap(_FakeClap):
        def embed_recordings(self, recordings):
            raise RuntimeError("weights corrupted")

    results, _ = _score(_entries(("a", honest["a"]), ("b", honest["b"])), models=ModelBundle(clap=_BrokenClap()))
    for r in results:
        assert r.error is None and r.final_score > 0
        assert r.signals["clap"] is None and "weights corrupted" in r.unavailable["clap"]


def test_every_entry_gets_a_breakdown_in_order(honest):
    entries = [
        RoundEntry("none", None, None, _req(), None, error="timeout"),
        *_entries(("a", honest["a"])),
        RoundEntry("nan", np.full((2, 100), np.nan, np.float32), SR, _req(), 1.0),
        RoundEntry("shape", np.zeros((3, 4, 5), np.float32), SR, _req(), 1.0),
        RoundEntry("silent", np.zeros((2, int(SR * SECONDS)), np.float32), SR, _req(), 1.0),
    ]
    results, history = _score(entries)
    assert len(results) == len(entries)
    assert [r.final_score > 0 for r in results] == [False, True, False, False, False]
    assert results[0].error == "timeout" and "NaN" in results[2].error
    assert "invalid audio" in results[3].error and "silence" in results[4].error
    assert history.hotkeys() == ["a"]


def test_a_clip_zeroed_on_its_own_merits_cannot_penalise_another(honest, baseline):
    """A hostile miner answers first with the opening 30 % of a render that resembles an honest
    clip (here: the honest clip itself). The duration penalty zeroes it whatever the round holds,
    so it leaves the round context: the honest clip keeps the score it has without it (before,
    the fingerprint penalty's "first deliverer keeps its score" rule fell on the honest clip)."""
    short = honest["a"][:, : int(0.3 * honest["a"].shape[1])].copy()
    entries = [RoundEntry(hotkey="x", samples=short, sample_rate=SR, request=_req(), generation_seconds=0.1),
               *_entries(("a", honest["a"]), ("b", honest["b"]))]
    results, history = _score(entries)
    assert results[0].final_score == 0.0 and results[0].penalties["duration_penalty"] == 0.0
    assert results[0].error is None  # scored, not failed: its breakdown says why it earns nothing
    base, _ = baseline
    assert [r.to_dict() for r in results[1:]] == [base["a"], base["b"]]
    assert history.hotkeys() == ["a", "b", "x"]
