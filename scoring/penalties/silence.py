"""Silence: a clip whose full-clip RMS is below ``constants.SILENCE_RMS`` scores a hard zero.

The scorer checks this before anything else; ``compute`` exposes the same rule as a multiplier
(0.0 silent, 1.0 otherwise) for callers that want it.
"""

from scoring import constants as C
from scoring.features import Features
from scoring.signals.base import SignalContext

NAME = "silence"


def is_silent(features: Features) -> bool:
    """True when the clip's RMS (all channels, full scale 1) is below ``SILENCE_RMS``."""
    return features.rms < C.SILENCE_RMS


def compute(ctx: SignalContext) -> float:
    return 0.0 if is_silent(ctx.features) else 1.0
