"""Latency and throughput of the HTTP API on loopback, and sr25519 verifications per second.

A real uvicorn server (``ApiService``, in a subprocess so the load generator does not share its
GIL) serves a fresh SQLite store with 200 scored clips and a demo account whose rate limit is
raised out of the way. An aiohttp client keeps ``--concurrency`` requests in flight against
``GET /api/v1/account/me`` (API key) and ``GET /api/v1/scores/best`` (a fresh hotkey signature per
request), each for ``--requests`` requests or ``--seconds``, whichever ends first; then it prints
p50/p99 latency and requests per second. Run: ``python bench/bench_api.py``; ``--database-url``
serves another (empty) database instead, e.g. ``postgresql+psycopg://tf:tf@127.0.0.1/tf_bench``.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bittensor_wallet import Keypair

HOTKEY_URI = "//Alice"


def database_url(state: Path, url: str | None) -> str:
    """``url``, or the fresh SQLite file under ``state``."""
    return url or f"sqlite:///{state / 'tuneforge.db'}"


def prepare(state: Path, url: str | None = None) -> dict:
    from tuneforge.api.admin import create_demo_account
    from tuneforge.api.testing import fake_breakdown, tone_wav
    from tuneforge.store import Store

    store = Store(database_url(state, url), state / "audio")
    account_id, key = create_demo_account(store, credits=1000)
    store.set_rate_limit(account_id, 10_000_000)
    for i in range(200):
        store.record_scored_clip(
            round_id=f"r{i // 8}", challenge={"challenge_id": f"{i:032x}", "prompt": f"clip {i}", "genre": "jazz",
                                              "mood": "calm", "duration_seconds": 1.0},
            uid=i % 16, hotkey=f"hk{i % 16}", audio_bytes=tone_wav(seconds=0.5, frequency_hz=100.0 + i),
            audio_format="wav", breakdown=fake_breakdown((i % 97) / 100), final_score=(i % 97) / 100,
            is_organic=False, rtt_seconds=1.0, model_id="m")
    store.close()
    return {"key": key}


def serve(state: Path, port: int, url: str | None = None) -> None:
    """Child process: serve the prepared store until stdin closes."""
    from tuneforge.api.service import ApiService
    from tuneforge.api.settings import ApiSettings
    from tuneforge.store import Store

    settings = ApiSettings(host="127.0.0.1", port=port, database_url=database_url(state, url),
                           audio_dir=str(state / "audio"), hotkey_rate_limit_per_minute=10_000_000)
    hotkey = Keypair.create_from_uri(HOTKEY_URI).ss58_address
    service = ApiService(store=Store(settings.database_url, settings.audio_dir), settings=settings,
                         is_registered=lambda hk: hk == hotkey).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()
    service.stop()


async def load(url: str, headers_for, *, concurrency: int, requests: int, seconds: float) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal issued, errors
            while issued < requests and time.perf_counter() < deadline:
                issued += 1
                start = time.perf_counter()
                async with session.get(url, headers=headers_for()) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies), "errors": errors, "seconds": elapsed, "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def verify_rate(n: int = 2000) -> float:
    from tuneforge.api.signing import signed_message, verify_signature

    kp = Keypair.create_from_uri(HOTKEY_URI)
    message = signed_message(nonce=time.time_ns(), hotkey=kp.ss58_address, method="GET", path="/api/v1/scores/best",
                             body=None)
    signature = "0x" + kp.sign(message.encode()).hex()
    start = time.perf_counter()
    for _ in range(n):
        assert verify_signature(kp.ss58_address, message, signature)
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint")
    parser.add_argument("--seconds", type=float, default=15.0, help="per endpoint, at most")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL of an empty database to serve (default: a fresh SQLite file)")
    parser.add_argument("--serve", nargs=2, metavar=("STATE_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.database_url)
        return 0

    from tuneforge import netutils
    from tuneforge.api.signing import sign_request

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        info = prepare(state, args.database_url)
        port = netutils.free_port("127.0.0.1")
        database = ["--database-url", args.database_url] if args.database_url else []
        child = subprocess.Popen([sys.executable, __file__, "--serve", str(state), str(port), *database],
                                 stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
        try:
            if child.stdout.readline().strip() != "ready":
                raise SystemExit("the API server did not start")
            base = f"http://127.0.0.1:{port}"
            kp = Keypair.create_from_uri(HOTKEY_URI)
            results = {}
            results["GET /api/v1/account/me"] = asyncio.run(load(
                f"{base}/api/v1/account/me", lambda: {"Authorization": f"Bearer {info['key']}"},
                concurrency=args.concurrency, requests=args.requests, seconds=args.seconds))
            results["GET /api/v1/scores/best?limit=20"] = asyncio.run(load(
                f"{base}/api/v1/scores/best?limit=20",
                lambda: sign_request(kp, method="GET", path="/api/v1/scores/best"),
                concurrency=args.concurrency, requests=args.requests, seconds=args.seconds))
        finally:
            child.stdin.close()
            child.wait(timeout=30)
    backend = args.database_url.split(":", 1)[0] if args.database_url else "sqlite"
    print(f"API on loopback, uvicorn in a subprocess, {args.concurrency} concurrent connections, {os.cpu_count()} CPUs, "
          f"{backend} store")
    for name, r in results.items():
        print(f"{name:<36} {r['requests']:>6} req  {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
              f"p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}")
    print(f"sr25519 signature verifications: {verify_rate():.0f} per second (one core)")
    print(json.dumps({k: {m: round(v, 2) for m, v in r.items()} for k, r in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
