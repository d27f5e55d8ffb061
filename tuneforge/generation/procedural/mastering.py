"""Mastering: DC removal and a tone EQ, loudness normalisation to an integrated-loudness target
and a look-ahead true-peak limiter.

The tone EQ is what a mastering engineer does to a dull mix: 3 dB of presence around 2.5 kHz
and a 2 dB air shelf from 8 kHz. It runs in the same filter pass as the 20 Hz DC high pass. (A
low-mid cut at 300 Hz, the usual next move, was tried and dropped: it thins the chords' and bass
line's fundamentals, and key read-back fell from 49/60 to 46/60 clips.)

The limiter's gain curve is the per-sample gain each true peak needs (see
:mod:`~tuneforge.generation.procedural.loudness`), spread by a minimum filter over ±4 ms and
smoothed by a moving average half that long, so the smoothed gain never exceeds what any
sample needs. Normalise-then-limit runs up to twice so limiting does not leave the clip short
of its target; a final global trim guarantees the ceiling.
"""

import logging
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import butter, sosfilt

from tuneforge.generation.procedural.loudness import integrated_loudness, true_peak_dbtp, true_peak_envelope

__all__ = ["MasteringReport", "master", "tone_sos", "TARGET_LUFS", "CEILING_DBTP"]

log = logging.getLogger(__name__)

TARGET_LUFS = -14.0
CEILING_DBTP = -1.0
_LOOKAHEAD_S = 0.004
_PRESENCE_HZ, _PRESENCE_DB, _PRESENCE_Q = 2500.0, 3.0, 0.9
_AIR_HZ, _AIR_DB, _AIR_Q = 8000.0, 2.0, 0.7


@dataclass(frozen=True)
class MasteringReport:
    """Loudness before/after (LUFS), true peak after (dBTP), largest limiter gain reduction (dB)."""

    loudness_in_lufs: float
    loudness_out_lufs: float
    true_peak_dbtp: float
    max_gain_reduction_db: float


def _rbj(kind: str, *, fc: float, gain_db: float, q: float, rate: int) -> np.ndarray:
    """One RBJ-cookbook biquad ("peaking" or "high_shelf") as a normalised sos row (b0 b1 b2 1 a1 a2)."""
    a_ = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * min(fc, 0.45 * rate) / rate
    alpha = np.sin(w0) / (2.0 * q)
    c = np.cos(w0)
    if kind == "peaking":
        b = [1 + alpha * a_, -2 * c, 1 - alpha * a_]
        a = [1 + alpha / a_, -2 * c, 1 - alpha / a_]
    else:
        sq = 2 * np.sqrt(a_) * alpha
        b = [
            a_ * ((a_ + 1) + (a_ - 1) * c + sq),
            -2 * a_ * ((a_ - 1) + (a_ + 1) * c),
            a_ * ((a_ + 1) + (a_ - 1) * c - sq),
        ]
        a = [(a_ + 1) - (a_ - 1) * c + sq, 2 * ((a_ - 1) - (a_ + 1) * c), (a_ + 1) - (a_ - 1) * c - sq]
    return np.array(b + a) / a[0]


def tone_sos(sample_rate: int) -> np.ndarray:
    """The mastering filter chain as float32 sos (3, 6): 20 Hz DC high pass, 2.5 kHz presence, 8 kHz air."""
    return np.vstack(
        [
            butter(2, 20.0 / (0.5 * sample_rate), btype="highpass", output="sos"),
            _rbj("peaking", fc=_PRESENCE_HZ, gain_db=_PRESENCE_DB, q=_PRESENCE_Q, rate=sample_rate),
            _rbj("high_shelf", fc=_AIR_HZ, gain_db=_AIR_DB, q=_AIR_Q, rate=sample_rate),
        ]
    ).astype(np.float32)


def _limit(x: np.ndarray, *, ceiling: float, sample_rate: int) -> tuple[np.ndarray, float]:
    env = true_peak_envelope(x, threshold=ceiling)
    need = np.minimum(1.0, ceiling / np.maximum(env, 1e-12))
    if need.min() >= 1.0:
        return x, 0.0
    look = max(int(_LOOKAHEAD_S * sample_rate), 2)
    gain = minimum_filter1d(need, size=2 * look + 1, mode="nearest")
    gain = np.minimum(uniform_filter1d(gain, size=look, mode="nearest"), need)
    return x * gain.astype(np.float32), float(-20.0 * np.log10(gain.min()))


def master(
    x: np.ndarray, *, sample_rate: int, target_lufs: float = TARGET_LUFS, ceiling_dbtp: float = CEILING_DBTP
) -> tuple[np.ndarray, MasteringReport]:
    """Master ``x`` (float32, shape (channels, frames)) to ``target_lufs`` with true peak ≤ ``ceiling_dbtp``.

    Returns (mastered float32 of the same shape, report). Raises ValueError for non-finite,
    silent, or too short (< 0.4 s) input.
    """
    if x.ndim != 2 or x.shape[1] < int(0.4 * sample_rate):
        raise ValueError(f"need (channels, frames) with at least 0.4 s of audio, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot master non-finite audio")
    y = sosfilt(tone_sos(sample_rate), np.asarray(x, dtype=np.float32), axis=1)
    loud_in = integrated_loudness(y, sample_rate=sample_rate)
    if not np.isfinite(loud_in):
        raise ValueError("audio is silent: integrated loudness is -inf")
    ceiling = 10.0 ** (ceiling_dbtp / 20.0) * 0.995
    loud = loud_in
    max_gr = 0.0
    for _ in range(2):
        y = y * np.float32(10.0 ** ((target_lufs - loud) / 20.0))
        y, gr = _limit(y, ceiling=ceiling, sample_rate=sample_rate)
        max_gr = max(max_gr, gr)
        loud = integrated_loudness(y, sample_rate=sample_rate)
        if abs(loud - target_lufs) < 0.3:
            break
    tp = true_peak_dbtp(y)
    if tp > ceiling_dbtp - 0.02:
        y = y * np.float32(10.0 ** ((ceiling_dbtp - 0.05 - tp) / 20.0))
        tp = true_peak_dbtp(y)
        loud = integrated_loudness(y, sample_rate=sample_rate)
    log.debug("mastered: %.1f → %.1f LUFS, true peak %.2f dBTP, max GR %.1f dB", loud_in, loud, tp, max_gr)
    return y.astype(np.float32), MasteringReport(loud_in, loud, tp, max_gr)
