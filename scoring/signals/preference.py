"""The `preference` signal: a learned listener-preference score from the clip's CLAP embedding.

``σ((reward − mean) / std)`` of the trained head (``scoring.models.preference``). Its weight is 0
until a head is loaded, then set by the head's validation accuracy
(``ModelBundle.preference_weight``); the scorer reads that weight, this module only scores.
"""

from scoring.signals.base import SignalContext, Unavailable


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


NAME = "preference"


def compute(ctx: SignalContext) -> float:
    bundle = ctx.models
    if bundle is None or getattr(bundle, "preference", None) is None:
        raise Unavailable("model absent: preference head")
    _extras().clip_model(ctx, "clap")
    emb = ctx.features.get_extra(_extras().EXTRA_CLAP_AUDIO)
    if emb is None:
        raise Unavailable("error: clap embedding was not computed")
    return float(bundle.preference.score(emb[None, :])[0])
