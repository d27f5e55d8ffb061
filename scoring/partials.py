"""How many partials a clip's spectrum holds: pure tones have one, instruments many.

A sine beep, a sine arpeggio or a metronome click is a single spectral line at a time; a played
note has harmonics, and a mix of instruments, drums and voices fills the spectrum with peaks.
:func:`partial_count` counts the prominent peaks of the power spectrum (``Features.power``) in
the clip's loud frames: local maxima standing at least ``PARTIAL_PROMINENCE_DB`` above their
surroundings, within ``PARTIAL_RANGE_DB`` of the frame's strongest bin and at least
``PARTIAL_MIN_SPACING_BINS`` apart (so the Hann window's side lobes of one line are not counted
as lines). The median over frames is the clip's count (corpus music: 16-90; a held harmonic
chord ~13; a sine, beeps, clicks: 1; a sine arpeggio with overlapping decays: 2).

At most ``PARTIAL_MAX_FRAMES`` evenly spaced loud frames are read, so the cost is flat in the
clip's length.
"""

from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from scoring import constants as C

if TYPE_CHECKING:
    from scoring.features import Features

__all__ = ["partial_count"]


def partial_count(f: "Features") -> float:
    """Median number of prominent spectral peaks per loud frame (frame RMS ≥ 10 % of the loudest
    frame's); 0.0 when the clip has no loud frame.

    A peak is a bin that is the maximum of the ``PARTIAL_MIN_SPACING_BINS`` bins on each side,
    lies within ``PARTIAL_RANGE_DB`` of its frame's strongest bin, and stands
    ``PARTIAL_PROMINENCE_DB`` above the higher of the lowest levels found within
    ``PARTIAL_BASE_BINS`` on its left and on its right (a local prominence)."""
    level = f.frame_rms
    if level.size == 0 or float(np.max(level)) <= 0:
        return 0.0
    loud = np.flatnonzero(level >= 0.1 * float(np.max(level)))
    pick = loud[np.linspace(0, loud.size - 1, min(loud.size, C.PARTIAL_MAX_FRAMES)).round().astype(np.int64)]
    db = 10.0 * np.log10(f.power[:, pick].astype(np.float64) + 1e-12)  # (bins, frames)
    spacing, base = C.PARTIAL_MIN_SPACING_BINS, C.PARTIAL_BASE_BINS
    is_max = db >= maximum_filter1d(db, size=2 * spacing + 1, axis=0, mode="nearest")
    # lowest level within `base` bins strictly left / right of each bin (bins past the spectrum's
    # edges are +inf, i.e. ignored): centred minima of the padded spectrum, read shifted
    n_bins = db.shape[0]
    padded = np.pad(db, ((base, base), (0, 0)), constant_values=np.inf)
    low = minimum_filter1d(padded, size=base, axis=0, mode="constant", cval=np.inf)
    left = low[base // 2 : base // 2 + n_bins]  # min of bins i-base .. i-1
    right = low[base + 1 + base // 2 : base + 1 + base // 2 + n_bins]  # min of bins i+1 .. i+base
    prominent = db - np.maximum(left, right) >= C.PARTIAL_PROMINENCE_DB
    in_range = db >= db.max(axis=0, keepdims=True) - C.PARTIAL_RANGE_DB
    counts = np.sum(is_max & prominent & in_range, axis=0)
    return float(np.median(counts))
