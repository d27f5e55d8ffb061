"""Attack/decay asymmetry of a clip's band envelopes: played notes rise fast and die away slowly.

A struck, plucked or blown note reaches its peak within a few milliseconds and decays over
hundreds; time reversal turns every such note into a slow swell cut off sharply. The measure
compares the sharpest rises of the band levels with their sharpest falls:

    asymmetry = log((rise + ε) / (fall + ε))

where ``rise`` is a high quantile of the frame-to-frame level change (dB per frame) and ``fall``
the magnitude of the mirrored low quantile, over the frames where the band is active (within
``ENVELOPE_ACTIVE_DB`` of its loudest frame, judged on either frame of the pair so that rises
out of silence and falls into it count alike). Reversing the clip negates every level change,
so it negates the measure exactly (up to the analysis frames' alignment): played music reads
positive (corpus 0.08-0.78), its reversal negative (≤ −0.04), and noise or held tones near 0.

Two time scales are averaged: the cached mel spectrogram's 8 coarse bands at ~23 ms hops (mean of
the top and bottom ``ENVELOPE_TAIL_SHARE`` of changes), and 8 octave-wide bands of a short STFT
(``ENVELOPE_FINE_N_FFT`` / ``ENVELOPE_FINE_HOP``, ~5.8 ms hops; ``ENVELOPE_FINE_QUANTILE``),
computed in blocks so a long clip never holds its whole short-time spectrum.
"""

from typing import TYPE_CHECKING

import numpy as np
import scipy.fft

from scoring import constants as C

if TYPE_CHECKING:
    from scoring.features import Features

__all__ = ["attack_decay_asymmetry", "coarse_asymmetry", "fine_asymmetry", "fine_band_levels"]

_EXTRA = "attack_decay_asymmetry"
#: Octave-wide band edges (Hz) of the fine envelopes; the last band runs to the Nyquist frequency.
_FINE_EDGES_HZ = (0.0, 150.0, 300.0, 600.0, 1200.0, 2400.0, 4800.0, 9600.0)


def _log_ratio(rise: float, fall: float) -> float:
    eps = C.ENVELOPE_EPSILON_DB
    return float(np.log((max(rise, 0.0) + eps) / (max(fall, 0.0) + eps)))


def _active_changes(levels_db: np.ndarray) -> np.ndarray:
    """Frame-to-frame changes (dB) of ``levels_db`` ``(bands, frames)`` where either frame of the
    pair is within ``ENVELOPE_ACTIVE_DB`` of the band's loudest frame, flat ``(k,)``."""
    if levels_db.shape[1] < 2:
        return np.zeros(0)
    d = np.diff(levels_db, axis=1)
    floor = levels_db.max(axis=1, keepdims=True) - C.ENVELOPE_ACTIVE_DB
    active = np.maximum(levels_db[:, 1:], levels_db[:, :-1]) > floor
    return d[active]


def coarse_asymmetry(f: "Features") -> float:
    """Asymmetry of the 8 coarse bands of ``Features.log_mel`` (~23 ms frames): log of the mean
    of the top ``ENVELOPE_TAIL_SHARE`` of level changes over the mean magnitude of the bottom
    share. 0.0 when fewer than 50 active changes."""
    lm = f.log_mel
    bands = lm.reshape(8, lm.shape[0] // 8, lm.shape[1]).mean(axis=1)
    v = _active_changes(bands)
    if v.size < 50:
        return 0.0
    k = max(1, int(C.ENVELOPE_TAIL_SHARE * v.size))
    s = np.sort(v)
    return _log_ratio(float(s[-k:].mean()), float(-s[:k].mean()))


def fine_band_levels(f: "Features") -> np.ndarray:
    """Levels (dB) of 8 octave-wide bands of :attr:`Features.mono` on a short STFT
    (``ENVELOPE_FINE_N_FFT`` Hann window, ``ENVELOPE_FINE_HOP`` hop, no centring),
    float64 ``(8, frames)``; float32 FFTs in blocks of 4096 frames."""
    x = f.mono
    n_fft, hop = C.ENVELOPE_FINE_N_FFT, C.ENVELOPE_FINE_HOP
    if x.size < n_fft:
        return np.zeros((len(_FINE_EDGES_HZ), 0))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / f.analysis_rate)
    first_bins = np.searchsorted(freqs, np.asarray(_FINE_EDGES_HZ))  # each band: bins first..next first
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]  # (n_frames, n_fft) view
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    out = np.empty((len(_FINE_EDGES_HZ), frames.shape[0]))
    block = 4096
    for lo in range(0, frames.shape[0], block):
        spec = scipy.fft.rfft(frames[lo : lo + block] * window, axis=1, workers=1)  # (frames, bins) complex64
        power = spec.real**2 + spec.imag**2
        sums = np.add.reduceat(power, first_bins, axis=1, dtype=np.float64)  # (frames, bands)
        out[:, lo : lo + sums.shape[0]] = (10.0 * np.log10(sums + 1e-10)).T
    return out


def fine_asymmetry(f: "Features") -> float:
    """Asymmetry of the fine band envelopes: log of the ``ENVELOPE_FINE_QUANTILE`` quantile of
    level changes over the magnitude of the mirrored low quantile. 0.0 when fewer than 50."""
    v = _active_changes(fine_band_levels(f))
    if v.size < 50:
        return 0.0
    q = C.ENVELOPE_FINE_QUANTILE
    hi, lo = np.percentile(v, [100.0 * q, 100.0 * (1.0 - q)])
    return _log_ratio(float(hi), float(-lo))


def attack_decay_asymmetry(f: "Features") -> float:
    """Mean of :func:`coarse_asymmetry` and :func:`fine_asymmetry` (cached in the clip's
    extras): positive for sharp attacks and slow decays, negated by time reversal."""
    cached = f.get_extra(_EXTRA)
    if cached is None:
        cached = 0.5 * (coarse_asymmetry(f) + fine_asymmetry(f))
        f.set_extra(_EXTRA, cached)
    return float(cached)
