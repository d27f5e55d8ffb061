"""The `learned_mos` signal: a signal-level perceptual-quality estimate (no trained weights).

A hand-set logistic model over six robust measures, each mapped onto [0, 1] by a documented
ramp: envelope modulation (share of the level envelope's modulation energy in the 0.5-8 Hz band
where phrasing lives, times its depth in dB); harmonicity (median pitch-salience ratio of loud
frames); spectral flatness (lower is better); noise floor (valleys between partials, as in
`quality`); natural note envelopes (attack skewness, gated by note events, as in `timbral`);
audio bandwidth (as in `quality`; muffled audio is perceived as poor). ``x = sigmoid(−4 +
1.5·bandwidth + 1·mod + 1.5·harm + 1·(1 − flat) + 1.5·floor + 2·attack)``, reported in
[0, 1] (map to a 1-5 MOS as ``1 + 4·x``). Not trained: the coefficients were set by hand from how
reliably each measure separated real music from broken audio in ``scripts/eval_scoring.py``.

When Audiobox Aesthetics is loaded (``scoring.models.aesthetics``), the value is that trained
model's instead: ``ramp(0.5·PQ + 0.5·CE, 3, 8)`` on its 1–10 axes (production quality and
content enjoyment: how well made and how enjoyable listeners rate it; 3 = poor → 0, 8 =
professional → 1), and ``ScoreBreakdown.sources["learned_mos"]`` names the model. See
docs/models-scoring.md for why these axes and anchors.
"""

import math
from typing import TYPE_CHECKING

import numpy as np

from scoring.curves import ramp
from scoring.signals.base import SignalContext
from scoring.signals.quality import bandwidth_hz, flatness, noise_floor_db
from scoring.signals.timbral import attack_skewness, event_share

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "learned_mos"

#: The trained route: weights of the Audiobox Aesthetics axes and the ramp onto [0, 1].
AESTHETICS_AXES = {"PQ": 0.5, "CE": 0.5}
AESTHETICS_FLOOR = 3.0
AESTHETICS_CEILING = 8.0


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


def modulation_share(f: "Features") -> float:
    env = 20 * np.log10(f.frame_rms + 1e-6)
    env = env - env.mean()
    if env.size < 16:
        return 0.0
    spec = np.abs(np.fft.rfft(env * np.hanning(env.size))) ** 2
    freqs = np.fft.rfftfreq(env.size, 1.0 / f.frame_rate)
    musical = spec[(freqs >= 0.5) & (freqs <= 8.0)].sum()
    total = spec[(freqs >= 0.5) & (freqs <= 20.0)].sum()
    return float(musical / total) if total > 0 else 0.0


def harmonicity(f: "Features") -> float:
    ratio = f.pitch_salience_ratio
    loud = ratio > 0
    return float(np.median(ratio[loud])) if loud.any() else 0.0


def modulation_depth_db(f: "Features") -> float:
    """Standard deviation (dB) of the frame level over loud frames: phrasing moves the level."""
    env = 20 * np.log10(f.frame_rms + 1e-6)
    loud = env > env.max() - 40.0
    return float(env[loud].std()) if loud.any() else 0.0


def measure(f: "Features") -> dict[str, float]:
    return {
        "modulation_share": modulation_share(f),
        "modulation_depth_db": modulation_depth_db(f),
        "harmonicity": harmonicity(f),
        "flatness": flatness(f),
        "noise_floor_db": noise_floor_db(f),
        "attack_skew": attack_skewness(f),
        "event_share": event_share(f),
        "bandwidth_hz": bandwidth_hz(f),
    }


def score(m: dict[str, float]) -> float:
    z = (
        -4.0
        + 1.5 * ramp(m["bandwidth_hz"], 3500.0, 8000.0)
        + 1.0 * ramp(m["modulation_share"], 0.5, 0.85) * ramp(m["modulation_depth_db"], 0.5, 3.0)
        + 1.5 * ramp(m["harmonicity"], 1.3, 2.3)
        + 1.0 * ramp(m["flatness"], 0.3, 0.05)
        + 1.5 * ramp(m["noise_floor_db"], -25.0, -45.0)
        + 2.0 * ramp(m["attack_skew"], -0.2, 1.0) * ramp(m["event_share"], 0.02, 0.06)
    )
    return 1.0 / (1.0 + math.exp(-z))


def from_aesthetics(scores) -> float:
    """[0, 1] from an ``AestheticsScores`` (axes on 1–10)."""
    mixed = sum(w * scores.axis(a) for a, w in AESTHETICS_AXES.items())
    return ramp(mixed, AESTHETICS_FLOOR, AESTHETICS_CEILING)


def compute(ctx: SignalContext) -> float:
    _extras().set_source(ctx, NAME, None)
    scores = _extras().clip_aesthetics(ctx)
    if scores is not None:
        model = ctx.models.aesthetics
        _extras().set_source(ctx, NAME, f"{model.name} ({model.identity})")
        return from_aesthetics(scores)
    return score(measure(ctx.features))
