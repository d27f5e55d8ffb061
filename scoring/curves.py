"""Small response curves that map a measurement onto a credit in [0, 1].

Every signal turns physical measurements (dB, ratios, shares) into credits with these few
shapes, so the mapping of each measure is one readable line at its call site.
"""

import math

__all__ = ["ramp", "plateau", "piecewise", "clamp01", "weighted_mean"]


def clamp01(x: float) -> float:
    """``x`` clipped to [0, 1]; NaN becomes 0."""
    if x != x:  # NaN
        return 0.0
    return 0.0 if x < 0 else 1.0 if x > 1 else float(x)


def ramp(x: float, lo: float, hi: float) -> float:
    """0 at ``lo``, 1 at ``hi``, linear between, clipped (``lo > hi`` gives a falling ramp)."""
    if hi == lo:
        return 1.0 if x >= hi else 0.0
    return clamp01((x - lo) / (hi - lo))


def plateau(x: float, lo: float, hi: float, falloff: float) -> float:
    """1 on [``lo``, ``hi``], falling linearly to 0 ``falloff`` beyond either edge."""
    if not math.isfinite(x):
        return 0.0
    if x < lo:
        return clamp01(1.0 - (lo - x) / falloff)
    if x > hi:
        return clamp01(1.0 - (x - hi) / falloff)
    return 1.0


def piecewise(x: float, points: tuple[tuple[float, float], ...]) -> float:
    """Piecewise-linear through ``points`` ((x, y) sorted by x), constant beyond the ends."""
    if x <= points[0][0]:
        return float(points[0][1])
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1:
            return float(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return float(points[-1][1])


def weighted_mean(parts: dict[str, tuple[float, float]]) -> float:
    """Mean of ``{name: (value, weight)}`` weighted by weight; 0 when the weights sum to 0."""
    total = sum(w for _, w in parts.values())
    if total <= 0:
        return 0.0
    return sum(v * w for v, w in parts.values()) / total
