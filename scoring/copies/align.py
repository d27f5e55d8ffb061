"""Candidate alignments between two fingerprints: pitch shift, tempo ratio, start offset.

Convention: bin ``f``, frame ``t`` of print A corresponds to bin ``f + shift``, frame
``(t + offset) / stretch`` of print B (``stretch`` > 1: B is faster/shorter, ``offset`` > 0:
B starts later into the music, e.g. a trimmed start).

The pitch shift and the time mapping are estimated separately, each from something the other
does not move: the shift from the time-free pitch histograms (cross-correlated over
±``FINGERPRINT_MAX_SHIFT_BINS``), the (stretch, offset) pair from the pitch-free onset curves
(correlated over the stretch grid and ±``FINGERPRINT_MAX_OFFSET_SECONDS``). The best few of
each are returned; the matcher verifies every combination.
"""

import functools
from dataclasses import dataclass

import numpy as np

from scoring import constants as C
from scoring.copies.prints import Fingerprint, frame_seconds

__all__ = ["Alignment", "shift_candidates", "time_candidates", "stretch_grid", "max_offset_frames", "inverse"]


@dataclass(frozen=True)
class Alignment:
    """A(f, t) ↔ B(f + ``shift``, (t + ``offset``) / ``stretch``); ``shift`` in bins (a third of
    a semitone), ``offset`` in frames of A."""

    shift: int
    stretch: float
    offset: float


def inverse(a: Alignment) -> Alignment:
    """The same mapping seen from B: B(f, t) ↔ A(f − shift, stretch·t − offset)."""
    return Alignment(shift=-a.shift, stretch=1.0 / a.stretch, offset=-a.offset / a.stretch)


@functools.lru_cache(maxsize=1)
def stretch_grid() -> tuple[float, ...]:
    """Tempo ratios searched, ``FINGERPRINT_STRETCH_MIN``..``MAX`` by ``FINGERPRINT_STRETCH_STEP``."""
    n = int(round((C.FINGERPRINT_STRETCH_MAX - C.FINGERPRINT_STRETCH_MIN) / C.FINGERPRINT_STRETCH_STEP)) + 1
    return tuple(round(C.FINGERPRINT_STRETCH_MIN + i * C.FINGERPRINT_STRETCH_STEP, 6) for i in range(n))


def max_offset_frames() -> int:
    return int(round(C.FINGERPRINT_MAX_OFFSET_SECONDS / frame_seconds()))


def _top_distinct(scores: np.ndarray, n: int) -> list[int]:
    """Indices of the ``n`` best local maxima of ``scores`` (1-D), best first (ties: lower index)."""
    s = np.asarray(scores, dtype=np.float64)
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    peaks = np.nonzero((s >= left) & (s >= right))[0]
    order = peaks[np.argsort(-s[peaks], kind="stable")]
    return [int(i) for i in order[:n]]


def shift_candidates(a: Fingerprint, b: Fingerprint, n: int = C.FINGERPRINT_CANDIDATES) -> list[int]:
    """The ``n`` most likely pitch shifts (bins), from the pitch histograms' cross-correlation."""
    ha, hb = a.pitch_histogram, b.pitch_histogram
    k_max = C.FINGERPRINT_MAX_SHIFT_BINS
    f_n = ha.size
    scores = np.array(
        [
            float(np.dot(ha[max(0, -k) : f_n - max(0, k)], hb[max(0, k) : f_n - max(0, -k)]))
            for k in range(-k_max, k_max + 1)
        ]
    )
    return [i - k_max for i in _top_distinct(scores, n)]


def _stretched_onsets(b: Fingerprint, stretch: float) -> tuple[np.ndarray, np.ndarray]:
    """B's onset curve resampled onto A's time axis for ``stretch`` (``u[t'] = onset_B(t' / stretch)``)
    and the running sum of its squares (``(n + 1,)``, for window norms); cached on the print."""
    cache = b.__dict__.setdefault("_stretched_onsets", {})
    hit = cache.get(stretch)
    if hit is None:
        curve = b.onset_curve
        n = int(np.floor((curve.size - 1) * stretch)) + 1
        u = np.interp(np.arange(n) / stretch, np.arange(curve.size), curve)
        hit = (u, np.concatenate([[0.0], np.cumsum(u * u)]))
        cache[stretch] = hit
    return hit


def time_candidates(
    a: Fingerprint, b: Fingerprint, n: int = C.FINGERPRINT_CANDIDATES
) -> list[tuple[float, int]]:
    """The ``n`` most likely ``(stretch, offset)`` pairs (offset in frames of A), from the onset
    curves' normalised correlation; pairs closer than 0.012 in stretch and 2 frames are one."""
    na = a.onset_curve
    lmax = max_offset_frames()
    grid = stretch_grid()
    taus = np.arange(-lmax, lmax + 1)
    corr = np.zeros((len(grid), taus.size))
    for i, s in enumerate(grid):
        u, csum = _stretched_onsets(b, s)
        m = min(na.size, u.size)
        x = na[:m]
        # corr(tau) = sum_t x[t] * u[t + tau]: 'valid' correlation of u zero-padded by lmax each side
        up = np.concatenate([np.zeros(lmax), u[: m + lmax], np.zeros(lmax)])[: m + 2 * lmax]
        row = np.correlate(up, x, mode="valid")
        lo = np.minimum(np.maximum(taus, 0), u.size)
        hi = np.minimum(np.maximum(taus + m, 0), u.size)
        energy = csum[hi] - csum[lo]
        corr[i] = row / (np.sqrt(energy * float(x @ x)) + 1e-12)
    s_arr = np.repeat(np.asarray(grid), 2 * lmax + 1)
    t_arr = np.tile(np.arange(-lmax, lmax + 1), len(grid))
    # best first; ties: stretch nearer 1, then offset nearer 0 (deterministic)
    order = np.lexsort((np.abs(t_arr), np.abs(s_arr - 1.0), -corr.ravel()))
    out: list[tuple[float, int]] = []
    for idx in order:
        s, tau = float(s_arr[idx]), int(t_arr[idx])
        if all(abs(s - s2) > 0.012 or abs(tau - t2) > 2 for s2, t2 in out):
            out.append((s, tau))
            if len(out) == n:
                break
    return out
