"""Per-caller request limits over a sliding 60 s window, in this process or shared through Redis.

Each caller (an account, a hotkey, or a client IP for unauthenticated requests) may make at most
``limit`` requests in ANY 60 s span: the limiter keeps the time of every request it let through in
the last 60 s (a sliding-window log) and refuses a request while ``limit`` of them are that recent.
Unlike fixed one-minute windows, which let ``limit`` through at the end of one window and ``limit``
more at the start of the next (twice the limit in a few seconds), no span of 60 s ever holds more
than ``limit``. A refused request is not recorded, so a caller hammering a closed window does not
keep it closed. The log costs one timestamp per admitted request per caller (at most ``limit``).

Every response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` (requests still allowed
right now) and ``X-RateLimit-Reset`` (Unix time, whole seconds rounded up, at which the oldest
counted request leaves the window, i.e. when ``Remaining`` next grows); a refused request also
gets ``Retry-After`` (whole seconds until then).

:class:`RateLimiter` keeps the log in this process (a bounded table: callers idle for a window
are dropped first, then the least recently seen). :class:`RedisRateLimiter` keeps it in Redis (one
sorted set per caller, updated by one Lua script, so API replicas share each caller's window
exactly); it uses the replicas' clocks, which must agree to well under a second (NTP), as they
already must for the signed-request window. While Redis cannot be reached (``GET /ready`` says so)
each replica falls back to its own in-process log, logging a warning every ``WARN_EVERY_S``: the
API keeps answering, with limits per replica until Redis is back.
"""

import asyncio
import collections
import logging
import math
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["RateLimiter", "RedisRateLimiter", "RateDecision", "WINDOW_SECONDS"]

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
#: Seconds a request waits for Redis before the limiter falls back to this process's log.
REDIS_TIMEOUT_S = 0.5
WARN_EVERY_S = 10.0


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
    """Sliding-window log per caller key, in this process; thread-safe.

    Args:
        clock: Unix seconds (tests pass a controllable one).
        max_keys: callers remembered at once; beyond it idle callers go first, then the least recent.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._log: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int) -> RateDecision:
        """Count one request for ``key`` against ``limit`` per sliding 60 s."""
        now = self.clock()
        with self._lock:
            times = self._log.get(key)
            if times is None:
                if len(self._log) >= self.max_keys:
                    self._evict(now, room_for=1)
                times = self._log[key] = collections.deque()
            else:
                self._log.move_to_end(key)
            while times and times[0] <= now - WINDOW_SECONDS:
                times.popleft()
            allowed = len(times) < limit
            if allowed:
                times.append(now)
            while len(times) > limit:  # the limit was lowered since: keep the newest
                times.popleft()
            oldest = times[0] if times else now
            count = len(times)
        return RateDecision(allowed=allowed, limit=limit, remaining=max(0, limit - count),
                            reset_at=oldest + WINDOW_SECONDS)

    async def check(self, key: str, limit: int) -> RateDecision:
        """:meth:`hit` for async callers (the in-process table needs no I/O)."""
        return self.hit(key, limit)

    def __len__(self) -> int:
        return len(self._log)

    def _evict(self, now: float, *, room_for: int) -> None:
        """Make room for ``room_for`` new callers: drop idle ones, then the least recently seen."""
        idle = [k for k, times in self._log.items() if not times or times[-1] <= now - WINDOW_SECONDS]
        for key in idle:
            del self._log[key]
        while self._log and len(self._log) > self.max_keys - room_for:
            self._log.popitem(last=False)


# KEYS[1]: the caller's sorted set; ARGV: now (µs), window (µs), limit, a unique member.
# Returns {allowed (0|1), count after, oldest timestamp (µs)}.
_SLIDING_WINDOW_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  count = count + 1
  allowed = 1
elseif count > limit then
  redis.call('ZREMRANGEBYRANK', key, 0, count - limit - 1)
  count = limit
end
redis.call('PEXPIRE', key, math.ceil(window / 1000))
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local first = now
if oldest[2] then first = tonumber(oldest[2]) end
return {allowed, count, first}
"""


class RedisRateLimiter:
    """The same sliding-window log, kept in Redis and shared by every replica using ``url``.

    ``check`` (the middleware's, on the event loop) uses an asyncio client; ``hit`` a blocking one
    (tools and tests). Keys are ``<prefix>rl:<caller>``; each expires a window after its last request.
    """

    def __init__(self, url: str, *, prefix: str = "tuneforge:", clock: Callable[[], float] = time.time) -> None:
        import redis
        import redis.asyncio

        self.url = url
        self.prefix = prefix
        self.clock = clock
        timeouts = {"socket_timeout": REDIS_TIMEOUT_S, "socket_connect_timeout": REDIS_TIMEOUT_S}
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._sync = redis.Redis.from_url(url, **timeouts)
        self._sync_script = self._sync.register_script(_SLIDING_WINDOW_LUA)
        self._async_factory = lambda: redis.asyncio.Redis.from_url(url, **timeouts)
        self.fallback = RateLimiter(clock=clock)
        self.fallbacks = 0  # decisions made in this process because Redis did not answer
        self._warned_at: float | None = None
        # asyncio clients belong to one event loop: one (client, script) per loop that calls check()
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any]] = weakref.WeakKeyDictionary()

    def _args(self, key: str, limit: int) -> tuple[list[str], list[Any], float]:
        now = self.clock()
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        return ([f"{self.prefix}rl:{key}"],
                [int(now * 1e6), int(WINDOW_SECONDS * 1e6), int(limit), member], now)

    @staticmethod
    def _decision(result: Any, limit: int) -> RateDecision:
        allowed, count, oldest_us = (int(v) for v in result)
        return RateDecision(allowed=bool(allowed), limit=limit, remaining=max(0, limit - count),
                            reset_at=oldest_us / 1e6 + WINDOW_SECONDS)

    def _fall_back(self, key: str, limit: int, exc: BaseException) -> RateDecision:
        self.fallbacks += 1
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate limits: Redis %s unreachable (%s: %s); limiting in this process meanwhile",
                        self.url, type(exc).__name__, exc)
        return self.fallback.hit(key, limit)

    def hit(self, key: str, limit: int) -> RateDecision:
        keys, args, _ = self._args(key, limit)
        try:
            return self._decision(self._sync_script(keys=keys, args=args), limit)
        except self._errors as exc:
            return self._fall_back(key, limit, exc)

    async def check(self, key: str, limit: int) -> RateDecision:
        loop = asyncio.get_running_loop()
        pair = self._async.get(loop)
        if pair is None:
            client = self._async_factory()
            pair = self._async[loop] = (client, client.register_script(_SLIDING_WINDOW_LUA))
        keys, args, _ = self._args(key, limit)
        try:
            return self._decision(await pair[1](keys=keys, args=args), limit)
        except self._errors as exc:
            return self._fall_back(key, limit, exc)

    def ping(self) -> None:
        self._sync.ping()

    async def aclose(self) -> None:
        """Close the asyncio client of the running loop (the others close with their loops)."""
        pair = self._async.pop(asyncio.get_running_loop(), None)
        if pair is not None:
            await pair[0].aclose()

    def close(self) -> None:
        self._sync.close()
