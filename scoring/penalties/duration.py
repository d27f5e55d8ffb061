"""The `duration_penalty`: a clip much shorter or longer than requested loses its score.

``dev = |actual − requested| / requested``; no penalty while ``dev ≤ DURATION_TOLERANCE`` (20 %),
then linear down to 0 at ``DURATION_ZERO_AT`` (50 %): 35 % off gives 0.5.
"""

from scoring import constants as C
from scoring.curves import clamp01
from scoring.signals.base import SignalContext

NAME = "duration_penalty"


def duration_multiplier(*, actual_seconds: float, requested_seconds: float) -> float:
    if requested_seconds <= 0:
        raise ValueError("requested_seconds must be positive")
    dev = abs(actual_seconds - requested_seconds) / requested_seconds
    if dev <= C.DURATION_TOLERANCE:
        return 1.0
    return clamp01(1.0 - (dev - C.DURATION_TOLERANCE) / (C.DURATION_ZERO_AT - C.DURATION_TOLERANCE))


def compute(ctx: SignalContext) -> float:
    return duration_multiplier(
        actual_seconds=ctx.features.duration_seconds, requested_seconds=ctx.request.duration_seconds
    )
