"""Penalty and curve values known by construction: duration, speed, clipping, loops, dropouts,
silence and the fingerprint rule."""

import numpy as np
import pytest

from scoring.features import Features
from scoring.history import MinerHistory
from scoring.music_theory import Key
from scoring.penalties import artifact
from scoring.penalties.duration import duration_multiplier
from scoring.request import ScoringRequest
from scoring.scorer import RoundEntry, Scorer
from scoring.signals.speed import speed_credit
from scoring.synth import render_piece

SR = 22_050


@pytest.mark.parametrize(
    "deviation, expected", [(0.0, 1.0), (0.10, 1.0), (0.20, 1.0), (0.35, 0.5), (0.50, 0.0), (0.8, 0.0)]
)
def test_duration_penalty_curve(deviation, expected):
    assert duration_multiplier(actual_seconds=10 * (1 + deviation), requested_seconds=10) == pytest.approx(expected)
    assert duration_multiplier(actual_seconds=10 * (1 - deviation), requested_seconds=10) == pytest.approx(expected)


@pytest.mark.parametrize(
    "ratio, expected", [(0.2, 1.0), (1.0, 1.0), (2.0, 0.65), (3.0, 0.3), (4.5, 0.15), (6.0, 0.0), (10.0, 0.0)]
)
def test_speed_curve(ratio, expected):
    assert speed_credit(generation_seconds=ratio * 20.0, requested_seconds=20.0) == pytest.approx(expected)


def test_bad_requested_duration_rejected():
    with pytest.raises(ValueError):
        duration_multiplier(actual_seconds=1.0, requested_seconds=0.0)
    with pytest.raises(ValueError):
        speed_credit(generation_seconds=1.0, requested_seconds=-1.0)


def _piece(seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    return render_piece(key=Key(7, "major"), tempo_bpm=112, seconds=seconds, sample_rate=SR, seed=seed)


def test_clean_piece_has_no_artifact_penalty():
    f = Features.from_audio(samples=_piece(), sample_rate=SR)
    m = artifact.measure(f)
    assert m["clipped_share"] == 0 and m["looped_share"] == 0 and m["dropouts"] == 0
    assert all(v == 1.0 for v in artifact.multipliers(m).values())


def test_clipped_sine_is_penalised():
    t = np.arange(4 * SR) / SR
    sine = np.clip(2.0 * np.sin(2 * np.pi * 220 * t), -0.9, 0.9).astype(np.float32)
    f = Features.from_audio(samples=sine, sample_rate=SR)
    assert artifact.clipped_share(f) > 0.3
    assert artifact.multipliers(artifact.measure(f))["clipping"] < 1.0


def test_half_second_loop_detected():
    x = _piece()
    seg = x[:, 2 * SR : 2 * SR + SR // 2]
    looped = np.tile(seg, (1, 16))
    f = Features.from_audio(samples=looped, sample_rate=SR)
    assert artifact.looped_share(f) > 0.9
    assert artifact.multipliers(artifact.measure(f))["loops"] == pytest.approx(0.2)


def test_held_tone_is_not_a_loop():
    t = np.arange(8 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 261.63 * t)).astype(np.float32)
    assert artifact.looped_share(Features.from_audio(samples=tone, sample_rate=SR)) == 0.0


def test_dropouts_counted():
    x = _piece().copy()
    for start in (1.0, 3.0, 5.5):
        x[:, int(start * SR) : int((start + 0.2) * SR)] = 0.0
    f = Features.from_audio(samples=x, sample_rate=SR)
    assert artifact.dropout_events(f) == 3
    assert artifact.compute(_ctx(f)) < 0.7


def _ctx(f):
    from scoring.signals.base import SignalContext

    return SignalContext(features=f, request=ScoringRequest(prompt="", duration_seconds=f.duration_seconds))


def test_silence_is_a_hard_zero():
    b = Scorer().score(
        samples=np.zeros((2, 5 * SR), np.float32), sample_rate=SR, request=ScoringRequest(prompt="x", duration_seconds=5)
    )
    assert b.final_score == 0.0 and b.error.startswith("silence")


def test_phase_cancelled_stereo_is_silent_in_mono_but_stereo_music_is_not():
    piece = render_piece(key=Key(0, "major"), tempo_bpm=110, seconds=6, sample_rate=SR, seed=3)
    mono = piece.mean(axis=0)
    request = ScoringRequest(prompt="x", duration_seconds=6)
    cancelled = Scorer().score(samples=np.stack([mono, -mono]), sample_rate=SR, request=request)
    assert cancelled.final_score == 0.0 and cancelled.error.startswith("silence in mono: the channels cancel")
    wide = np.stack([mono, 0.2 * mono - 0.8 * np.roll(mono, 331)])  # wide but mono-compatible
    for clip in (piece, wide):
        b = Scorer().score(samples=clip.astype(np.float32), sample_rate=SR, request=request)
        assert b.error is None and b.final_score > 0.3, b.error


def _request() -> ScoringRequest:
    return ScoringRequest(prompt="pop", duration_seconds=8.0)


def test_relayed_clip_penalised_but_original_and_other_seed_not():
    original, other_seed = _piece(seed=1), _piece(seed=2)
    relayed = (original * 0.9).astype(np.float32)
    entries = [
        RoundEntry("hk_relay", relayed, SR, _request(), generation_seconds=6.0),
        RoundEntry("hk_orig", original, SR, _request(), generation_seconds=4.0),
        RoundEntry("hk_honest", other_seed, SR, _request(), generation_seconds=5.0),
    ]
    relay, orig, honest = Scorer().score_round(entries)
    assert relay.penalties["fingerprint_penalty"] == 0.0
    assert orig.penalties["fingerprint_penalty"] == 1.0
    assert honest.penalties["fingerprint_penalty"] == 1.0


def test_reserving_own_clip_penalised_through_history():
    history = MinerHistory()
    scorer = Scorer(history=history)
    x = _piece(seed=3)
    first = scorer.score(samples=x, sample_rate=SR, request=_request(), hotkey="hk")
    again = scorer.score(samples=x, sample_rate=SR, request=_request(), hotkey="hk")
    assert first.penalties["fingerprint_penalty"] == 1.0  # never compared with itself
    assert again.penalties["fingerprint_penalty"] == 0.0
    assert len(history.fingerprints("hk")) == 2
