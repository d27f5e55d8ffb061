"""Hostile audio through the validator's path (strict intake, then the scorer), without a network.

The intake clips float samples beyond full scale to [-1, 1]; what is left of a clip sent at
~1e18 (or of a copy sent at float gain ×100) is a square wave, which must earn nothing, exactly
like its int16 twin.
"""

import base64
import io

import numpy as np
import pytest
import soundfile as sf

from scoring.music_theory import Key
from scoring.request import ScoringRequest
from scoring.scorer import Scorer
from scoring.synth import render_piece
from tuneforge.audio.intake import decode_audio_b64, encode_audio_b64

SR = 22_050


def _b64(samples: np.ndarray, subtype: str) -> str:
    buf = io.BytesIO()
    sf.write(buf, samples.T, SR, format="WAV", subtype=subtype)
    return base64.b64encode(buf.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def piece() -> np.ndarray:
    return render_piece(key=Key(0, "major"), tempo_bpm=100, seconds=4, sample_rate=SR, seed=3)


def _score(payload: str):
    clip = decode_audio_b64(payload)
    request = ScoringRequest(prompt="calm piano", duration_seconds=4.0, tempo_bpm=100.0)
    return Scorer().score(samples=clip.samples, sample_rate=clip.sample_rate, request=request, generation_seconds=1.0)


@pytest.mark.parametrize("gain", [1e18, 100.0])
def test_over_full_scale_float_clip_and_its_int16_twin_earn_nothing(piece, gain):
    loud = (piece * np.float32(gain)).astype(np.float32)
    assert np.all(np.isfinite(loud))
    as_float = _score(_b64(loud, "FLOAT"))
    as_int16 = _score(encode_audio_b64(np.clip(loud, -1.0, 1.0), SR))
    for b in (as_float, as_int16):
        assert b.final_score == 0.0 and b.penalties["artifact_penalty"] == 0.0
    honest = _score(encode_audio_b64(piece, SR))
    assert honest.final_score > 0.3 and honest.penalties["artifact_penalty"] > 0.9


def test_music_clipped_at_gain_4_keeps_the_old_clipping_floor(piece):
    """Only a clip that is almost all flat tops is zeroed; ordinary heavy clipping keeps the floor."""
    from scoring import constants as C
    from scoring.features import Features
    from scoring.penalties import artifact

    clipped = np.clip(piece * 4.0, -1, 1)
    m = artifact.measure(Features(samples=clipped, sample_rate=SR))
    assert C.CLIP_SHARE_FULL < m["clipped_share"] < C.CLIP_SHARE_SQUARE
    assert artifact.multipliers(m)["clipping"] == pytest.approx(C.CLIP_FLOOR)
