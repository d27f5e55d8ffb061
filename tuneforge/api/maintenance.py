"""Housekeeping the API runs periodically: forget old signature nonces, drop clips past retention.

Nonces older than twice the signature window can never be replayed (the window check rejects
them first), so they are pruned; validation clips older than ``retention_days`` and their
unreferenced audio files are removed (organic tracks, which belong to customers, are kept).
"""

import asyncio
import logging
import time

from tuneforge.api.context import ApiContext
from tuneforge.validator.loops import Loop

__all__ = ["Maintenance"]

log = logging.getLogger(__name__)


class Maintenance:
    def __init__(self, ctx: ApiContext, *, interval_s: float = 600.0) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.loop: Loop | None = None

    def run_step(self) -> tuple[int, int]:
        """One pass; returns ``(nonces_pruned, clips_pruned)``."""
        settings = self.ctx.settings
        nonces = self.ctx.store.prune_nonces(older_than=time.time() - 2 * settings.signature_window_s)
        clips = self.ctx.store.prune_tracks(retention_days=settings.retention_days)
        if nonces or clips:
            log.info("maintenance: pruned %d nonces and %d clips past retention", nonces, clips)
        return nonces, clips

    async def run(self, stop: asyncio.Event) -> None:
        """One pass every ``interval_s`` until ``stop`` (a :class:`~tuneforge.validator.loops.Loop`)."""
        async def step() -> None:
            await asyncio.to_thread(self.run_step)

        self.loop = Loop("maintenance", step, interval_s=self.interval_s, deadline_s=300.0)
        await self.loop.run_forever(stop)
