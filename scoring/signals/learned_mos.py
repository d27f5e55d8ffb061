"""The `learned_mos` signal: a signal-level perceptual-quality estimate (no trained weights).

A hand-set logistic model over four robust measures, each standardised by a documented range:
envelope modulation in the 0.5-8 Hz band where musical phrasing and syllables live (share of
the level envelope's modulation energy up to 20 Hz); harmonicity (median pitch-salience ratio of
loud frames); spectral flatness (lower is better); attack skewness (natural note envelopes).
``mos01 = sigmoid(−2 + 2·mod + 1.5·harm + 1.5·(1 − flat) + 1·attack)`` with every input scaled to
[0, 1]; reported in [0, 1] (map to a 1-5 MOS as ``1 + 4·x``). Not trained: the coefficients
weight the measures by how reliably each separated real music from broken audio in
``scripts/eval_scoring.py``.
"""

import math

import numpy as np

from scoring.curves import ramp
from scoring.features import Features
from scoring.signals.base import SignalContext
from scoring.signals.quality import flatness
from scoring.signals.timbral import attack_skewness

NAME = "learned_mos"


def modulation_share(f: Features) -> float:
    env = 20 * np.log10(f.frame_rms + 1e-6)
    env = env - env.mean()
    if env.size < 16:
        return 0.0
    spec = np.abs(np.fft.rfft(env * np.hanning(env.size))) ** 2
    freqs = np.fft.rfftfreq(env.size, 1.0 / f.frame_rate)
    musical = spec[(freqs >= 0.5) & (freqs <= 8.0)].sum()
    total = spec[(freqs >= 0.5) & (freqs <= 20.0)].sum()
    return float(musical / total) if total > 0 else 0.0


def harmonicity(f: Features) -> float:
    ratio = f.pitch_salience_ratio
    loud = ratio > 0
    return float(np.median(ratio[loud])) if loud.any() else 0.0


def measure(f: Features) -> dict[str, float]:
    return {
        "modulation_share": modulation_share(f),
        "harmonicity": harmonicity(f),
        "flatness": flatness(f),
        "attack_skew": attack_skewness(f),
    }


def score(m: dict[str, float]) -> float:
    z = (
        -2.0
        + 2.0 * ramp(m["modulation_share"], 0.4, 0.85)
        + 1.5 * ramp(m["harmonicity"], 1.5, 3.5)
        + 1.5 * ramp(m["flatness"], 0.35, 0.05)
        + 1.0 * ramp(m["attack_skew"], -0.2, 1.0)
    )
    return 1.0 / (1.0 + math.exp(-z))


def compute(ctx: SignalContext) -> float:
    return score(measure(ctx.features))
