"""A small client for the hotkey-signed scores API (aiohttp).

    async with ScoresClient("http://validator:8000", wallet) as client:
        best = await client.best(limit=10)
        async for entry in client.export(since=time.time() - 86400):
            await client.download(entry["audio_url"], f"{entry['track_id']}.wav")

Each request is signed as ``docs/api.md`` shows: ``"{nonce}.{hotkey}.{METHOD}.{path}.{body_hash}"``
with a fresh nanosecond nonce, the URL path without its query string and ``empty`` for no body.
"""

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from tuneforge.api.signing import sign_request

__all__ = ["ScoresClient", "ScoresApiError"]

log = logging.getLogger(__name__)


class ScoresApiError(RuntimeError):
    """A non-2xx answer; ``status`` and the server's ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class ScoresClient:
    """Signed access to a validator's scores API. ``keypair_or_wallet``: a ``bittensor_wallet.Keypair``
    or a wallet (its hotkey signs)."""

    def __init__(self, base_url: str, keypair_or_wallet: Any, *, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.keypair = getattr(keypair_or_wallet, "hotkey", keypair_or_wallet)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "ScoresClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    def _url(self, path: str, params: dict[str, Any] | None) -> URL:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        return URL(self.base_url + path).with_query(query or None)

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None) -> aiohttp.ClientResponse:
        """A signed request; raises :class:`ScoresApiError` on a non-2xx answer (the body is read)."""
        url = self._url(path, params)
        headers = sign_request(self.keypair, method=method, path=url.path)
        resp = await self._http().request(method, url, headers=headers)
        if resp.status >= 300:
            try:
                detail = (await resp.json()).get("detail", "")
            except (aiohttp.ContentTypeError, ValueError):
                detail = await resp.text()
            resp.release()
            raise ScoresApiError(resp.status, str(detail))
        return resp

    async def get_json(self, path: str, **params: Any) -> dict[str, Any]:
        resp = await self.request("GET", path, params=params)
        async with resp:
            return await resp.json()

    async def best(self, *, limit: int = 20, since: float | None = None, genre: str | None = None) -> list[dict[str, Any]]:
        """The highest-scoring clips (``GET /api/v1/scores/best``)."""
        return (await self.get_json("/api/v1/scores/best", limit=limit, since=since, genre=genre))["tracks"]

    async def export(self, *, since: float | None = None, until: float | None = None, min_score: float | None = None,
                     limit: int = 100, cursor: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every entry of ``GET /api/v1/scores/export``, page after page until ``next_cursor`` is null."""
        while True:
            page = await self.get_json("/api/v1/scores/export", since=since, until=until, min_score=min_score,
                                       limit=limit, cursor=cursor)
            for entry in page["entries"]:
                yield entry
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def leaderboard(self) -> list[dict[str, Any]]:
        return (await self.get_json("/api/v1/scores/leaderboard"))["miners"]

    async def miner(self, hotkey: str, *, limit: int = 50) -> dict[str, Any]:
        return await self.get_json(f"/api/v1/scores/miners/{hotkey}", limit=limit)

    async def download(self, audio_url: str, path: str | Path) -> Path:
        """Save a clip (``audio_url`` relative to the base URL, as the API returns it); returns the path."""
        target = Path(path)
        resp = await self.request("GET", URL(audio_url).path if audio_url.startswith("http") else audio_url)
        async with resp:
            data = await resp.read()
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        return target
