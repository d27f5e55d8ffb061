"""The `timbral` signal: do the sounds behave like played instruments?

Parts: attack/decay naturalness (skewness of the frame-to-frame level change in 8 mel bands:
struck and plucked notes rise fast and decay slowly, so the change is positively skewed;
reversed or smeared audio is not); MFCC variety (timbre moves over time; held test tones and
stationary noise do not); spectral envelope smoothness (share of cepstral energy in the upper
MFCCs; combs and metallic artefacts ripple the envelope).
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring.curves import ramp
from scoring.signals.base import SignalContext

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "timbral"


def _band_level_changes(f: "Features") -> np.ndarray:
    """Frame-to-frame level changes (dB) of 8 coarse mel bands where the band is active, flat."""
    bands = f.log_mel.reshape(8, -1, f.log_mel.shape[1]).mean(axis=1)  # (8, frames) dB
    d = np.diff(bands, axis=1)
    active = bands[:, 1:] > (bands.max(axis=1, keepdims=True) - 50.0)
    return d[active]


def attack_skewness(f: "Features") -> float:
    """Skewness of the level change (dB/frame) of 8 coarse mel bands over their active frames."""
    vals = _band_level_changes(f)
    if vals.size < 20:
        return 0.0
    vals = vals - vals.mean()
    sd = vals.std()
    return float(np.mean(vals**3) / (sd**3)) if sd > 1e-9 else 0.0


def event_share(f: "Features") -> float:
    """Share of active band-frames whose level jumps by more than 3 dB (notes starting)."""
    vals = _band_level_changes(f)
    return float(np.mean(vals > 3.0)) if vals.size else 0.0


def attack_credit(f: "Features") -> float:
    """Natural-envelope credit: positive skew, counted only when there are note events at all."""
    return ramp(attack_skewness(f), -0.2, 1.0) * ramp(event_share(f), 0.02, 0.06)


def mfcc_variety(f: "Features") -> float:
    """Mean over MFCC 1-12 of their standard deviation over time."""
    return float(np.mean(f.mfcc[1:13].std(axis=1)))


def envelope_ripple(f: "Features") -> float:
    """Share of cepstral energy (MFCC 1-19) in MFCC 13-19, mean over frames."""
    sq = f.mfcc[1:] ** 2
    return float(np.mean(sq[12:].sum(axis=0) / (sq.sum(axis=0) + 1e-9)))


def measure(f: "Features") -> dict[str, float]:
    return {
        "attack_skew": attack_skewness(f),
        "event_share": event_share(f),
        "mfcc_variety": mfcc_variety(f),
        "envelope_ripple": envelope_ripple(f),
    }


def score(m: dict[str, float]) -> float:
    return float(
        0.5 * ramp(m["attack_skew"], -0.2, 1.0) * ramp(m["event_share"], 0.02, 0.06)
        + 0.3 * ramp(m["mfcc_variety"], 2.0, 8.0)
        + 0.2 * ramp(m["envelope_ripple"], 0.35, 0.1)
    )


def compute(ctx: SignalContext) -> float:
    return score(measure(ctx.features))
