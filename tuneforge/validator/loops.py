"""Periodic validator work as small loop objects: metagraph sync, rounds, weight setting.

A :class:`Loop` runs one async ``step`` every ``interval_s`` seconds (measured start to start)
with a ``deadline_s`` per step. ``run_step`` never raises for a failing step: the failure (an
exception or a step past its deadline) is logged with its traceback, counted and kept as
``last_error``, and the loop carries on at the next interval. ``status()`` reports the counters.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Loop"]

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

    async def run_step(self) -> bool:
        """Run one step under the deadline; True when it succeeded."""
        self.last_started_at = time.time()
        started = time.monotonic()
        try:
            await asyncio.wait_for(self.step(), timeout=self.deadline_s)
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

    async def run_forever(self, stop: asyncio.Event, *, run_first: bool = True) -> None:
        """Step every ``interval_s`` until ``stop`` is set (the step in progress is finished first)."""
        if not run_first and await _wait(stop, self.interval_s):
            return
        while not stop.is_set():
            started = time.monotonic()
            await self.run_step()
            if await _wait(stop, max(0.0, self.interval_s - (time.monotonic() - started))):
                return

    def status(self) -> dict[str, Any]:
        return {
            "interval_s": self.interval_s, "deadline_s": self.deadline_s, "steps": self.steps,
            "failures": self.failures, "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error, "last_duration_s": self.last_duration_s,
            "last_started_at": self.last_started_at,
        }


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop`` is set; True when stopped."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
