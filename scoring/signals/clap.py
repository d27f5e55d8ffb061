"""The `clap` signal: how well the clip matches its text prompt, by CLAP text–audio similarity.

The bundle's ``prepare`` stores each clip's cosine between its CLAP audio embedding (fixed 10 s
windows, averaged, unit norm) and the text embedding of the request (the prompt, or a
description built from mood, genre and instruments when the prompt is empty). The cosine is
mapped linearly from ``CLAP_COSINE_FLOOR`` (0) to ``CLAP_COSINE_CEILING`` (1); see
docs/models-scoring.md for where those values come from and how to recalibrate them.
"""

from scoring import constants as C
from scoring.curves import ramp
from scoring.signals.base import SignalContext, Unavailable


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


NAME = "clap"


def similarity_credit(cosine: float) -> float:
    """A CLAP cosine mapped onto [0, 1] with the calibrated floor and ceiling."""
    return ramp(cosine, C.CLAP_COSINE_FLOOR, C.CLAP_COSINE_CEILING)


def compute(ctx: SignalContext) -> float:
    _extras().clip_model(ctx, "clap")
    cosine = ctx.features.get_extra(_extras().EXTRA_CLAP_SIMILARITY)
    if cosine is None:
        raise Unavailable("error: clap similarity was not computed")
    return similarity_credit(float(cosine))
