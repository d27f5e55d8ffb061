"""The `structural` signal: repetition at musical lags, continuity and plausible sections.

Works on the self-similarity matrix of pooled, standardised chroma+MFCC segments (≥ 0.5 s each,
at most ``STRUCTURE_MAX_FRAMES`` per side, so memory is flat for long clips). Repetition: the
highest mean similarity along a diagonal at lags from 2 s to half the clip (noise and scrambled
audio sit near 0). Continuity: mean similarity of neighbouring segments (music evolves
smoothly). Variety: how much the raw pooled chroma moves at all (a short loop or a held tone
does not; the score is gated by it). Sections (clips ≥ 20 s): peaks of a Foote checkerboard novelty curve, compared with
one section per ~15 s.
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C
from scoring.curves import ramp
from scoring.signals.base import SignalContext, Unavailable

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "structural"


def _similarity(f: "Features") -> tuple[np.ndarray, float]:
    seg, seconds = f.structure_features
    # Norm floor: near-constant features (a held sine, a short loop) give near-zero vectors, not
    # random unit ones, so their similarities sit near 0.
    norms = np.linalg.norm(seg, axis=1) + 1.0
    return (seg @ seg.T) / np.outer(norms, norms), seconds


def measure(f: "Features") -> dict[str, float]:
    ssm, seconds = _similarity(f)
    n = ssm.shape[0]
    out: dict[str, float] = {}
    # shortest repetition lag: two bars at ~120 BPM, half a bar in clips under 20 s (too few bars to compare)
    lo = max(1, int(round((2.0 if n * seconds >= 20.0 else 1.0) / seconds)))
    reps = [float(np.mean(np.diagonal(ssm, lag))) for lag in range(lo, n // 2 + 1) if n - lag >= 4]
    out["repetition"] = max(reps) if reps else 0.0
    out["continuity"] = float(np.mean(np.diagonal(ssm, 1))) if n > 1 else 0.0
    # harmonic variety: mean std over time of the pooled (raw) chroma. Real music moves between
    # chords (corpus 0.10-0.26); a short loop or a held tone barely moves (≤ 0.03), and the
    # per-clip standardisation above would otherwise blow its tiny periodic wobble up into
    # "repetition"
    raw, _ = f.structure_segments
    out["variety"] = float(raw[:, :12].std(axis=0).mean()) if raw.shape[0] > 1 else 0.0
    if n * seconds >= 20.0:
        half = max(2, int(round(4.0 / seconds)))
        k = np.kron(np.array([[1, -1], [-1, 1]]), np.ones((half, half)))
        nov = np.zeros(n)
        for i in range(half, n - half):
            nov[i] = float(np.sum(ssm[i - half : i + half, i - half : i + half] * k)) / k.size
        thr = nov.mean() + nov.std()
        peaks = [i for i in range(1, n - 1) if nov[i] > thr and nov[i] >= nov[i - 1] and nov[i] >= nov[i + 1]]
        expected = n * seconds / 15.0
        out["sections"] = float(len(peaks))
        out["sections_expected"] = expected
    return out


def score(m: dict[str, float]) -> float:
    """Curve ranges measured on the real-music corpus: clean real music has repetition ~0.0-0.5
    (mean ~0.17) and continuity ~0.0-0.5 (mean ~0.28) because the features are standardised per
    clip, so a consistent arrangement leaves small deviations; sines, short loops and beeps sit
    at ~0.0-0.07 on both."""
    rep = ramp(m["repetition"], 0.02, 0.25)
    cont = ramp(m["continuity"], 0.05, 0.35)
    if "sections" in m:
        exp = m["sections_expected"]
        sec = ramp(abs(m["sections"] - exp) / max(exp, 1.0), 1.5, 0.3)
        total = 0.5 * rep + 0.3 * cont + 0.2 * sec
    else:
        total = 0.6 * rep + 0.4 * cont
    # concave read-out (as in melody): structure is evidence that accumulates; a consistent real
    # arrangement with modest measured repetition is still structured music. Gated by harmonic
    # variety: repetition of something that never changes is a loop, not form.
    return float(np.sqrt(total) * ramp(m.get("variety", 1.0), C.STRUCTURE_VARIETY_NONE, C.STRUCTURE_VARIETY_FULL))


def compute(ctx: SignalContext) -> float:
    seg, _ = ctx.features.structure_features
    if seg.shape[0] < 6:
        raise Unavailable("clip too short for structure analysis")
    return score(measure(ctx.features))
