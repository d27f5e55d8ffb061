"""The `neural_quality` signal: does a self-supervised music encoder (MERT) see typical music?

With real-music statistics of the encoder's layer means in the FAD reference file, the score is
the clip's typicality: 1 at or below the median distance of the real reference clips, falling to
0 well beyond their 95th percentile (``scoring.fad.EncoderReference.score``). Without them, a
reference-free fallback: the coherence of the encoder's middle layer over time (mean cosine of
consecutive ~1 s segment means), mapped from ``ENCODER_COHERENCE_FLOOR`` to ``_CEILING``. The
fallback says whether the music "stays the same piece"; it cannot tell a polished mix from a
steady drone, which is why the reference route is the one to deploy (docs/models-scoring.md).
"""

import math

from scoring import constants as C
from scoring.curves import ramp
from scoring.signals.base import SignalContext, Unavailable


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


NAME = "neural_quality"


def compute(ctx: SignalContext) -> float:
    _extras().clip_model(ctx, "encoder")
    summary = ctx.features.get_extra(_extras().EXTRA_ENCODER)
    if summary is None:
        raise Unavailable("error: encoder summary was not computed")
    ref = getattr(ctx.models.fad_reference, "encoder", None) if ctx.models.fad_reference is not None else None
    if ref is not None:
        return ref.score(summary.layer_means)
    if not math.isfinite(summary.coherence):
        raise Unavailable("clip too short for the encoder coherence measure (needs 2 s)")
    return ramp(summary.coherence, C.ENCODER_COHERENCE_FLOOR, C.ENCODER_COHERENCE_CEILING)
