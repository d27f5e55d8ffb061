"""Signed-request nonces already used, so a captured request cannot be replayed.

A nonce is remembered per hotkey for twice the signature window (older ones fail the window check
first). :class:`StoreNonces` keeps them in the database (``seen_nonces``; shared by replicas over
PostgreSQL, and kept across restarts); :class:`RedisNonces` in Redis (``SET key NX EX``: one round
trip, shared by every replica using the URL, expiring by itself).
"""

from typing import Any, Protocol

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

    def __init__(self, url: str, *, ttl_s: float, prefix: str = "tuneforge:") -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.prefix = prefix

    def use(self, hotkey: str, nonce: int) -> bool:
        return bool(self.client.set(f"{self.prefix}nonce:{hotkey}:{int(nonce)}", b"1", nx=True, px=self.ttl_ms))

    def close(self) -> None:
        self.client.close()
