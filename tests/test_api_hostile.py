"""What a hostile client tried against the API (issue 10), each hole closed and kept closed:
webhook targets that hide private IPv4 inside IPv6 or non-canonical IPv4, literals reaching the
connector, huge request heads, spoofed X-Forwarded-For, non-ASCII and oversized nonces,
unbounded offsets, coerced JSON types, bad cursors, and an unbounded limiter table."""

import asyncio
import base64
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import uvicorn
from aiohttp import web
from sqlalchemy import text
from test_api_harness import ALICE, make_api, make_settings, sign_headers
from uvicorn.server import ServerState

from tuneforge import netutils
from tuneforge.api.auth import client_key
from tuneforge.api.http_server import header_capped_protocol, uvicorn_options
from tuneforge.api.music import MAX_OFFSET
from tuneforge.api.ratelimit import RateLimiter
from tuneforge.api.service import ApiService
from tuneforge.api.settings import ApiSettings
from tuneforge.api.signing import SignatureRejected, verify_signed_request
from tuneforge.api.testing import FakeGateway
from tuneforge.api.webhook_target import (
    embedded_ipv4,
    is_public_address,
    public_socket,
    webhook_connector,
    webhook_url_problem,
)
from tuneforge.api.webhooks import verify_webhook
from tuneforge.store import Store, StoreError
from tuneforge.store.permissions import private_directory
from tuneforge.store.testing import database_url_for

GEN = "/api/v1/music/generate"
ME = "/api/v1/account/me"

# -- webhook targets --------------------------------------------------------------------------------

EMBEDDED_PRIVATE = [
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the metadata service
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "::ffff:127.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "::ffff:0:a00:1",  # SIIT-translated 10.0.0.1
]
NOT_GLOBAL_UNICAST = [
    "::7f00:1", "::a00:1", "::8.8.8.8",  # IPv4-compatible (deprecated: refused whatever it carries)
    "fec0::1",  # site-local
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2001:db8::1", "3fff::1",  # documentation
    "100::1",  # discard-only
    "ff02::1", "fe80::1", "fc00::1", "::", "::1",
    "0.1.2.3", "192.0.0.8", "198.18.0.1", "192.88.99.1", "240.0.0.1", "255.255.255.255", "239.1.1.1",
    "fe80::1%eth0",  # scoped
]
PUBLIC = ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1",
          "::ffff:8.8.8.8", "::ffff:0:808:808"]


@pytest.mark.parametrize("address", EMBEDDED_PRIVATE + NOT_GLOBAL_UNICAST)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert is_public_address(address) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_stay_public(address: str) -> None:
    assert is_public_address(address) is True


def test_embedded_ipv4_is_decoded() -> None:
    import ipaddress

    def decode(text: str) -> str | None:
        inner = embedded_ipv4(ipaddress.IPv6Address(text))
        return None if inner is None else str(inner)

    assert decode("64:ff9b::a9fe:a9fe") == "169.254.169.254"
    assert decode("2002:a00:1::") == "10.0.0.1"
    assert decode("::ffff:10.0.0.1") == "10.0.0.1"
    assert decode("::ffff:0:a00:1") == "10.0.0.1"
    assert decode("2606:4700:4700::1111") is None


NON_CANONICAL_IPV4 = ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "10.1", "0x7f.1", "127.0.0.01",
                      "017700000001", "0"]


@pytest.mark.parametrize("host", NON_CANONICAL_IPV4)
@pytest.mark.parametrize("allow_private", [False, True])
def test_non_canonical_ipv4_is_refused_even_when_private_targets_are_allowed(host: str, allow_private: bool) -> None:
    problem = webhook_url_problem(f"http://{host}:8080/hook", allow_private=allow_private)
    assert problem is not None and "not a canonical IPv4 address" in problem, problem


@pytest.mark.parametrize(("url", "expected"), [
    ("http://exa_mple.com/", "has an invalid host name"),
    ("http://-bad.example.com/", "has an invalid host name"),
    ("http://a..b.com/", "has an invalid host name"),
    ("http://" + "a" * 64 + ".com/", "has an invalid host name"),
    ("http://" + ".".join(["abcdefgh"] * 30) + ".com/", "has a host name longer than 253"),
    ("http://1.2.3.4.5/", "a top-level domain is never all digits"),
    ("http://example.123/", "a top-level domain is never all digits"),
    ("http://ex%61mple.com/", "has an invalid host name"),
    ("http://exa mple.com/", "must not contain spaces or control characters"),
    ("http://example.com/\r\nX-Injected: 1", "must not contain spaces or control characters"),
    ("http://[not-an-ip]/", "is not a valid URL"),
    ("http://[64:ff9b::a9fe:a9fe]/latest/meta-data", "must point at a public address"),
    ("http://[2002:a00:1::]/", "must point at a public address"),
    ("http://[::7f00:1]/", "must point at a public address"),
    ("http://[fec0::1]/", "must point at a public address"),
    ("http://[fe80::1%25eth0]/", "must point at a public address, not the scoped address"),
    ("http://metadata/computeMetadata/v1/", "must name a fully qualified public host"),
    ("http://intranet:8080/", "must name a fully qualified public host"),
    ("http://printer.local/", "special-use name"),
    ("http://db.internal/", "special-use name"),
    ("http://router.home.arpa/", "special-use name"),
    ("http://LOCALHOST./", "special-use name"),
    ("http://@example.com/", "must not contain credentials"),
])
def test_host_syntax_and_special_names_are_refused(url: str, expected: str) -> None:
    problem = webhook_url_problem(url, allow_private=False)
    assert problem is not None and expected in problem, (url, problem)


@pytest.mark.parametrize("url", ["https://hooks.example.com/tf", "https://bücher.example/hook",
                                 "http://93.184.216.34:8080/x", "https://hooks.example.com./x",
                                 "http://[2606:4700:4700::1111]:443/x", "https://xn--bcher-kva.example/"])
def test_valid_public_targets_are_accepted(url: str) -> None:
    assert webhook_url_problem(url, allow_private=False) is None


@pytest.mark.parametrize("url", ["http://2130706433/", "http://127.1/", "http://0x7f000001/", "http://10.1/",
                                 "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a00:1::]/", "http://[::7f00:1]/",
                                 "http://[fec0::1]/", "http://metadata/", "http://exa_mple.com/"])
async def test_disguised_private_targets_are_refused_at_submission_without_charge(tmp_path: Path, url: str) -> None:
    async with make_api(tmp_path, webhook_allow_private=False) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "webhook_url": url})
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("webhook_url: "), r.json()
        assert api.store.get_account(api.account["id"])["credits"] == 100
        assert api.store.list_jobs(api.account["id"], limit=10, offset=0, status=None) == []


async def _receiver() -> tuple[web.AppRunner, int, list[tuple[dict[str, str], bytes]]]:
    """A webhook receiver on 127.0.0.1: every POST's headers and body."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = netutils.free_port("127.0.0.1")
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port, received


async def test_literals_are_checked_again_at_connect_time() -> None:
    """The URL check aside, the delivery connector itself refuses literals (which aiohttp never
    passes through a resolver) and a name resolving to loopback; the same receiver is reached when
    private targets are allowed, so the refusal is the connector's."""
    runner, port, received = await _receiver()
    try:
        async with aiohttp.ClientSession(connector=webhook_connector(allow_private=False)) as session:
            for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "localhost"):
                with pytest.raises(aiohttp.ClientConnectorError, match="non-public"):
                    async with session.post(f"http://{host}:{port}/hook", data=b"{}"):
                        pass
        assert received == []
        async with aiohttp.ClientSession(connector=webhook_connector(allow_private=True)) as session:
            async with session.post(f"http://127.0.0.1:{port}/hook", data=b"{}") as resp:
                assert resp.status == 204
        assert [body for _, body in received] == [b"{}"]
    finally:
        await runner.cleanup()


def test_public_socket_refuses_private_sockaddrs() -> None:
    for family, sockaddr in ((socket.AF_INET, ("10.0.0.1", 80)), (socket.AF_INET6, ("64:ff9b::a9fe:a9fe", 80, 0, 0)),
                             (socket.AF_INET6, ("fe80::1", 80, 0, 2))):
        with pytest.raises(OSError, match="non-public"):
            public_socket((family, socket.SOCK_STREAM, 6, "", sockaddr))
    sock = public_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)))
    sock.close()


# -- request heads ----------------------------------------------------------------------------------

class _Transport(asyncio.Transport):
    """A transport that records what the protocol writes (no socket)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("203.0.113.9", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _CountingParser:
    """Wraps the httptools parser, counting the bytes fed to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fed = 0

    def feed_data(self, data: bytes) -> None:
        self.fed += len(data)
        self.inner.feed_data(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _echo_length_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


def _protocol(limit: int) -> tuple[Any, _Transport, _CountingParser]:
    cls = header_capped_protocol(limit)
    assert cls is not None, "httptools is a core dependency"
    config = uvicorn.Config(_echo_length_app, http=cls, lifespan="off", log_level="critical")
    config.load()
    proto = cls(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    proto.connection_made(transport)
    counting = _CountingParser(proto.parser)
    proto.parser = counting
    return proto, transport, counting


async def test_a_64_mb_header_is_refused_after_the_limit_without_being_buffered() -> None:
    limit = 64 * 1024
    proto, transport, parser = _protocol(limit)
    proto.data_received(b"GET /api/v1/account/me HTTP/1.1\r\nHost: x\r\nX-Big: ")
    chunk = b"a" * 16384
    sent = 0
    while not transport.closed and sent < 64 * 1024 * 1024:
        proto.data_received(chunk)
        sent += len(chunk)
    assert transport.closed and sent < 2 * limit, sent
    assert parser.fed <= limit
    head, _, body = bytes(transport.written).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body) == {"detail": "Request headers too large: the limit is 65536 bytes."}


async def test_a_small_head_with_a_large_body_in_one_read_is_served() -> None:
    """The head completes inside the limit while the same read carries 100 KB of body: no 431."""
    proto, transport, _ = _protocol(64 * 1024)
    body = b"b" * 100_000
    proto.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    for _ in range(20):
        await asyncio.sleep(0)
    assert bytes(transport.written).startswith(b"HTTP/1.1 200 "), bytes(transport.written[:200])
    assert b"\r\n100000\r\n" in bytes(transport.written)


async def test_each_request_on_a_connection_gets_its_own_head_budget() -> None:
    """Two 40 KB heads on one keep-alive connection: 80 KB in all, but each under the limit."""
    proto, transport, _ = _protocol(64 * 1024)
    request = b"GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 40_000 + b"\r\n\r\n"
    for _ in range(2):
        for i in range(0, len(request), 16384):
            proto.data_received(request[i:i + 16384])
        for _ in range(20):
            await asyncio.sleep(0)
    assert bytes(transport.written).count(b"HTTP/1.1 200 ") == 2 and not transport.closed


async def test_headers_over_the_limit_are_431_in_the_middleware(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        r = await api.client.get(ME, headers=api.auth | {"X-Padding": "p" * 70_000})
        assert r.status_code == 431 and r.json() == {"detail": "Request headers too large: the limit is 65536 bytes."}
        assert r.headers["X-RateLimit-Limit"] == "60"
        ok = await api.client.get(ME, headers=api.auth | {"X-Padding": "p" * 60_000})
        assert ok.status_code == 200


def _raw_request(port: int, head: bytes, *, pad_until_closed: bool = False,
                 max_send: int = 8 * 1024 * 1024) -> tuple[bytes, int]:
    """Send ``head`` (then, if asked, header padding until the server closes or ``max_send`` bytes);
    returns ``(everything the server answered, bytes sent)``."""
    sent = 0
    pad = b"a" * 65536
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            sent += len(head)
            while pad_until_closed and sent < max_send:
                sock.sendall(pad)
                sent += len(pad)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        try:
            while data := sock.recv(65536):
                reply += data
        except (ConnectionResetError, TimeoutError):
            pass
    return reply, sent


@pytest.fixture()
def live(tmp_path: Path):
    """A real uvicorn server (the ApiService) on 127.0.0.1 with a 3-per-minute anonymous limit."""
    services: list[ApiService] = []

    def start(**overrides: Any) -> ApiService:
        settings = make_settings(tmp_path / f"s{len(services)}", port=netutils.free_port("127.0.0.1"),
                                 anonymous_rate_limit_per_minute=3, **overrides)
        store = Store(settings.database_url, settings.audio_dir)
        service = ApiService(store=store, settings=settings).start()
        services.append(service)
        return service

    yield start
    for service in services:
        service.stop()
        service.store.close()


def test_the_server_answers_431_to_an_endless_header(live: Any) -> None:
    service = live()
    reply, sent = _raw_request(service.port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ",
                               pad_until_closed=True)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert b'"detail": "Request headers too large: the limit is 65536 bytes."' in reply
    assert sent < 8 * 1024 * 1024  # the server closed the connection long before the client was done
    normal, _ = _raw_request(service.port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: "
                             + b"p" * 60_000 + b"\r\nConnection: close\r\n\r\n")
    assert normal.startswith(b"HTTP/1.1 200 "), normal[:200]


# -- proxy headers ----------------------------------------------------------------------------------

def test_proxy_headers_are_off_unless_proxies_are_named() -> None:
    options = uvicorn_options(ApiSettings(database_url="sqlite://", audio_dir="/tmp/x"))
    assert options["proxy_headers"] is False and options["forwarded_allow_ips"] == ""
    trusted = uvicorn_options(ApiSettings(database_url="sqlite://", audio_dir="/tmp/x",
                                          forwarded_allow_ips="10.0.0.2, 10.1.0.0/16"))
    assert trusted["proxy_headers"] is True and trusted["forwarded_allow_ips"] == ["10.0.0.2", "10.1.0.0/16"]
    with pytest.raises(ValueError, match="--api.forwarded_allow_ips"):
        ApiSettings(database_url="sqlite://", audio_dir="/tmp/x", forwarded_allow_ips="10.0.0.2,proxy.example")


async def test_rotating_x_forwarded_for_does_not_escape_the_per_ip_limit(live: Any) -> None:
    service = live()
    async with httpx.AsyncClient(base_url=service.url) as client:
        codes = [(await client.get(ME, headers={"X-Forwarded-For": f"198.51.100.{i}", "Authorization": "Bearer tf_x"})
                  ).status_code for i in range(6)]
    assert codes == [401, 401, 401, 429, 429, 429]


async def test_x_forwarded_for_is_believed_from_a_named_proxy(live: Any) -> None:
    service = live(forwarded_allow_ips="127.0.0.1")
    async with httpx.AsyncClient(base_url=service.url) as client:
        rotating = [(await client.get(ME, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
                    for i in range(6)]
        same = [(await client.get(ME, headers={"X-Forwarded-For": "198.51.100.200"})).status_code for _ in range(4)]
    assert rotating == [401] * 6  # each forwarded client has its own window
    assert same == [401, 401, 401, 429]


def test_ipv6_clients_share_a_window_per_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == "ip:2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:198.51.100.7") == client_key("198.51.100.7") == "ip:198.51.100.7"
    assert client_key(None) == "ip:unknown"


# -- nonces -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("nonce", [b"1" * 400, b"9" * 21, b"17100000000000000\xb2", b"\xb9\xb2\xb3", b"+1710000000000000000",
                                   b"1710000000000000000 1", b"0x17"])
async def test_malformed_nonces_are_401_not_500(tmp_path: Path, nonce: bytes) -> None:
    async with make_api(tmp_path) as api:
        path = "/api/v1/scores/best"
        headers: dict[str, Any] = sign_headers(ALICE, "GET", path)
        headers["X-Validator-Nonce"] = nonce
        r = await api.client.get(path, headers=headers)
        assert r.status_code == 401, r.text
        assert "X-Validator-Nonce must be an integer of 1-20 ASCII digits" in r.json()["detail"]


def test_unicode_digits_that_int_accepts_are_refused() -> None:
    for nonce in ("١٧١٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠", "１７１０００００００００００００００００", "¹²³"):
        with pytest.raises(SignatureRejected, match="1-20 ASCII digits"):
            verify_signed_request({"X-Validator-Hotkey": ALICE.ss58_address, "X-Validator-Nonce": nonce,
                                   "X-Validator-Signature": "0x00"}, method="GET", path="/", body=None,
                                  is_registered=lambda hk: True)


def test_webhook_receivers_refuse_non_ascii_timestamps_without_raising() -> None:
    assert verify_webhook("whsec_x", timestamp="²", body=b"{}", signature="sha256=00") is False
    assert verify_webhook("whsec_x", timestamp="1" * 400, body=b"{}", signature="sha256=00") is False


# -- pagination and cursors -------------------------------------------------------------------------

@pytest.mark.parametrize("query", [f"offset={2**63}", f"offset={MAX_OFFSET + 1}", "offset=-1", f"limit={2**63}",
                                   "offset=1e3", "limit=0"])
async def test_out_of_range_pages_are_400(tmp_path: Path, query: str) -> None:
    async with make_api(tmp_path) as api:
        r = await api.client.get(f"/api/v1/music/generations?{query}", headers=api.auth)
        assert r.status_code == 400, r.text
        assert r.json()["detail"].split(":")[0] in ("offset", "limit")


async def test_the_deepest_page_is_served(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        r = await api.client.get(f"/api/v1/music/generations?offset={MAX_OFFSET}", headers=api.auth)
        assert r.status_code == 200 and r.json()["generations"] == []


@pytest.mark.parametrize("raw", ['[1e999, "trk_x"]', '[-Infinity, "trk_x"]', '[NaN, "trk_x"]', "[1]", "{}",
                                 '["x", "trk_x"]', "[" + "9" * 400 + ', "trk_x"]'])
async def test_forged_export_cursors_are_400(tmp_path: Path, raw: str) -> None:
    async with make_api(tmp_path) as api:
        cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        path = "/api/v1/scores/export"
        r = await api.client.get(f"{path}?cursor={cursor}", headers=sign_headers(ALICE, "GET", path))
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("cursor: ")


# -- strict JSON types ------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("duration_seconds", True), ("duration_seconds", "8"), ("duration_seconds", None),
    ("num_variations", True), ("num_variations", 2.0), ("num_variations", "2"),
    ("seed", "5"), ("seed", 5.0), ("tempo_bpm", "120"), ("tempo_bpm", 120.5),
    ("instrumental", "true"), ("instrumental", 1), ("prompt", 5), ("genre", ["jazz"]), ("instruments", ["piano", 3]),
    ("format", 1),
])
async def test_wrongly_typed_fields_are_400_and_nothing_is_charged(tmp_path: Path, field: str, value: Any) -> None:
    async with make_api(tmp_path) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 8} | {field: value})
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith(f"{field}"), r.json()
        assert api.store.get_account(api.account["id"])["credits"] == 100
        assert api.store.list_jobs(api.account["id"], limit=10, offset=0, status=None) == []


async def test_numbers_of_the_right_kind_are_accepted(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 8, "seed": 3,
                                                               "num_variations": 2, "instrumental": True})
        assert r.status_code == 201 and r.json()["credits_charged"] == 2, r.text
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 12.5})
        assert r.status_code == 201 and r.json()["credits_charged"] == 2, r.text


async def test_a_huge_integer_is_400_not_500(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        for digits in (30, 5000):
            body = b'{"prompt": "x", "seed": ' + b"9" * digits + b"}"
            r = await api.client.post(GEN, headers=api.auth | {"Content-Type": "application/json"}, content=body)
            assert r.status_code == 400, r.text
        assert api.store.get_account(api.account["id"])["credits"] == 100


# -- the limiter's table ----------------------------------------------------------------------------

def test_the_limiter_table_is_bounded() -> None:
    limiter = RateLimiter(max_keys=100)
    for i in range(5000):  # all inside one window: nothing is idle, the least recent go
        limiter.hit(f"ip:198.51.{i // 256}.{i % 256}", 3)
    assert len(limiter) <= 100


def test_concurrent_hits_keep_the_bound() -> None:
    limiter = RateLimiter(max_keys=50)

    def hammer(base: int) -> None:
        for i in range(1000):
            limiter.hit(f"k{base}-{i}", 5)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(limiter) <= 50


# -- files on disk: modes and sealed webhook secrets ------------------------------------------------

def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture()
def loose_umask():
    """A umask that would leave new files world-readable (0644) and directories 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_sqlite_files_and_their_directory_are_owner_only(tmp_path: Path, loose_umask: None) -> None:
    state = tmp_path / "state"
    store = Store(f"sqlite:///{state / 'tf.db'}", state / "audio")
    try:
        store.create_account(name="a", credits=5)  # a write: the WAL and its index exist now
        files = {name: state / name for name in ("tf.db", "tf.db-wal", "tf.db-shm", "api_secrets.key")}
        assert all(path.exists() for path in files.values()), sorted(p.name for p in state.iterdir())
        assert {name: _mode(path) for name, path in files.items()} == dict.fromkeys(files, 0o600)
        assert _mode(state) == 0o700
    finally:
        store.close()


def test_loose_files_of_an_older_version_are_tightened(tmp_path: Path, loose_umask: None) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    url = f"sqlite:///{folder / 'tf.db'}"
    first = Store(url, folder / "audio")  # kept open, so the WAL and its index stay on disk
    second = None
    try:
        first.create_account(name="a")
        names = ("tf.db", "tf.db-wal", "tf.db-shm")
        for name in names:
            os.chmod(folder / name, 0o644)  # as an older version left them
        second = Store(url, folder / "audio")
        assert {name: _mode(folder / name) for name in names} == dict.fromkeys(names, 0o600)
        assert _mode(folder) == 0o755  # a directory the store did not create keeps its mode
    finally:
        first.close()
        if second is not None:
            second.close()


def test_the_state_directory_is_made_private(tmp_path: Path, loose_umask: None) -> None:
    fresh = private_directory(tmp_path / "new" / "state", tighten=False)
    assert _mode(fresh) == 0o700
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    private_directory(old, tighten=False)
    assert _mode(old) == 0o755
    private_directory(old, tighten=True)
    assert _mode(old) == 0o700


def _raw_secret(store: Store, account_id: str) -> str:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT webhook_secret FROM accounts WHERE id = :id"), {"id": account_id}).scalar_one()


def _set_raw_secret(store: Store, account_id: str, value: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET webhook_secret = :v WHERE id = :id"), {"v": value, "id": account_id})


def test_webhook_secrets_are_sealed_in_the_database(tmp_path: Path) -> None:
    url, audio = database_url_for(tmp_path / "tf.db"), tmp_path / "audio"
    store = Store(url, audio)
    try:
        account = store.create_account(name="a")
        secret = account["webhook_secret"]
        assert secret.startswith("whsec_") and len(secret) == 38
        stored = _raw_secret(store, account["id"])
        assert stored.startswith("enc1:") and secret not in stored and secret[6:] not in stored and len(stored) <= 80
        assert store.get_account(account["id"])["webhook_secret"] == secret
        assert [a["webhook_secret"] for a in store.list_accounts()] == [secret]
        _, key = store.create_api_key(account["id"])
        authenticated, _ = store.authenticate_key(key)
        assert authenticated is not None and "webhook_secret" not in authenticated
        key_file = tmp_path / "api_secrets.key"
        assert _mode(key_file) == 0o600 and len(bytes.fromhex(key_file.read_text())) == 64
    finally:
        store.close()
    reopened = Store(url, audio)  # same key file: the secret opens again
    try:
        assert reopened.get_account(account["id"])["webhook_secret"] == secret
    finally:
        reopened.close()


def test_plain_text_secrets_of_an_older_version_are_sealed_on_open(tmp_path: Path) -> None:
    url, audio = database_url_for(tmp_path / "tf.db"), tmp_path / "audio"
    store = Store(url, audio)
    account = store.create_account(name="a")
    _set_raw_secret(store, account["id"], "whsec_plain-text-from-an-old-version")
    store.close()
    store = Store(url, audio)
    try:
        assert _raw_secret(store, account["id"]).startswith("enc1:")
        assert store.get_account(account["id"])["webhook_secret"] == "whsec_plain-text-from-an-old-version"
    finally:
        store.close()


def test_a_wrong_or_missing_key_fails_at_open_and_a_moved_secret_does_not_open(tmp_path: Path) -> None:
    url, audio = database_url_for(tmp_path / "tf.db"), tmp_path / "audio"
    store = Store(url, audio)
    first, second = store.create_account(name="a"), store.create_account(name="b")
    _set_raw_secret(store, second["id"], _raw_secret(store, first["id"]))  # a's sealed secret pasted onto b
    with pytest.raises(StoreError, match="does not open"):
        store.get_account(second["id"])
    _set_raw_secret(store, second["id"], _raw_secret(store, first["id"]))
    store.close()
    other_key = tmp_path / "elsewhere" / "other.key"
    Store(database_url_for(tmp_path / "scratch.db"), tmp_path / "scratch", secret_key_file=other_key).close()
    with pytest.raises(StoreError, match="does not open with the key in"):
        Store(url, audio, secret_key_file=other_key)
    with pytest.raises(StoreError, match="is missing"):
        Store(url, audio, secret_key_file=tmp_path / "never-created.key")
    assert not (tmp_path / "never-created.key").exists()


async def test_webhooks_are_signed_with_the_opened_secret(tmp_path: Path) -> None:
    runner, port, received = await _receiver()
    try:
        async with make_api(tmp_path, gateway=FakeGateway(), webhook_backoff_s=0.02) as api:
            r = await api.client.post(GEN, headers=api.auth, json={
                "prompt": "x", "duration_seconds": 2, "webhook_url": f"http://127.0.0.1:{port}/hook"})
            assert r.status_code == 201
            assert await api.app.state.jobs.process_next()
            hooks = api.app.state.webhooks
            async with aiohttp.ClientSession() as session:
                await hooks.deliver_due(session)
            delivery = api.store.webhook_deliveries(r.json()["request_id"])[0]
            assert delivery["status"] == "delivered", delivery
            secret = api.store.get_account(api.account["id"])["webhook_secret"]
        [(headers, body)] = received
        assert secret.startswith("whsec_")
        assert verify_webhook(secret, timestamp=headers["X-TuneForge-Timestamp"], body=body,
                              signature=headers["X-TuneForge-Signature"])
    finally:
        await runner.cleanup()
