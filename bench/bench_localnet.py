"""Wall time of a local-network round with 4 and with 16 miners.

Brings up the in-process subnet (local chain, procedural miners on 127.0.0.1 axons, one
validator with a real dendrite) and times ``Validator.run_round`` (challenge → fan-out →
intake → scoring → EMA) for each round, then weight setting. Prints one line per setting.

    python bench/bench_localnet.py [--miners 4 16] [--rounds 2]
"""

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

from tuneforge.localnet.network import LocalnetOptions, LocalNetwork


async def _time_rounds(net: LocalNetwork, rounds: int) -> list[tuple[float, float, int]]:
    out = []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            result = await net.validator.run_round()
            elapsed = time.perf_counter() - t0
            out.append((elapsed, result.challenge.duration_seconds, len(result.miners)))
    finally:
        await net.validator.dendrite.aclose_session()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--miners", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print("miners  rounds  clip_s(mean)  round_wall_s(median)  round_wall_s(max)  bring_up_s")
    for n in args.miners:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            opts = LocalnetOptions(miners=n, rounds=0, out=Path(tmp), bad_miners=1)
            with LocalNetwork(opts) as net:
                bring_up = time.perf_counter() - t0
                timings = asyncio.run(_time_rounds(net, args.rounds))
        walls = [t for t, _, _ in timings]
        clips = [d for _, d, _ in timings]
        print(f"{n:6d}  {len(walls):6d}  {statistics.mean(clips):12.1f}  {statistics.median(walls):20.2f}  "
              f"{max(walls):17.2f}  {bring_up:10.2f}")


if __name__ == "__main__":
    main()
