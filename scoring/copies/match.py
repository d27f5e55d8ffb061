"""Is one clip a (disguised) copy of the other? Containment of strong spectral notes.

:func:`compare` runs three stages on two :class:`~scoring.copies.prints.Fingerprint` objects:

1. **Pre-filter** (cheap, invariant to every disguise by construction): the candidate pitch
   shifts and (tempo ratio, offset) pairs of :mod:`scoring.copies.align`, each combination scored
   by **match**, the share of each print's 4 strongest peaks per frame that lie within ±1 bin
   and ±1 frame of one of the other's 10 strongest (the smaller direction). Below
   ``FINGERPRINT_MATCH_MIN`` for every candidate the pair is different music and nothing else is
   computed (copies measured ≥ 0.61; about 4 in 5 pairs of different pieces stop here).
2. **Refinement**: the best candidates are hill-climbed on same-frame agreement (tempo ratio ±
   one grid step, offset ± 1 frame, shift ± 1 bin).
3. **Evidence of originality** under the refined alignment (and the shifts one bin either side:
   a pitch shift between two bins lands on either): strong notes of X (peaks within
   ``FINGERPRINT_STRONG_DB`` of their frame's strongest) that Y lacks. A note is lacking where Y,
   relative to *its* frame's strongest and anywhere within ±1 bin and ±1 frame, is more than
   ``FINGERPRINT_MISSING_DB`` weaker (absent), or present but ``FINGERPRINT_WEAK_DB`` weaker
   than X's other notes of that frame are in Y (the frame's median deficit): a melody note that
   doubles a chord tone of the other piece leaves that tone, not silence. Each ~2 s segment may
   slide ±``FINGERPRINT_REFINE_FRAMES`` frames (a phase vocoder's drift). Lacking cells count
   only in runs spanning ≥ ``FINGERPRINT_EVENT_FRAMES`` frames (a note, not a codec or vocoder
   artefact), and only when Y covers ≥ ``FINGERPRINT_MIN_COVERAGE`` of X (a 5 s clip cannot
   hold a 30 s one). Evidence is the lacking cells per 10 s of X's compared frames, in the
   direction with less of it: a copy holds all of its original (noise, distortion and
   re-encoding add peaks and rarely remove strong ones), so one direction is near 0 however
   much the copy added; two different pieces each hold notes the other lacks.

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
#: Floor (dB re the frame's strongest) under which Y's level near a note is read as silence.
_FLOOR_DB = -60.0


def _frame_median(t: np.ndarray, values: np.ndarray, n_frames: int) -> np.ndarray:
    """Median of ``values`` (NaN ignored) per frame index ``t`` (int ``(n,)``); float ``(n_frames,)``,
    0 where a frame has none. Sort-based, so deterministic."""
    good = ~np.isnan(values)
    tg, vg = t[good], values[good]
    out = np.zeros(n_frames)
    if tg.size == 0:
        return out
    order = np.lexsort((vg, tg))
    tg, vg = tg[order], vg[order]
    counts = np.bincount(tg, minlength=n_frames)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = 0.5 * (vg[lo] + vg[hi])
    return out


@dataclass(frozen=True)
class FingerprintMatch:
    """What :func:`compare` found. ``match``: pre-filter score in [0, 1] of the best alignment;
    ``evidence``: lacking strong-note cells per 10 s, the least over the verified alignments and
    their one-bin pitch neighbours (``inf`` when the pair failed the pre-filter or is not
    comparable); ``alignment``: the best-matching alignment (None when not comparable)."""

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
    """Lacking strong-note cells of ``x`` in ``y`` per 10 s of ``x``'s compared frames (module docstring, stage 3);
    ``inf`` when ``y`` covers too little of ``x`` to tell."""
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
    y_rel = y_tol[fyc[None, :], tyc] - y_top[tyc]  # (D, n) y's level near each note, re its frame's strongest
    bad = ok & ((rel[None, :] - y_rel) > C.FINGERPRINT_MISSING_DB)
    rows = np.arange(deltas.size)[:, None] * n_seg + seg[None, :]
    count = np.bincount(rows.ravel(), weights=bad.ravel(), minlength=deltas.size * n_seg).reshape(
        deltas.size, n_seg
    )
    valid = np.bincount(rows.ravel(), weights=ok.ravel(), minlength=deltas.size * n_seg).reshape(
        deltas.size, n_seg
    )
    # per segment: fewest absent peaks among the slides that compare anything, then most compared
    key = np.where(valid > 0, count, np.inf) * (f.size + 1) - valid
    pick = np.argmin(key, axis=0)  # first minimum: the smaller move
    cols = np.arange(f.size)
    chosen = pick[seg]
    best_bad = bad[chosen, cols]
    best_ok = ok[chosen, cols]
    compared = np.unique(t[best_ok])
    if compared.size < _MIN_ACTIVE_FRAMES or compared.size < C.FINGERPRINT_MIN_COVERAGE * np.unique(t).size:
        return math.inf  # too little of x lies inside y for y to hold x
    # present but weak: deficit beyond the frame's median deficit (a note over the other's chord tone)
    deficit = np.where(best_ok, rel - np.maximum(y_rel[chosen, cols], _FLOOR_DB), np.nan)
    weak = best_ok & ~best_bad & (deficit - _frame_median(t, deficit, x.n_frames)[t] > C.FINGERPRINT_WEAK_DB)
    grid = np.zeros((n_bins(), x.n_frames), dtype=bool)
    lacking = best_bad | weak
    grid[f[lacking], t[lacking]] = True
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
    weakref.WeakKeyDictionary()
)


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
        for ds, dt in (
            (0, -1),
            (0, 1),
            (-step, 0),
            (step, 0),
            (-step, -1),
            (-step, 1),
            (step, -1),
            (step, 1),
        ):
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
    if scored[0][0] < C.FINGERPRINT_MATCH_MIN:  # the pre-filter: no candidate lines the prints up
        return FingerprintMatch(
            comparable=True, match=scored[0][0], evidence=math.inf, alignment=scored[0][2]
        )
    refined = []
    for _, order, al in scored[:_VERIFIED]:
        al = _refine(a, b, al)
        refined.append((quick_match(a, b, al), order, al))
    scored = sorted(refined, key=lambda r: (-r[0], r[1]))
    best_match = scored[0][0]
    if best_match < C.FINGERPRINT_MATCH_MIN:
        return FingerprintMatch(comparable=True, match=best_match, evidence=math.inf, alignment=scored[0][2])
    least = math.inf
    for m, _, al in scored[:_VERIFIED]:
        if m < max(C.FINGERPRINT_MATCH_MIN, best_match - _VERIFY_MARGIN):
            break
        # a pitch shift between two bins lands on either: its neighbours are tried too
        for d in (0, -1, 1):
            if abs(al.shift + d) <= C.FINGERPRINT_MAX_SHIFT_BINS:
                least = min(
                    least, evidence(a, b, Alignment(shift=al.shift + d, stretch=al.stretch, offset=al.offset))
                )
    return FingerprintMatch(comparable=True, match=best_match, evidence=least, alignment=scored[0][2])
