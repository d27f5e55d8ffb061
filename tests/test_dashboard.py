"""/dashboard's routes over ASGI: what the page reads, what it may not show, and how it is served.

A store holds three validation rounds (two miners, one of them skipped in round 2), an organic job
worked by a fake gateway and the validator's published health; the tests read the JSON documents
the page polls, the clips it plays, the page and its assets. The same documents from an API
replica (``tuneforge api serve``'s app) come from what the validator published.
"""

import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import soundfile as sf
from test_api_harness import make_api, make_settings

from scoring import constants as C
from tuneforge.api import dashboard_status
from tuneforge.api.dashboard import STATIC_DIR
from tuneforge.api.registry import publish_leaderboard, publish_registry
from tuneforge.api.testing import FakeGateway, fake_breakdown, tone_wav
from tuneforge.store import Store
from tuneforge.validator.leaderboard import Leaderboard
from tuneforge.validator.weights import WeightSetter

GEN = "/api/v1/music/generate"
#: round id -> {hotkey: final score}; "B" was not sampled in round 2
ROUNDS = {"1": {"A": 0.5, "B": 0.25}, "2": {"A": 0.75}, "3": {"A": 0.625, "B": 0.375}}
UIDS = {"A": 1, "B": 2}
CHALLENGE = {
    "prompt": "calm piano ballad",
    "genre": "jazz",
    "mood": "calm",
    "tempo_bpm": 84,
    "key_signature": "Eb major",
    "time_signature": "3/4",
    "instruments": ["piano"],
    "duration_seconds": 2.0,
    "vocals_requested": False,
    "base_seed": 99,
    "template": 4,
    "is_organic": False,
}


def record_rounds(store: Store) -> None:
    t0 = time.time() - 100
    for i, (round_id, scores) in enumerate(ROUNDS.items()):
        challenge = CHALLENGE | {"challenge_id": f"ch{round_id}", "round_id": round_id}
        for hotkey, score in scores.items():
            breakdown = fake_breakdown(score)
            breakdown.signals["clap"] = None
            breakdown.unavailable["clap"] = "no CLAP model"
            breakdown.penalties["duration_penalty"] = 0.5
            store.record_scored_clip(
                round_id=round_id,
                challenge=challenge,
                uid=UIDS[hotkey],
                hotkey=hotkey,
                audio_bytes=tone_wav(seconds=2.0, frequency_hz=220.0 * UIDS[hotkey]),
                audio_format="wav",
                breakdown=breakdown,
                final_score=score,
                is_organic=False,
                rtt_seconds=0.5,
                model_id=f"model-{hotkey}-r{round_id}",
            )
        store.record_round(
            round_id=round_id,
            challenge=challenge,
            started_at=t0 + 10 * i,
            finished_at=t0 + 10 * i + 5,
            num_miners=len(scores),
        )


LEADERBOARD = [
    {"uid": 2, "hotkey": "B", "ema": 0.1, "weight": 0.2, "rounds": 2, "last_score": 0.375, "last_block": 9},
    {"uid": 1, "hotkey": "A", "ema": 0.4, "weight": 0.8, "rounds": 3, "last_score": 0.625, "last_block": 9},
]


class Subtensor:
    def __init__(self, answers: list) -> None:
        self.answers = answers

    def blocks_since_last_update(self, netuid: int, uid: int) -> int:
        return 1000

    def weights_rate_limit(self, netuid: int) -> int:
        return 100

    def get_current_block(self) -> int:
        return 4321

    def set_weights(self, **kwargs):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def validator_double(answers: list) -> SimpleNamespace:
    """What public_status reads from a validator: a real WeightSetter and Leaderboard, chain doubles."""
    board = Leaderboard()
    board.update(1, "A", 0.9)
    board.update(2, "B", 0.3)
    sub = Subtensor(answers)
    wallet = SimpleNamespace(hotkey=SimpleNamespace(ss58_address="V"))
    setter = WeightSetter(sub, wallet, 7, max_retries=0, sleep=lambda s: None)
    last_round = SimpleNamespace(
        round_id="3",
        started_at=100.0,
        finished_at=130.0,
        miners=[SimpleNamespace(audio_bytes=b"x"), SimpleNamespace(audio_bytes=None)],
    )
    return SimpleNamespace(
        hotkey="V",
        uid=0,
        config=SimpleNamespace(netuid=7),
        rounds_completed=3,
        last_round=last_round,
        weight_setter=setter,
        subtensor=sub,
        loops={},
        board=board,
        metagraph=SimpleNamespace(hotkeys=["V", "A", "B"]),
    )


async def test_summary_leaderboard_trend_model_weights_and_jobs(tmp_path: Path) -> None:
    async with make_api(tmp_path, gateway=FakeGateway(), credits=100, leaderboard=LEADERBOARD) as api:
        record_rounds(api.store)
        validator = validator_double([(True, "ok")])
        validator.weight_setter.set(validator.board, validator.metagraph)
        dashboard_status.publish_status(api.store, dashboard_status.public_status(validator))
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "a song", "duration_seconds": 2})
        assert r.status_code == 201
        assert await api.app.state.jobs.process_next()
        pending = {"prompt": "another", "duration_seconds": 2}  # left in the queue
        await api.client.post(GEN, headers=api.auth, json=pending)

        r = await api.client.get("/dashboard/api/summary")
        assert r.status_code == 200
        body = r.json()
        miners = body["leaderboard"]
        assert [m["hotkey"] for m in miners] == ["A", "B"]  # by EMA
        assert body["trend_rounds"] == ["1", "2", "3"]
        assert miners[0]["trend"] == [0.5, 0.75, 0.625] and miners[1]["trend"] == [0.25, None, 0.375]
        assert miners[0]["model_id"] == "model-A-r3" and miners[1]["model_id"] == "model-B-r3"
        assert miners[0]["weight_next"] == 0.8 and miners[0]["ema"] == 0.4 and miners[0]["rounds"] == 3
        sent = dict(
            zip(validator.weight_setter.last_accepted.uids, validator.weight_setter.last_accepted.weights)
        )
        assert miners[0]["weight_on_chain"] == pytest.approx(sent[1])
        assert miners[1]["weight_on_chain"] == pytest.approx(sent[2])
        assert body["latest_round"]["round_id"] == "3" and body["latest_round"]["miners"] == 2
        assert body["jobs"]["total"] == {"pending": 1, "processing": 0, "completed": 1, "failed": 0}
        assert body["jobs"]["last_24h"] == body["jobs"]["total"] and body["queue_depth"] == 1
        health = body["validator"]
        assert health["validator"] == {"hotkey": "V", "uid": 0, "netuid": 7}
        assert health["weights"]["outcome"] == "set" and health["chain_block"] == 4321
        assert health["last_round"] == {
            "round_id": "3",
            "started_at": 100.0,
            "finished_at": 130.0,
            "miners": 2,
            "answered": 1,
        }
        assert body["validator_published_at"] == pytest.approx(time.time(), abs=60)


async def test_rounds_show_public_fields_and_full_breakdowns_never_organic_clips(tmp_path: Path) -> None:
    async with make_api(tmp_path, gateway=FakeGateway(), credits=100) as api:
        record_rounds(api.store)
        await api.client.post(
            GEN, headers=api.auth, json={"prompt": "my secret song idea", "duration_seconds": 2}
        )
        assert await api.app.state.jobs.process_next()
        body = (await api.client.get("/dashboard/api/rounds", params={"limit": 2})).json()
        assert body["signals"] == list(C.SIGNAL_WEIGHTS) and body["penalties"] == list(C.PENALTIES)
        assert [r["round_id"] for r in body["rounds"]] == ["3", "2"]  # newest first
        newest = body["rounds"][0]
        assert set(newest["challenge"]) == {
            "prompt",
            "genre",
            "mood",
            "tempo_bpm",
            "key_signature",
            "time_signature",
            "instruments",
            "duration_seconds",
            "vocals_requested",
        }
        assert newest["challenge"]["prompt"] == "calm piano ballad"
        assert [(c["hotkey"], c["final_score"]) for c in newest["clips"]] == [("A", 0.625), ("B", 0.375)]
        clip = newest["clips"][0]
        assert list(clip["breakdown"]["signals"]) == list(C.SIGNAL_WEIGHTS)
        assert clip["breakdown"]["signals"]["clap"] is None and clip["breakdown"]["unavailable"] == ["clap"]
        assert clip["breakdown"]["signals"]["musicality"] == 0.625
        assert clip["breakdown"]["penalties"] == {
            "duration_penalty": 0.5,
            "artifact_penalty": 1.0,
            "fad_penalty": 1.0,
            "fingerprint_penalty": 1.0,
        }
        assert clip["duration_seconds"] == 2.0
        assert re.fullmatch(r"/dashboard/audio/trk_\w+\.wav", clip["audio_url"])
        every = (await api.client.get("/dashboard/api/rounds", params={"limit": 10})).text
        assert "my secret song idea" not in every and "base_seed" not in every
        assert (await api.client.get("/dashboard/api/rounds", params={"limit": 11})).status_code == 400


async def test_audio_serves_validation_clips_with_ranges_and_never_organic_ones(tmp_path: Path) -> None:
    async with make_api(tmp_path, gateway=FakeGateway(), credits=100) as api:
        record_rounds(api.store)
        r = await api.client.post(GEN, headers=api.auth, json={"prompt": "mine", "duration_seconds": 2})
        assert await api.app.state.jobs.process_next()
        status = (
            await api.client.get(f"/api/v1/music/status/{r.json()['request_id']}", headers=api.auth)
        ).json()
        organic_id = status["tracks"][0]["track_id"]
        clip = (await api.client.get("/dashboard/api/rounds")).json()["rounds"][0]["clips"][0]

        whole = await api.client.get(clip["audio_url"])
        assert whole.status_code == 200 and whole.headers["content-type"] == "audio/wav"
        path = tmp_path / "clip.wav"
        path.write_bytes(whole.content)
        assert sf.info(str(path)).duration == pytest.approx(clip["duration_seconds"])
        part = await api.client.get(clip["audio_url"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"

        for bad in (
            f"/dashboard/audio/{organic_id}.wav",
            clip["audio_url"].replace(".wav", ".flac"),
            "/dashboard/audio/trk_nope.wav",
            "/dashboard/audio/..%2F..%2Ftf.db",
            "/dashboard/audio/x.mp3",
        ):
            assert (await api.client.get(bad)).status_code == 404, bad
        # The customer still gets the organic clip through the music API.
        assert (await api.client.get(status["tracks"][0]["audio_url"], headers=api.auth)).status_code == 200


async def test_page_and_assets_are_local_and_locked_down(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        page = await api.client.get("/dashboard")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assets = re.findall(r'(?:href|src)="([^"]+)"', page.text)
        assert {
            "/dashboard/static/dashboard.js",
            "/dashboard/static/dashboard.css",
            "/dashboard/static/favicon.svg",
        } <= set(assets)
        for asset in assets:
            r = await api.client.get(asset)
            assert r.status_code == 200 and r.content, asset
        # nothing inline for the CSP to block
        assert "<script>" not in page.text and " style=" not in page.text
        for path in (
            "/dashboard/static/",
            "/dashboard/static/../dashboard.py",
            "/dashboard/static/%2e%2e/app.py",
        ):
            assert (await api.client.get(path)).status_code == 404, path
        for path in STATIC_DIR.iterdir():  # nothing fetched from elsewhere
            text = path.read_text(encoding="utf-8")
            assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", text), path.name
        # Every route is public (anonymous, counted per client address), the API's own routes are not.
        r = await api.client.get("/dashboard/api/summary")
        assert r.status_code == 200 and r.headers["x-ratelimit-limit"] == str(
            api.settings.anonymous_rate_limit_per_minute
        )
        assert (await api.client.get("/api/v1/scores/leaderboard")).status_code == 401


async def test_page_assets_follow_the_servers_root_path(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        api.client._transport.root_path = "/tf"  # as uvicorn --root-path behind a proxy sets it
        page = await api.client.get("/dashboard")
        assert 'src="/tf/dashboard/static/dashboard.js"' in page.text and 'data-root="/tf"' in page.text


async def test_json_routes_answer_if_none_match_with_304_and_share_one_copy(tmp_path: Path) -> None:
    async with make_api(tmp_path, leaderboard=LEADERBOARD) as api:
        record_rounds(api.store)
        first = await api.client.get("/dashboard/api/summary")
        etag = first.headers["etag"]
        again = await api.client.get("/dashboard/api/summary", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.headers["etag"] == etag and not again.content
        other = await api.client.get("/dashboard/api/summary", headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == first.content
        cache = api.app.state.dashboard_cache
        cache.ttl_s = 0.0  # a new round must show once the cached copy has expired
        api.store.record_round(
            round_id="4",
            challenge=CHALLENGE,
            started_at=time.time(),
            finished_at=time.time() + 1,
            num_miners=0,
        )
        fresh = await api.client.get("/dashboard/api/summary", headers={"If-None-Match": etag})
        assert fresh.status_code == 200 and fresh.json()["latest_round"]["round_id"] == "4"


async def test_miner_history_is_validation_clips_oldest_first(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        record_rounds(api.store)
        body = (await api.client.get("/dashboard/api/miners/B")).json()
        assert [(p["round_id"], p["final_score"]) for p in body["history"]] == [("1", 0.25), ("3", 0.375)]
        assert (await api.client.get("/dashboard/api/miners/nobody")).json()["history"] == []
        assert (await api.client.get("/dashboard/api/miners/" + "x" * 65)).status_code == 404


def test_public_status_keeps_chain_messages_and_drops_exception_text() -> None:
    refusal = validator_double([(False, "NeuronNoValidatorPermit: no permit")])
    refusal.weight_setter.set(refusal.board, refusal.metagraph)
    weights = dashboard_status.public_status(refusal)["weights"]
    assert weights["outcome"] == "failed" and weights["on_chain"] is None
    assert weights["reason"] == "chain refused weights: NeuronNoValidatorPermit: no permit"

    crash = validator_double([ConnectionError("ws://10.1.2.3:9944 refused, key /root/.bittensor/x")])
    crash.weight_setter.set(crash.board, crash.metagraph)
    weights = dashboard_status.public_status(crash)["weights"]
    assert weights["reason"] == "set_weights raised ConnectionError"

    ok = validator_double([(True, "ok"), (False, "SettingWeightsTooFast")])
    ok.weight_setter.set(ok.board, ok.metagraph)
    ok.weight_setter.set(ok.board, ok.metagraph)  # refused now: what the chain holds is still the first set
    weights = dashboard_status.public_status(ok)["weights"]
    assert weights["outcome"] == "failed" and weights["successes"] == 1 and weights["last_set_block"] == 4321
    assert weights["on_chain"]["uids"] == [1, 2] and sum(weights["on_chain"]["weights"]) == pytest.approx(1.0)
    assert (
        dashboard_status.public_reason("failed", "rate-limit query failed: TimeoutError: host x")
        == "rate-limit query failed: TimeoutError"
    )
    assert (
        dashboard_status.public_reason("skipped", "rate limited: 3 blocks since the last update")
        == "rate limited: 3 blocks since the last update"
    )


async def test_an_api_replica_shows_what_the_validator_published(tmp_path: Path) -> None:
    import httpx

    from tuneforge.api.serve import build_replica

    settings = make_settings(tmp_path)
    validator_store = Store(settings.database_url, settings.audio_dir)
    record_rounds(validator_store)
    publish_registry(validator_store, netuid=7, hotkeys=["V", "A", "B"], block=4000)
    publish_leaderboard(validator_store, LEADERBOARD)
    dashboard_status.publish_status(validator_store, dashboard_status.public_status(validator_double([])))
    app, store = build_replica(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://replica"
        ) as client:
            body = (await client.get("/dashboard/api/summary")).json()
            assert [m["hotkey"] for m in body["leaderboard"]] == ["A", "B"]
            assert (
                body["validator"]["validator"]["hotkey"] == "V"
                and body["validator"]["weights"]["outcome"] is None
            )
            rounds = (await client.get("/dashboard/api/rounds")).json()["rounds"]
            assert rounds[0]["round_id"] == "3"
            assert (await client.get(rounds[0]["clips"][0]["audio_url"])).status_code == 200
            assert (await client.get("/dashboard")).status_code == 200
    finally:
        store.close()
        validator_store.close()
