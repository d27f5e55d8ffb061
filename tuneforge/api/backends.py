"""What API replicas share, built from the settings: Redis when ``--api.redis_url`` is set, else this process.

:func:`build_backends` returns the rate limiter, the nonce ledger, the job and webhook wake-ups and
the readiness probes. Without Redis: the in-process sliding-window limiter, nonces in the store's
table, wake-ups that reach this process only; with Redis: :class:`~tuneforge.api.ratelimit.RedisRateLimiter`,
:class:`~tuneforge.api.nonces.RedisNonces` and :class:`~tuneforge.api.wakeups.RedisWakeup`, so
every replica counts the same windows, refuses the same replays and wakes every job worker.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuneforge.api.context import Wakeup
from tuneforge.api.nonces import RedisNonces, StoreNonces
from tuneforge.api.ratelimit import RateLimiter, RedisRateLimiter
from tuneforge.api.settings import ApiSettings
from tuneforge.api.wakeups import JOBS_CHANNEL, WEBHOOKS_CHANNEL, RedisWakeup

__all__ = ["SharedBackends", "build_backends"]


@dataclass
class SharedBackends:
    limiter: Any
    nonces: Any
    wake_jobs: Wakeup
    wake_webhooks: Wakeup
    ready_checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    redis_url: str | None = None

    def relays(self) -> list[RedisWakeup]:
        """The wake-ups that need a listening task on the server's loop."""
        return [w for w in (self.wake_jobs, self.wake_webhooks) if isinstance(w, RedisWakeup)]


def build_backends(settings: ApiSettings, store: Any, *, limiter: Any = None) -> SharedBackends:
    """The shared parts for one app; ``limiter`` overrides the one the settings imply (tests).

    Raises:
        ValueError: ``--api.redis_url`` is set and the ``redis`` package is not installed.
    """
    checks: dict[str, Callable[[], None]] = {"database": store.ping}
    url = settings.redis_url
    if not url:
        return SharedBackends(limiter=RateLimiter() if limiter is None else limiter, nonces=StoreNonces(store), wake_jobs=Wakeup(),
                              wake_webhooks=Wakeup(), ready_checks=checks)
    try:
        import redis  # noqa: F401 - the optional client, checked before anything is built
    except ImportError as exc:
        raise ValueError("--api.redis_url needs the Redis client: pip install 'tuneforge[redis]'") from exc
    prefix = settings.redis_prefix
    redis_limiter = RedisRateLimiter(url, prefix=prefix)
    checks["redis"] = redis_limiter.ping
    return SharedBackends(
        limiter=redis_limiter if limiter is None else limiter,
        nonces=RedisNonces(url, ttl_s=2 * settings.signature_window_s, prefix=prefix, fallback=StoreNonces(store)),
        wake_jobs=RedisWakeup(url, JOBS_CHANNEL, prefix=prefix),
        wake_webhooks=RedisWakeup(url, WEBHOOKS_CHANNEL, prefix=prefix),
        ready_checks=checks, redis_url=url,
    )
