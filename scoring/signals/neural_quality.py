"""The `neural_quality` signal: does a self-supervised music encoder (MERT) see typical music?

With real-music statistics of the encoder's layer means in the FAD reference file, the score is
the clip's typicality: 1 at or below the median distance of the real reference clips, falling to
0 well beyond their 95th percentile (``scoring.fad.EncoderReference.score``). Without them, a
reference-free fallback: the coherence of the encoder's middle layer over time (mean cosine of
consecutive ~1 s segment means), mapped from ``ENCODER_COHERENCE_FLOOR`` to ``_CEILING``. The
fallback says whether the music "stays the same piece"; it cannot tell a polished mix from a
steady drone, which is why the reference route is the one to deploy (docs/models-scoring.md).

Without any downloaded model (no MERT, no Audiobox Aesthetics) typicality is measured on the
trained musicnn taggers' pooled mid-level features (shipped in a wheel) against real-music
statistics shipped in the package (``scoring/listener_reference.Typicality``: Mahalanobis
distance, leave-one-source-out reference distances).

When Audiobox Aesthetics is loaded it takes precedence over the encoder: ``ramp(0.75·PQ +
0.25·PC, 3, 7)`` on its 1–10 axes. Production quality (clarity, fidelity, balance, dynamics) is
what this signal's category measures; production complexity (how many sound sources and layers)
is evidence that noise, steady tones and beeps lack, kept at a quarter so that a solo instrument
is not punished for being one. ``ScoreBreakdown.sources["neural_quality"]`` names the model.
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

#: The Audiobox Aesthetics route: weights of its axes and the ramp onto [0, 1].
AESTHETICS_AXES = {"PQ": 0.75, "PC": 0.25}
AESTHETICS_FLOOR = 3.0
AESTHETICS_CEILING = 7.0


def from_aesthetics(scores) -> float:
    """[0, 1] from an ``AestheticsScores`` (axes on 1–10)."""
    mixed = sum(w * scores.axis(a) for a, w in AESTHETICS_AXES.items())
    return ramp(mixed, AESTHETICS_FLOOR, AESTHETICS_CEILING)


def compute(ctx: SignalContext) -> float:
    _extras().set_source(ctx, NAME, None)
    scores = _extras().clip_aesthetics(ctx)
    if scores is not None:
        model = ctx.models.aesthetics
        _extras().set_source(ctx, NAME, f"{model.name} ({model.identity})")
        return from_aesthetics(scores)
    if getattr(ctx.models, "encoder", None) is None:
        return _musicnn_typicality(ctx)
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


def _musicnn_typicality(ctx: SignalContext) -> float:
    """Weight-free route: how typical the clip's pooled musicnn features are of real music
    (Mahalanobis against the statistics shipped in the package, ``listener_reference.Typicality``)."""
    from scoring import listeners
    from scoring.listener_reference import pooled_features

    typical = listeners.musicnn_typicality()
    outputs = ctx.features.musicnn if typical is not None else None
    if typical is None or outputs is None:
        raise Unavailable("model absent: encoder (and no musicnn typicality reference)")
    _extras().set_source(ctx, NAME, listeners.MUSICNN_SOURCE)
    return typical.score(pooled_features(outputs))
