"""The `quality` signal: technical fidelity of the signal itself.

Parts: bandwidth (highest frequency where the long-term spectrum is within 60 dB of its peak,
relative to what the analysis rate can show; a 3 kHz low-pass or a telephone band loses);
noise floor (per frame, the 10th-percentile bin level against the frame's strongest bin in
0.5-8 kHz, median over frames: broadband noise fills the valleys between partials); spectral
flatness (mean, 100 Hz-8 kHz; music is far from flat, noise is flat); DC offset.
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C
from scoring.curves import ramp
from scoring.signals.base import SignalContext

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "quality"


def bandwidth_hz(f: "Features") -> float:
    """Highest frequency where the (100 Hz-smoothed) long-term spectrum is within 40 dB of its
    median level over 100 Hz-1 kHz."""
    ltas = 10 * np.log10(f.power.mean(axis=1) + 1e-20)
    smooth = np.convolve(ltas, np.ones(9) / 9, mode="same")
    freqs = f.frequencies
    ref = float(np.median(smooth[(freqs >= 100) & (freqs <= 1000)]))
    above = np.flatnonzero(smooth[: freqs.size - 4] > ref - 40.0)
    return float(freqs[above[-1]]) if above.size else 0.0


def noise_floor_db(f: "Features") -> float:
    freqs = f.frequencies
    band = (freqs >= 500) & (freqs <= 8000)
    logmag = 20 * np.log10(f.magnitude[band] + 1e-9)
    loud = f.frame_rms > 0.1 * float(np.max(f.frame_rms))
    if not loud.any():
        return 0.0
    lm = logmag[:, loud]
    return float(np.median(np.percentile(lm, 10, axis=0) - lm.max(axis=0)))


def flatness(f: "Features") -> float:
    freqs = f.frequencies
    band = (freqs >= 100) & (freqs <= 8000)
    p = f.power[band] + 1e-12
    geo = np.exp(np.mean(np.log(p), axis=0))
    arith = np.mean(p, axis=0)
    loud = f.frame_rms > 0.1 * float(np.max(f.frame_rms))
    vals = (geo / arith)[loud] if loud.any() else geo / arith
    return float(np.mean(vals))


def measure(f: "Features") -> dict[str, float]:
    nyquist = min(f.sample_rate, C.ANALYSIS_SAMPLE_RATE) / 2.0
    return {
        "bandwidth_hz": bandwidth_hz(f),
        "bandwidth_share": bandwidth_hz(f) / nyquist,
        "noise_floor_db": noise_floor_db(f),
        "flatness": flatness(f),
        "dc_offset": float(abs(np.mean(f.samples))),
    }


def score(m: dict[str, float]) -> float:
    return float(
        0.35 * ramp(m["bandwidth_hz"], 3500.0, 8000.0)
        + 0.3 * ramp(m["noise_floor_db"], -25.0, -45.0)
        + 0.25 * ramp(m["flatness"], 0.35, 0.05)
        + 0.1 * ramp(m["dc_offset"], 0.05, 0.01)
    )


def compute(ctx: SignalContext) -> float:
    return score(measure(ctx.features))
