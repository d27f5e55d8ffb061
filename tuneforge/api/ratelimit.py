"""Per-caller request limits over one-minute windows, with the numbers every response reports.

Each caller (an account, a hotkey, or a client IP for unauthenticated requests) gets a window
that opens at its first request and lasts 60 s; up to ``limit`` requests pass in it. Every
response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (the
Unix time the window ends); a refused request also gets ``Retry-After`` (whole seconds).
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateDecision", "WINDOW_SECONDS"]

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # Unix seconds

    def headers(self, *, now: float) -> dict[str, str]:
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, math.ceil(self.reset_at - now)))
        return out


class RateLimiter:
    """Fixed one-minute windows per caller key; thread-safe."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int) -> RateDecision:
        """Count one request for ``key`` against ``limit`` per minute."""
        now = self.clock()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now >= start + WINDOW_SECONDS:
                start, count = now, 0
            allowed = count < limit
            if allowed:
                count += 1
            self._windows[key] = (start, count)
            if len(self._windows) > self.max_keys:
                self._evict(now)
        return RateDecision(allowed=allowed, limit=limit, remaining=max(0, limit - count),
                            reset_at=start + WINDOW_SECONDS)

    def _evict(self, now: float) -> None:
        for key in [k for k, (start, _) in self._windows.items() if now >= start + WINDOW_SECONDS]:
            del self._windows[key]
