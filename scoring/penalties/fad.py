"""The `fad_penalty` (Fréchet Audio Distance; being implemented — until then unavailable)."""

from scoring.signals.base import SignalContext, Unavailable

NAME = "fad_penalty"


def compute(ctx: SignalContext) -> float:
    """Return a multiplier in [FAD_PENALTY_FLOOR, 1]; raises Unavailable while not implemented."""
    raise Unavailable("not implemented yet")
