"""What every part of the API shares: the store, the settings, the validator's hooks, the limiter.

One :class:`ApiContext` is built per app and kept in ``app.state.ctx``. ``wake_jobs`` and
``wake_webhooks`` may be called from any thread (routes run in a thread pool) and nudge the
background loops on the server's event loop, so a new job starts without waiting for a poll
(with ``--api.redis_url`` they are :class:`tuneforge.api.wakeups.RedisWakeup`, which nudge other
processes too). ``nonces`` remembers signed-request nonces (the store's table, or Redis);
``ready_checks`` are the named probes ``GET /ready`` runs (each raises when its dependency is down);
``registry_age`` reports how old the validator's published registry is (replicas only).
:meth:`ApiContext.read` runs a store read from async code: on SQLite on the event loop itself (a
WAL read never waits for the writer and costs ~0.1 ms, less than handing it to a worker thread and
back; measured, the hand-off was a fifth of the loop's time under load), on a database server in
the thread pool (a network round trip must not stall the loop).
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from anyio import to_thread

from tuneforge.api.ratelimit import RateLimiter
from tuneforge.api.settings import ApiSettings

__all__ = ["ApiContext", "Wakeup"]

T = TypeVar("T")

log = logging.getLogger(__name__)


class Wakeup:
    """An asyncio.Event that other threads may set."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def bind(self) -> asyncio.Event:
        """Create the event on the running loop (call from the loop that waits on it)."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
            return self._event

    def set(self) -> None:
        with self._lock:
            loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)


@dataclass
class ApiContext:
    store: Any
    settings: ApiSettings
    gateway: Any = None
    leaderboard: Callable[[], list[dict[str, Any]]] = field(default=lambda: [])
    is_registered: Callable[[str], bool] = field(default=lambda hotkey: False)
    limiter: Any = field(default_factory=RateLimiter)  # RateLimiter or RedisRateLimiter
    wake_jobs: Wakeup = field(default_factory=Wakeup)
    wake_webhooks: Wakeup = field(default_factory=Wakeup)
    nonces: Any = None  # tuneforge.api.nonces.NonceLedger; None: the store's table
    ready_checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    registry_age: Callable[[], float | None] | None = None
    inline_reads: bool | None = None  # None: on SQLite only (see read())

    def __post_init__(self) -> None:
        if self.inline_reads is None:
            url = str(getattr(self.store, "database_url", "") or "")
            self.inline_reads = url.startswith("sqlite")

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, a short store read: inline on SQLite, in the thread pool otherwise."""
        if self.inline_reads:
            return fn(*args)
        return await to_thread.run_sync(fn, *args)
