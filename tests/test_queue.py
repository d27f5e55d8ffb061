"""The durable job queue: leases, re-claims after a worker dies, exactly one completion, refunds once.

Store-level tests run on SQLite and on a throwaway PostgreSQL schema. The runner tests use real
time with one-second leases. The kill -9 test runs two stand-in validator processes
(``python -m tuneforge.api.testing``) against one PostgreSQL database and one Redis, kills the
first with SIGKILL while it holds jobs, and checks every job completed exactly once."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tuneforge.api.context import ApiContext
from tuneforge.api.jobs import JobRunner
from tuneforge.api.settings import ApiSettings
from tuneforge.api.testing import FakeGateway, fake_breakdown, tone_wav
from tuneforge.store import JobLeaseLost, Store, StoreWriteError

PARAMS = {"prompt": "calm piano", "duration_seconds": 2.0, "seeds": [3], "format": "wav"}


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'q.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture()
def store(db_url: str, tmp_path: Path) -> Any:
    s = Store(db_url, tmp_path / "audio")
    yield s
    s.close()


def _clip(store: Store, job_id: str, variation: int, worker: str | None) -> str | None:
    return store.record_scored_clip(
        round_id=None, challenge={"challenge_id": "c" * 32, "prompt": "p", "duration_seconds": 1.0}, uid=1,
        hotkey="hk", audio_bytes=tone_wav(seconds=0.25, frequency_hz=300.0 + variation), audio_format="wav",
        breakdown=fake_breakdown(0.5), final_score=0.5, is_organic=True, rtt_seconds=0.1, model_id="m",
        job_id=job_id, variation=variation, worker=worker)


def test_a_lease_that_runs_out_moves_the_job_to_the_next_worker(store: Store) -> None:
    account = store.create_account(name="a", credits=10)
    job = store.submit_job(account_id=account["id"], params=PARAMS, cost=3)
    t0 = time.time()
    claimed = store.claim_job(worker="A", lease_s=10, now=t0)
    assert claimed["lease_owner"] == "A" and claimed["lease_expires_at"] == pytest.approx(t0 + 10)
    assert store.claim_job(worker="B", now=t0 + 1) is None  # leased: nobody else gets it
    assert store.renew_lease(job["id"], worker="A", lease_s=10, now=t0 + 8)
    assert store.expire_leases(now=t0 + 12) == ([], [])  # renewed until t0 + 18
    assert store.expire_leases(now=t0 + 19) == ([job["id"]], [])  # A stopped renewing
    assert not store.renew_lease(job["id"], worker="A", now=t0 + 19)
    again = store.claim_job(worker="B", lease_s=10, now=t0 + 20)
    assert again["lease_owner"] == "B" and again["attempts"] == 2
    # A wakes up and tries to write: refused, nothing stored, nothing finished
    with pytest.raises(JobLeaseLost):
        _clip(store, job["id"], 0, "A")
    with pytest.raises(JobLeaseLost):
        store.finish_job(job["id"], worker="A")
    assert store.get_job(job["id"])["tracks"] == []
    assert _clip(store, job["id"], 0, "B")
    with pytest.raises(StoreWriteError):  # a variation is stored once, whoever tries
        _clip(store, job["id"], 0, "B")
    done = store.finish_job(job["id"], worker="B")
    assert done["status"] == "completed" and len(done["tracks"]) == 1 and done["lease_owner"] is None
    with pytest.raises(JobLeaseLost):  # completes once
        store.finish_job(job["id"], worker="B")
    assert store.get_account(account["id"])["credits"] == 7 == store.ledger_balance(account["id"])


def test_last_attempt_expiring_fails_and_refunds_exactly_once(store: Store) -> None:
    account = store.create_account(name="a", credits=10)
    job = store.submit_job(account_id=account["id"], params=PARAMS, cost=4)
    t0 = time.time()
    for attempt in range(2):
        store.claim_job(worker=f"w{attempt}", lease_s=5, now=t0 + 10 * attempt)
        expected = ([job["id"]], []) if attempt == 0 else ([], [job["id"]])
        assert store.expire_leases(max_attempts=2, now=t0 + 10 * attempt + 6) == expected
    assert store.expire_leases(max_attempts=2, now=t0 + 100) == ([], [])
    with pytest.raises(JobLeaseLost):
        store.fail_job(job["id"], "late worker", worker="w1")
    final = store.get_job(job["id"])
    assert final["status"] == "failed" and final["refunded"] == 4
    assert [e["reason"] for e in store.ledger(account["id"])].count("refund") == 1
    assert store.get_account(account["id"])["credits"] == 10 == store.ledger_balance(account["id"])


def test_two_stores_claim_disjoint_jobs(db_url: str, tmp_path: Path) -> None:
    """Two processes' worth of connections (two Store objects) drain one queue without overlap."""
    a, b = Store(db_url, tmp_path / "audio"), Store(db_url, tmp_path / "audio")
    try:
        account = a.create_account(name="a", credits=100)
        ids = {a.submit_job(account_id=account["id"], params=PARAMS, cost=1)["id"] for _ in range(12)}
        got: list[str] = []
        for i in range(12):
            job = (a if i % 2 else b).claim_job(worker=f"s{i % 2}")
            got.append(job["id"])
        assert sorted(got) == sorted(ids) and a.claim_job(worker="x") is None
    finally:
        a.close()
        b.close()


def _ctx(store: Store, gateway: Any, **settings: Any) -> ApiContext:
    values = {"database_url": store.database_url, "audio_dir": str(store.audio.root), "job_lease_s": 1.0,
              "num_candidates": 2} | settings
    return ApiContext(store=store, settings=ApiSettings(**values), gateway=gateway)


class _HungRunner(JobRunner):
    """A worker that hangs past its lease: it never renews."""

    async def _heartbeat(self, job_id: str, worker: str, work: asyncio.Task, lost: asyncio.Event) -> None:
        return None


async def test_a_hung_worker_loses_its_job_to_another_which_completes_it_once(store: Store) -> None:
    account = store.create_account(name="a", credits=10)
    job = store.submit_job(account_id=account["id"], params=PARAMS | {"seeds": [1, 2]}, cost=2)
    hung = _HungRunner(_ctx(store, FakeGateway(scores=(0.5, 0.6), delay_s=2.5)))
    healthy = JobRunner(_ctx(store, FakeGateway(scores=(0.9,))))
    hung_task = asyncio.create_task(hung.process_next(worker="hung"))
    await asyncio.sleep(1.3)  # the hung worker's 1 s lease has run out
    assert await healthy.process_next(worker="healthy")
    assert (await hung_task) is True and hung.lost == 1 and hung.completed == 0
    final = store.get_job(job["id"])
    assert final["status"] == "completed" and final["attempts"] == 2
    assert [t["variation"] for t in final["tracks"]] == [0, 1]
    assert {t["final_score"] for t in final["tracks"]} == {0.9}  # the healthy worker's clips only
    assert store.get_account(account["id"])["credits"] == 8 == store.ledger_balance(account["id"])


async def test_a_live_worker_keeps_its_lease_past_its_length(store: Store) -> None:
    account = store.create_account(name="a", credits=10)
    job = store.submit_job(account_id=account["id"], params=PARAMS, cost=1)
    slow = JobRunner(_ctx(store, FakeGateway(scores=(0.5,), delay_s=2.6), job_lease_s=2.0))
    other = JobRunner(_ctx(store, FakeGateway(scores=(0.9,)), job_lease_s=2.0))
    task = asyncio.create_task(slow.process_next(worker="slow"))
    for _ in range(5):  # 2.5 s (past the 2 s lease) of another worker looking for expired leases and work
        await asyncio.sleep(0.5)
        other.recover()
        assert await other.process_next(worker="other") is False
    assert await task and slow.lost == 0
    final = store.get_job(job["id"])
    assert final["status"] == "completed" and final["attempts"] == 1
    assert final["tracks"][0]["final_score"] == 0.5


def _start_worker(db: str, audio: Path, redis_url: str, log: Path, *, delay_s: float) -> subprocess.Popen:
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuneforge.api.testing", "--database-url", db, "--audio-dir", str(audio),
         "--redis-url", redis_url, "--log", str(log), "--lease-s", "1.5", "--delay-s", str(delay_s), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.poll() is not None else line
    return proc


def test_kill_9_of_a_validator_loses_no_job_and_runs_none_twice(postgres_url: str, redis_url: str,
                                                                  tmp_path: Path) -> None:
    store = Store(postgres_url, tmp_path / "audio")
    log = tmp_path / "completions.log"
    account = store.create_account(name="a", credits=1000)
    jobs = [store.submit_job(account_id=account["id"], params=PARAMS | {"seeds": [i, i + 1]}, cost=2)["id"]
            for i in range(24)]
    first = _start_worker(postgres_url, tmp_path / "audio", redis_url, log, delay_s=0.5)
    second: subprocess.Popen | None = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # a few done, and (as nearly always) one in the middle of its work
            if log.exists() and len(log.read_text().splitlines()) >= 4 and store.pending_job_count() < len(jobs) - 5:
                if any(store.get_job(j)["status"] == "processing" for j in jobs):
                    break
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        held = [j for j in jobs if store.get_job(j)["status"] == "processing"]  # leases of the dead worker
        assert held, "the first worker held no job when killed"
        second = _start_worker(postgres_url, tmp_path / "audio", redis_url, log, delay_s=0.05)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(store.get_job(j)["status"] in ("completed", "failed") for j in jobs):
                break
            time.sleep(0.2)
        finals = {j: store.get_job(j) for j in jobs}
        assert all(f["status"] == "completed" for f in finals.values()), Counter(f["status"] for f in finals.values())
        completions = Counter(line.split()[0] for line in log.read_text().splitlines())
        assert set(completions) == set(jobs) and set(completions.values()) == {1}  # each exactly once
        assert all(finals[j]["attempts"] == 2 for j in held)  # re-claimed after the lease ran out
        assert all(len(f["tracks"]) == 2 for f in finals.values())
        assert store.get_account(account["id"])["credits"] == 1000 - 2 * 24 == store.ledger_balance(account["id"])
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
        store.close()


def test_a_validator_with_its_api_off_works_the_jobs_replicas_queue(tmp_path: Path) -> None:
    """Replica accepts (here: the store directly), the validator (--api.off) claims, routes to its
    miners through its own organic gateway, stores the best clip and finishes the job; it also
    published the registry the replica checks signed callers against."""
    from test_validator_doubles import EchoSensitiveScorer, FakeDendrite, local_chain

    from tuneforge.api.registry import REGISTRY
    from tuneforge.validator.config import ValidatorConfig
    from tuneforge.validator.neuron import Validator

    chain, wallet, behaviours, hotkeys = local_chain(["good", "good"])
    api = ApiSettings(database_url=f"sqlite:///{tmp_path / 'v.db'}", audio_dir=str(tmp_path / "audio"),
                      job_workers=1, job_lease_s=5.0)
    config = ValidatorConfig(netuid=7, network="localchain", state_dir=str(tmp_path / "state"), sample_size=16,
                             timeout_s=1.0, scoring_budget_s=10.0, api_off=True, api=api,
                             round_interval_s=3600.0)
    validator = Validator(config, wallet=wallet, subtensor=chain, dendrite=FakeDendrite(behaviours),
                          scorer=EchoSensitiveScorer())
    validator.setup()
    store = validator.store
    registry = store.published(REGISTRY)
    assert registry is not None and set(hotkeys) <= set(registry[0]["hotkeys"])
    account = store.create_account(name="a", credits=10)
    job = store.submit_job(account_id=account["id"], params=PARAMS | {"seeds": [5]}, cost=1)
    validator.start()
    try:
        deadline = time.monotonic() + 30
        while store.get_job(job["id"])["status"] in ("pending", "processing") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        validator.stop()
    final = store.get_job(job["id"])
    assert final["status"] == "completed", final
    (track,) = final["tracks"]
    assert track["is_organic"] and track["hotkey"] in hotkeys and validator.api is None
    # the track records the challenge that was sent and graded: the prompt's filled-in tempo and meter,
    # the organic challenge id, and the seed this miner got (not the user's request, which had none)
    sent = [syn for _, syn in validator.dendrite.calls if getattr(syn, "prompt", None) and syn.challenge_id == track["challenge_id"]]
    got = next(s for s in sent if s.seed == track["challenge"]["seed"])
    assert track["challenge"]["tempo_bpm"] == got.tempo_bpm and track["challenge"]["time_signature"] == got.time_signature
    assert track["challenge"]["is_organic"] is True and "seed_key" not in track["challenge"]
    assert validator.job_runner is not None and validator.job_runner.completed == 1


async def test_queue_loops_wake_early_and_run_on_while_work_waits() -> None:
    """The job and webhook workers are Loops: a wake-up starts a step before the interval ends, and
    a step that found work (returns MORE) is followed by the next one at once."""
    from tuneforge.validator.loops import MORE, Loop

    work = [1, 2, 3]
    steps: list[int | None] = []

    async def step() -> str | None:
        steps.append(work.pop(0) if work else None)
        return MORE if steps[-1] is not None else None

    stop, wake = asyncio.Event(), asyncio.Event()
    loop = Loop("q", step, interval_s=3600.0, deadline_s=5.0)
    task = asyncio.create_task(loop.run_forever(stop, wake=wake))
    await asyncio.sleep(0.2)
    assert steps == [1, 2, 3, None]  # drained back to back, then idle for the (hour-long) interval
    work.append(4)
    wake.set()
    await asyncio.sleep(0.2)
    assert steps == [1, 2, 3, None, 4, None] and loop.steps == 6 and loop.failures == 0
    stop.set()
    await asyncio.wait_for(task, timeout=2)
