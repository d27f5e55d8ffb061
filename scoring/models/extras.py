"""Names of the per-clip values the models store in ``Features`` extras, and the signals' access helper.

Kept apart from ``scoring.models``' package module so that signals can import it without
pulling in the loaders (and without an import cycle: the loaders import ``scoring.signals.base``).
"""

from scoring.signals.base import SignalContext, Unavailable

__all__ = [
    "EXTRA_CLAP_AUDIO",
    "EXTRA_CLAP_SIMILARITY",
    "EXTRA_INSTRUMENT_MATCH",
    "EXTRA_ENCODER",
    "EXTRA_TRANSCRIPT",
    "EXTRA_AESTHETICS",
    "SOURCE_PREFIX",
    "PREPARED",
    "ERROR_PREFIX",
    "clip_model",
    "clip_aesthetics",
    "set_source",
]

EXTRA_CLAP_AUDIO = "clap_audio_embedding"  # unit float32 (d,)
EXTRA_CLAP_SIMILARITY = "clap_similarity"  # cosine with the request's text embedding
EXTRA_INSTRUMENT_MATCH = "instrument_match"  # zero-shot instrument credit in [0, 1]
EXTRA_ENCODER = "encoder_summary"  # scoring.models.encoder.EncoderSummary
EXTRA_TRANSCRIPT = "whisper_transcript"  # scoring.models.whisper.Transcript
EXTRA_AESTHETICS = "aesthetics_scores"  # scoring.models.aesthetics.AestheticsScores (CE, CU, PC, PQ on 1-10)
SOURCE_PREFIX = "signal_source:"  # + signal name → the model that produced its value (ScoreBreakdown.sources)
PREPARED = "neural_prepared"
ERROR_PREFIX = "neural_error:"  # + model name → why that model failed on this clip


def clip_model(ctx: SignalContext, name: str):
    """The bundle's model ``name`` (an attribute of ``ModelBundle``) after this clip has been
    prepared. Raises ``Unavailable("model absent: <name>")`` when it is not loaded and
    ``Unavailable("error: ...")`` when it failed on this clip."""
    bundle = ctx.models
    model = getattr(bundle, name, None) if bundle is not None else None
    if model is None:
        raise Unavailable(f"model absent: {name}")
    bundle.ensure_prepared(ctx.features, ctx.request)
    why = ctx.features.get_extra(ERROR_PREFIX + name)
    if why:
        raise Unavailable(f"error: {name}: {why}")
    return model


def clip_aesthetics(ctx: SignalContext):
    """This clip's ``AestheticsScores``, or None when Audiobox Aesthetics is not loaded (the
    signal then takes its weight-free route). Raises ``Unavailable("error: aesthetics: ...")``
    when the model failed on this clip: a configured judge that failed is not silently replaced."""
    bundle = ctx.models
    if bundle is None or getattr(bundle, "aesthetics", None) is None:
        return None
    clip_model(ctx, "aesthetics")
    scores = ctx.features.get_extra(EXTRA_AESTHETICS)
    if scores is None:
        raise Unavailable("error: aesthetics scores were not computed")
    return scores


def set_source(ctx: SignalContext, signal: str, source: str | None) -> None:
    """Record which model produced ``signal``'s value on this clip (None: the signal's
    weight-free route); the scorer copies it into ``ScoreBreakdown.sources``."""
    ctx.features.set_extra(SOURCE_PREFIX + signal, source)
