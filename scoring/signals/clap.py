"""The `clap` signal (neural; being implemented — until then it reports itself unavailable)."""

from scoring.signals.base import SignalContext, Unavailable

NAME = "clap"


def compute(ctx: SignalContext) -> float:
    """Return the signal in [0, 1]; raises Unavailable while not implemented."""
    raise Unavailable("not implemented yet")
