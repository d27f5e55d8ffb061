"""The contract every signal and penalty follows.

A signal is a function ``compute(ctx: SignalContext) -> float`` returning a value in [0, 1],
or raising :class:`Unavailable` with a reason when it cannot be computed (model absent, not
applicable, clip too short...). A penalty has the same shape and returns a multiplier in
[0, 1] (1.0 = no penalty). Signals read everything from ``ctx.features`` (computed once per
clip, lazily) and never recompute what another signal already computed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scoring.request import ScoringRequest

if TYPE_CHECKING:  # imported for types only; avoids import cycles
    from scoring.features import Features

__all__ = ["Unavailable", "SignalContext", "RoundContext", "SignalFn", "ScoringError"]


class ScoringError(Exception):
    """Root of the scoring package's errors."""


class Unavailable(ScoringError):
    """A signal or penalty that cannot be computed for this clip; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RoundContext:
    """The other clips of the same round, for cross-miner signals (diversity, fingerprint).

    ``entries`` maps hotkey → that clip's :class:`~scoring.features.Features`.
    """

    entries: dict[str, "Features"]


@dataclass
class SignalContext:
    """Everything a signal may read.

    ``models``: a ``scoring.models.ModelBundle`` or None (no neural models loaded);
    ``history``: a ``scoring.history.MinerHistory`` or None; ``hotkey``: the miner graded
    (None for a standalone score); ``generation_seconds``: validator-measured round trip.
    """

    features: "Features"
    request: ScoringRequest
    models: Any = None
    history: Any = None
    round: RoundContext | None = None
    hotkey: str | None = None
    generation_seconds: float | None = None


SignalFn = Callable[[SignalContext], float]
