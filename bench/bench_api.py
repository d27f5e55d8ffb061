"""Open-loop latency of the HTTP API: requests sent on a fixed schedule, latency from the scheduled time.

``--replicas N`` API replicas (``tuneforge api serve``, each its own process) serve one database:
a fresh SQLite file by default, ``--database-url`` another (empty) one, or with ``--throwaway`` a
throwaway PostgreSQL and Redis started on loopback for the run (:mod:`tuneforge.localservices`).
The load generator (this process, one asyncio loop) sends request ``i`` at ``t0 + i / rate`` to
replica ``i mod N`` whatever happened to earlier requests, so a slow server cannot slow the
offered load down (closed-loop benchmarks hide queueing that way); each latency is measured from
the request's scheduled time, so time spent waiting for a connection or behind a stalled one
counts. Every request passes the real rate limiter: the bench creates as many premier accounts
(1000 requests a minute each) as the rate needs and spreads requests over their keys.

Prints one line per run:
``rate=R achieved=A p50_ms=... p90_ms=... p99_ms=... max_ms=... errors=E`` (``achieved``: responses
per second over the run; ``errors``: non-200 answers and failed connections), then a JSON line.

    python bench/bench_api.py --rate 500 --seconds 20
    python bench/bench_api.py --rate 500 --seconds 20 --replicas 2 --throwaway     # PostgreSQL + Redis
    python bench/bench_api.py --rate 300 --path /api/v1/scores/best                 # hotkey-signed
"""

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bittensor_wallet import Keypair

HOTKEY_URI = "//Alice"
PLAN_LIMIT = 1000  # premier: requests per minute per account
ME = "/api/v1/account/me"
BEST = "/api/v1/scores/best"


def prepare(database_url: str, audio_dir: Path, *, keys: int, clips: int) -> list[str]:
    """Accounts and keys for the load, ``clips`` scored clips for the scores routes, the registry."""
    from tuneforge.api.registry import publish_registry
    from tuneforge.api.testing import fake_breakdown, tone_wav
    from tuneforge.store import Store

    store = Store(database_url, audio_dir)
    out = []
    for i in range(keys):
        account = store.create_account(name=f"bench{i}", plan="premier", credits=1000)
        out.append(store.create_api_key(account["id"])[1])
    for i in range(clips):
        store.record_scored_clip(
            round_id=f"r{i // 8}", challenge={"challenge_id": f"{i:032x}", "prompt": f"clip {i}", "genre": "jazz",
                                              "mood": "calm", "duration_seconds": 1.0},
            uid=i % 16, hotkey=f"hk{i % 16}", audio_bytes=tone_wav(seconds=0.5, frequency_hz=100.0 + i),
            audio_format="wav", breakdown=fake_breakdown((i % 97) / 100), final_score=(i % 97) / 100,
            is_organic=False, rtt_seconds=1.0, model_id="m")
    publish_registry(store, netuid=234, hotkeys=[Keypair.create_from_uri(HOTKEY_URI).ss58_address])
    store.close()
    return out


def start_replicas(n: int, *, database_url: str, audio_dir: Path, redis_url: str | None,
                   state_dir: Path) -> tuple[list[subprocess.Popen], list[int]]:
    from tuneforge.localservices import free_port

    procs, ports = [], []
    for _ in range(n):
        port = free_port()
        args = [sys.executable, "-m", "tuneforge.cli", "--log-level", "WARNING", "api", "serve",
                "--api.database_url", database_url, "--api.audio_dir", str(audio_dir), "--state-dir", str(state_dir),
                "--api.port", str(port), "--api.rate_limit_hotkey", "10000000"]
        if redis_url:
            args += ["--api.redis_url", redis_url]
        procs.append(subprocess.Popen(args, stdin=subprocess.DEVNULL, env=os.environ | {"PYTHONUNBUFFERED": "1"}))
        ports.append(port)
    return procs, ports


async def wait_ready(ports: list[int], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    for port in ports:
        while True:
            try:
                conn = await Connection.open(port)
                try:
                    if await conn.get("/ready", {}) == 200:
                        break
                finally:
                    conn.close()
            except (OSError, asyncio.IncompleteReadError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"replica on port {port} did not become ready")
            await asyncio.sleep(0.2)


class Connection:
    """One keep-alive HTTP/1.1 connection: the load generator's client, kept minimal so that on a
    2-core machine it takes as little CPU from the server as it can (aiohttp costs several times more)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, path: str, headers: dict[str, str]) -> int:
        """Send ``GET path``, read the whole answer; returns the status code."""
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def open_loop(ports: list[int], path: str, headers_for, *, rate: float, seconds: float,
                    connections: int, warmup_s: float) -> dict:
    """Send ``rate`` requests a second for ``warmup_s + seconds``; latencies of the last ``seconds``.

    Up to ``connections`` keep-alive connections per replica; a request finding none idle waits for
    one (its wait counts in its latency, measured from its scheduled time)."""
    total = int(rate * (warmup_s + seconds))
    skip = int(rate * warmup_s)
    latencies: list[float] = []
    errors = 0
    last_done = 0.0
    idle: list[asyncio.Queue] = [asyncio.Queue() for _ in ports]
    opened = [0] * len(ports)

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors, last_done
        r = i % len(ports)
        if idle[r].empty() and opened[r] < connections:
            opened[r] += 1
            try:
                idle[r].put_nowait(await Connection.open(ports[r]))
            except OSError:
                opened[r] -= 1
        conn = await idle[r].get()
        try:
            ok = await conn.get(path, headers_for(i)) == 200
            idle[r].put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
            conn.close()
            opened[r] -= 1
        done = time.perf_counter()
        if i >= skip:
            latencies.append(done - scheduled)
            errors += 0 if ok else 1
            last_done = max(last_done, done)

    tasks = []
    t0 = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    for queue in idle:
        while not queue.empty():
            queue.get_nowait().close()
    measured_from = t0 + skip / rate
    latencies.sort()

    def pct(q: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, math.ceil(q * len(latencies)) - 1)]

    return {"rate": rate, "achieved": len(latencies) / max(1e-9, last_done - measured_from),
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": 1000 * latencies[-1],
            "errors": errors, "requests": len(latencies)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second offered")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (after the warm-up)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds sent first and not measured")
    parser.add_argument("--database-url", default=None, help="an empty database to serve (default: fresh SQLite)")
    parser.add_argument("--redis-url", default=None, help="Redis the replicas share (default: none)")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--throwaway", action="store_true",
                        help="start a throwaway PostgreSQL and Redis on loopback and use them")
    parser.add_argument("--path", default=ME, choices=[ME, BEST], help=f"route to load (default {ME})")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections per replica, at most")
    args = parser.parse_args()

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    from tuneforge.api.signing import sign_request

    servers = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        database_url, redis_url = args.database_url, args.redis_url
        if args.throwaway:
            from tuneforge.localservices import start_postgres, start_redis

            servers = [start_postgres(), start_redis()]
            database_url, redis_url = servers[0].url, servers[1].url
        database_url = database_url or f"sqlite:///{state / 'tuneforge.db'}"
        keys = prepare(database_url, state / "audio", clips=200 if args.path == BEST else 0,
                       keys=max(1, math.ceil(1.25 * args.rate * min(60.0, args.warmup + args.seconds) / PLAN_LIMIT)))
        procs, ports = start_replicas(args.replicas, database_url=database_url, audio_dir=state / "audio",
                                      redis_url=redis_url, state_dir=state)
        try:
            asyncio.run(wait_ready(ports))
            if args.path == ME:
                headers = [{"Authorization": f"Bearer {k}"} for k in keys]

                def headers_for(i: int) -> dict[str, str]:
                    return headers[i % len(headers)]
            else:
                kp = Keypair.create_from_uri(HOTKEY_URI)

                def headers_for(i: int) -> dict[str, str]:
                    return sign_request(kp, method="GET", path=BEST)

            cpu_before = sum(cpu_seconds(p.pid) for p in procs)
            client_before = cpu_seconds(os.getpid())
            result = asyncio.run(open_loop(ports, args.path, headers_for, rate=args.rate, seconds=args.seconds,
                                           connections=args.connections, warmup_s=args.warmup))
            sent = int(args.rate * (args.warmup + args.seconds))
            result["server_cpu_ms_per_request"] = 1000 * (sum(cpu_seconds(p.pid) for p in procs) - cpu_before) / sent
            result["client_cpu_ms_per_request"] = 1000 * (cpu_seconds(os.getpid()) - client_before) / sent
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
            for server in servers:
                server.stop()
    backend = database_url.split(":", 1)[0].split("+")[0]
    print(f"# {args.path}, {args.replicas} replica(s), {backend} store, {'Redis' if redis_url else 'no Redis'}, "
          f"{len(keys)} keys, {os.cpu_count()} CPUs, {args.connections} client connections")
    print(f"rate={result['rate']:g} achieved={result['achieved']:.1f} p50_ms={result['p50_ms']:.2f} "
          f"p90_ms={result['p90_ms']:.2f} p99_ms={result['p99_ms']:.2f} max_ms={result['max_ms']:.2f} "
          f"errors={result['errors']}")
    print(f"# CPU per request: server {result['server_cpu_ms_per_request']:.3f} ms, load generator "
          f"{result['client_cpu_ms_per_request']:.3f} ms; load average before the run "
          f"{load_before:.2f}")
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
