"""Is one clip a (disguised) copy of the other? Containment of strong spectral peaks.

For a candidate alignment (:mod:`scoring.copies.align`) two measures are taken:

* **match** (the pre-filter): the share of each print's 4 strongest peaks per frame that lie
  within ±1 bin and ±1 frame of one of the other's 10 strongest; the smaller direction, the
  best candidate. Disguised copies measured ≥ 0.79, so below ``FINGERPRINT_MATCH_MIN`` the
  pair is different music and nothing else is computed.
* **evidence** (of originality): strong peaks of X (within ``FINGERPRINT_STRONG_DB`` of their
  frame's strongest) where Y, relative to *its* frame's strongest and anywhere within ±1 bin and
  ±1 frame, is more than ``FINGERPRINT_MISSING_DB`` weaker — a note X plays that Y does not.
  Each ~2 s segment may slide ±``FINGERPRINT_REFINE_FRAMES`` frames (the drift a phase vocoder
  leaves). Absent peaks count only in runs spanning ≥ ``FINGERPRINT_EVENT_FRAMES`` frames (a
  note, not a codec or vocoder artefact). Evidence is the absent cells per 10 s of X's active
  frames, in the direction with less of it: a copy holds all of its original (noise, distortion
  and re-encoding add peaks, never remove strong ones), so one direction is ~0 however much
  the copy added; two different pieces each hold notes the other lacks.

The copy multiplier falls linearly from 1 at ``FINGERPRINT_EVIDENCE_NONE`` to 0 at
``FINGERPRINT_EVIDENCE_FULL``. Everything is integer indexing and fixed-order reductions on
the stored prints: the same two prints give the same result in every process.
"""

import dataclasses
import math
import weakref
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from scoring import constants as C
from scoring.copies.align import Alignment, inverse, shift_candidates, time_candidates
from scoring.copies.prints import Fingerprint, frame_seconds, n_bins
from scoring.curves import ramp

__all__ = ["FingerprintMatch", "compare", "quick_match", "evidence"]

#: Pairs whose shorter print has fewer active frames than this (~2 s) are not compared.
_MIN_ACTIVE_FRAMES = 32
#: How many of the best-matching candidate alignments get the (costlier) evidence check.
_VERIFIED = 2
#: ... the runner-up only when its pre-filter score is within this of the best.
_VERIFY_MARGIN = 0.03
#: Hill-climbing rounds of :func:`_refine`.
_REFINE_STEPS = 4
_EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class FingerprintMatch:
    """What :func:`compare` found. ``match``: pre-filter score in [0, 1]; ``evidence``: absent
    strong-note cells per 10 s (``inf`` when the pair failed the pre-filter or is not
    comparable); ``alignment``: the mapping the verdict rests on (None when not comparable)."""

    comparable: bool
    match: float
    evidence: float
    alignment: Alignment | None

    @property
    def multiplier(self) -> float:
        """The copy multiplier for the later deliverer: 1 (different music) .. 0 (a copy)."""
        if not self.comparable or self.match < C.FINGERPRINT_MATCH_MIN or not math.isfinite(self.evidence):
            return 1.0
        return ramp(self.evidence, C.FINGERPRINT_EVIDENCE_FULL, C.FINGERPRINT_EVIDENCE_NONE)


_NOT_COMPARABLE = FingerprintMatch(comparable=False, match=0.0, evidence=math.inf, alignment=None)


def _map_frames(t: np.ndarray, al: Alignment, delta: int = 0) -> np.ndarray:
    return np.floor((t + al.offset) / al.stretch + 0.5).astype(np.int64) + delta


def _quick_direction(x: Fingerprint, y: Fingerprint, al: Alignment, sharp: bool = False) -> float:
    f, t = x.quick_peaks
    if f.size == 0:
        return 0.0
    fy, ty = f + al.shift, _map_frames(t, al)
    ok = (fy >= 0) & (fy < n_bins()) & (ty >= 0) & (ty < y.n_frames)
    if ok.sum() < _MIN_ACTIVE_FRAMES:
        return 0.0
    mask = y.sharp_mask if sharp else y.quick_mask
    return float(np.count_nonzero(mask[fy[ok], ty[ok]])) / float(ok.sum())


def quick_match(a: Fingerprint, b: Fingerprint, al: Alignment, sharp: bool = False) -> float:
    """Pre-filter score of ``al``: the smaller of the two directions' found-peak shares (``sharp``:
    same frame only, which places the time axis more precisely)."""
    return min(_quick_direction(a, b, al, sharp), _quick_direction(b, a, inverse(al), sharp))


def _evidence_direction(x: Fingerprint, y: Fingerprint, al: Alignment) -> float:
    """Absent strong-note cells of ``x`` in ``y`` per 10 s of ``x``'s compared active frames."""
    f, t, rel = x.strong_peaks
    if f.size == 0:
        return math.inf
    y_tol, y_top = y.tolerant
    fy = f + al.shift
    f_ok = (fy >= 0) & (fy < n_bins())
    seg = t // C.FINGERPRINT_SEGMENT_FRAMES
    n_seg = int(seg.max()) + 1
    r = C.FINGERPRINT_REFINE_FRAMES
    deltas = np.array([0] + [s * d for d in range(1, r + 1) for s in (-1, 1)])  # ties keep the smaller move
    ty = _map_frames(t, al)[None, :] + deltas[:, None]  # (D, n)
    ok = f_ok[None, :] & (ty >= 0) & (ty < y.n_frames)
    tyc = np.minimum(np.maximum(ty, 0), max(y.n_frames - 1, 0))
    fyc = np.minimum(np.maximum(fy, 0), n_bins() - 1)
    bad = ok & ((rel[None, :] - (y_tol[fyc[None, :], tyc] - y_top[tyc])) > C.FINGERPRINT_MISSING_DB)
    rows = np.arange(deltas.size)[:, None] * n_seg + seg[None, :]
    count = np.bincount(rows.ravel(), weights=bad.ravel(), minlength=deltas.size * n_seg).reshape(deltas.size, n_seg)
    valid = np.bincount(rows.ravel(), weights=ok.ravel(), minlength=deltas.size * n_seg).reshape(deltas.size, n_seg)
    # per segment: fewest absent peaks among the shifts that compare anything, then most compared
    key = np.where(valid > 0, count, np.inf) * (f.size + 1) - valid
    pick = np.argmin(key, axis=0)  # first minimum: the smaller move
    cols = np.arange(f.size)
    best_bad = bad[pick[seg], cols]
    best_ok = ok[pick[seg], cols]
    compared = np.unique(t[best_ok])
    if compared.size < _MIN_ACTIVE_FRAMES:
        return math.inf
    grid = np.zeros((n_bins(), x.n_frames), dtype=bool)
    grid[f[best_bad], t[best_bad]] = True
    labels, n = ndimage.label(grid, structure=_EIGHT_NEIGHBOURS)
    cells = 0
    if n:
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        for i, sl in enumerate(ndimage.find_objects(labels), start=1):
            if sl is not None and sl[1].stop - sl[1].start >= C.FINGERPRINT_EVENT_FRAMES:
                cells += int(sizes[i])
    return cells * 10.0 / (compared.size * frame_seconds())


def evidence(a: Fingerprint, b: Fingerprint, al: Alignment) -> float:
    """Evidence of originality under ``al``: the smaller of the two directions (see the module docstring)."""
    return min(_evidence_direction(a, b, al), _evidence_direction(b, a, inverse(al)))


_memo: "weakref.WeakKeyDictionary[Fingerprint, weakref.WeakKeyDictionary[Fingerprint, FingerprintMatch]]" = (
    weakref.WeakKeyDictionary())


def compare(a: Fingerprint, b: Fingerprint) -> FingerprintMatch:
    """Compare two prints. Symmetric: the pair is measured in a canonical order (by content
    digest) and the alignment is returned as seen from ``a``. Results are memoised per pair of
    print objects, so a round that re-measures after a clip leaves pays once."""
    hit = _memo.get(a, {}).get(b)
    if hit is not None:
        return hit
    swapped = b.digest < a.digest
    result = _compare(b, a) if swapped else _compare(a, b)
    if swapped and result.alignment is not None:
        result = dataclasses.replace(result, alignment=inverse(result.alignment))
    _memo.setdefault(a, weakref.WeakKeyDictionary())[b] = result
    return result


def _refine(a: Fingerprint, b: Fingerprint, al: Alignment) -> Alignment:
    """Hill-climb the same-frame peak agreement over stretch (± one grid step) and offset (± 1
    frame), then the shift (± 1 bin): the onset curves place the time axis to within a few frames,
    the peaks themselves finish the job. Deterministic: neighbours in a fixed order, strict gains."""
    step = C.FINGERPRINT_STRETCH_STEP
    score = quick_match(a, b, al, sharp=True)
    for _ in range(_REFINE_STEPS):
        moved = False
        for ds, dt in ((0, -1), (0, 1), (-step, 0), (step, 0), (-step, -1), (-step, 1), (step, -1), (step, 1)):
            cand = Alignment(shift=al.shift, stretch=round(al.stretch + ds, 6), offset=al.offset + dt)
            if not C.FINGERPRINT_STRETCH_MIN - 1e-9 <= cand.stretch <= C.FINGERPRINT_STRETCH_MAX + 1e-9:
                continue
            m = quick_match(a, b, cand, sharp=True)
            if m > score + 1e-12:
                score, al, moved = m, cand, True
        if not moved:
            break
    for dk in (-1, 1):
        cand = Alignment(shift=al.shift + dk, stretch=al.stretch, offset=al.offset)
        if abs(cand.shift) <= C.FINGERPRINT_MAX_SHIFT_BINS:
            m = quick_match(a, b, cand, sharp=True)
            if m > score + 1e-12:
                score, al = m, cand
    return al


def _compare(a: Fingerprint, b: Fingerprint) -> FingerprintMatch:
    if min(a.active_frames, b.active_frames) < _MIN_ACTIVE_FRAMES:
        return _NOT_COMPARABLE
    shifts = shift_candidates(a, b)
    times = time_candidates(a, b)
    scored: list[tuple[float, int, Alignment]] = []
    for i, shift in enumerate(shifts):
        for j, (stretch, offset) in enumerate(times):
            al = Alignment(shift=shift, stretch=stretch, offset=float(offset))
            scored.append((quick_match(a, b, al), i * len(times) + j, al))
    scored.sort(key=lambda r: (-r[0], r[1]))
    refined = []
    for _, order, al in scored[:_VERIFIED]:
        al = _refine(a, b, al)
        refined.append((quick_match(a, b, al), order, al))
    scored = sorted(refined, key=lambda r: (-r[0], r[1]))
    best_match = scored[0][0]
    if best_match < C.FINGERPRINT_MATCH_MIN:
        return FingerprintMatch(comparable=True, match=best_match, evidence=math.inf, alignment=scored[0][2])
    best: tuple[float, Alignment] | None = None
    for m, _, al in scored[:_VERIFIED]:
        if m < max(C.FINGERPRINT_MATCH_MIN, best_match - _VERIFY_MARGIN):
            break
        ev = evidence(a, b, al)
        if best is None or ev < best[0]:
            best = (ev, al)
    assert best is not None
    return FingerprintMatch(comparable=True, match=best_match, evidence=best[0], alignment=best[1])
