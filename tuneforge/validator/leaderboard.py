"""The leaderboard: an exponential moving average of each miner's round score, and tiered weights.

Each uid's entry belongs to one hotkey. ``update`` folds a round score into the EMA with
α = ``scoring.constants.EMA_ALPHA``; the EMA of a newcomer starts from 0, so its first round
gives ``α·score`` and a miner has to keep scoring to earn weight (a fresh hotkey cannot jump to
the top on one lucky clip). When a uid is recycled to a new hotkey its entry restarts from 0 and
the old hotkey's history is dropped. Weights follow the network's published rule: the top
``TOP_TIER_SIZE`` miners by EMA share ``TOP_TIER_SHARE`` of the weight and the rest share the
remainder, each tier proportional to EMA². If there is no second tier (at most ``TOP_TIER_SIZE``
miners with a positive EMA), its share goes to the top tier so the weights still sum to 1; if no
miner has a positive EMA the weights are all zero and the weight setter skips the round. Ranking
ties are broken by the lower uid, so every validator orders equal EMAs the same way.
"""

import logging
import math
import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scoring.constants import EMA_ALPHA, TOP_TIER_SHARE, TOP_TIER_SIZE

__all__ = ["Leaderboard", "MinerRecord"]

log = logging.getLogger(__name__)


@dataclass
class MinerRecord:
    """One miner's standing: ``ema`` and ``last_score`` in [0, 1]; ``last_block`` is a chain block or None."""

    uid: int
    hotkey: str
    ema: float = 0.0
    rounds: int = 0
    last_score: float | None = None
    last_block: int | None = None


class Leaderboard:
    """Per-uid EMA of round scores, bound to the hotkey that earned it. Thread-safe."""

    def __init__(self, *, alpha: float = EMA_ALPHA) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = float(alpha)
        self._records: dict[int, MinerRecord] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def get(self, uid: int) -> MinerRecord | None:
        """A copy of ``uid``'s record, or None."""
        with self._lock:
            record = self._records.get(uid)
            return None if record is None else MinerRecord(**asdict(record))

    def records(self) -> list[MinerRecord]:
        """Copies of every record, by uid."""
        with self._lock:
            return [MinerRecord(**asdict(r)) for _, r in sorted(self._records.items())]

    def update(self, uid: int, hotkey: str, score: float, *, block: int | None = None) -> MinerRecord:
        """Fold one round ``score`` (in [0, 1]; 0 for a miner that did not answer) into ``uid``'s EMA.

        Raises:
            ValueError: negative uid, empty hotkey, or a score that is not a finite number in [0, 1].
        """
        if uid < 0:
            raise ValueError(f"uid must be >= 0, got {uid}")
        if not hotkey:
            raise ValueError(f"empty hotkey for uid {uid}")
        score = float(score)
        if not math.isfinite(score) or not 0.0 <= score <= 1.0:
            raise ValueError(f"score for uid {uid} must be a finite number in [0, 1], got {score!r}")
        with self._lock:
            record = self._records.get(uid)
            if record is None or record.hotkey != hotkey:
                if record is not None:
                    log.info("uid %d recycled: %s replaces %s, EMA restarts", uid, hotkey, record.hotkey)
                record = MinerRecord(uid=uid, hotkey=hotkey)
                self._records[uid] = record
            record.ema = self.alpha * score + (1.0 - self.alpha) * record.ema
            record.rounds += 1
            record.last_score = score
            if block is not None:
                record.last_block = int(block)
            return MinerRecord(**asdict(record))

    def sync(self, hotkeys: list[str]) -> list[int]:
        """Drop entries whose uid left the metagraph or now belongs to another hotkey.

        ``hotkeys[uid]`` is the metagraph's hotkey for each uid. Returns the dropped uids.
        """
        with self._lock:
            dropped = [
                uid for uid, r in self._records.items() if uid >= len(hotkeys) or hotkeys[uid] != r.hotkey
            ]
            for uid in dropped:
                log.info("leaderboard drops uid %d (%s): no longer on the metagraph", uid, self._records[uid].hotkey)
                del self._records[uid]
            return sorted(dropped)

    def ranking(self) -> list[MinerRecord]:
        """Records by EMA, highest first; equal EMAs by lower uid."""
        with self._lock:
            return sorted((MinerRecord(**asdict(r)) for r in self._records.values()), key=lambda r: (-r.ema, r.uid))

    def weights(self, n: int, *, hotkeys: list[str] | None = None) -> np.ndarray:
        """Tiered weights for uids ``0..n-1``: shape (n,), float64, summing to 1 (or all zero).

        Only uids below ``n`` with a positive EMA take part; with ``hotkeys`` (the metagraph's
        hotkey per uid) an entry whose hotkey differs from the metagraph's is left out too.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        out = np.zeros(n, dtype=np.float64)
        ranked = [
            r for r in self.ranking()
            if r.uid < n and r.ema > 0.0 and (hotkeys is None or (r.uid < len(hotkeys) and hotkeys[r.uid] == r.hotkey))
        ]
        top, rest = ranked[:TOP_TIER_SIZE], ranked[TOP_TIER_SIZE:]
        rest_mass = sum(r.ema**2 for r in rest)
        top_share = TOP_TIER_SHARE if rest_mass > 0.0 else 1.0
        for tier, share in ((top, top_share), (rest, 1.0 - top_share)):
            mass = sum(r.ema**2 for r in tier)
            if mass <= 0.0 or share <= 0.0:
                continue
            for r in tier:
                out[r.uid] = share * r.ema**2 / mass
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        """Rows for the API and the local network's table, best first: uid, hotkey, ema, weight, rounds, last_score, last_block."""
        ranked = self.ranking()
        n = max((r.uid for r in ranked), default=-1) + 1
        w = self.weights(n)
        return [
            {"uid": r.uid, "hotkey": r.hotkey, "ema": r.ema, "weight": float(w[r.uid]), "rounds": r.rounds,
             "last_score": r.last_score, "last_block": r.last_block}
            for r in ranked
        ]

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"alpha": self.alpha, "miners": [asdict(r) for _, r in sorted(self._records.items())]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Leaderboard":
        """Rebuild from ``to_dict`` output.

        Raises:
            ValueError: the data is malformed (missing keys, wrong types, duplicate uids, bad numbers).
        """
        if not isinstance(data, dict) or not isinstance(data.get("miners"), list):
            raise ValueError("leaderboard data must be a dict with a 'miners' list")
        stored_alpha = data.get("alpha", EMA_ALPHA)
        if stored_alpha != EMA_ALPHA:
            log.warning("leaderboard was saved with alpha=%s; continuing with alpha=%s", stored_alpha, EMA_ALPHA)
        board = cls()
        for row in data["miners"]:
            try:
                record = MinerRecord(
                    uid=int(row["uid"]), hotkey=str(row["hotkey"]), ema=float(row["ema"]), rounds=int(row["rounds"]),
                    last_score=None if row.get("last_score") is None else float(row["last_score"]),
                    last_block=None if row.get("last_block") is None else int(row["last_block"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"malformed leaderboard row {row!r}: {exc}") from exc
            if record.uid < 0 or not record.hotkey or not (0.0 <= record.ema <= 1.0) or record.rounds < 0:
                raise ValueError(f"leaderboard row out of range: {row!r}")
            if record.uid in board._records:
                raise ValueError(f"duplicate uid {record.uid} in leaderboard data")
            board._records[record.uid] = record
        return board
