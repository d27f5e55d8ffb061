"""What a generation costs: ``num_variations × max(1, ceil(duration_seconds / 10))`` credits.

A 15 s track costs 2 credits, a 180 s track 18, four 30 s variations 12. Credits are reserved
when the request is accepted and refunded for every variation that produced no track.
"""

import math

__all__ = ["SECONDS_PER_CREDIT", "generation_cost", "variation_cost"]

SECONDS_PER_CREDIT = 10.0


def variation_cost(*, duration_seconds: float) -> int:
    """Credits for one track of ``duration_seconds`` (at least 1)."""
    return max(1, math.ceil(duration_seconds / SECONDS_PER_CREDIT - 1e-9))


def generation_cost(*, duration_seconds: float, num_variations: int = 1) -> int:
    """Credits for ``num_variations`` tracks of ``duration_seconds`` each."""
    return int(num_variations) * variation_cost(duration_seconds=duration_seconds)
