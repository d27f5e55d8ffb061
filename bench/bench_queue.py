"""The durable job queue under failure: 1,000 generation jobs submitted over HTTP to 2 API replicas,
one replica and the validator killed -9 mid-run, and every job still completed exactly once.

Set-up: a throwaway PostgreSQL and Redis on loopback (:mod:`tuneforge.localservices`; or
``--database-url``/``--redis-url``), two replicas (``tuneforge api serve``) and a stand-in validator
(``python -m tuneforge.api.testing``: the real job runner, leases and store, with fake miners that
answer in ``--delay-s``). The submitter sends ``POST /api/v1/music/generate`` at ``--rate`` per second
alternately to both replicas (1-2 variations each, over ``--accounts`` accounts) until ``--jobs``
were accepted (201). When ``--kill-at`` of them are accepted it kills replica A and the validator
with SIGKILL, starts a new validator, and goes on submitting to replica B. Then it waits for the
queue to drain and checks, from the database and the validators' completion logs:

- every job in the database (the accepted ones, and any A stored before dying without answering)
  completed, none twice (at most one completion line across both validators' logs; a job the killed
  validator finished in the store but had not logged yet counts as unlogged, and must have been
  claimed once);
- the jobs the dead validator held were re-claimed after their lease (attempts = 2);
- each job has one track per variation; every account's balance equals the sum of its ledger, and
  equals its grant minus the cost of its jobs.

    python bench/bench_queue.py                 # 1000 jobs, kill at 400
    python bench/bench_queue.py --jobs 200 --kill-at 80
"""

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

GEN = "/api/v1/music/generate"
GRANT = 100_000


def job_ids(store, statuses: tuple[str, ...] | None = None) -> list[str]:
    """Ids of the jobs in the database (with one of ``statuses``), oldest first."""
    from sqlalchemy import select

    from tuneforge.store.models import Job

    query = select(Job.id).order_by(Job.created_at, Job.id)
    if statuses:
        query = query.where(Job.status.in_(statuses))
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def start_replica(database_url: str, redis_url: str, audio: Path, state: Path) -> tuple[subprocess.Popen, int]:
    from tuneforge.localservices import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuneforge.cli", "--log-level", "WARNING", "api", "serve", "--api.database_url",
         database_url, "--api.redis_url", redis_url, "--api.audio_dir", str(audio), "--state-dir", str(state),
         "--api.port", str(port), "--api.rate_limit_premier", "100000"],
        stdin=subprocess.DEVNULL, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    return proc, port


def start_validator(database_url: str, redis_url: str, audio: Path, log: Path, *, delay_s: float,
                    lease_s: float, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuneforge.api.testing", "--database-url", database_url, "--audio-dir", str(audio),
         "--redis-url", redis_url, "--log", str(log), "--lease-s", str(lease_s), "--delay-s", str(delay_s),
         "--workers", str(workers)],
        stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit("the stand-in validator did not start")
    return proc


async def wait_ready(port: int, timeout_s: float = 90.0) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/ready") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"replica on port {port} did not become ready")


async def submit(ports: list[int], keys: list[str], *, jobs: int, rate: float, kill_at: int, on_kill) -> dict:
    """Submit until ``jobs`` are accepted; call ``on_kill()`` (which returns the ports still alive) at ``kill_at``."""
    import aiohttp

    rng = random.Random(11)
    accepted: list[str] = []
    refused: Counter = Counter()
    killed = False
    alive = list(ports)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        in_flight: set[asyncio.Task] = set()

        async def one(i: int) -> None:
            body = {"prompt": f"bench job {i}", "duration_seconds": 2, "num_variations": rng.choice((1, 2)),
                    "seed": i}
            port = alive[i % len(alive)]
            try:
                async with session.post(f"http://127.0.0.1:{port}{GEN}", json=body,
                                        headers={"Authorization": f"Bearer {keys[i % len(keys)]}"}) as resp:
                    data = await resp.json()
                    if resp.status == 201:
                        accepted.append(data["request_id"])
                    else:
                        refused[resp.status] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                refused[type(exc).__name__] += 1

        i = 0
        t0 = time.perf_counter()
        while len(accepted) < jobs:
            if not killed and len(accepted) >= kill_at:
                killed = True
                alive = await on_kill()
            if len(accepted) + len(in_flight) < jobs:
                task = asyncio.create_task(one(i))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                i += 1
            delay = t0 + i / rate - time.perf_counter()
            await asyncio.sleep(max(0.0, delay) if len(accepted) + len(in_flight) < jobs else 0.01)
        await asyncio.gather(*in_flight)
    return {"accepted": accepted, "refused": dict(refused), "sent": i}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--kill-at", type=int, default=400, help="accepted jobs before the kills")
    parser.add_argument("--rate", type=float, default=100.0, help="submissions per second")
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--delay-s", type=float, default=0.05, help="seconds the fake miners take per variation")
    parser.add_argument("--lease-s", type=float, default=5.0, help="job lease (re-claim delay after the kill)")
    parser.add_argument("--workers", type=int, default=8, help="job workers per validator")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()

    from tuneforge.localservices import start_postgres, start_redis
    from tuneforge.store import Store

    servers = []
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        audio, state, log = tmp_path / "audio", tmp_path / "state", tmp_path / "completions.log"
        database_url, redis_url = args.database_url, args.redis_url
        if database_url is None:
            servers.append(start_postgres())
            database_url = servers[-1].url
        if redis_url is None:
            servers.append(start_redis())
            redis_url = servers[-1].url
        store = Store(database_url, audio)
        try:
            accounts, keys = [], []
            for n in range(args.accounts):
                account = store.create_account(name=f"queue{n}", plan="premier", credits=GRANT)
                accounts.append(account["id"])
                keys.append(store.create_api_key(account["id"])[1])
            replica_a, port_a = start_replica(database_url, redis_url, audio, state)
            replica_b, port_b = start_replica(database_url, redis_url, audio, state)
            procs += [replica_a, replica_b]
            asyncio.run(wait_ready(port_a))
            asyncio.run(wait_ready(port_b))
            validator = start_validator(database_url, redis_url, audio, log, delay_s=args.delay_s,
                                        lease_s=args.lease_s, workers=args.workers)
            procs.append(validator)
            kill_info: dict = {}

            async def on_kill() -> list[int]:
                os.kill(replica_a.pid, signal.SIGKILL)
                os.kill(validator.pid, signal.SIGKILL)
                await asyncio.to_thread(validator.wait)
                held = await asyncio.to_thread(job_ids, store, ("processing",))  # the dead validator's leases
                kill_info.update(at=time.perf_counter(), held=held)
                second = await asyncio.to_thread(
                    start_validator, database_url, redis_url, audio, log, delay_s=args.delay_s,
                    lease_s=args.lease_s, workers=args.workers)
                procs.append(second)
                return [port_b]

            started = time.perf_counter()
            result = asyncio.run(submit([port_a, port_b], keys, jobs=args.jobs, rate=args.rate, kill_at=args.kill_at,
                                        on_kill=on_kill))
            submitted_s = time.perf_counter() - started
            deadline = time.monotonic() + 600
            while job_ids(store, ("pending", "processing")) and time.monotonic() < deadline:
                time.sleep(0.5)
            drained_s = time.perf_counter() - started
            report = check(store, accounts, result, log, kill_info)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            store.close()
            for server in servers:
                server.stop()
    report.update(submitted_s=round(submitted_s, 1), drained_s=round(drained_s, 1),
                  jobs_per_s=round(report["jobs_in_db"] / drained_s, 1), refused=result["refused"])
    print(f"jobs={report['jobs_in_db']} accepted={report['accepted']} completed={report['completed']} "
          f"completed_twice={report['completed_twice']} never_completed={report['never_completed']} "
          f"unlogged={report['completed_unlogged']} "
          f"reclaimed={report['reclaimed']} held_at_kill={report['held_at_kill']} "
          f"balances_equal_ledgers={report['balances_equal_ledgers']} "
          f"drained_s={report['drained_s']} jobs_per_s={report['jobs_per_s']}")
    print(json.dumps(report))
    return 0 if report["ok"] else 1


def check(store, accounts: list[str], result: dict, log: Path, kill_info: dict) -> dict:
    """Every job completed exactly once, re-claims happened, balances equal ledgers and grants minus costs."""
    jobs = [store.get_job(job_id) for job_id in job_ids(store)]
    completions = Counter(line.split()[0] for line in log.read_text().splitlines()) if log.exists() else Counter()
    by_id = {j["id"]: j for j in jobs}
    completed = [j for j in jobs if j["status"] == "completed"]
    # A validator killed between its finishing write and its log line leaves a completed job unlogged:
    # at most one per worker, and never a job the other validator logged.
    unlogged = [j for j in completed if j["id"] not in completions]
    tracks_ok = all(len(j["tracks"]) == len(j["params"]["seeds"]) for j in completed)
    held = kill_info.get("held", [])
    balances_ok = True
    for account_id in accounts:
        balance = store.get_account(account_id)["credits"]
        spent = sum(j["cost"] - j["refunded"] for j in jobs if j["account_id"] == account_id)
        balances_ok &= balance == store.ledger_balance(account_id) == GRANT - spent
    report = {
        "jobs_in_db": len(jobs), "accepted": len(result["accepted"]), "sent": result["sent"],
        "accepted_in_db": all(a in by_id for a in result["accepted"]),
        "completed": len(completed), "completed_twice": sum(1 for c in completions.values() if c > 1),
        "never_completed": len(jobs) - len(completed),
        "logged_completions_in_db": set(completions) <= {j["id"] for j in completed},
        "completed_unlogged": len(unlogged),
        "reclaimed": sum(1 for j in jobs if j["attempts"] >= 2), "held_at_kill": len(held),
        "held_reclaimed": all(by_id[j]["attempts"] >= 2 for j in held if j in by_id),
        "tracks_per_variation": tracks_ok, "balances_equal_ledgers": balances_ok,
    }
    report["ok"] = bool(
        report["accepted_in_db"] and report["completed_twice"] == 0 and report["never_completed"] == 0
        and report["logged_completions_in_db"] and all(j["attempts"] == 1 for j in unlogged)
        and report["held_reclaimed"] and held and tracks_ok and balances_ok)
    return report


if __name__ == "__main__":
    sys.exit(main())
