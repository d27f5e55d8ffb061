"""Music API over ASGI: submission and credits, validation errors (400 naming the field), 401/402/
404/413/429/500 shapes, rate-limit headers on every response, history, account and own audio."""

import json
from pathlib import Path

import pytest
from test_api_harness import assert_rate_headers, make_api

from tuneforge.api.testing import FakeGateway

GEN = "/api/v1/music/generate"


async def test_generate_reserves_credits_and_reports_status(tmp_path: Path) -> None:
    async with make_api(tmp_path, credits=10) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "calm piano", "duration_seconds": 25,
                                                               "num_variations": 2, "seed": 7})
        assert r.status_code == 201, r.text
        assert_rate_headers(r)
        body = r.json()
        assert body["status"] == "pending" and body["credits_charged"] == 6 and body["request_id"].startswith("req_")
        assert body["estimated_time"] > 0
        assert api.store.get_account(api.account["id"])["credits"] == 4
        job = api.store.get_job(body["request_id"])
        assert job["params"]["seeds"] == [7, 8]
        r = await api.client.get(f"/api/v1/music/status/{body['request_id']}", headers=api.auth)
        assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["tracks"] == []
        r = await api.client.get("/api/v1/account/me", headers=api.auth)
        me = r.json()
        assert me["credits"] == 4 and me["plan"] == "free" and me["rate_limit_per_minute"] == 60
        assert me["usage"] == {"generations_today": 1, "generations_this_month": 1}


async def test_insufficient_credits_is_402_with_exact_detail(tmp_path: Path) -> None:
    async with make_api(tmp_path, credits=2) as api:
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "x", "duration_seconds": 50})
        assert r.status_code == 402
        assert r.json() == {"detail": "Insufficient credits. You need 5 credits but have 2 remaining."}
        assert_rate_headers(r)
        assert api.store.get_account(api.account["id"])["credits"] == 2


@pytest.mark.parametrize(("payload", "detail"), [
    ({"prompt": "x", "duration_seconds": 0}, "duration_seconds: must be between 1 and 180"),
    ({"prompt": "x", "duration_seconds": 181}, "duration_seconds: must be between 1 and 180"),
    ({"prompt": "x", "duration_seconds": "long"}, "duration_seconds: input should be a valid number"),
    ({"prompt": "x", "num_variations": 5}, "num_variations: must be between 1 and 4"),
    ({"prompt": "x", "tempo_bpm": 500}, "tempo_bpm: must be between 20 and 300"),
    ({"prompt": "x", "key_signature": "H minor"}, "key_signature: not a key"),
    ({"prompt": "x", "time_signature": "4/5"}, "time_signature: not a time signature"),
    ({"prompt": "x", "format": "mp3"}, "format: input should be 'wav' or 'flac'"),
    ({"prompt": "x", "webhook_url": "ftp://x"}, "webhook_url: must be an http:// or https:// URL"),
    ({"prompt": "x", "colour": "red"}, "colour: unknown field"),
    ({"prompt": "   "}, "prompt: must not be blank"),
    ({"genre": "jazz"}, "prompt: field required"),
    ([1, 2], "Request body must be a JSON object."),
])
async def test_invalid_request_is_400_naming_the_field(tmp_path: Path, payload, detail: str) -> None:
    async with make_api(tmp_path) as api:
        r = await api.client.post(GEN, headers=api.auth, json=payload)
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith(detail), r.json()
        assert_rate_headers(r)
        assert api.store.get_account(api.account["id"])["credits"] == 100


async def test_malformed_json_and_missing_body(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        headers = api.auth | {"Content-Type": "application/json"}
        r = await api.client.post(GEN, headers=headers, content=b'{"prompt": ')
        assert r.status_code == 400 and r.json() == {"detail": "Request body is not valid JSON."}
        r = await api.client.post(GEN, headers=api.auth)
        assert r.status_code == 400 and r.json() == {"detail": "Request body is required (JSON object)."}


async def test_oversize_body_is_413(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        big = json.dumps({"prompt": "x" * 70_000}).encode()
        r = await api.client.post(GEN, headers=api.auth | {"Content-Type": "application/json"}, content=big)
        assert r.status_code == 413 and r.json()["detail"] == "Request body too large: the limit is 65536 bytes."
        assert_rate_headers(r)

        async def chunks():  # no Content-Length: the limit applies while reading
            for _ in range(40):
                yield b"x" * 4096

        r = await api.client.post(GEN, headers=api.auth, content=chunks())
        assert r.status_code == 413


@pytest.mark.parametrize(("header", "detail"), [
    (None, "Missing API key: send 'Authorization: Bearer tf_...'."),
    ("Basic abc", "Malformed Authorization header: expected 'Bearer tf_...'."),
    ("Bearer tf_not_a_real_key", "Invalid API key."),
    ("Bearer sk_wrong_prefix", "Invalid API key."),
])
async def test_bad_api_key_is_401(tmp_path: Path, header: str | None, detail: str) -> None:
    async with make_api(tmp_path) as api:
        headers = {"Authorization": header} if header else {}
        r = await api.client.get("/api/v1/account/me", headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": detail}
        assert_rate_headers(r)


async def test_revoked_key_is_401(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        assert (await api.client.get("/api/v1/account/me", headers=api.auth)).status_code == 200
        (key,) = api.store.list_api_keys(api.account["id"])
        api.store.revoke_api_key(key["id"])
        r = await api.client.get("/api/v1/account/me", headers=api.auth)
        assert r.status_code == 401 and r.json() == {"detail": "This API key has been revoked."}


async def test_unknown_ids_are_404(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        for path in ("/api/v1/music/status/req_missing", "/api/v1/music/audio/trk_missing.wav",
                     "/api/v1/music/audio/trk_missing.mp3", "/api/v1/nothing-here"):
            r = await api.client.get(path, headers=api.auth)
            assert r.status_code == 404, path
            assert isinstance(r.json()["detail"], str)
            assert_rate_headers(r)
        other = api.store.create_account(name="other", credits=5)
        job = api.store.submit_job(account_id=other["id"], params={"prompt": "p"}, cost=1)
        r = await api.client.get(f"/api/v1/music/status/{job['id']}", headers=api.auth)
        assert r.status_code == 404


async def test_server_error_is_json_500_with_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with make_api(tmp_path) as api:
        def broken(*args, **kwargs):
            raise RuntimeError("boom")

        monkeypatch.setattr(api.store, "usage", broken)
        r = await api.client.get("/api/v1/account/me", headers=api.auth)
        assert r.status_code == 500 and r.json() == {"detail": "Internal server error."}
        assert_rate_headers(r)


async def test_rate_limit_boundary(tmp_path: Path) -> None:
    async with make_api(tmp_path, plan_limits={"free": 5, "pro": 300, "premier": 1000}) as api:
        remaining, resets = [], set()
        for _ in range(5):
            r = await api.client.get("/api/v1/account/me", headers=api.auth)
            assert r.status_code == 200
            remaining.append(int(r.headers["X-RateLimit-Remaining"]))
            resets.add(r.headers["X-RateLimit-Reset"])
            assert r.headers["X-RateLimit-Limit"] == "5" and "Retry-After" not in r.headers
        assert remaining == [4, 3, 2, 1, 0] and len(resets) == 1
        api.clock.now += 20
        r = await api.client.get("/api/v1/account/me", headers=api.auth)
        assert r.status_code == 429 and r.json()["detail"].startswith("Rate limit exceeded: 5 requests per minute")
        assert r.headers["Retry-After"] == "40" and r.headers["X-RateLimit-Remaining"] == "0"
        assert r.headers["X-RateLimit-Reset"] in resets
        api.clock.now += 40
        r = await api.client.get("/api/v1/account/me", headers=api.auth)
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "4"


async def test_unauthenticated_requests_are_limited_per_ip(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        api.settings.anonymous_rate_limit_per_minute = 3
        codes = [(await api.client.get("/api/v1/account/me")).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        r = await api.client.get("/openapi.json")
        assert r.status_code == 429
        r = await api.client.get("/api/v1/account/me", headers=api.auth)  # the account has its own window
        assert r.status_code == 200


async def test_history_audio_and_docs(tmp_path: Path) -> None:
    async with make_api(tmp_path, gateway=FakeGateway(), credits=50) as api:
        ids = []
        for i in range(3):
            r = await api.client.post(GEN, headers=api.auth, json={"prompt": f"song {i}", "duration_seconds": 2,
                                                                   "format": "flac" if i == 2 else "wav"})
            ids.append(r.json()["request_id"])
        assert await api.app.state.jobs.process_next()  # oldest first
        r = await api.client.get("/api/v1/music/generations", headers=api.auth)
        assert [g["request_id"] for g in r.json()["generations"]] == ids[::-1]
        r = await api.client.get("/api/v1/music/generations", headers=api.auth,
                                 params={"status": "completed", "limit": 1})
        assert [g["request_id"] for g in r.json()["generations"]] == [ids[0]]
        for bad in ({"limit": 101}, {"offset": -1}, {"status": "done"}):
            r = await api.client.get("/api/v1/music/generations", headers=api.auth, params=bad)
            assert r.status_code == 400 and r.json()["detail"].split(":")[0] in bad
        while await api.app.state.jobs.process_next():
            pass
        status = (await api.client.get(f"/api/v1/music/status/{ids[2]}", headers=api.auth)).json()
        track = status["tracks"][0]
        assert track["format"] == "flac" and track["audio_url"].endswith(".flac")
        r = await api.client.get(track["audio_url"], headers=api.auth)
        assert r.status_code == 200 and r.content[:4] == b"fLaC"
        other = api.store.create_account(name="other")
        _, other_key = api.store.create_api_key(other["id"])
        r = await api.client.get(track["audio_url"], headers={"Authorization": f"Bearer {other_key}"})
        assert r.status_code == 404
        schema = (await api.client.get("/openapi.json")).json()
        assert GEN in schema["paths"] and "/api/v1/scores/export" in schema["paths"]
        assert (await api.client.get("/docs")).status_code == 200
