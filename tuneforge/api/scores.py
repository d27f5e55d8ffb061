"""The scores API for subnet neurons: best clips, a resumable export, the leaderboard, a miner's history.

Every route requires a hotkey signature (checked by :class:`tuneforge.api.auth.AccessMiddleware`;
any hotkey registered on the subnet may call). Times are Unix seconds; ``audio_url`` is relative
to the API's base URL and downloadable with the same kind of signature.
"""

import math
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from tuneforge.api.views import score_entry
from tuneforge.store import InvalidCursor

__all__ = ["router"]

router = APIRouter()

_LEADERBOARD_FIELDS = ("uid", "hotkey", "ema", "weight", "rounds", "last_score")


def _finite(name: str, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise HTTPException(status_code=400, detail=f"{name}: must be a finite number")
    return value


@router.get("/api/v1/scores/best", tags=["scores"], summary="Highest-scoring clips")
def best(
    request: Request,
    limit: int = Query(default=20, ge=1, le=100),
    since: float | None = Query(default=None, description="Unix seconds; only clips scored at or after"),
    genre: str | None = Query(default=None, max_length=80),
) -> dict[str, Any]:
    tracks = request.app.state.ctx.store.best_tracks(limit=limit, since=_finite("since", since), genre=genre)
    return {"tracks": [score_entry(t) for t in tracks]}


@router.get("/api/v1/scores/export", tags=["scores"],
            summary="Every scored clip in (created_at, track_id) order, one page at a time")
def export(
    request: Request,
    since: float | None = Query(default=None, description="Unix seconds, inclusive"),
    until: float | None = Query(default=None, description="Unix seconds, exclusive"),
    min_score: float | None = Query(default=None, ge=0.0, le=1.0),
    cursor: str | None = Query(default=None, max_length=400, description="next_cursor of the previous page"),
    limit: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    try:
        rows, next_cursor = request.app.state.ctx.store.export_tracks(
            since=_finite("since", since), until=_finite("until", until), min_score=min_score,
            cursor=cursor, limit=limit)
    except InvalidCursor as exc:
        raise HTTPException(status_code=400, detail=f"cursor: {exc}") from exc
    return {"entries": [score_entry(t) for t in rows], "next_cursor": next_cursor}


def _leaderboard(request: Request) -> list[dict[str, Any]]:
    rows = request.app.state.ctx.leaderboard() or []
    return [{k: row.get(k) for k in _LEADERBOARD_FIELDS} for row in rows]


@router.get("/api/v1/scores/leaderboard", tags=["scores"], summary="Per-miner EMA, weight, rounds, last score")
def leaderboard(request: Request) -> dict[str, Any]:
    miners = sorted(_leaderboard(request), key=lambda r: (-(r.get("ema") or 0.0), r.get("uid") or 0))
    return {"miners": miners}


@router.get("/api/v1/scores/miners/{hotkey}", tags=["scores"], summary="One miner's recent scored clips")
def miner(hotkey: str, request: Request, limit: int = Query(default=50, ge=1, le=200)) -> dict[str, Any]:
    tracks = request.app.state.ctx.store.miner_history(hotkey, limit=limit)
    standing = next((r for r in _leaderboard(request) if r.get("hotkey") == hotkey), None)
    if not tracks and standing is None:
        raise HTTPException(status_code=404, detail=f"No miner {hotkey} on the leaderboard or in stored scores.")
    return {"hotkey": hotkey, "leaderboard": standing, "tracks": [score_entry(t) for t in tracks]}
