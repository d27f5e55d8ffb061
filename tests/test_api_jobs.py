"""Generation jobs and webhooks: best clip per variation by its own score, distinct seeds, refunds on
failure (full and partial), recovery of jobs whose worker died (lease expired), signed webhooks retried
against a local server that fails twice, delivery attempts recorded."""

import asyncio
import json
import time
from pathlib import Path

from aiohttp import web
from test_api_harness import make_api

from tuneforge.api.testing import FakeGateway
from tuneforge.api.webhooks import verify_webhook
from tuneforge.store import Store

GEN = "/api/v1/music/generate"


async def test_job_keeps_best_clip_per_variation(tmp_path: Path) -> None:
    gateway = FakeGateway(scores=(0.4, 0.8, 0.6))
    async with make_api(tmp_path, gateway=gateway, credits=10) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "jazz trio", "genre": "jazz",
                                                               "duration_seconds": 3, "num_variations": 2, "seed": 40})
        request_id = r.json()["request_id"]
        assert await api.app.state.jobs.process_next()
        status = (await api.client.get(f"/api/v1/music/status/{request_id}", headers=api.auth)).json()
        assert status["status"] == "completed" and status["error"] is None and status["credits_charged"] == 2
        assert sorted(q.seed for q in gateway.requests) == [40, 41]
        assert all(q.prompt == "jazz trio" and q.genre == "jazz" for q in gateway.requests)
        assert len(status["tracks"]) == 2
        for track in status["tracks"]:
            assert track["miner_hotkey"] == "5FakeMinerHotkey02" and track["score_breakdown"]["final_score"] == 0.8
            assert track["duration_seconds"] == 3.0 and track["sample_rate"] == 16000
        stored = [api.store.get_track(t["track_id"]) for t in status["tracks"]]
        assert all(t["is_organic"] and t["job_id"] == request_id for t in stored)
        assert stored[0]["audio_sha256"] != stored[1]["audio_sha256"]  # seeds differ → different audio
        assert api.store.get_account(api.account["id"])["credits"] == 8 == api.store.ledger_balance(api.account["id"])


async def test_failed_job_is_refunded(tmp_path: Path) -> None:
    for gateway in (FakeGateway(fail=True), FakeGateway(empty=True), None):
        async with make_api(tmp_path / str(id(gateway)), gateway=gateway, credits=5) as api:
            r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 30})
            assert api.store.get_account(api.account["id"])["credits"] == 2
            await api.app.state.jobs.process_next()
            status = (await api.client.get(f"/api/v1/music/status/{r.json()['request_id']}", headers=api.auth)).json()
            assert status["status"] == "failed" and status["error"] and status["credits_charged"] == 0
            assert [(e["reason"], e["delta"]) for e in api.store.ledger(api.account["id"])] == [
                ("grant", 5), ("generation", -3), ("refund", 3)]


class HalfBrokenGateway(FakeGateway):
    async def generate(self, request, *, num_candidates=3, timeout=None):
        if request.seed % 2:
            raise RuntimeError("miners timed out")
        return await super().generate(request, num_candidates=num_candidates, timeout=timeout)


async def test_partial_job_refunds_missing_variations(tmp_path: Path) -> None:
    async with make_api(tmp_path, gateway=HalfBrokenGateway(), credits=10) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 12,
                                                               "num_variations": 2, "seed": 10})
        await api.app.state.jobs.process_next()
        status = (await api.client.get(f"/api/v1/music/status/{r.json()['request_id']}", headers=api.auth)).json()
        assert status["status"] == "completed" and len(status["tracks"]) == 1 and "1 of 2" in status["error"]
        assert status["credits_charged"] == 2
        assert api.store.get_account(api.account["id"])["credits"] == 8 == api.store.ledger_balance(api.account["id"])


async def test_interrupted_job_is_retried_after_restart(tmp_path: Path) -> None:
    async with make_api(tmp_path, gateway=FakeGateway(), credits=10) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 2})
        request_id = r.json()["request_id"]
        # its worker "died" a minute ago, holding a 30 s lease
        assert api.store.claim_job(lease_s=30, now=time.time() - 60)["status"] == "processing"
        db, audio = api.store.database_url, tmp_path / "audio"
    restarted = Store(db, audio)
    async with make_api(tmp_path, gateway=FakeGateway(), store=restarted) as api2:
        requeued, failed = api2.app.state.jobs.recover()
        assert (requeued, failed) == ([request_id], [])
        assert await api2.app.state.jobs.process_next()
        job = restarted.get_job(request_id)
        assert job["status"] == "completed" and job["attempts"] == 2 and len(job["tracks"]) == 1


async def test_job_interrupted_twice_fails_with_refund_and_webhook(tmp_path: Path) -> None:
    async with make_api(tmp_path, gateway=FakeGateway(), credits=10) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 2,
                                                               "webhook_url": "http://127.0.0.1:9/hook"})
        request_id = r.json()["request_id"]
        for _ in range(2):
            api.store.claim_job(lease_s=30, now=time.time() - 60)  # a worker that died
            api.store.recover_jobs(max_attempts=99)  # its lease ran out: requeued
        api.store.claim_job(lease_s=30, now=time.time() - 60)
        assert api.app.state.jobs.recover() == ([], [request_id])
        assert api.store.get_job(request_id)["status"] == "failed"
        assert api.store.get_account(api.account["id"])["credits"] == 10
        (delivery,) = api.store.webhook_deliveries(request_id)
        assert json.loads(delivery["payload"])["status"] == "failed"


async def _hook_server(fail_times: int) -> tuple[web.AppRunner, str, list[dict]]:
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append({"headers": dict(request.headers), "body": await request.read()})
        return web.Response(status=500 if len(received) <= fail_times else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/hook", received


async def _deliver_until(api, done, *, timeout_s: float = 15.0) -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(api.app.state.webhooks.run(stop, wake))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done() and loop.time() < deadline:
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        wake.set()
        await task


async def test_webhook_is_signed_and_retried_until_delivered(tmp_path: Path) -> None:
    runner, url, received = await _hook_server(fail_times=2)
    try:
        async with make_api(tmp_path, gateway=FakeGateway(), webhook_backoff_s=0.05) as api:
            r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 2,
                                                                   "webhook_url": url})
            request_id = r.json()["request_id"]
            await api.app.state.jobs.process_next()
            await _deliver_until(api, lambda: len(received) >= 3 and
                                 api.store.webhook_deliveries(request_id)[0]["status"] == "delivered")
            (delivery,) = api.store.webhook_deliveries(request_id)
            assert delivery["status"] == "delivered" and delivery["attempts"] == 3
            assert [a["status_code"] for a in delivery["attempts_log"]] == [500, 500, 200]
            assert len(received) == 3
            secret = api.store.get_account(api.account["id"])["webhook_secret"]
            last = received[-1]
            assert verify_webhook(secret, timestamp=last["headers"]["X-TuneForge-Timestamp"], body=last["body"],
                                  signature=last["headers"]["X-TuneForge-Signature"])
            assert not verify_webhook("whsec_wrong", timestamp=last["headers"]["X-TuneForge-Timestamp"],
                                      body=last["body"], signature=last["headers"]["X-TuneForge-Signature"])
            assert last["headers"]["X-TuneForge-Event"] == "generation.completed"
            status = (await api.client.get(f"/api/v1/music/status/{request_id}", headers=api.auth)).json()
            assert json.loads(last["body"]) == status
    finally:
        await runner.cleanup()


async def test_webhook_gives_up_after_max_attempts(tmp_path: Path) -> None:
    runner, url, received = await _hook_server(fail_times=99)
    try:
        async with make_api(tmp_path, gateway=FakeGateway(fail=True), webhook_backoff_s=0.02,
                            webhook_max_attempts=2) as api:
            r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "webhook_url": url})
            request_id = r.json()["request_id"]
            await api.app.state.jobs.process_next()
            await _deliver_until(api, lambda: api.store.webhook_deliveries(request_id)[0]["status"] == "failed")
            (delivery,) = api.store.webhook_deliveries(request_id)
            assert delivery["status"] == "failed" and delivery["attempts"] == 2 and len(received) == 2
            assert received[0]["headers"]["X-TuneForge-Event"] == "generation.failed"
    finally:
        await runner.cleanup()
