"""Who is calling, may they, and how often: the ASGI middleware in front of every route.

For each HTTP request, in order: the request line and headers are measured (at most
``max_header_bytes``, else 431; the server itself caps them earlier, see
:mod:`tuneforge.api.http_server`); the body is read (at most ``max_body_bytes``, else 413); the
caller is authenticated by the route's scheme — an API key (``Authorization: Bearer tf_...``)
for ``/api/v1/music/*`` and ``/api/v1/account/*``, a hotkey signature for ``/api/v1/scores/*``,
either for ``/api/v1/music/audio/*`` (a signature when ``X-Validator-Hotkey`` is sent) — then the
request is counted against the caller's per-minute limit (failed or absent authentication counts
against the client address: the TCP peer, or the address a trusted proxy reports, and an IPv6
client's whole /64, since one host commonly holds a /64 and could rotate through it). Every
response, errors and unhandled exceptions included, leaves with the ``X-RateLimit-*`` headers
(the server's own 431 for an oversized head excepted); errors are JSON ``{"detail": "..."}``.
"""

import ipaddress
import json
import logging
import re
from typing import Any

from anyio import to_thread
from starlette.datastructures import Headers

from tuneforge.api.context import ApiContext
from tuneforge.api.http_server import headers_too_large_detail
from tuneforge.api.ratelimit import RateDecision
from tuneforge.api.signing import HOTKEY_HEADER, SignatureRejected, verify_signed_request

__all__ = ["AccessMiddleware", "client_key", "head_size", "route_scheme"]

log = logging.getLogger(__name__)

MUSIC_PREFIXES = ("/api/v1/music/", "/api/v1/account/")
AUDIO_PREFIX = "/api/v1/music/audio/"
SCORES_PREFIX = "/api/v1/scores/"
#: A Content-Length: ASCII digits only (``str.isdigit`` accepts "²", which ``int`` refuses).
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")
#: The prefix length an IPv6 client is limited by (a host's usual allocation).
IPV6_CLIENT_PREFIX = 64


def client_key(host: str | None) -> str:
    """The rate-limit key of a client address: ``ip:<IPv4>`` or ``ip:<IPv6 /64 network>``."""
    if not host:
        return "ip:unknown"
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return f"ip:{host[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False)}"
    return f"ip:{ip}"


def head_size(scope: dict[str, Any]) -> int:
    """Bytes of the request line and headers as received (method, target, names, values, separators)."""
    target = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string") or b"")
    size = len(scope.get("method", "")) + target + 12  # " ", "?", " HTTP/1.1\r\n"
    for name, value in scope.get("headers") or ():
        size += len(name) + len(value) + 4  # ": " and CRLF
    return size


def route_scheme(path: str, headers: Headers) -> str:
    """``"key"``, ``"hotkey"`` or ``"public"``: how a request to ``path`` authenticates."""
    if path.startswith(AUDIO_PREFIX):
        return "hotkey" if HOTKEY_HEADER.lower() in headers else "key"
    if path.startswith(SCORES_PREFIX):
        return "hotkey"
    if path.startswith(MUSIC_PREFIXES):
        return "key"
    return "public"


class _BodyTooLarge(Exception):
    pass


class AccessMiddleware:
    """Body limit, authentication, rate limit and error shape for every HTTP request."""

    def __init__(self, app: Any, *, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = self.ctx
        headers = Headers(scope=scope)
        client = scope.get("client")
        ip_key = client_key(client[0] if client else None)
        state = scope.setdefault("state", {})

        if head_size(scope) > ctx.settings.max_header_bytes:  # before anything reads them
            decision = await ctx.limiter.check(ip_key, ctx.settings.anonymous_rate_limit_per_minute)
            await self._error(send, 431, headers_too_large_detail(ctx.settings.max_header_bytes), decision)
            return
        try:
            body = await self._read_body(headers, receive)
        except _BodyTooLarge:
            decision = await ctx.limiter.check(ip_key, ctx.settings.anonymous_rate_limit_per_minute)
            await self._error(send, 413, f"Request body too large: the limit is {ctx.settings.max_body_bytes} bytes.",
                              decision)
            return

        scheme = route_scheme(scope["path"], headers)
        identity: tuple[str, int] | None = None
        failure: str | None = None
        try:
            if scheme == "key":
                account, failure = await self._api_key_account(headers)
                if account is not None:
                    state["account"] = account
                    identity = (f"account:{account['id']}", int(account["rate_limit_per_minute"]))
            elif scheme == "hotkey":
                hotkey, failure = await self._signed_hotkey(scope, headers, body)
                if hotkey is not None:
                    state["hotkey"] = hotkey
                    identity = (f"hotkey:{hotkey}", ctx.settings.hotkey_rate_limit_per_minute)
        except Exception:
            log.exception("authentication of %s %s failed", scope["method"], scope["path"])
            decision = await ctx.limiter.check(ip_key, ctx.settings.anonymous_rate_limit_per_minute)
            await self._error(send, 500, "Internal server error.", decision)
            return

        key, limit = identity or (ip_key, ctx.settings.anonymous_rate_limit_per_minute)
        decision = await ctx.limiter.check(key, limit)  # Redis when replicas share windows
        if not decision.allowed:  # before the 401, so guessing keys or signatures is throttled too
            wait = decision.headers(now=ctx.limiter.clock())["Retry-After"]
            await self._error(send, 429, f"Rate limit exceeded: {decision.limit} requests per minute. "
                                         f"Retry after {wait} s.", decision)
            return
        if failure is not None:
            await self._error(send, 401, failure, decision)
            return
        await self._forward(scope, body, receive, send, decision)

    async def _read_body(self, headers: Headers, receive: Any) -> bytes:
        limit = self.ctx.settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and (not _CONTENT_LENGTH.fullmatch(declared) or int(declared) > limit):
            raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _api_key_account(self, headers: Headers) -> tuple[dict[str, Any] | None, str | None]:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if not auth:
            return None, "Missing API key: send 'Authorization: Bearer tf_...'."
        if scheme.lower() != "bearer" or not token:
            return None, "Malformed Authorization header: expected 'Bearer tf_...'."
        if not token.startswith("tf_"):
            return None, "Invalid API key."
        return await self.ctx.read(self.ctx.store.authenticate_key, token)  # inline on SQLite, else the pool

    async def _signed_hotkey(self, scope: dict[str, Any], headers: Headers,
                             body: bytes) -> tuple[str | None, str | None]:
        ctx = self.ctx
        try:
            caller = verify_signed_request(
                headers, method=scope["method"], path=scope["path"], body=body or None,
                is_registered=ctx.is_registered, window_s=ctx.settings.signature_window_s,
            )
        except SignatureRejected as exc:
            return None, str(exc)
        use_nonce = ctx.store.use_nonce if ctx.nonces is None else ctx.nonces.use  # the store's table, or Redis
        fresh = await to_thread.run_sync(use_nonce, caller.hotkey, caller.nonce)
        if not fresh:
            return None, "Replayed nonce: this hotkey already used this nonce."
        return caller.hotkey, None

    async def _forward(self, scope: dict[str, Any], body: bytes, receive: Any, send: Any,
                       decision: RateDecision) -> None:
        sent_body = False
        started = False
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers(now=self.ctx.limiter.clock()).items()]

        async def replay() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            await self.app(scope, replay, send_with_headers)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                raise
            await self._error(send, 500, "Internal server error.", decision)

    async def _error(self, send: Any, status: int, detail: str, decision: RateDecision) -> None:
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in decision.headers(now=self.ctx.limiter.clock()).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
