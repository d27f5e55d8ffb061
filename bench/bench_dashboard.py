"""What the dashboard's JSON documents cost to build, and how big they are, as the history grows.

A SQLite store is filled with ``--rounds`` validation rounds of ``--miners`` clips each (rows
inserted directly: the documents never read the audio), then ``summary`` (leaderboard over the
last 10 rounds, job counts, health) and ``recent_rounds(limit=3)`` (every clip's breakdown) are
built ``--repeat`` times each; the median time and the JSON size are printed per history length.
This is the work one cache refresh does (every 2 s at most, whatever the number of open pages).

    python bench/bench_dashboard.py [--miners 64] [--rounds 100 1000] [--repeat 20]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from scoring import constants as C
from tuneforge.api import dashboard_data
from tuneforge.store import Store
from tuneforge.store.models import Round, Track


def fill(store: Store, *, miners: int, rounds: int, start: int) -> None:
    breakdown = {
        "final_score": 0.5,
        "composite": 0.5,
        "signals": dict.fromkeys(C.SIGNAL_WEIGHTS, 0.5),
        "penalties": dict.fromkeys(C.PENALTIES, 1.0),
        "unavailable": {},
        "penalty_notes": {},
    }
    challenge = {
        "challenge_id": "c",
        "prompt": "a bench prompt of ordinary length for a round",
        "genre": "jazz",
        "mood": "calm",
        "duration_seconds": 10.0,
    }
    t0 = time.time() - 86_400
    with store._write_engine.begin() as conn:  # bulk rows for a bench; the validator writes through Store
        for r in range(start, start + rounds):
            at = t0 + r * 30.0
            conn.execute(
                insert(Round.__table__),
                [
                    {
                        "id": str(r),
                        "challenge_id": f"c{r}",
                        "challenge": challenge,
                        "started_at": at,
                        "finished_at": at + 20,
                        "num_miners": miners,
                    }
                ],
            )
            conn.execute(
                insert(Track.__table__),
                [
                    {
                        "id": f"trk_{r}_{m}",
                        "round_id": str(r),
                        "challenge_id": f"c{r}",
                        "uid": m,
                        "hotkey": f"hk{m}",
                        "is_organic": False,
                        "prompt": challenge["prompt"],
                        "genre": "jazz",
                        "mood": "calm",
                        "requested_seconds": 10.0,
                        "duration_seconds": 10.0,
                        "sample_rate": 32_000,
                        "channels": 1,
                        "audio_format": "wav",
                        "audio_sha256": f"{r:032d}{m:032d}",
                        "model_id": "bench-model",
                        "final_score": 0.5,
                        "score_breakdown": breakdown,
                        "challenge": challenge,
                        "rtt_seconds": 1.0,
                        "created_at": at + 20,
                    }
                    for m in range(miners)
                ],
            )


def timed(fn, repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = len(json.dumps(fn(), separators=(",", ":")))
        times.append(time.perf_counter() - started)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--miners", type=int, default=64)
    parser.add_argument("--rounds", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp) / "audio")
        leaderboard = [
            {
                "uid": m,
                "hotkey": f"hk{m}",
                "ema": 0.5,
                "weight": 1.0 / args.miners,
                "rounds": 1,
                "last_score": 0.5,
            }
            for m in range(args.miners)
        ]
        done = 0
        print(f"{args.miners} miners per round; median of {args.repeat} builds")
        for total in sorted(args.rounds):
            fill(store, miners=args.miners, rounds=total - done, start=done)
            done = total
            s_time, s_size = timed(lambda: dashboard_data.summary(store, leaderboard), args.repeat)
            r_time, r_size = timed(lambda: dashboard_data.recent_rounds(store, limit=3), args.repeat)
            print(
                f"{total:>6} rounds ({total * args.miners:>7} clips): summary {s_time * 1000:6.1f} ms "
                f"({s_size / 1024:5.1f} KiB), rounds {r_time * 1000:6.1f} ms ({r_size / 1024:5.1f} KiB)"
            )
        store.close()


if __name__ == "__main__":
    main()
