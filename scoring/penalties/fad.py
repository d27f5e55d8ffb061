"""The `fad_penalty`: Fréchet Audio Distance of a miner's recent output against real music.

A miner's window is its last ``FAD_WINDOW_CLIPS − 1`` CLAP embeddings from history plus this
clip's: exactly ``FAD_WINDOW_CLIPS`` clips, the sample size the reference's bootstrap baseline
was computed for, so FAD's small-sample bias is the same on both sides. Fewer clips → unavailable
(no penalty). The multiplier comes from ``FadReference.penalty``: 1.0 for windows as close to the
reference as real music is, down to ``FAD_PENALTY_FLOOR`` for windows far from it. FAD judges a
miner's output distribution, not one clip: every clip of a miner with an off-distribution window
carries the multiplier.
"""

import numpy as np

from scoring import constants as C
from scoring.signals.base import SignalContext, Unavailable


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


NAME = "fad_penalty"


def miner_window(ctx: SignalContext) -> np.ndarray:
    """``(FAD_WINDOW_CLIPS, d)`` float64: the miner's recent CLAP embeddings and this clip's.
    Raises Unavailable when there are not enough of them."""
    current = ctx.features.get_extra(_extras().EXTRA_CLAP_AUDIO)
    if current is None:
        raise Unavailable("error: clap embedding was not computed")
    current = np.asarray(current, dtype=np.float64).ravel()
    need = C.FAD_WINDOW_CLIPS - 1
    past = np.zeros((0, current.size))
    if ctx.history is not None and ctx.hotkey:
        h = ctx.history.embeddings(ctx.hotkey)
        if h.ndim == 2 and h.shape[0] and h.shape[1] == current.size:
            past = h.astype(np.float64)
    if past.shape[0] < need:
        raise Unavailable(f"needs {C.FAD_WINDOW_CLIPS} CLAP-embedded clips of this miner, has {past.shape[0] + 1}")
    return np.vstack([past[-need:], current[None, :]])


def compute(ctx: SignalContext) -> float:
    bundle = ctx.models
    if bundle is None or getattr(bundle, "fad_reference", None) is None:
        raise Unavailable("model absent: fad_reference")
    _extras().clip_model(ctx, "clap")
    multiplier, _ = bundle.fad_reference.penalty(miner_window(ctx))
    return multiplier
