"""Signed-request nonces already used, so a captured request cannot be replayed.

A nonce is remembered per hotkey for twice the signature window (older ones fail the window check
first). :class:`StoreNonces` keeps them in the database (``seen_nonces``; shared by replicas over
PostgreSQL, and kept across restarts); :class:`RedisNonces` in Redis (``SET key NX EX``: one round
trip, shared by every replica using the URL, expiring by itself); while Redis cannot be reached it
falls back to the store's table, which every replica shares too, so a replay is refused either way
(a nonce first seen in Redis and replayed during an outage is caught by the window check only
after ``WINDOW_SECONDS``: the outage's cost, logged).
"""

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

__all__ = ["NonceLedger", "StoreNonces", "RedisNonces"]


class NonceLedger(Protocol):
    def use(self, hotkey: str, nonce: int) -> bool:
        """Record ``nonce`` for ``hotkey``; False when it was already used (a replay)."""
        ...


class StoreNonces:
    """Nonces in the store's ``seen_nonces`` table (pruned by the API's maintenance pass)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def use(self, hotkey: str, nonce: int) -> bool:
        return bool(self.store.use_nonce(hotkey, nonce))


class RedisNonces:
    """Nonces as Redis keys ``<prefix>nonce:<hotkey>:<nonce>`` that expire after ``ttl_s``."""

    def __init__(self, url: str, *, ttl_s: float, prefix: str = "tuneforge:", fallback: NonceLedger | None = None,
                 timeout_s: float = 0.5) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.prefix = prefix
        self.fallback = fallback

    def use(self, hotkey: str, nonce: int) -> bool:
        try:
            return bool(self.client.set(f"{self.prefix}nonce:{hotkey}:{int(nonce)}", b"1", nx=True, px=self.ttl_ms))
        except self._errors as exc:
            if self.fallback is None:
                raise
            log.warning("nonces: Redis unreachable (%s: %s); using the database's table", type(exc).__name__, exc)
            return self.fallback.use(hotkey, nonce)

    def close(self) -> None:
        self.client.close()
