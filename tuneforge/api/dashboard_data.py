"""What the dashboard shows, read from the store and the validator's published state.

Three JSON documents, each small enough to poll (times in Unix seconds, scores in [0, 1]):

- :func:`summary` — the leaderboard (uid, hotkey, the model of the miner's latest clip, EMA, the
  weight the chain holds from this validator, the weight the leaderboard would set next, rounds,
  last score, and the trend: its final score in each of the last :data:`TREND_ROUNDS` rounds,
  oldest first, null where it was not sampled), organic job counts by status (all time and the last
  24 h), the queue depth and the validator's health (:mod:`tuneforge.api.dashboard_status`).
- :func:`recent_rounds` — the last rounds, newest first: the challenge's public fields and every
  clip with its score breakdown (16 signals, 4 penalties) and the URL it plays from.
- :func:`miner_history` — one miner's validation clips, oldest first.

Only validation rounds are shown: organic clips and prompts belong to the API's customers, so
they appear as counts and nowhere else. The queries read the rounds table (one row per round) and
tracks by ``round_id`` or ``hotkey`` (both indexed), so their cost does not grow with the history.
"""

import time
from typing import Any

from sqlalchemy import func, select

from scoring import constants as C
from tuneforge.api.dashboard_status import read_status
from tuneforge.store.models import Job, Round, Track

__all__ = [
    "TREND_ROUNDS",
    "CHALLENGE_FIELDS",
    "summary",
    "recent_rounds",
    "miner_history",
    "job_counts",
    "audio_path",
]

#: Rounds the leaderboard's trend column spans.
TREND_ROUNDS = 10
#: The challenge fields a finished round may show (its seeds and secrets stay with the validator).
CHALLENGE_FIELDS = (
    "prompt",
    "genre",
    "mood",
    "tempo_bpm",
    "key_signature",
    "time_signature",
    "instruments",
    "duration_seconds",
    "vocals_requested",
)
DAY_S = 86_400.0


def audio_path(track_id: str, audio_format: str) -> str:
    """Where the dashboard plays a validation clip from (relative to the API's base URL)."""
    return f"/dashboard/audio/{track_id}.{audio_format}"


def _last_rounds(conn: Any, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(Round.id, Round.challenge, Round.started_at, Round.finished_at, Round.num_miners)
        .order_by(Round.finished_at.desc(), Round.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def _round_tracks(conn: Any, round_ids: list[str], columns: tuple[Any, ...]) -> list[dict[str, Any]]:
    if not round_ids:
        return []
    query = (
        select(*columns)
        .where(Track.round_id.in_(round_ids), Track.is_organic.is_(False))
        .order_by(Track.final_score.desc(), Track.uid)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def job_counts(conn: Any, *, now: float) -> dict[str, Any]:
    """Organic jobs by status: ``{"total": {status: n}, "last_24h": {status: n}}`` (every status present)."""
    statuses = ("pending", "processing", "completed", "failed")
    out: dict[str, Any] = {}
    for name, since in (("total", None), ("last_24h", now - DAY_S)):
        query = select(Job.status, func.count()).group_by(Job.status)
        if since is not None:
            query = query.where(Job.created_at >= since)
        counts = dict.fromkeys(statuses, 0) | {str(s): int(n) for s, n in conn.execute(query)}
        out[name] = counts
    return out


def _on_chain(status: dict[str, Any] | None) -> dict[int, float] | None:
    weights = (status or {}).get("weights") or {}
    held = weights.get("on_chain")
    if not held:
        return None
    return {int(u): float(w) for u, w in zip(held.get("uids") or (), held.get("weights") or (), strict=False)}


def summary(store: Any, leaderboard: list[dict[str, Any]], *, now: float | None = None) -> dict[str, Any]:
    """The leaderboard, organic job counts, queue depth and validator health (see the module docstring)."""
    now = time.time() if now is None else now
    published = read_status(store)
    status, published_at = published if published is not None else (None, None)
    with store.engine.connect() as conn:
        rounds = _last_rounds(conn, TREND_ROUNDS)
        round_ids = [r["id"] for r in reversed(rounds)]  # oldest first
        tracks = _round_tracks(
            conn, round_ids, (Track.round_id, Track.hotkey, Track.final_score, Track.model_id)
        )
        jobs = job_counts(conn, now=now)
    scores: dict[tuple[str, str], float] = {}
    model_of: dict[str, str | None] = {}
    for t in tracks:
        scores[(t["hotkey"], t["round_id"])] = float(t["final_score"])
    position = {rid: i for i, rid in enumerate(round_ids)}
    for t in sorted(tracks, key=lambda t: position[t["round_id"]]):
        model_of[t["hotkey"]] = t["model_id"]  # the latest round's wins
    on_chain = _on_chain(status)
    miners = []
    for row in sorted(leaderboard, key=lambda r: (-(r.get("ema") or 0.0), r.get("uid") or 0)):
        hotkey = str(row.get("hotkey"))
        uid = int(row.get("uid") or 0)
        miners.append(
            {
                "uid": uid,
                "hotkey": hotkey,
                "model_id": model_of.get(hotkey),
                "ema": float(row.get("ema") or 0.0),
                "weight_on_chain": None if on_chain is None else on_chain.get(uid, 0.0),
                "weight_next": float(row.get("weight") or 0.0),
                "rounds": int(row.get("rounds") or 0),
                "last_score": None if row.get("last_score") is None else float(row["last_score"]),
                "trend": [scores.get((hotkey, rid)) for rid in round_ids],
            }
        )
    latest = rounds[0] if rounds else None
    return {
        "now": now,
        "leaderboard": miners,
        "trend_rounds": round_ids,
        "latest_round": None
        if latest is None
        else {"round_id": latest["id"], "finished_at": latest["finished_at"], "miners": latest["num_miners"]},
        "jobs": jobs,
        "queue_depth": jobs["total"]["pending"],
        "validator": status,
        "validator_published_at": published_at,
    }


def _breakdown(data: dict[str, Any] | None) -> dict[str, Any]:
    data = data or {}
    signals = data.get("signals") or {}
    penalties = data.get("penalties") or {}
    return {
        "final_score": data.get("final_score"),
        "composite": data.get("composite"),
        "error": data.get("error"),
        "signals": {name: signals.get(name) for name in C.SIGNAL_WEIGHTS},
        "unavailable": sorted((data.get("unavailable") or {}).keys()),
        "penalties": {name: penalties.get(name, 1.0) for name in C.PENALTIES},
        "penalty_notes": {
            k: str(v) for k, v in (data.get("penalty_notes") or {}).items() if k in C.PENALTIES
        },
    }


def recent_rounds(store: Any, *, limit: int = 3) -> dict[str, Any]:
    """The last ``limit`` rounds, newest first, with every clip (best first) and its breakdown."""
    with store.engine.connect() as conn:
        rounds = _last_rounds(conn, limit)
        tracks = _round_tracks(
            conn,
            [r["id"] for r in rounds],
            (
                Track.id,
                Track.round_id,
                Track.uid,
                Track.hotkey,
                Track.model_id,
                Track.final_score,
                Track.score_breakdown,
                Track.duration_seconds,
                Track.sample_rate,
                Track.audio_format,
                Track.created_at,
            ),
        )
    by_round: dict[str, list[dict[str, Any]]] = {}
    for t in tracks:
        by_round.setdefault(t["round_id"], []).append(
            {
                "track_id": t["id"],
                "uid": int(t["uid"]),
                "hotkey": t["hotkey"],
                "model_id": t["model_id"],
                "final_score": float(t["final_score"]),
                "duration_seconds": round(float(t["duration_seconds"]), 3),
                "sample_rate": int(t["sample_rate"]),
                "audio_url": audio_path(t["id"], t["audio_format"]),
                "breakdown": _breakdown(t["score_breakdown"]),
            }
        )
    challenge_of = {r["id"]: r["challenge"] or {} for r in rounds}
    return {
        "signals": list(C.SIGNAL_WEIGHTS),
        "penalties": list(C.PENALTIES),
        "rounds": [
            {
                "round_id": r["id"],
                "started_at": r["started_at"],
                "finished_at": r["finished_at"],
                "miners": r["num_miners"],
                "challenge": {k: challenge_of[r["id"]].get(k) for k in CHALLENGE_FIELDS},
                "clips": by_round.get(r["id"], []),
            }
            for r in rounds
        ],
    }


def miner_history(store: Any, hotkey: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """``hotkey``'s last ``limit`` validation clips, oldest first: round id, time, final score."""
    query = (
        select(Track.round_id, Track.created_at, Track.final_score)
        .where(Track.hotkey == hotkey, Track.is_organic.is_(False))
        .order_by(Track.created_at.desc(), Track.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return [
        {
            "round_id": r["round_id"],
            "created_at": float(r["created_at"]),
            "final_score": float(r["final_score"]),
        }
        for r in reversed(rows)
    ]
