"""Rounds, organic requests and the neuron's lifecycle with a local chain, a scripted dendrite and a fake scorer."""

import asyncio
import json
import time

import pytest
from test_validator_doubles import NETUID, EchoSensitiveScorer, FakeDendrite, local_chain

from scoring.request import ScoringRequest
from tuneforge.validator.challenges import is_challenge_id
from tuneforge.validator.config import ValidatorConfig
from tuneforge.validator.neuron import Validator, ValidatorStartupError
from tuneforge.validator.round import BUDGET_EXCEEDED
from tuneforge.validator.snapshot import SnapshotStore


def make_validator(tmp_path, behaviours_list, *, scorer=None, **overrides):
    chain, wallet, behaviours, hotkeys = local_chain(behaviours_list)
    settings = dict(netuid=NETUID, network="localchain", state_dir=str(tmp_path / "state"), sample_size=16,
                    timeout_s=1.0, scoring_budget_s=10.0, api_off=True)
    settings.update(overrides)
    config = ValidatorConfig(**settings)
    dendrite = FakeDendrite(behaviours, slow_seconds=30.0)
    validator = Validator(config, wallet=wallet, subtensor=chain, dendrite=dendrite,
                          scorer=scorer or EchoSensitiveScorer())
    return validator, chain, dendrite, hotkeys


async def test_round_updates_leaderboard_and_zeroes_non_responders(tmp_path):
    validator, _, dendrite, hotkeys = make_validator(tmp_path, ["good", "garbage", "silent", "short"])
    result = await validator.run_round()
    assert result.round_id == "1" and len(result.miners) == 4
    by_hotkey = {m.hotkey: m for m in result.miners}
    good, garbage, silent, short = (by_hotkey[h] for h in hotkeys)
    assert good.final_score > 0.5 and good.error is None and good.audio_bytes[:4] == b"RIFF"
    assert garbage.final_score == 0.0 and garbage.reject_reason == "bad_base64" and garbage.audio_bytes is None
    assert silent.final_score == 0.0 and "503" in silent.error
    assert 0.0 < short.final_score < good.final_score
    assert garbage.breakdown["error"] and garbage.breakdown["final_score"] == 0.0
    rows = {r["hotkey"]: r for r in validator.leaderboard_snapshot()}
    assert set(rows) == set(hotkeys)
    assert rows[hotkeys[1]]["ema"] == 0.0 and rows[hotkeys[1]]["rounds"] == 1
    assert rows[hotkeys[0]]["ema"] == pytest.approx(0.2 * good.final_score)
    assert validator.rounds_completed == 1
    assert validator.challenges.require(result.challenge.challenge_id) == result.challenge
    json.dumps(result.to_dict())  # the local network saves it as JSON


async def test_echo_rewrite_gains_nothing(tmp_path):
    """A miner that rewrites duration/tempo/prompt/challenge id in its reply scores as if it had not."""
    scorer = EchoSensitiveScorer()
    validator, _, _, hotkeys = make_validator(tmp_path, ["short", "short-rewrite", "good"], scorer=scorer)
    result = await validator.run_round()
    by_hotkey = {m.hotkey: m for m in result.miners}
    honest_short, cheat, good = (by_hotkey[h] for h in hotkeys)
    assert cheat.final_score == pytest.approx(honest_short.final_score)
    assert cheat.final_score < good.final_score
    assert all(r.duration_seconds == result.challenge.duration_seconds for r in scorer.requests)
    assert all(r.tempo_bpm == result.challenge.tempo_bpm and r.prompt == result.challenge.prompt for r in scorer.requests)
    assert all(r.challenge_id == result.challenge.challenge_id for r in scorer.requests)


async def test_scoring_budget_exceeded_scores_zero(tmp_path):
    validator, _, _, hotkeys = make_validator(tmp_path, ["good", "good"], scorer=EchoSensitiveScorer(delay=2.0),
                                              scoring_budget_s=0.2)
    result = await validator.run_round()
    assert [m.final_score for m in result.miners] == [0.0, 0.0]
    assert all(m.error == BUDGET_EXCEEDED for m in result.miners)
    assert all(r["rounds"] == 1 and r["ema"] == 0.0 for r in validator.leaderboard_snapshot())
    assert validator.scoring_pool.budget_overruns == 1


async def test_round_records_every_clip_in_the_store(tmp_path):
    class RecordingStore:
        def __init__(self):
            self.clips, self.rounds = [], []

        def record_scored_clip(self, **kw):
            self.clips.append(kw)
            return "id"

        def record_round(self, **kw):
            self.rounds.append(kw)

    chain, wallet, behaviours, _ = local_chain(["good", "silent"])
    store = RecordingStore()
    config = ValidatorConfig(netuid=NETUID, network="localchain", state_dir=str(tmp_path), timeout_s=1.0, api_off=True)
    validator = Validator(config, wallet=wallet, subtensor=chain, dendrite=FakeDendrite(behaviours),
                          scorer=EchoSensitiveScorer(), store=store)
    result = await validator.run_round()
    assert len(store.clips) == 2 and len(store.rounds) == 1
    assert {c["uid"] for c in store.clips} == {m.uid for m in result.miners}
    assert all(c["is_organic"] is False and c["round_id"] == "1" for c in store.clips)
    assert store.rounds[0]["num_miners"] == 2


async def test_organic_does_not_move_the_ema(tmp_path):
    scorer = EchoSensitiveScorer()
    validator, _, dendrite, hotkeys = make_validator(tmp_path, ["good", "short", "silent", "good"], scorer=scorer)
    await validator.run_round()
    before = validator.leaderboard_snapshot()
    dendrite.calls.clear()
    request = ScoringRequest(prompt="calm lo-fi hip hop with rhodes", duration_seconds=6.0)
    candidates = await validator.organic.generate(request, num_candidates=3)
    assert validator.leaderboard_snapshot() == before
    assert 1 <= len(candidates) <= 3
    scores = [c.final_score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(c.audio_bytes[:4] == b"RIFF" and c.samples.ndim == 2 and c.breakdown is not None for c in candidates)
    sent = [syn for _, syn in dendrite.calls if hasattr(syn, "prompt")]
    assert sent and all(s.is_organic and s.seed is not None and s.time_signature for s in sent)
    assert all(is_challenge_id(s.challenge_id) for s in sent)
    assert len({s.seed for s in sent}) == len(sent)
    assert validator.rounds_completed == 1


def test_organic_scorer_never_adds_to_history():
    import numpy as np

    from scoring.history import MinerHistory
    from scoring.scorer import Scorer
    from tuneforge.validator.organic import ReadOnlyHistory, organic_scorer

    history = MinerHistory()
    history.add("hk", embedding=np.ones(3, dtype=np.float32))
    wrapped = organic_scorer(Scorer(history=history))
    assert isinstance(wrapped.history, ReadOnlyHistory)
    wrapped.history.add("hk", embedding=np.zeros(3, dtype=np.float32))
    wrapped.history.add("new", embedding=np.zeros(3, dtype=np.float32))
    assert len(history.entries("hk")) == 1 and history.hotkeys() == ["hk"]
    assert wrapped.history.embeddings("hk").shape == (1, 3)  # reads still see the miners' past clips


async def test_organic_with_no_available_miner_returns_nothing(tmp_path):
    validator, _, _, _ = make_validator(tmp_path, ["busy", "busy"])
    validator.setup()
    assert await validator.organic.generate(ScoringRequest(prompt="x", duration_seconds=5.0)) == []
    with pytest.raises(ValueError):
        await validator.organic.generate(ScoringRequest(prompt="x", duration_seconds=5.0), num_candidates=0)


def test_unregistered_validator_refuses_to_start(tmp_path):
    from test_validator_doubles import make_wallet

    chain, _, behaviours, _ = local_chain(["good"])
    config = ValidatorConfig(netuid=NETUID, network="localchain", state_dir=str(tmp_path), api_off=True)
    validator = Validator(config, wallet=make_wallet("//Stranger"), subtensor=chain,
                          dendrite=FakeDendrite(behaviours), scorer=EchoSensitiveScorer())
    with pytest.raises(ValidatorStartupError, match="not registered"):
        validator.setup()


def test_required_models_missing_is_fatal(tmp_path):
    chain, wallet, behaviours, _ = local_chain(["good"])
    config = ValidatorConfig(netuid=NETUID, network="localchain", state_dir=str(tmp_path), api_off=True,
                             require_models=True, models_dir=str(tmp_path / "no-models-here"))
    validator = Validator(config, wallet=wallet, subtensor=chain, dendrite=FakeDendrite(behaviours))
    with pytest.raises(ValidatorStartupError):
        validator.setup()


def test_loops_run_rounds_and_shutdown_saves_state(tmp_path):
    validator, chain, _, hotkeys = make_validator(
        tmp_path, ["good", "good"], round_interval_s=0.05, sync_interval_s=0.05, weights_interval_s=0.05, max_rounds=3)
    chain.start_auto_step(0.01)  # blocks advance, so the rate limit lets the weights through
    validator.start()
    deadline = time.monotonic() + 20
    while not validator._stop_requested.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    validator.stop()
    chain.stop_auto_step()
    assert validator.rounds_completed == 3
    assert validator.loops["round"].failures == 0 and validator.loops["sync"].steps >= 1
    snap = SnapshotStore(tmp_path / "state" / "snapshots").load()
    assert snap is not None and set(snap.files) == {"state.json", "miner_history.npz", "challenges.json"}
    state = json.loads(snap.files["state.json"])
    assert state["rounds_completed"] == 3 and state["rounds_issued"] == 3
    assert {m["hotkey"] for m in state["leaderboard"]["miners"]} == set(hotkeys)
    assert len(json.loads(snap.files["challenges.json"])["challenges"]) == 3
    weights = dict(chain.weights(NETUID))
    assert 0 in weights  # the weights loop set weights from uid 0 (the validator)

    again, _, _, _ = make_validator(tmp_path, ["good", "good"])
    again.setup()
    assert again.rounds_completed == 3
    assert again.leaderboard_snapshot() == validator.leaderboard_snapshot()


def test_a_failing_step_is_counted_and_the_loop_goes_on():
    from tuneforge.validator.loops import Loop

    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) % 2:
            raise RuntimeError("boom")

    async def slow():
        await asyncio.sleep(5)

    async def main():
        loop = Loop("flaky", flaky, interval_s=0.01, deadline_s=1.0)
        assert await loop.run_step() is False
        assert await loop.run_step() is True
        assert loop.failures == 1 and loop.steps == 2 and "boom" in loop.last_error
        stuck = Loop("slow", slow, interval_s=1.0, deadline_s=0.05)
        assert await stuck.run_step() is False and "deadline" in stuck.last_error
        stop = asyncio.Event()
        runner = asyncio.create_task(loop.run_forever(stop))
        await asyncio.sleep(0.1)
        stop.set()
        await runner
        assert loop.steps > 3 and loop.failures >= 2

    asyncio.run(main())


def test_set_weights_now_and_is_registered(tmp_path):
    validator, chain, _, hotkeys = make_validator(tmp_path, ["good", "silent"])
    asyncio.run(validator.run_round())
    assert not validator.set_weights_now().success  # same block as registration: rate limited
    chain.step_block(2)
    result = validator.set_weights_now()
    assert result.success, result.reason
    assert validator.is_registered(hotkeys[0]) and not validator.is_registered("5NotAHotkey")
    assert dict(chain.weights(NETUID))[0]


def test_retention_loop_prunes_old_clips_when_the_api_is_off(tmp_path):
    import sqlite3

    import numpy as np

    from tuneforge.api.settings import ApiSettings
    from tuneforge.audio.intake import encode_audio

    db = tmp_path / "v.db"
    # Retention of ~0.09 s: the clip recorded below is past it by the time the loop runs.
    api = ApiSettings(database_url=f"sqlite:///{db}", audio_dir=str(tmp_path / "audio"), retention_days=1e-6)
    validator, _, _, _ = make_validator(tmp_path, ["good"], api=api, api_off=True)
    validator.setup()
    assert validator.store is not None  # built although the API is off
    validator.store.record_scored_clip(
        round_id="r0", challenge={"challenge_id": "0" * 32, "prompt": "old", "duration_seconds": 1.0}, uid=1,
        hotkey="5Old", audio_bytes=encode_audio(np.zeros(8000, dtype=np.float32), 16000), audio_format="wav", breakdown={"final_score": 0.5},
        final_score=0.5, is_organic=False, rtt_seconds=1.0, model_id="m")

    def stored() -> int:
        with sqlite3.connect(db) as conn:
            return conn.execute("select count(*) from tracks").fetchone()[0]

    assert stored() == 1
    time.sleep(0.2)
    loops = validator._build_loops()
    assert "retention" in loops
    asyncio.run(loops["retention"].run_step())
    assert stored() == 0
