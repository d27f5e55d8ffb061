"""From signal values to one composite: the published weights, tilted and renormalised.

The published weights (``constants.SIGNAL_WEIGHTS``) are tilted multiplicatively by the clip's
requested duration (short clips lean on production and fidelity, long ones on structure and
melody) and by a vocal request (vocal signals up-weighted); the preference weight comes from the
loaded preference head. Unavailable signals drop out and the rest are renormalised to sum to 1,
so a missing model never drags a score down or up.
"""

import math

from scoring import constants as C
from scoring.request import ScoringRequest

__all__ = ["base_weights", "effective_weights", "composite_score"]


def base_weights(*, request: ScoringRequest, preference_weight: float = 0.0) -> dict[str, float]:
    """Published weights with the duration and vocal tilts applied (not yet renormalised)."""
    weights = dict(C.SIGNAL_WEIGHTS)
    weights["preference"] = max(0.0, float(preference_weight))
    tilts: list[dict[str, float]] = []
    if request.duration_seconds < C.SHORT_CLIP_SECONDS:
        tilts.append(C.SHORT_CLIP_TILT)
    elif request.duration_seconds >= C.LONG_CLIP_SECONDS:
        tilts.append(C.LONG_CLIP_TILT)
    if request.vocals_requested:
        tilts.append(C.VOCALS_REQUESTED_TILT)
    for tilt in tilts:
        for name, factor in tilt.items():
            weights[name] *= factor
    return weights


def effective_weights(
    *, request: ScoringRequest, available: set[str], preference_weight: float = 0.0
) -> dict[str, float]:
    """Weights over all 16 signals: tilted, zero for unavailable ones, the rest summing to 1
    (all zero when nothing with positive weight is available)."""
    weights = base_weights(request=request, preference_weight=preference_weight)
    kept = {name: (w if name in available else 0.0) for name, w in weights.items()}
    total = sum(kept.values())
    if total <= 0:
        return {name: 0.0 for name in kept}
    return {name: w / total for name, w in kept.items()}


def composite_score(*, signals: dict[str, float | None], weights: dict[str, float]) -> float:
    """Weighted mean of the available signals with ``weights`` (already renormalised), in [0, 1]."""
    total = 0.0
    for name, w in weights.items():
        value = signals.get(name)
        if w > 0 and value is not None and math.isfinite(value):
            total += w * min(1.0, max(0.0, value))
    return min(1.0, max(0.0, total))
