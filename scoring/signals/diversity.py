"""The `diversity` signal: does the miner vary its music, and differ from the other miners?

Two parts, each the mean cosine distance of this clip's embedding to a set of clips, mapped
linearly to [0, 1] with full credit at ``DIVERSITY_FULL_DISTANCE_*``: (1) the miner's own recent
clips (its last ``DIVERSITY_HISTORY`` embeddings in ``ctx.history``), (2) the other miners' clips
of this round. The score is the mean of the parts that exist. The embedding is the CLAP audio
embedding when the models computed one, else the trained musicnn taggers' embedding (shipped in
a wheel: every validator has it), else the DSP embedding (``Features.dsp_embedding``), so
diversity works without any downloaded model; kinds are never mixed.
"""

import numpy as np

from scoring import constants as C
from scoring.curves import ramp
from scoring.signals.base import SignalContext, Unavailable


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


NAME = "diversity"


def clip_embedding(features) -> tuple[np.ndarray, str]:
    """(unit embedding ``(d,)`` float64, kind ``"clap"``, ``"musicnn"`` or ``"dsp"``) of a clip:
    the first of them the clip has (the same order as ``scoring.scorer.history_embedding``)."""
    clap = features.get_extra(_extras().EXTRA_CLAP_AUDIO)
    if clap is not None:
        vec, kind = clap, "clap"
    elif features.musicnn_embedding is not None:
        vec, kind = features.musicnn_embedding, "musicnn"
    else:
        vec, kind = features.dsp_embedding, "dsp"
    vec = np.asarray(vec, dtype=np.float64).ravel()
    return vec / max(float(np.linalg.norm(vec)), 1e-12), kind


def mean_cosine_distance(vec: np.ndarray, others: np.ndarray) -> float:
    """Mean of ``1 − cos`` between unit ``vec`` ``(d,)`` and each row of ``others`` ``(n, d)``."""
    rows = np.asarray(others, dtype=np.float64)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return float(np.mean(1.0 - rows @ vec))


def parts(ctx: SignalContext) -> dict[str, float]:
    """Mean cosine distances ``{"history": ..., "round": ...}`` (only the parts that exist)."""
    vec, kind = clip_embedding(ctx.features)
    out: dict[str, float] = {}
    if ctx.history is not None and ctx.hotkey:
        past = ctx.history.embeddings(ctx.hotkey)
        if past.ndim == 2 and past.shape[0] and past.shape[1] == vec.size:
            out["history"] = mean_cosine_distance(vec, past[-C.DIVERSITY_HISTORY :])
    if ctx.round is not None and ctx.round.entries:
        others = [clip_embedding(f) for f in ctx.round.entries.values()]
        same = [v for v, k in others if k == kind and v.size == vec.size]
        if same:
            out["round"] = mean_cosine_distance(vec, np.stack(same))
    return out


def compute(ctx: SignalContext) -> float:
    found = parts(ctx)
    if not found:
        raise Unavailable("no history and no other clips in the round")
    _, kind = clip_embedding(ctx.features)
    full = {"clap": C.DIVERSITY_FULL_DISTANCE_CLAP, "musicnn": C.DIVERSITY_FULL_DISTANCE_MUSICNN}.get(
        kind, C.DIVERSITY_FULL_DISTANCE_DSP
    )
    if kind == "musicnn":
        from scoring import listeners

        _extras().set_source(ctx, NAME, listeners.MUSICNN_SOURCE)
    return float(np.mean([ramp(d, 0.0, full) for d in found.values()]))
