"""How uvicorn serves the API: a cap on request headers, and proxy headers only from trusted proxies.

Header cap. uvicorn's httptools protocol has no limit on the request line and headers: a client
could send a 64 MB header and the server would buffer all of it (≈160 MB RSS) before the app,
and so authentication, ever ran. :class:`HeaderCappedHttpToolsProtocol` counts the bytes of each
request's head as they arrive and, once they pass ``max_header_bytes`` without the head being
complete, answers ``431 {"detail": "Request headers too large: ..."}`` and closes the connection;
at most ``max_header_bytes`` of a head is ever handed to the parser. A head that completes inside
the limit goes on as usual, with its body fed to the parser unchanged. (Without httptools
uvicorn's h11 protocol is used with ``h11_max_incomplete_event_size`` set to the same limit; h11
answers that case 400.) The access middleware checks the same limit on the headers it receives
(:mod:`tuneforge.api.auth`), so in-process transports and other servers answer 431 too.

Proxy headers. uvicorn by default believes ``X-Forwarded-For`` from 127.0.0.1, so any local
client (or a proxy that passes the header through) could claim a fresh address per request and
escape the per-IP limit. Here proxy headers are honoured only when ``--api.forwarded_allow_ips``
names the proxies; otherwise the TCP peer is the client.

:func:`uvicorn_options` gathers these into keyword arguments for ``uvicorn.Config``.
"""

import asyncio
import json
import logging
from typing import Any

from tuneforge.api.settings import ApiSettings

__all__ = ["HeaderCappedHttpToolsProtocol", "header_capped_protocol", "headers_too_large_detail", "uvicorn_options"]

log = logging.getLogger(__name__)

try:  # httptools is a core dependency (setup.py); the h11 fallback only keeps a bare uvicorn working
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - exercised only without httptools
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def headers_too_large_detail(limit: int) -> str:
    """The ``detail`` of a 431 answer (one text for the protocol and the middleware)."""
    return f"Request headers too large: the limit is {limit} bytes."


if HttpToolsProtocol is not None:

    class HeaderCappedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc,valid-type]
        """uvicorn's httptools protocol with a cap on each request's line plus headers (bytes)."""

        max_header_bytes: int = 64 * 1024

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_bytes = 0  # bytes of the current request's head fed to the parser so far
            self._in_head = True  # True until the parser reports the headers complete

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head, self._head_bytes = True, 0

        def data_received(self, data: bytes) -> None:
            if self.transport.is_closing():
                return
            if not self._in_head:
                super().data_received(data)
                return
            room = self.max_header_bytes - self._head_bytes
            if len(data) <= room:
                self._head_bytes += len(data)
                super().data_received(data)
                return
            # Feed only what the limit allows; if the head completes within it, the rest (body, or a
            # pipelined request, counted afresh) goes on; if not, the head is too large.
            head, rest = data[:room], data[room:]
            self._head_bytes += len(head)
            if head:
                super().data_received(head)
            if self.transport.is_closing():
                return
            if self._in_head:
                self._send_431()
                return
            self.data_received(rest)

        def _send_431(self) -> None:
            body = json.dumps({"detail": headers_too_large_detail(self.max_header_bytes)}).encode()
            lines = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
            for name, value in self.server_state.default_headers:
                lines.extend([name, b": ", value, b"\r\n"])
            lines.extend([b"content-type: application/json\r\n",
                          b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                          b"connection: close\r\n", b"\r\n", body])
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"
            log.info("431: request headers from %s over %d bytes; connection closed", client, self.max_header_bytes)
            self.transport.write(b"".join(lines))
            self.transport.close()

else:  # pragma: no cover
    HeaderCappedHttpToolsProtocol = None  # type: ignore[assignment,misc]


def header_capped_protocol(max_header_bytes: int) -> type[asyncio.Protocol] | None:
    """A protocol class for ``uvicorn.Config(http=...)`` capping heads at ``max_header_bytes``
    (None without httptools: then use h11 with ``h11_max_incomplete_event_size``)."""
    if HeaderCappedHttpToolsProtocol is None:
        return None
    return type("HeaderCappedHttpTools", (HeaderCappedHttpToolsProtocol,), {"max_header_bytes": max_header_bytes})


def uvicorn_options(settings: ApiSettings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that every way of serving the API uses."""
    protocol = header_capped_protocol(settings.max_header_bytes)
    proxies = settings.trusted_proxies
    return {
        "http": protocol if protocol is not None else "h11",
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "proxy_headers": bool(proxies),
        # uvicorn reads FORWARDED_ALLOW_IPS from the environment when this is None: always pass a value
        "forwarded_allow_ips": proxies or "",
    }
