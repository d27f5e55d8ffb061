"""Silence: a clip whose full-clip RMS is below ``constants.SILENCE_RMS`` scores a hard zero.

So does a stereo clip whose channels cancel (L ≈ −R): every signal analyses the channel mean, so
it would be scored on near-silence, and it plays as silence on any mono speaker.

The scorer checks this before anything else; ``compute`` exposes the same rule as a multiplier
(0.0 silent, 1.0 otherwise) for callers that want it.
"""

from scoring import constants as C
from scoring.features import Features
from scoring.signals.base import SignalContext

NAME = "silence"


def silence_reason(features: Features) -> str | None:
    """Why the clip counts as silent, or None: RMS over all channels (full scale 1) below
    ``SILENCE_RMS``, or the channel mean's RMS below it (phase-cancelled stereo)."""
    if features.rms < C.SILENCE_RMS:
        return f"silence: RMS {features.rms:.5f} < {C.SILENCE_RMS}"
    mono_rms = features.mono_rms
    if mono_rms < C.SILENCE_RMS:
        return (f"silence in mono: the channels cancel (mono RMS {mono_rms:.5f} < {C.SILENCE_RMS}, "
                f"stereo RMS {features.rms:.5f})")
    return None


def is_silent(features: Features) -> bool:
    """True when :func:`silence_reason` finds the clip silent."""
    return silence_reason(features) is not None


def compute(ctx: SignalContext) -> float:
    return 0.0 if is_silent(ctx.features) else 1.0
