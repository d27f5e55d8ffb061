"""The `mix_separation` signal: can the ear tell the parts of the mix apart?

Parts: harmonic/percussive separability (share of time-frequency energy that the bounded HPSS
assigns clearly, ≥ 75 %, to one side; noise is ambiguous everywhere); low-mid mud (share of the
long-term energy in 200-500 Hz, comfortable between 5 % and 35 %); clarity (spectral contrast:
peak vs valley level inside octave bands 200 Hz-6.4 kHz, mean over frames); presence (share of
the energy in 2-6 kHz, where parts are told apart; a muffled mix has almost none).
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring.curves import plateau, ramp
from scoring.signals.base import SignalContext

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "mix_separation"


def separability(f: "Features") -> float:
    h, p = f.hpss
    e_h, e_p = h.astype(np.float64) ** 2, p.astype(np.float64) ** 2
    total = e_h + e_p
    clear = np.maximum(e_h, e_p) >= 0.75 * (total + 1e-20)
    return float(np.sum(total[clear]) / (np.sum(total) + 1e-20))


def mud_share(f: "Features") -> float:
    freqs = f.frequencies
    ltas = f.power.mean(axis=1)
    band = (freqs >= 200) & (freqs < 500)
    return float(ltas[band].sum() / (ltas[freqs >= 20].sum() + 1e-20))


def contrast_db(f: "Features") -> float:
    freqs = f.frequencies
    logmag = 20 * np.log10(f.magnitude + 1e-9)
    loud = f.frame_rms > 0.1 * float(np.max(f.frame_rms))
    if not loud.any():
        return 0.0
    logmag = logmag[:, loud]
    vals = []
    for lo in (200, 400, 800, 1600, 3200):
        band = (freqs >= lo) & (freqs < 2 * lo)
        b = logmag[band]
        vals.append(np.mean(np.percentile(b, 98, axis=0) - np.percentile(b, 10, axis=0)))
    return float(np.mean(vals))


def presence_share(f: "Features") -> float:
    """Share of the long-term energy in the 2-6 kHz presence band (definition of the parts)."""
    freqs = f.frequencies
    ltas = f.power.mean(axis=1)
    return float(ltas[(freqs >= 2000) & (freqs < 6000)].sum() / (ltas[freqs >= 20].sum() + 1e-20))


def measure(f: "Features") -> dict[str, float]:
    return {
        "separability": separability(f),
        "mud_share": mud_share(f),
        "contrast_db": contrast_db(f),
        "presence_share": presence_share(f),
    }


def score(m: dict[str, float]) -> float:
    return float(
        0.3 * ramp(m["separability"], 0.3, 0.7)
        + 0.2 * plateau(m["mud_share"], 0.05, 0.35, 0.3)
        + 0.3 * ramp(m["contrast_db"], 12.0, 30.0)
        + 0.2 * ramp(m["presence_share"], 0.001, 0.01)
    )


def compute(ctx: SignalContext) -> float:
    return score(measure(ctx.features))
