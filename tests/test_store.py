"""Store: migrations, accounts and keys, the credit ledger under concurrency, scored clips and their
audio files (dedup, failed writes leave nothing), export pagination, retention, nonces, job recovery.

Every test that takes ``database_url`` (or ``store``) runs on SQLite and, when ``TF_TEST_POSTGRES_URL``
names a PostgreSQL database, once more on a fresh schema there (dropped afterwards)."""

import errno
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tuneforge.api.testing import fake_breakdown, tone_wav
from tuneforge.store import (
    InsufficientCredits,
    InvalidCursor,
    JobLeaseLost,
    NotFound,
    Store,
    StoreError,
    StoreWriteError,
    hash_api_key,
)
from tuneforge.store.migrate import alembic_config
from tuneforge.store.models import Track
from tuneforge.store.testing import drop_scratch_postgres, postgres_test_url, scratch_postgres_url

CHALLENGE = {"challenge_id": "c" * 32, "prompt": "calm piano", "genre": "ambient", "mood": "calm",
             "duration_seconds": 2.0, "seed": 5}


BACKENDS = ["sqlite", *(["postgres"] if postgres_test_url() else [])]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new schema on the TF_TEST_POSTGRES_URL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'tf.db'}"
        return
    url = scratch_postgres_url(postgres_test_url())
    yield url
    drop_scratch_postgres(url)


@pytest.fixture()
def store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store(database_url, tmp_path / "audio")
    yield s
    s.close()


def _run_together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``n`` threads released at once; their results (or exceptions) in order."""
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # handed back to the test, which asserts on it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _clip(store: Store, *, uid: int = 1, freq: float = 440.0, score: float = 0.5, round_id: str = "r1",
          challenge: dict | None = None) -> str:
    return store.record_scored_clip(
        round_id=round_id, challenge=challenge or CHALLENGE, uid=uid, hotkey=f"hk{uid}",
        audio_bytes=tone_wav(seconds=1.0, frequency_hz=freq), audio_format="wav",
        breakdown=fake_breakdown(score), final_score=score, is_organic=False, rtt_seconds=0.5, model_id="m")


def _audio_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_migrations_create_schema_and_reopen_is_idempotent(database_url: str, tmp_path: Path) -> None:
    url = database_url
    first = Store(url, tmp_path / "a")
    account = first.create_account(name="kept", credits=3)
    first.close()
    again = Store(url, tmp_path / "a")
    tables = set(inspect(again.engine).get_table_names())
    assert {"accounts", "api_keys", "credit_ledger", "jobs", "tracks", "rounds", "seen_nonces",
            "webhook_deliveries", "webhook_attempts", "plans", "alembic_version"} <= tables
    with again.engine.connect() as conn:
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head
        if again.engine.dialect.name == "sqlite":
            assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
            assert conn.execute(text("pragma foreign_keys")).scalar() == 1
    types = {(table, c["name"]): type(c["type"]).__name__.upper()
             for table in ("seen_nonces", "accounts", "tracks")
             for c in inspect(again.engine).get_columns(table)}
    assert types["seen_nonces", "nonce"] == types["accounts", "credits"] == "BIGINT"
    assert types["tracks", "is_organic"] == "BOOLEAN"
    assert again.get_account(account["id"])["credits"] == 3
    assert again.plans() == {"free": 60, "pro": 300, "premier": 1000}
    again.close()


_OPEN_AT = """
import sys, time
from tuneforge.store import Store
url, audio, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
Store(url, audio).close()
"""


def test_processes_opening_a_new_database_together_migrate_it_once(database_url: str, tmp_path: Path) -> None:
    start = str(time.time() + 2.0)  # after every child has imported the store (~0.4 s)
    children = [subprocess.Popen([sys.executable, "-c", _OPEN_AT, database_url, str(tmp_path / "audio"), start],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outputs = [child.communicate(timeout=60)[0] for child in children]
    assert [child.returncode for child in children] == [0] * 4, outputs
    store = Store(database_url, tmp_path / "audio")
    assert store.plans() == {"free": 60, "pro": 300, "premier": 1000}
    with store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1
    store.close()


def test_unreachable_database_is_a_store_error_without_the_password(tmp_path: Path) -> None:
    # Port 1 on loopback refuses at once; without the postgres extra the missing driver is reported instead.
    with pytest.raises(StoreError, match=r"postgresql\+psycopg://tf:\*\*\*@127\.0\.0\.1:1/tf") as info:
        Store("postgresql+psycopg://tf:s3cret@127.0.0.1:1/tf?connect_timeout=2", tmp_path / "audio")
    assert "s3cret" not in str(info.value)


def test_api_key_is_stored_only_as_hash(store: Store) -> None:
    account = store.create_account(name="a", plan="pro")
    key_id, key = store.create_api_key(account["id"])
    assert key.startswith("tf_") and len(key) >= 35
    with store.engine.connect() as conn:
        stored = conn.execute(text("select key_hash, prefix from api_keys where id = :i"), {"i": key_id}).one()
    assert stored.key_hash == hash_api_key(key) and key not in stored
    assert store.authenticate_key(key)[0]["id"] == account["id"]
    store.revoke_api_key(key_id)
    assert store.authenticate_key(key) == (None, "This API key has been revoked.")
    assert store.authenticate_key("tf_unknown")[1] == "Invalid API key."
    with pytest.raises(NotFound):
        store.revoke_api_key("key_nope")


def test_bad_account_input_is_rejected(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown plan"):
        store.create_account(name="x", plan="gold")
    with pytest.raises(ValueError, match="credits"):
        store.create_account(name="x", credits=-1)
    with pytest.raises(ValueError, match="at most 200 characters"):
        store.create_account(name="x" * 201)
    with pytest.raises(ValueError, match="empty"):
        store.create_account(name=" \x00 ")
    assert store.create_account(name=" " + "n" * 200 + " ")["name"] == "n" * 200
    with pytest.raises(ValueError, match="positive"):
        store.add_credits(store.create_account(name="y")["id"], 0)
    with pytest.raises(NotFound):
        store.add_credits("acc_missing", 5)


def test_concurrent_submissions_never_overspend(store: Store) -> None:
    account = store.create_account(name="racer", credits=10)
    cost, threads_n = 3, 12
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_n)

    def submit() -> None:
        barrier.wait()
        try:
            store.submit_job(account_id=account["id"], params={"prompt": "p"}, cost=cost)
            result = "ok"
        except InsufficientCredits as exc:
            assert exc.needed == cost and 0 <= exc.available < cost
            result = "refused"
        with lock:
            outcomes.append(result)

    workers = [threading.Thread(target=submit) for _ in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert outcomes.count("ok") == 10 // cost
    balance = store.get_account(account["id"])["credits"]
    assert balance == 10 - cost * (10 // cost) >= 0
    assert store.ledger_balance(account["id"]) == balance
    assert all(row["balance_after"] >= 0 for row in store.ledger(account["id"]))


def test_failed_job_is_refunded_through_the_ledger(store: Store) -> None:
    account = store.create_account(name="a", credits=5)
    job = store.submit_job(account_id=account["id"], params={"prompt": "p"}, cost=4)
    assert store.get_account(account["id"])["credits"] == 1
    store.claim_job()
    failed = store.fail_job(job["id"], "no miner")
    assert failed["status"] == "failed" and failed["refunded"] == 4
    assert [(r["reason"], r["delta"]) for r in store.ledger(account["id"])] == [
        ("grant", 5), ("generation", -4), ("refund", 4)]
    with pytest.raises(JobLeaseLost):  # a finished job cannot fail again: refunded at most once
        store.fail_job(job["id"], "again")
    assert store.get_account(account["id"])["credits"] == 5 == store.ledger_balance(account["id"])


def test_recover_jobs_requeues_then_fails_with_refund(store: Store) -> None:
    account = store.create_account(name="a", credits=4)
    job = store.submit_job(account_id=account["id"], params={"prompt": "p"}, cost=2)
    assert store.claim_job(lease_s=30)["id"] == job["id"]
    assert store.recover_jobs(max_attempts=2) == ([], [])  # its worker still holds the lease
    requeued, failed = store.recover_jobs(max_attempts=2, now=time.time() + 31)  # the worker died
    assert (requeued, failed) == ([job["id"]], [])
    assert store.get_job(job["id"])["status"] == "pending"
    assert store.claim_job()["attempts"] == 2
    requeued, failed = store.recover_jobs(max_attempts=2, now=time.time() + 3600)
    assert (requeued, failed) == ([], [job["id"]])
    final = store.get_job(job["id"])
    assert final["status"] == "failed" and "lease expired" in final["error"]
    assert store.get_account(account["id"])["credits"] == 4 == store.ledger_balance(account["id"])


def test_scored_clips_are_content_addressed_and_deduplicated(store: Store, tmp_path: Path) -> None:
    a = _clip(store, uid=1)
    b = _clip(store, uid=2)  # same bytes, another miner
    c = _clip(store, uid=3, freq=330.0)
    files = _audio_files(tmp_path / "audio")
    assert len(files) == 2
    track = store.get_track(a)
    sha = track["audio_sha256"]
    assert files.count(tmp_path / "audio" / sha[:2] / sha[2:4] / f"{sha}.wav") == 1
    assert track["duration_seconds"] == pytest.approx(1.0) and track["sample_rate"] == 16000
    assert track["score_breakdown"]["final_score"] == 0.5
    assert store.get_track(b)["audio_sha256"] == sha != store.get_track(c)["audio_sha256"]
    flac = store.track_audio(a, "flac")
    assert flac[:4] == b"fLaC"
    assert sf.info(__import__("io").BytesIO(flac)).frames == 16000
    assert store.record_scored_clip(round_id="r1", challenge=CHALLENGE, uid=9, hotkey="hk9", audio_bytes=None,
                                    audio_format=None, breakdown={}, final_score=0.0, is_organic=False,
                                    rtt_seconds=None, model_id=None) is None
    with pytest.raises(ValueError, match="cannot be read"):
        store.record_scored_clip(round_id="r1", challenge=CHALLENGE, uid=9, hotkey="hk9", audio_bytes=b"not audio",
                                 audio_format="wav", breakdown={}, final_score=0.0, is_organic=False,
                                 rtt_seconds=None, model_id=None)


def test_full_disk_loses_nothing_and_leaves_no_partial_file(store: Store, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    kept = _clip(store, uid=1)
    before = _audio_files(tmp_path / "audio")

    def disk_full(fh, data, chunk=1 << 20) -> None:
        fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tuneforge.store.audio_files._write_all", disk_full)
    with pytest.raises(StoreWriteError, match="disk full"):
        _clip(store, uid=2, freq=550.0)
    assert _audio_files(tmp_path / "audio") == before  # no temp file, no partial file
    assert [t["id"] for t in store.miner_history("hk1")] == [kept] and store.miner_history("hk2") == []
    assert store.track_audio(kept, "wav") == tone_wav(seconds=1.0, frequency_hz=440.0)


def test_database_failure_removes_the_new_audio_file(store: Store, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    kept = _clip(store, uid=1)
    before = _audio_files(tmp_path / "audio")

    original_add = Session.add

    def failing_add(self, instance, *args, **kwargs):
        if isinstance(instance, Track):
            raise OperationalError("INSERT INTO tracks", {}, Exception("database or disk is full"))
        return original_add(self, instance, *args, **kwargs)

    monkeypatch.setattr(Session, "add", failing_add)
    with pytest.raises(StoreWriteError, match="rolled back"):
        _clip(store, uid=2, freq=660.0)
    with pytest.raises(StoreWriteError):
        _clip(store, uid=3)  # same audio as the kept clip: its file must survive
    assert _audio_files(tmp_path / "audio") == before
    monkeypatch.undo()
    assert store.track_audio(kept, "wav")[:4] == b"RIFF"


def test_export_pages_are_stable_and_resumable(store: Store) -> None:
    ids = [_clip(store, uid=i, freq=200.0 + 10 * i, score=i / 10) for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        rows, cursor = store.export_tracks(limit=3, cursor=cursor)
        seen += [r["id"] for r in rows]
        pages += 1
        if cursor is None:
            break
    assert seen == ids and pages == 3
    rows, _ = store.export_tracks(min_score=0.45, limit=10)
    assert [r["id"] for r in rows] == ids[5:]
    with pytest.raises(InvalidCursor):
        store.export_tracks(cursor="not-a-cursor")
    best = store.best_tracks(limit=2)
    assert [b["id"] for b in best] == [ids[6], ids[5]]


def test_retention_prunes_old_validation_clips_and_their_files(store: Store, tmp_path: Path) -> None:
    import time

    old = _clip(store, uid=1)
    organic = store.record_scored_clip(round_id=None, challenge=CHALLENGE, uid=2, hotkey="hk2",
                                       audio_bytes=tone_wav(seconds=1.0, frequency_hz=300.0), audio_format="wav",
                                       breakdown={}, final_score=0.3, is_organic=True, rtt_seconds=None, model_id=None)
    store.record_round(round_id="r1", challenge=CHALLENGE, started_at=time.time() - 5, finished_at=time.time(),
                       num_miners=2)
    assert store.get_round("r1")["num_miners"] == 2
    assert store.prune_tracks(retention_days=1.0) == 0
    assert store.prune_tracks(retention_days=1.0, now=time.time() + 2 * 86400) == 1
    with pytest.raises(NotFound):
        store.get_track(old)
    assert store.get_track(organic)["is_organic"] is True
    assert len(_audio_files(tmp_path / "audio")) == 1


def test_nonces_are_single_use_and_pruned(store: Store) -> None:
    assert store.use_nonce("hk", 1_000) is True
    assert store.use_nonce("hk", 1_000) is False
    assert store.use_nonce("other", 1_000) is True
    assert store.prune_nonces(older_than=0.0) == 0
    assert store.prune_nonces(older_than=4e9) == 2
    assert store.use_nonce("hk", 1_000) is True


def test_nanosecond_nonces_are_stored_exactly(store: Store) -> None:
    ns = time.time_ns()  # ~1.8e18: past 32-bit integers and past a double's 53-bit mantissa
    assert store.use_nonce("hk", ns) is True
    assert store.use_nonce("hk", ns) is False
    assert store.use_nonce("hk", ns + 1) is True
    assert store.use_nonce("hk", 2**63 - 1) is True  # the largest BIGINT
    assert _run_together(6, lambda i: store.use_nonce("racer", ns)).count(True) == 1


def test_concurrent_workers_claim_each_job_once(store: Store) -> None:
    account = store.create_account(name="a", credits=100)
    jobs = {store.submit_job(account_id=account["id"], params={"prompt": "p"}, cost=1)["id"] for _ in range(5)}
    claimed = _run_together(10, lambda i: store.claim_job())
    assert not [c for c in claimed if isinstance(c, Exception)], claimed
    ids = [c["id"] for c in claimed if c is not None]
    assert sorted(ids) == sorted(jobs) and all(c["status"] == "processing" for c in claimed if c)
    assert store.claim_job() is None and store.pending_job_count() == 0


def test_concurrent_failures_of_one_job_refund_it_once(store: Store) -> None:
    account = store.create_account(name="a", credits=10)
    job = store.submit_job(account_id=account["id"], params={"prompt": "p"}, cost=4)
    store.claim_job()
    results = _run_together(8, lambda i: store.fail_job(job["id"], f"worker {i} gave up"))
    assert len([r for r in results if isinstance(r, dict)]) == 1, results  # the first; the rest find it failed
    assert all(isinstance(r, JobLeaseLost) for r in results if not isinstance(r, dict)), results
    assert store.get_job(job["id"])["refunded"] == 4
    assert store.get_account(account["id"])["credits"] == 10 == store.ledger_balance(account["id"])
    assert [r["reason"] for r in store.ledger(account["id"])].count("refund") == 1


def test_text_and_json_are_stored_alike_on_every_backend(store: Store) -> None:
    """PostgreSQL enforces VARCHAR lengths, refuses NUL in text and NaN in JSON; SQLite accepts all three.
    What miners and callers send is made to fit, so a clip is kept (and kept the same) on both."""
    challenge = CHALLENGE | {"prompt": "lo-fi\x00 beats", "genre": "g" * 300, "mood": "calm\x00", "bpm": float("nan")}
    track_id = store.record_scored_clip(
        round_id=None, challenge=challenge, uid=1, hotkey="hk1", audio_bytes=tone_wav(seconds=0.5, frequency_hz=220.0),
        audio_format="wav", breakdown={"final_score": 0.5, "signals": {"tempo": float("nan")}}, final_score=0.5,
        is_organic=True, rtt_seconds=None, model_id="m" * 1000)
    track = store.get_track(track_id)
    assert (track["prompt"], track["genre"], track["mood"]) == ("lo-fi beats", "g" * 80, "calm")
    assert track["model_id"] == "m" * 200
    assert track["score_breakdown"] == {"final_score": 0.5, "signals": {"tempo": None}}
    assert track["challenge"]["bpm"] is None and track["challenge"]["prompt"] == "lo-fi\x00 beats"
    account = store.create_account(name="a", credits=5)
    job = store.submit_job(account_id=account["id"], params={"prompt": "a\x00b", "x": float("inf")}, cost=1)
    assert store.get_job(job["id"])["params"] == {"prompt": "a\x00b", "x": None}  # JSON escapes NUL as \u0000
    store.claim_job()
    assert store.fail_job(job["id"], "miner said \x00")["error"] == "miner said "
