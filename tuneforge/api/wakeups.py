"""Wake-ups that cross processes: a new job nudges every validator's job workers at once.

:class:`RedisWakeup` is a :class:`~tuneforge.api.context.Wakeup` (``set()`` from any thread,
``bind()`` on the loop that waits) that also publishes on a Redis channel, and whose
:meth:`~RedisWakeup.relay` task sets the local event whenever any process publishes there. Without
Redis the local event reaches only this process's loops; other processes find new rows at their
next poll (``POLL_SECONDS`` in :mod:`tuneforge.api.jobs`). A wake-up is only a hint either way: the
database row is the job, so a lost message delays a job by one poll and never loses it.
"""

import asyncio
import logging
from typing import Any

from tuneforge.api.context import Wakeup

__all__ = ["RedisWakeup", "JOBS_CHANNEL", "WEBHOOKS_CHANNEL"]

log = logging.getLogger(__name__)

JOBS_CHANNEL = "jobs"
WEBHOOKS_CHANNEL = "webhooks"
RECONNECT_S = 1.0


class RedisWakeup(Wakeup):
    """A :class:`Wakeup` shared through the Redis channel ``<prefix>wake:<channel>``."""

    def __init__(self, url: str, channel: str, *, prefix: str = "tuneforge:") -> None:
        import redis

        super().__init__()
        self.url = url
        self.channel = f"{prefix}wake:{channel}"
        self._client = redis.Redis.from_url(url)
        self.publish_failures = 0

    def set(self) -> None:
        super().set()
        try:
            self._client.publish(self.channel, b"1")
        except Exception as exc:  # a hint only: the other processes still poll
            self.publish_failures += 1
            log.warning("publishing a wake-up on %s failed: %s: %s", self.channel, type(exc).__name__, exc)

    def set_local(self) -> None:
        """Wake this process's waiters only (a message that came from Redis)."""
        super().set()

    async def relay(self, stop: asyncio.Event) -> None:
        """Until ``stop``: set the local event for every message on the channel (reconnecting on errors)."""
        import redis.asyncio

        while not stop.is_set():
            client: Any = redis.asyncio.Redis.from_url(self.url)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is not None:
                        self.set_local()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("wake-up channel %s: %s: %s; reconnecting", self.channel, type(exc).__name__, exc)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=RECONNECT_S)
                except TimeoutError:
                    pass
            finally:
                await pubsub.aclose()
                await client.aclose()

    def close(self) -> None:
        self._client.close()
