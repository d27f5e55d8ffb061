"""The penalty registry: published penalty name → ``compute(ctx) -> float`` multiplier in [0, 1].

Silence is not a multiplier but a hard zero checked by the scorer first
(``scoring.penalties.silence``).
"""

from collections.abc import Callable

from scoring import constants as C
from scoring.penalties import artifact, duration, fad, fingerprint
from scoring.signals.base import SignalContext

__all__ = ["PENALTIES"]

PENALTIES: dict[str, Callable[[SignalContext], float]] = {
    duration.NAME: duration.compute,
    artifact.NAME: artifact.compute,
    fad.NAME: fad.compute,
    fingerprint.NAME: fingerprint.compute,
}
assert tuple(PENALTIES) == C.PENALTIES, "penalty registry out of step with constants.PENALTIES"
