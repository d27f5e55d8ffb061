"""Shared set-up for the API tests (no tests here): an app on a fresh store, an httpx client over
ASGI, a controllable clock for the rate limiter, and signed-request helpers.

The store is a SQLite file under the test's directory, or with ``TF_TEST_POSTGRES_URL`` set a fresh
PostgreSQL schema standing in for that file (``tuneforge.store.testing``), dropped after the test."""

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bittensor_wallet import Keypair

from tuneforge.api.app import create_app
from tuneforge.api.ratelimit import RateLimiter
from tuneforge.api.settings import ApiSettings
from tuneforge.api.signing import signed_message
from tuneforge.store import Store
from tuneforge.store.testing import database_url_for

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")
CHARLIE = Keypair.create_from_uri("//Charlie")  # never registered


@dataclass
class Clock:
    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    store: Store
    app: Any
    client: httpx.AsyncClient
    settings: ApiSettings
    clock: Clock
    account: dict[str, Any]
    key: str
    registered: set[str]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_settings(tmp_path: Path, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {"database_url": database_url_for(tmp_path / "tf.db"), "audio_dir": str(tmp_path / "audio"),
                              "port": 0, "host": "127.0.0.1", "webhook_allow_private": True}
    return ApiSettings(**(values | overrides))


@contextlib.asynccontextmanager
async def make_api(tmp_path: Path, *, gateway: Any = None, credits: int = 100, plan: str = "free",
                   leaderboard: list[dict[str, Any]] | None = None, store: Store | None = None,
                   **overrides: Any) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path, **overrides)
    store = store or Store(settings.database_url, settings.audio_dir)
    clock = Clock()
    registered = {ALICE.ss58_address, BOB.ss58_address}
    app = create_app(store=store, settings=settings, gateway=gateway, leaderboard=lambda: list(leaderboard or []),
                     is_registered=lambda hk: hk in registered, limiter=RateLimiter(clock=clock))
    account = store.create_account(name="tester", plan=plan, credits=credits)
    _, key = store.create_api_key(account["id"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield Api(store, app, client, settings, clock, account, key, registered)


def sign_headers(keypair: Keypair, method: str, path: str, *, body: bytes | None = None, nonce: int | None = None,
                 hotkey: str | None = None, prefix: str = "0x") -> dict[str, str]:
    """Headers for ``method path`` signed by ``keypair`` (``hotkey`` may claim another identity)."""
    nonce = time.time_ns() if nonce is None else nonce
    hotkey = hotkey or keypair.ss58_address
    message = signed_message(nonce=nonce, hotkey=hotkey, method=method, path=path, body=body)
    return {"X-Validator-Hotkey": hotkey, "X-Validator-Nonce": str(nonce),
            "X-Validator-Signature": prefix + keypair.sign(message.encode()).hex()}


def assert_rate_headers(response: httpx.Response) -> None:
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers.get(name, "").isdigit(), (name, response.status_code, dict(response.headers))
