"""API replicas over shared services: sliding-window limits (no boundary burst) in-process and in
Redis, one window and one nonce ledger for every replica, the validator's published registry on
signed routes, /health and /ready, and ``tuneforge api serve`` as a real process next to the admin CLI
on the same PostgreSQL database."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_api_harness import ALICE, CHARLIE, Clock, assert_rate_headers, sign_headers

from tuneforge.api.ratelimit import WINDOW_SECONDS, RateLimiter, RedisRateLimiter
from tuneforge.api.registry import publish_leaderboard, publish_registry
from tuneforge.api.serve import build_replica
from tuneforge.api.settings import ApiSettings
from tuneforge.localservices import free_port

ME = "/api/v1/account/me"
BEST = "/api/v1/scores/best"


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> Callable[[Clock], Any]:
    """A factory of limiters on one backend: every limiter it makes shares the same windows."""
    if request.param == "memory":
        shared = {}

        def memory(clock: Clock) -> RateLimiter:
            if "limiter" not in shared:
                shared["limiter"] = RateLimiter(clock=clock)
            return shared["limiter"]

        return memory
    url = request.getfixturevalue("redis_url")
    return lambda clock: RedisRateLimiter(url, clock=clock)


def test_no_burst_across_a_minute_boundary(make_limiter: Callable[[Clock], Any]) -> None:
    clock = Clock(now=1_000_000.0)
    limiter = make_limiter(clock)
    clock.now += 55.0  # late in a clock minute: a fixed window would reopen 5 s from now
    for _ in range(10):
        assert limiter.hit("acct", 10).allowed
        clock.now += 0.1
    clock.now = 1_000_061.0  # a new clock minute: still ten requests in the last 60 s
    refused = limiter.hit("acct", 10)
    assert not refused.allowed and refused.remaining == 0
    assert refused.headers(now=clock.now)["Retry-After"] == "54"  # the first of the ten leaves at +115 s
    clock.now = 1_000_114.9
    assert not limiter.hit("acct", 10).allowed
    clock.now = 1_000_115.05  # the first left the window: one slot, not ten
    assert limiter.hit("acct", 10).allowed
    assert not limiter.hit("acct", 10).allowed
    clock.now = 1_000_115.15  # the second left too
    decision = limiter.hit("acct", 10)
    assert decision.allowed and decision.remaining == 0


def test_at_most_limit_in_any_window_and_none_refused_with_room(make_limiter: Callable[[Clock], Any]) -> None:
    clock = Clock(now=2_000_000.0)
    limiter = make_limiter(clock)
    rng = random.Random(7)
    limit, admitted, refused = 8, [], []
    for _ in range(400):
        clock.now += rng.expovariate(1 / 1.2)  # ~50 requests a minute against a limit of 8
        (admitted if limiter.hit("k", limit).allowed else refused).append(clock.now)

    def in_window(t: float) -> int:
        return sum(1 for a in admitted if t - WINDOW_SECONDS < a <= t)

    assert max(in_window(t) for t in admitted) == limit  # full windows happen, and never more
    assert all(in_window(t) == limit for t in refused)  # a request is refused only when the window is full
    assert len(admitted) > 40 and refused


def test_replicas_share_one_window(make_limiter: Callable[[Clock], Any]) -> None:
    clock = Clock(now=3_000_000.0)
    a, b = make_limiter(clock), make_limiter(clock)
    results = [(a if i % 2 else b).hit("acct", 6).allowed for i in range(10)]
    assert results == [True] * 6 + [False] * 4


async def test_async_check_counts_in_the_same_window(make_limiter: Callable[[Clock], Any]) -> None:
    clock = Clock(now=4_000_000.0)
    limiter = make_limiter(clock)
    decisions = [await limiter.check("acct", 3) for _ in range(4)] + [limiter.hit("acct", 3)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    if hasattr(limiter, "aclose"):
        await limiter.aclose()


def test_in_process_table_is_bounded() -> None:
    clock = Clock(now=5_000_000.0)
    limiter = RateLimiter(clock=clock, max_keys=100)
    for i in range(1000):
        limiter.hit(f"ip:10.0.{i // 256}.{i % 256}", 5)
        clock.now += 0.01
    assert len(limiter) <= 100
    assert limiter.hit("ip:10.0.3.231", 5).remaining == 3  # the most recent callers are kept


# -- replicas over PostgreSQL + Redis ------------------------------------------------------------------


def _settings(db: str, tmp_path: Path, redis_url: str | None, **overrides: Any) -> ApiSettings:
    values = {"database_url": db, "audio_dir": str(tmp_path / "audio"), "host": "127.0.0.1", "port": 0,
              "redis_url": redis_url, "plan_limits": {"free": 4, "pro": 300, "premier": 1000}}
    return ApiSettings(**(values | overrides))


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_two_replicas_share_limits_nonces_and_the_published_registry(postgres_url: str, redis_url: str,
                                                                           tmp_path: Path) -> None:
    (app_a, store_a), (app_b, store_b) = (build_replica(_settings(postgres_url, tmp_path, redis_url))
                                          for _ in range(2))
    account = store_a.create_account(name="shared", credits=10)
    _, key = store_a.create_api_key(account["id"])
    auth = {"Authorization": f"Bearer {key}"}
    publish_registry(store_a, netuid=234, hotkeys=[ALICE.ss58_address], block=42)
    publish_leaderboard(store_a, [{"uid": 3, "hotkey": "5Miner", "ema": 0.7, "weight": 1.0, "rounds": 2,
                                   "last_score": 0.6}])
    async with _client(app_a) as a, _client(app_b) as b:
        codes = [(await (a if i % 2 else b).get(ME, headers=auth)).status_code for i in range(6)]
        assert codes == [200, 200, 200, 200, 429, 429]  # 4 a minute across both replicas, not 4 each
        headers = sign_headers(ALICE, "GET", BEST)
        first = await a.get(BEST, headers=headers)
        assert first.status_code == 200, first.text
        replay = await b.get(BEST, headers=headers)
        assert replay.status_code == 401 and "Replayed nonce" in replay.json()["detail"]
        assert_rate_headers(replay)
        stranger = await b.get(BEST, headers=sign_headers(CHARLIE, "GET", BEST))
        assert stranger.status_code == 401 and "not registered" in stranger.json()["detail"]
        board = await b.get("/api/v1/scores/leaderboard", headers=sign_headers(ALICE, "GET", "/api/v1/scores/leaderboard"))
        assert board.json()["miners"][0]["hotkey"] == "5Miner"
        ready = await a.get("/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert body["checks"] == {"database": "ok", "redis": "ok"} and 0 <= body["registry_age_s"] < 60
        assert_rate_headers(ready)
    store_a.close()
    store_b.close()


async def test_without_redis_ready_is_503_and_the_api_limits_in_process(postgres_url: str,
                                                                           tmp_path: Path) -> None:
    app, store = build_replica(_settings(postgres_url, tmp_path, f"redis://127.0.0.1:{free_port()}/0"))
    async with _client(app) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["redis"].startswith("unreachable")
        assert (await client.get("/health")).json() == {"status": "ok"}
        account = store.create_account(name="a", credits=1)
        _, key = store.create_api_key(account["id"])
        me = await client.get(ME, headers={"Authorization": f"Bearer {key}"})  # limited in-process meanwhile
        assert me.status_code == 200 and me.headers["X-RateLimit-Remaining"] == "3"
        assert app.state.ctx.limiter.fallbacks >= 1
    store.close()


async def test_replica_queues_jobs_and_leaves_them_to_validators(tmp_path: Path) -> None:
    app, store = build_replica(_settings(f"sqlite:///{tmp_path / 'r.db'}", tmp_path, None))
    account = store.create_account(name="a", credits=10)
    _, key = store.create_api_key(account["id"])
    async with _client(app) as client:
        r = await client.post("/api/v1/music/generate", headers={"Authorization": f"Bearer {key}"},
                              json={"prompt": "calm piano", "duration_seconds": 5})
        assert r.status_code == 201 and r.json()["status"] == "pending"
    assert app.state.ctx.gateway is None and store.pending_job_count() == 1
    assert store.claim_job(worker="validator-1")["id"] == r.json()["request_id"]
    store.close()


def _tuneforge(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """``tuneforge ARGS`` in this process (the real parser and command): ``(exit status, stdout)``."""
    from tuneforge.cli import main

    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().out


def test_api_serve_process_with_the_admin_cli_on_one_postgres(postgres_url: str, redis_url: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    db = ["--api.database_url", postgres_url, "--state-dir", str(tmp_path / "state")]
    code, out = _tuneforge(capsys, "api", "account", "create", "--name", "ops", "--credits", "20", "--json", *db)
    assert code == 0
    account_id = json.loads(out)["id"]
    key = json.loads(_tuneforge(capsys, "api", "key", "create", "--account", account_id, "--json", *db)[1])["api_key"]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tuneforge.cli", "api", "serve", *db, "--api.port", str(port),
                               "--api.redis_url", redis_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.1)
        assert httpx.get(f"{base}/ready", timeout=5).json()["checks"] == {"database": "ok", "redis": "ok"}
        me = httpx.get(f"{base}{ME}", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert me.status_code == 200 and me.json()["credits"] == 20
        assert me.headers["X-RateLimit-Limit"] == "60"
        assert _tuneforge(capsys, "api", "credits", "add", "--account", account_id, "--amount", "5", *db)[0] == 0
        assert httpx.get(f"{base}{ME}", headers={"Authorization": f"Bearer {key}"}, timeout=5).json()["credits"] == 25
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=20)
    stderr = server.stderr.read()
    assert code == 0 and "API replica stopped (SIGTERM)" in stderr, stderr


def test_api_serve_refuses_a_bad_database_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    code, _ = _tuneforge(capsys, "api", "serve", "--api.database_url", "postgresql+psycopg://tf@127.0.0.1:1/none",
                         "--api.port", str(free_port()), "--state-dir", str(tmp_path))
    assert code == 1
    (record,) = [r for r in caplog.records if r.name == "tuneforge.api.serve"]
    assert "cannot open the database" in record.getMessage() and record.exc_info is None
