"""A steady broadband noise floor (hiss) under the music.

Noise added to music (a generator's hiss, a noisy render) sits under everything at one level:
in the high band (``HISS_BAND_HZ``, where music's own energy is sparse) the level never drops
below the noise, so the band's quietest moments are loud and its level barely moves. Real
music's high band comes and goes with hi-hats, consonants, bright attacks and their decays.
Two measures, both over the clip's loud frames (frame RMS ≥ 10 % of the loudest):

- ``floor_db``: the 10th-percentile level of the high band relative to the median full-band
  level (corpus music −56…−17 dB; music with noise at 10 dB SNR −12…−9 dB);
- ``spread_db``: the high band's level range, 90th minus 10th percentile (corpus music
  9.4-40 dB; with noise 0.7-7 dB; white or pink noise alone ~0.7 dB).

The artifact penalty reads hiss only where both agree (a loud floor that does not move), so a
bright mix with constant cymbals (loud, but moving) or a quiet steady pad (steady, but no loud
floor) is not hiss.
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C

if TYPE_CHECKING:
    from scoring.features import Features

__all__ = ["hiss_floor"]


def hiss_floor(f: "Features") -> tuple[float, float]:
    """``(floor_db, spread_db)`` of the high band (see the module doc); ``(−inf, inf)`` — no
    hiss — when the clip has fewer than 8 loud frames or the band lies above the analysis
    Nyquist frequency."""
    freqs = f.frequencies
    lo, hi = C.HISS_BAND_HZ
    band = (freqs >= lo) & (freqs < hi)
    level = f.frame_rms
    if not band.any() or level.size == 0 or float(np.max(level)) <= 0:
        return float("-inf"), float("inf")
    loud = level >= 0.1 * float(np.max(level))
    if int(loud.sum()) < 8:
        return float("-inf"), float("inf")
    power = f.power[:, loud]
    high = 10.0 * np.log10(power[band].mean(axis=0, dtype=np.float64) + 1e-12)
    full = 10.0 * np.log10(power.mean(axis=0, dtype=np.float64) + 1e-12)
    p10, p90 = np.percentile(high, [10.0, 90.0])
    return float(p10 - np.median(full)), float(p90 - p10)
