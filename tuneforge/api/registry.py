"""Who may call the hotkey-signed routes, and the leaderboard, for an API replica without a validator.

A replica (``tuneforge api serve``) does not connect to the chain: the validator it serves already
syncs the metagraph, and publishes what the API needs into the shared database after every sync
(``published_state`` row ``"registry"``: netuid, block, registered hotkeys) and every round
(``"leaderboard"``). :class:`PublishedRegistry` reads those rows, at most once per ``ttl_s``, so a
hotkey that registers or leaves is seen by every replica within one metagraph sync plus ``ttl_s``.
Why not read the chain from each replica: one websocket and a metagraph download per replica per
sync for data the validator already holds; replicas keep answering while a chain endpoint is down;
and a replica needs no chain configuration. The price is staleness bounded by the validator's
``--neuron.sync_interval``; ``GET /ready`` reports the snapshot's age.

:func:`publish_registry` and :func:`publish_leaderboard` are what the validator calls.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["PublishedRegistry", "publish_registry", "publish_leaderboard", "REGISTRY", "LEADERBOARD"]

log = logging.getLogger(__name__)

REGISTRY = "registry"
LEADERBOARD = "leaderboard"


def publish_registry(store: Any, *, netuid: int, hotkeys: Iterable[str], block: int | None = None) -> None:
    """Publish the subnet's registered hotkeys (in uid order) for API replicas."""
    store.publish(REGISTRY, {"netuid": int(netuid), "block": block, "hotkeys": [str(h) for h in hotkeys]})


def publish_leaderboard(store: Any, rows: list[dict[str, Any]]) -> None:
    """Publish the leaderboard snapshot (``Leaderboard.snapshot()`` rows) for API replicas."""
    store.publish(LEADERBOARD, {"miners": rows})


class PublishedRegistry:
    """The validator's published registry and leaderboard, re-read at most once per ``ttl_s``."""

    def __init__(self, store: Any, *, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._hotkeys: frozenset[str] = frozenset()
        self._leaderboard: list[dict[str, Any]] = []
        self.published_at: float | None = None  # Unix seconds of the registry row read last

    def _refresh(self) -> None:
        now = self.clock()
        if self._read_at is not None and now - self._read_at < self.ttl_s:
            return
        with self._lock:
            if self._read_at is not None and now - self._read_at < self.ttl_s:
                return
            try:
                registry = self.store.published(REGISTRY)
                board = self.store.published(LEADERBOARD)
            except Exception as exc:  # keep answering from the last snapshot while the database is away
                log.warning("reading the published registry failed (%s: %s); using the last one",
                            type(exc).__name__, exc)
                self._read_at = now
                return
            if registry is not None:
                self._hotkeys = frozenset(str(h) for h in registry[0].get("hotkeys") or ())
                self.published_at = registry[1]
            self._leaderboard = list((board[0].get("miners") if board else None) or [])
            self._read_at = now

    def is_registered(self, hotkey: str) -> bool:
        self._refresh()
        return hotkey in self._hotkeys

    def leaderboard(self) -> list[dict[str, Any]]:
        self._refresh()
        return list(self._leaderboard)

    def age_s(self) -> float | None:
        """Seconds since the validator last published its registry (None: never)."""
        self._refresh()
        return None if self.published_at is None else max(0.0, time.time() - self.published_at)
