"""Scores API authentication: every failure of the hotkey signature is a 401 with its own detail,
nonces are single-use (also across an app restart on the same database), and signed callers get
the scores endpoints and audio."""

import time
from pathlib import Path

import pytest
from test_api_harness import ALICE, BOB, CHARLIE, assert_rate_headers, make_api, sign_headers

from tuneforge.api.testing import fake_breakdown, tone_wav

BEST = "/api/v1/scores/best"


def _seed_clips(store, n: int = 3) -> list[str]:
    ids = []
    for i in range(n):
        ids.append(store.record_scored_clip(
            round_id="r1", challenge={"challenge_id": f"{i:032x}", "prompt": f"prompt {i}", "genre": "jazz" if i else "rock",
                                      "mood": "calm", "duration_seconds": 1.0},
            uid=i, hotkey=f"hk{i}", audio_bytes=tone_wav(seconds=1.0, frequency_hz=300.0 + 50 * i), audio_format="wav",
            breakdown=fake_breakdown(0.2 * (i + 1)), final_score=0.2 * (i + 1), is_organic=False, rtt_seconds=1.0,
            model_id="m"))
    return ids


async def test_signed_request_gets_best_tracks(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        ids = _seed_clips(api.store)
        r = await api.client.get(BEST, params={"limit": 2}, headers=sign_headers(ALICE, "GET", BEST))
        assert r.status_code == 200, r.text
        assert_rate_headers(r)
        assert r.headers["X-RateLimit-Limit"] == str(api.settings.hotkey_rate_limit_per_minute)
        tracks = r.json()["tracks"]
        assert [t["track_id"] for t in tracks] == [ids[2], ids[1]]
        assert set(tracks[0]) >= {"track_id", "challenge_id", "miner_uid", "miner_hotkey", "final_score",
                                  "score_breakdown", "prompt", "genre", "mood", "duration_seconds", "created_at",
                                  "audio_url"}
        r = await api.client.get(BEST, params={"genre": "ROCK"}, headers=sign_headers(BOB, "GET", BEST, prefix=""))
        assert r.status_code == 200 and [t["track_id"] for t in r.json()["tracks"]] == [ids[0]]


@pytest.mark.parametrize("drop", ["X-Validator-Hotkey", "X-Validator-Nonce", "X-Validator-Signature"])
async def test_missing_header(tmp_path: Path, drop: str) -> None:
    async with make_api(tmp_path) as api:
        headers = sign_headers(ALICE, "GET", BEST)
        del headers[drop]
        r = await api.client.get(BEST, headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": f"Missing header(s): {drop}."}
        assert_rate_headers(r)


@pytest.mark.parametrize(("make_nonce", "fragment"), [
    (lambda: "abc", "must be an integer"),
    (lambda: "1.7e18", "must be an integer"),
    (lambda: "-5", "must be an integer"),
    (lambda: str(int(time.time() * 1000)), "nanoseconds"),  # milliseconds
    (lambda: str(int(time.time())), "nanoseconds"),  # seconds
    (lambda: str(time.time_ns() - 301 * 10**9), "Stale nonce"),
    (lambda: str(time.time_ns() + 301 * 10**9), "in the future"),
], ids=["word", "float", "negative", "milliseconds", "seconds", "stale", "future"])
async def test_bad_nonce(tmp_path: Path, make_nonce, fragment: str) -> None:
    async with make_api(tmp_path) as api:
        headers = sign_headers(ALICE, "GET", BEST)
        headers["X-Validator-Nonce"] = make_nonce()
        r = await api.client.get(BEST, headers=headers)
        assert r.status_code == 401 and fragment in r.json()["detail"]


async def test_nonce_inside_window_past_and_future_is_accepted(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        for offset in (-290, 290):
            nonce = time.time_ns() + offset * 10**9
            r = await api.client.get(BEST, headers=sign_headers(ALICE, "GET", BEST, nonce=nonce))
            assert r.status_code == 200, r.text


async def test_replayed_nonce_is_refused_also_after_restart(tmp_path: Path) -> None:
    headers = sign_headers(ALICE, "GET", BEST)
    async with make_api(tmp_path) as api:
        assert (await api.client.get(BEST, headers=headers)).status_code == 200
        r = await api.client.get(BEST, headers=headers)
        assert r.status_code == 401 and "Replayed nonce" in r.json()["detail"]
        store = api.store
    async with make_api(tmp_path, store=type(store)(store.database_url, tmp_path / "audio")) as fresh:
        r = await fresh.client.get(BEST, headers=headers)
        assert r.status_code == 401 and "Replayed nonce" in r.json()["detail"]
        assert (await fresh.client.get(BEST, headers=sign_headers(BOB, "GET", BEST))).status_code == 200


@pytest.mark.parametrize("case", ["body_hash", "method", "path", "other_key", "garbage", "truncated"])
async def test_signature_mismatch(tmp_path: Path, case: str) -> None:
    async with make_api(tmp_path) as api:
        body = None
        if case == "body_hash":
            headers = sign_headers(ALICE, "GET", BEST, body=b'{"a": 1}')
            body = b'{"a": 2}'
        elif case == "method":
            headers = sign_headers(ALICE, "POST", BEST)
        elif case == "path":
            headers = sign_headers(ALICE, "GET", "/api/v1/scores/export")
        elif case == "other_key":
            headers = sign_headers(BOB, "GET", BEST, hotkey=ALICE.ss58_address)
        elif case == "garbage":
            headers = sign_headers(ALICE, "GET", BEST)
            headers["X-Validator-Signature"] = "0xzz" + "00" * 63
        else:
            headers = sign_headers(ALICE, "GET", BEST)
            headers["X-Validator-Signature"] = headers["X-Validator-Signature"][:-2]
        r = await api.client.request("GET", BEST, headers=headers, content=body)
        assert r.status_code == 401 and r.json()["detail"].startswith("Invalid signature"), r.text
        assert_rate_headers(r)


async def test_body_is_signed_by_its_hash(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        body = b'{"a": 1}'
        r = await api.client.request("GET", BEST, headers=sign_headers(ALICE, "GET", BEST, body=body), content=body)
        assert r.status_code == 200, r.text


async def test_unregistered_hotkey_is_refused(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        r = await api.client.get(BEST, headers=sign_headers(CHARLIE, "GET", BEST))
        assert r.status_code == 401 and r.json()["detail"] == f"Hotkey {CHARLIE.ss58_address} is not registered on the subnet."


async def test_export_pages_leaderboard_miner_and_signed_audio(tmp_path: Path) -> None:
    board = [{"uid": 1, "hotkey": "hk1", "ema": 0.3, "weight": 0.4, "rounds": 5, "last_score": 0.2, "extra": 1},
             {"uid": 2, "hotkey": "hk2", "ema": 0.6, "weight": 0.6, "rounds": 5, "last_score": 0.7}]
    async with make_api(tmp_path, leaderboard=board) as api:
        ids = _seed_clips(api.store, n=5)
        seen, cursor = [], None
        while True:
            path = "/api/v1/scores/export"
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            r = await api.client.get(path, params=params, headers=sign_headers(ALICE, "GET", path))
            assert r.status_code == 200, r.text
            seen += [e["track_id"] for e in r.json()["entries"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == ids
        path = "/api/v1/scores/export"
        r = await api.client.get(path, params={"cursor": "bogus"}, headers=sign_headers(ALICE, "GET", path))
        assert r.status_code == 400 and r.json()["detail"].startswith("cursor:")
        path = "/api/v1/scores/leaderboard"
        r = await api.client.get(path, headers=sign_headers(ALICE, "GET", path))
        assert [m["uid"] for m in r.json()["miners"]] == [2, 1] and "extra" not in r.json()["miners"][1]
        path = "/api/v1/scores/miners/hk1"
        r = await api.client.get(path, headers=sign_headers(ALICE, "GET", path))
        assert r.json()["leaderboard"]["ema"] == 0.3 and [t["track_id"] for t in r.json()["tracks"]] == [ids[1]]
        path = "/api/v1/scores/miners/nobody"
        r = await api.client.get(path, headers=sign_headers(ALICE, "GET", path))
        assert r.status_code == 404
        audio_url = f"/api/v1/music/audio/{ids[0]}.flac"
        r = await api.client.get(audio_url, headers=sign_headers(ALICE, "GET", audio_url))
        assert r.status_code == 200 and r.content[:4] == b"fLaC" and r.headers["content-type"] == "audio/flac"
        r = await api.client.get(audio_url, headers=sign_headers(CHARLIE, "GET", audio_url))
        assert r.status_code == 401
