"""The `fad_penalty`: Fréchet Audio Distance of a miner's recent output against real music.

Two routes, never mixed:

- **CLAP** (neural models loaded with a CLAP reference): the miner's window is its last
  ``FAD_WINDOW_CLIPS − 1`` CLAP embeddings from history plus this clip's;
- **musicnn** (weight-free): the same with the 400-d musicnn embeddings
  (``Features.musicnn_embedding``) and ``MUSICNN_FAD_WINDOW_CLIPS``, against the real-music
  reference shipped in the package (:mod:`scoring.listener_reference`).

Either way the window has exactly the reference's ``window_clips`` clips, the sample size the
reference's bootstrap baseline was computed for, so FAD's small-sample bias is the same on both
sides. Fewer clips → unavailable (no penalty). The multiplier comes from
``FadReference.penalty``: 1.0 for windows as close to the reference as real music is, down to
``FAD_PENALTY_FLOOR`` for windows far from it. FAD judges a miner's output distribution, not one
clip: every clip of a miner with an off-distribution window carries the multiplier.
"""

import numpy as np

from scoring import constants as C
from scoring.signals.base import SignalContext, Unavailable


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


NAME = "fad_penalty"


def _window(ctx: SignalContext, current: np.ndarray, clips: int, kind: str) -> np.ndarray:
    """``(clips, d)`` float64: the miner's last ``clips − 1`` history embeddings of this clip's
    dimension and this clip's. Raises Unavailable when there are not enough of them."""
    current = np.asarray(current, dtype=np.float64).ravel()
    need = clips - 1
    past = np.zeros((0, current.size))
    if ctx.history is not None and ctx.hotkey:
        h = ctx.history.embeddings(ctx.hotkey)
        if h.ndim == 2 and h.shape[0] and h.shape[1] == current.size:
            past = h.astype(np.float64)
    if past.shape[0] < need:
        raise Unavailable(f"needs {clips} {kind}-embedded clips of this miner, has {past.shape[0] + 1}")
    return np.vstack([past[-need:], current[None, :]])


def miner_window(ctx: SignalContext) -> np.ndarray:
    """``(FAD_WINDOW_CLIPS, d)`` float64: the miner's recent CLAP embeddings and this clip's."""
    current = ctx.features.get_extra(_extras().EXTRA_CLAP_AUDIO)
    if current is None:
        raise Unavailable("error: clap embedding was not computed")
    return _window(ctx, current, C.FAD_WINDOW_CLIPS, "CLAP")


def compute(ctx: SignalContext) -> float:
    from scoring import listeners

    bundle = ctx.models
    if bundle is not None and getattr(bundle, "fad_reference", None) is not None:
        _extras().clip_model(ctx, "clap")
        multiplier, _ = bundle.fad_reference.penalty(miner_window(ctx))
        _extras().set_source(
            ctx, NAME, f"{bundle.fad_reference.model_name} ({bundle.fad_reference.model_identity})"
        )
        return multiplier
    if bundle is not None and getattr(bundle, "clap", None) is not None:
        # history holds CLAP embeddings: a musicnn window could never fill
        raise Unavailable("model absent: fad_reference")
    ref = listeners.musicnn_reference()
    embedding = ctx.features.musicnn_embedding if ref is not None else None
    if ref is None or embedding is None:
        raise Unavailable("model absent: fad_reference (no CLAP reference and no musicnn reference)")
    multiplier, _ = ref.penalty(_window(ctx, embedding, ref.window_clips, "musicnn"))
    _extras().set_source(ctx, NAME, listeners.MUSICNN_SOURCE)
    return multiplier
