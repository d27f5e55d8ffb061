"""The `speed` signal: how fast the miner delivered, relative to the requested duration.

``ratio = generation_seconds / requested duration`` (validator-measured round trip) is mapped
through ``constants.SPEED_CURVE``: ≤ 1× real time scores 1.0, 3× scores 0.3, ≥ 6× scores 0,
linear between. Unavailable for standalone scoring, when no time was measured.
"""

from scoring import constants as C
from scoring.curves import piecewise
from scoring.signals.base import SignalContext, Unavailable

NAME = "speed"


def speed_credit(*, generation_seconds: float, requested_seconds: float) -> float:
    """Credit in [0, 1] for delivering ``requested_seconds`` of audio in ``generation_seconds``."""
    if requested_seconds <= 0:
        raise ValueError("requested_seconds must be positive")
    ratio = max(0.0, float(generation_seconds)) / float(requested_seconds)
    return piecewise(ratio, C.SPEED_CURVE)


def compute(ctx: SignalContext) -> float:
    if ctx.generation_seconds is None:
        raise Unavailable("no generation time measured")
    return speed_credit(generation_seconds=ctx.generation_seconds, requested_seconds=ctx.request.duration_seconds)
