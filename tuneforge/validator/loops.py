"""Periodic work as small loop objects: metagraph sync, rounds, weight setting, and the API's job
workers, webhook delivery and maintenance.

A :class:`Loop` runs one async ``step`` every ``interval_s`` seconds (measured start to start)
with a ``deadline_s`` per step. ``run_step`` never raises for a failing step: the failure (an
exception or a step past its deadline) is logged with its traceback, counted and kept as
``last_error``, and the loop carries on at the next interval. ``status()`` reports the counters.
Queue-driven loops (jobs, webhooks) pass ``wake`` to :meth:`Loop.run_forever`, an event that cuts
the wait short, and their step returns :data:`MORE` when work is probably still waiting, so the
next step starts at once instead of after the interval.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Loop", "MORE"]

#: What a step returns when more work is probably waiting: the next step runs without a pause.
MORE = "more"

log = logging.getLogger(__name__)


class Loop:
    """One periodic task.

    Args:
        name: shown in logs and status.
        step: coroutine function doing one unit of work.
        interval_s: seconds between the starts of two steps.
        deadline_s: seconds one step may take before it is cancelled and counted as failed.
    """

    def __init__(self, name: str, step: Callable[[], Awaitable[Any]], *, interval_s: float, deadline_s: float) -> None:
        if not interval_s > 0 or not deadline_s > 0:
            raise ValueError(f"loop {name}: interval_s and deadline_s must be > 0")
        self.name = name
        self.step = step
        self.interval_s = float(interval_s)
        self.deadline_s = float(deadline_s)
        self.steps = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.last_duration_s: float | None = None
        self.last_started_at: float | None = None
        self.last_result: Any = None

    async def run_step(self) -> bool:
        """Run one step under the deadline; True when it succeeded (its return value is ``last_result``)."""
        self.last_started_at = time.time()
        self.last_result = None
        started = time.monotonic()
        try:
            self.last_result = await asyncio.wait_for(self.step(), timeout=self.deadline_s)
        except TimeoutError:
            self._fail(f"step exceeded its {self.deadline_s:.0f} s deadline")
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(f"{type(exc).__name__}: {exc}", exc_info=True)
            return False
        finally:
            self.steps += 1
            self.last_duration_s = time.monotonic() - started
        self.consecutive_failures = 0
        return True

    def _fail(self, message: str, *, exc_info: bool = False) -> None:
        self.failures += 1
        self.consecutive_failures += 1
        self.last_error = message
        log.error("%s loop: %s (%d failures so far)", self.name, message, self.failures, exc_info=exc_info)

    async def run_forever(self, stop: asyncio.Event, *, run_first: bool = True,
                          wake: asyncio.Event | None = None) -> None:
        """Step every ``interval_s`` until ``stop`` is set (the step in progress is finished first).

        ``wake``: an event that starts the next step early (it is cleared before each step). A step
        that returns :data:`MORE` is followed by the next one at once."""
        if not run_first and await _wait(stop, self.interval_s, wake):
            return
        while not stop.is_set():
            started = time.monotonic()
            if wake is not None:
                wake.clear()
            if await self.run_step() and self.last_result == MORE:
                continue
            if await _wait(stop, max(0.0, self.interval_s - (time.monotonic() - started)), wake):
                return

    def status(self) -> dict[str, Any]:
        return {
            "interval_s": self.interval_s, "deadline_s": self.deadline_s, "steps": self.steps,
            "failures": self.failures, "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error, "last_duration_s": self.last_duration_s,
            "last_started_at": self.last_started_at,
        }


async def _wait(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> bool:
    """Sleep ``seconds`` or until ``stop`` (or ``wake``) is set; True when stopped."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return stop.is_set()
