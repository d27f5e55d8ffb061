"""Webhook targets: client-chosen URLs must not reach the validator's own network unless allowed."""

import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver
from test_api_harness import make_api
from test_api_jobs import _deliver_until, _hook_server

from tuneforge.api.testing import FakeGateway
from tuneforge.api.webhook_target import PublicOnlyResolver, is_public_address, webhook_url_problem

GEN = "/api/v1/music/generate"


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("0.0.0.0", False), ("100.64.0.1", False), ("224.0.0.1", False),
    ("::1", False), ("fe80::1%eth0", False), ("fd00::1", False), ("::ffff:10.0.0.1", False),
    ("::ffff:8.8.8.8", True), ("example.com", False),
])
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.mark.parametrize(("url", "problem"), [
    ("https://hooks.example.com/tf", None),
    ("http://93.184.216.34:8080/x", None),
    ("ftp://hooks.example.com/", "must be an http:// or https:// URL"),
    ("http:///nohost", "has no host"),
    ("http://user:pw@hooks.example.com/", "must not contain credentials"),
    ("http://hooks.example.com:99999/", "is not a valid URL"),
    ("http://localhost:8000/admin", "must point at a public host, not localhost"),
    ("http://api.localhost/", "must point at a public host, not localhost"),
    ("http://127.0.0.1:9/hook", "must point at a public address, not 127.0.0.1"),
    ("http://169.254.169.254/latest/meta-data", "must point at a public address, not 169.254.169.254"),
    ("http://[::1]:8000/", "must point at a public address, not ::1"),
    ("http://[::ffff:10.0.0.1]/", "must point at a public address"),
])
def test_webhook_url_problem(url: str, problem: str | None) -> None:
    found = webhook_url_problem(url, allow_private=False)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem)), found


def test_allow_private_still_checks_the_url_shape() -> None:
    assert webhook_url_problem("http://127.0.0.1:9/hook", allow_private=True) is None
    assert webhook_url_problem("http://localhost/", allow_private=True) is None
    assert webhook_url_problem("gopher://127.0.0.1/", allow_private=True) == "must be an http:// or https:// URL"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/x", "http://169.254.169.254/",
                                 "http://[::1]/", "http://10.0.0.5/"])
async def test_private_webhook_refused_at_submission_without_charge(tmp_path: Path, url: str) -> None:
    async with make_api(tmp_path, webhook_allow_private=False) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "webhook_url": url})
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("webhook_url: must point at a public"), r.json()
        assert api.store.get_account(api.account["id"])["credits"] == 100
        assert api.store.list_jobs(api.account["id"], limit=10, offset=0, status=None) == []


async def test_public_webhook_accepted(tmp_path: Path) -> None:
    async with make_api(tmp_path, webhook_allow_private=False) as api:
        r = await api.client.post(GEN, headers=api.auth,
                                  json={"prompt": "x", "webhook_url": "https://hooks.example.com/tf"})
        assert r.status_code == 201, r.text


async def test_stored_private_webhook_is_refused_at_delivery_without_retries(tmp_path: Path) -> None:
    """A job submitted while private targets were allowed, delivered after the operator turned them off."""
    runner, url, received = await _hook_server(fail_times=0)
    try:
        async with make_api(tmp_path, gateway=FakeGateway(), webhook_backoff_s=0.02) as api:
            r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 2,
                                                                   "webhook_url": url})
            request_id = r.json()["request_id"]
            await api.app.state.jobs.process_next()
            api.settings.webhook_allow_private = False
            await _deliver_until(api, lambda: api.store.webhook_deliveries(request_id)[0]["status"] == "failed")
            (delivery,) = api.store.webhook_deliveries(request_id)
            assert delivery["status"] == "failed" and delivery["attempts"] == 1
            assert delivery["attempts_log"][0]["error"].startswith("refused: webhook_url must point at a public")
            assert received == []
    finally:
        await runner.cleanup()


class _FixedResolver(AbstractResolver):
    """Resolves every name to the given addresses (no DNS)."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict[str, Any]]:
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for a in self.addresses]

    async def close(self) -> None:
        return None


async def test_resolver_keeps_only_public_addresses() -> None:
    resolver = PublicOnlyResolver(_FixedResolver(["10.0.0.5", "93.184.216.34", "::1"]))
    assert [i["host"] for i in await resolver.resolve("hooks.example.com", 443)] == ["93.184.216.34"]
    with pytest.raises(OSError, match="resolves only to non-public addresses \\(10.0.0.5\\)"):
        await PublicOnlyResolver(_FixedResolver(["10.0.0.5"])).resolve("intranet.example.com", 80)


async def test_name_resolving_to_loopback_is_refused_at_connect_time() -> None:
    """DNS pointing a public-looking name at 127.0.0.1: the POST never reaches the local server."""
    runner, url, received = await _hook_server(fail_times=0)
    port = url.rsplit(":", 1)[1].split("/")[0]
    try:
        connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(_FixedResolver(["127.0.0.1"])))
        async with aiohttp.ClientSession(connector=connector) as session:
            with pytest.raises(aiohttp.ClientError, match="non-public"):
                await session.post(f"http://hooks.example.com:{port}/hook", data=b"{}")
        # the same connector route with a permissive inner resolver does reach it: the test can fail
        connector = aiohttp.TCPConnector(resolver=_FixedResolver(["127.0.0.1"]))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.post(f"http://hooks.example.com:{port}/hook", data=b"{}") as resp:
                assert resp.status == 200
        assert len(received) == 1
    finally:
        await runner.cleanup()
