"""The public dashboard at ``/dashboard``: leaderboard, recent rounds with playable clips, a miner's
history, organic job counts and the validator's health, updated live.

:func:`install_dashboard` adds it to an API app (:func:`tuneforge.api.app.create_app` does, so the
validator's API and ``tuneforge api serve`` replicas both serve it). The page is one HTML file with
its own small script and style sheet from ``tuneforge/api/static`` (no third-party code, nothing
fetched from elsewhere: it works on a machine without internet access); charts are SVG drawn by the
script. The script polls three JSON routes (:mod:`tuneforge.api.dashboard_data`):

- ``GET /dashboard/api/summary`` every few seconds (``?poll=SECONDS`` on the page, default 5),
- ``GET /dashboard/api/rounds?limit=N`` and ``GET /dashboard/api/miners/{hotkey}`` when a new round
  is in the summary,

and plays clips from ``GET /dashboard/audio/{track_id}.{wav|flac}`` (validation clips only; byte
ranges supported, so the browser can seek). Every route is public: it passes the access middleware
as an anonymous caller, counted against the client address's per-minute limit
(``anonymous_rate_limit_per_minute``, default 60: one open page polling every 5 s uses 12). The JSON
routes answer ``ETag`` / ``If-None-Match`` with 304 and share one cached copy per process for
:data:`CACHE_TTL_S`, so many open pages cost the database one query set per interval.
"""

import hashlib
import html
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from tuneforge.api import dashboard_data
from tuneforge.store import NotFound

__all__ = ["install_dashboard", "router", "STATIC_DIR", "CACHE_TTL_S", "PAGE_HEADERS"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/dashboard/static"
#: Seconds one computed JSON document is reused for every caller in this process.
CACHE_TTL_S = 2.0
CACHE_ENTRIES = 256
#: The page runs only its own script and style, plays audio and shows images from this server.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["dashboard"])


class _Cache:
    """Computed documents by key, each reused for ``ttl_s`` (thread-safe, at most ``entries`` kept)."""

    def __init__(
        self,
        *,
        ttl_s: float = CACHE_TTL_S,
        entries: int = CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.entries, self.clock = ttl_s, entries, clock
        self._items: OrderedDict[Any, tuple[float, bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, build: Callable[[], Any]) -> tuple[bytes, str]:
        """``(JSON body, ETag)`` of ``build()``, computed again once the cached copy is ``ttl_s`` old."""
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1], hit[2]
        body = json.dumps(build(), separators=(",", ":"), allow_nan=False).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        with self._lock:
            self._items[key] = (now, body, etag)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return body, etag


def _json(request: Request, key: Any, build: Callable[[], Any]) -> Response:
    body, etag = request.app.state.dashboard_cache.get(key, build)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


@router.get("/dashboard", response_class=HTMLResponse, summary="The live dashboard (HTML)")
def page(request: Request) -> HTMLResponse:
    root = html.escape(request.scope.get("root_path", "").rstrip("/"), quote=True)
    text = (STATIC_DIR / "dashboard.html").read_text(encoding="utf-8").replace("__ROOT__", root)
    return HTMLResponse(text, headers=PAGE_HEADERS)


@router.get(
    "/dashboard/api/summary", summary="Leaderboard, organic job counts, queue depth, validator health"
)
def summary(request: Request) -> Response:
    ctx = request.app.state.ctx
    return _json(request, "summary", lambda: dashboard_data.summary(ctx.store, list(ctx.leaderboard() or [])))


@router.get("/dashboard/api/rounds", summary="The last rounds, every clip with its score breakdown")
def rounds(request: Request, limit: int = Query(default=3, ge=1, le=10)) -> Response:
    store = request.app.state.ctx.store
    return _json(request, ("rounds", limit), lambda: dashboard_data.recent_rounds(store, limit=limit))


@router.get("/dashboard/api/miners/{hotkey}", summary="One miner's validation scores, oldest first")
def miner(request: Request, hotkey: str, limit: int = Query(default=50, ge=1, le=200)) -> Response:
    if not 1 <= len(hotkey) <= 64:
        raise HTTPException(status_code=404, detail="No such miner.")
    store = request.app.state.ctx.store
    return _json(
        request,
        ("miner", hotkey, limit),
        lambda: {"hotkey": hotkey, "history": dashboard_data.miner_history(store, hotkey, limit=limit)},
    )


@router.get(
    "/dashboard/audio/{filename}",
    summary="A validation clip's audio, as stored (byte ranges supported)",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}, "audio/flac": {}}}},
)
def audio(request: Request, filename: str) -> FileResponse:
    store = request.app.state.ctx.store
    track_id, dot, ext = filename.rpartition(".")
    missing = HTTPException(status_code=404, detail=f"No validation clip {filename}.")
    if not dot or ext not in ("wav", "flac") or not track_id.startswith("trk_"):
        raise missing
    try:
        track = store.get_track(track_id)
    except NotFound:
        raise missing from None
    if track["is_organic"] or track["audio_format"] != ext:  # customers' clips are theirs
        raise missing
    path = store.audio.path_for(track["audio_sha256"], track["audio_format"])
    if not path.is_file():
        raise missing
    return FileResponse(path, media_type=f"audio/{ext}", headers={"Cache-Control": "public, max-age=86400"})


def install_dashboard(app: FastAPI) -> None:
    """Add ``/dashboard``, its JSON routes, audio and static files to ``app`` (needs ``app.state.ctx``)."""
    app.state.dashboard_cache = _Cache()
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.include_router(router)
