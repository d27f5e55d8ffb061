"""Composite renormalisation, weight tilts, breakdown round trips, history persistence, scorer
round handling."""

import json

import numpy as np
import pytest

from scoring import constants as C
from scoring.breakdown import ScoreBreakdown
from scoring.composite import base_weights, composite_score, effective_weights
from scoring.copies import Fingerprint
from scoring.history import MinerHistory
from scoring.music_theory import Key
from scoring.request import ScoringRequest
from scoring.scorer import RoundEntry, Scorer
from scoring.synth import render_piece

SR = 22_050


def _req(seconds: float = 20.0, vocals: bool = False) -> ScoringRequest:
    return ScoringRequest(prompt="x", duration_seconds=seconds, vocals_requested=vocals)


def test_renormalisation_over_available_signals():
    w = effective_weights(request=_req(), available={"attribute", "musicality"})
    assert w["attribute"] == pytest.approx(0.11 / 0.20)
    assert w["musicality"] == pytest.approx(0.09 / 0.20)
    assert sum(w.values()) == pytest.approx(1.0)
    assert w["clap"] == 0.0
    signals = {name: None for name in C.SIGNAL_WEIGHTS} | {"attribute": 1.0, "musicality": 0.0}
    assert composite_score(signals=signals, weights=w) == pytest.approx(0.55)


def test_nothing_available_gives_zero_weights():
    w = effective_weights(request=_req(), available=set())
    assert all(v == 0 for v in w.values())
    assert composite_score(signals={}, weights=w) == 0.0


def test_duration_and_vocal_tilts():
    mid = base_weights(request=_req(20))
    short = base_weights(request=_req(5))
    long = base_weights(request=_req(60, vocals=True))
    assert mid == {**C.SIGNAL_WEIGHTS}
    assert short["production"] == pytest.approx(0.05 * 1.3) and short["structural"] == pytest.approx(0.06 * 0.6)
    assert long["structural"] == pytest.approx(0.06 * 1.35) and long["vocal"] == pytest.approx(0.04 * 1.5)
    assert base_weights(request=_req(), preference_weight=0.1)["preference"] == 0.1


def _breakdown() -> ScoreBreakdown:
    signals = {n: None for n in C.SIGNAL_WEIGHTS} | {"attribute": 0.1234567891, "melody": 0.9, "timbral": 0.5}
    return ScoreBreakdown(
        signals=signals,
        unavailable={n: "model absent" for n, v in signals.items() if v is None},
        penalties={p: 1.0 for p in C.PENALTIES} | {"artifact_penalty": 0.5},
        penalty_notes={"fad_penalty": "not implemented yet"},
        weights=effective_weights(request=_req(), available={"attribute", "melody", "timbral"}),
        composite=0.42,
        final_score=0.21,
    )


def test_breakdown_json_round_trip():
    b = _breakdown()
    d = b.to_dict()
    text = json.dumps(d, sort_keys=True)
    back = ScoreBreakdown.from_dict(json.loads(text))
    assert json.dumps(back.to_dict(), sort_keys=True) == text
    assert d["signals"]["attribute"] == 0.123457
    assert set(d["signals"]) == set(C.SIGNAL_WEIGHTS) and set(d["penalties"]) == set(C.PENALTIES)
    assert b.strongest_signal() == "melody" and b.weakest_signal() == "attribute"


def test_failed_breakdown():
    b = ScoreBreakdown.failed("timeout")
    assert b.final_score == 0 and b.error == "timeout"
    assert all(v is None for v in b.signals.values()) and set(b.unavailable) == set(C.SIGNAL_WEIGHTS)
    assert b.strongest_signal() is None


def test_malformed_breakdown_dict_raises():
    with pytest.raises(KeyError):
        ScoreBreakdown.from_dict({"signals": {}})


def test_history_bounded_save_load(tmp_path):
    h = MinerHistory(maxlen=3)
    for i in range(5):
        tone = np.sin(2 * np.pi * 220.0 * (i + 1) * np.arange(3 * 8000) / 8000).astype(np.float32)
        h.add("a", embedding=np.full(4, i, np.float32), fingerprint=Fingerprint.from_samples(tone, 8000))
    h.add("b", embedding=None, fingerprint=Fingerprint.from_samples(np.ones(8000, np.float32) * 0.1, 8000))
    assert h.embeddings("a").shape == (3, 4) and h.embeddings("a")[0, 0] == 2
    assert h.embeddings("b").shape == (0, 0)
    path = tmp_path / "hist.npz"
    h.save(path)
    back = MinerHistory.load(path)
    assert back.maxlen == 3 and back.hotkeys() == ["a", "b"]
    assert np.array_equal(back.embeddings("a"), h.embeddings("a"))
    assert len(back.fingerprints("a")) == 3 and back.fingerprints("a") == h.fingerprints("a")
    assert back.fingerprints("b") == h.fingerprints("b")
    back.forget("a")
    assert back.hotkeys() == ["b"]


def test_history_load_bad_file_keeps_nothing_broken(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="not a miner history"):
        MinerHistory.load(bad)
    with pytest.raises(ValueError):
        MinerHistory(maxlen=0)


class _Models:
    def __init__(self):
        self.prepared = None

    def prepare(self, features, requests):
        self.prepared = (len(features), len(requests))
        for f in features:
            f.set_extra("clap_audio_embedding", np.ones(8, np.float32))

    def preference_weight(self):
        return 0.1


def test_score_round_order_failures_models_and_history():
    x = render_piece(key=Key(0, "major"), tempo_bpm=100, seconds=6, sample_rate=SR, seed=0)
    models, history = _Models(), MinerHistory()
    entries = [
        RoundEntry("a", None, None, _req(6), 1.0, error="timeout"),
        RoundEntry("b", x, SR, _req(6), 3.0),
        RoundEntry("c", np.full((2, 10), np.nan, np.float32), SR, _req(6), 1.0),
    ]
    a, b, c = Scorer(models=models, history=history).score_round(entries)
    assert a.final_score == 0 and a.error == "timeout"
    assert c.final_score == 0 and "NaN" in c.error
    assert 0 < b.final_score <= 1 and b.error is None
    assert models.prepared == (1, 1)
    assert b.weights["preference"] == 0.0  # preference signal itself is unavailable
    assert b.signals["speed"] == pytest.approx(1.0)
    assert history.hotkeys() == ["b"] and history.embeddings("b").shape == (1, 8)


def test_faulty_signal_is_recorded_not_fatal(monkeypatch):
    from scoring import scorer as scorer_mod

    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(scorer_mod.SIGNALS, "timbral", broken)
    x = render_piece(key=Key(0, "major"), tempo_bpm=100, seconds=4, sample_rate=SR, seed=0)
    b = Scorer().score(samples=x, sample_rate=SR, request=_req(4))
    assert b.signals["timbral"] is None and "boom" in b.unavailable["timbral"]
    assert b.final_score > 0
