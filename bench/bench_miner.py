"""Round trips to a real miner axon on loopback: ping RTT, 10 s and 30 s clips, and a burst.

A :class:`tuneforge.miner.neuron.Miner` with the procedural backend serves on 127.0.0.1 against
an in-memory :class:`tuneforge.chain.LocalChain` (nothing leaves the machine: the external-IP
lookup is pinned first). A real ``bt.Dendrite`` signed by a registered validator hotkey sends 20
pings, then ``--clips`` generations each of 10 s and 30 s, then a burst of 8 concurrent 10 s
requests; it prints median round trips, the miner's own generation time and the payload size.
Run: ``python bench/bench_miner.py``.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time

import bittensor as bt
from bittensor_wallet import Keypair

from tuneforge.netutils import free_port, pin_external_ip

NETUID = 234
SAMPLE_RATE = 44_100


def start_miner() -> tuple[object, Keypair]:
    """A started miner on a free loopback port and the validator keypair allowed to query it."""
    from tuneforge.chain import LocalChain
    from tuneforge.generation.procedural.backend import ProceduralBackend
    from tuneforge.miner.config import MinerConfig
    from tuneforge.miner.neuron import Miner

    wallet = bt.Wallet(name="miner", hotkey="default", path=tempfile.mkdtemp(prefix="tf-bench-wallet-"))
    wallet.create_coldkey_from_uri("//Alice", use_password=False, overwrite=True, suppress=True)
    wallet.create_hotkey_from_uri("//Alice//miner", use_password=False, overwrite=True, suppress=True)
    validator = Keypair.create_from_uri("//Bob")
    chain = LocalChain()
    chain.create_subnet(NETUID)
    chain.register_neuron(NETUID, wallet.hotkey.ss58_address, wallet.coldkeypub.ss58_address)
    chain.register_neuron(NETUID, validator.ss58_address, wallet.coldkeypub.ss58_address, stake=1000,
                          validator_permit=True)
    began = time.perf_counter()
    miner = Miner(MinerConfig(axon_ip="127.0.0.1", axon_external_ip="127.0.0.1"), wallet=wallet,
                  subtensor=chain, backend=ProceduralBackend(), port=free_port()).start()
    print(f"miner start (incl. warm-up): {time.perf_counter() - began:.2f} s")
    return miner, validator


async def measure(miner: object, validator: Keypair, *, clips: int) -> None:
    from tuneforge.audio.intake import decode_audio_b64
    from tuneforge.protocol import MusicGenerationSynapse, PingSynapse

    dendrite = bt.Dendrite(wallet=validator)
    axon = miner.axon.info()
    try:
        pings = []
        for _ in range(20):
            began = time.perf_counter()
            await dendrite(axons=[axon], synapse=PingSynapse(), timeout=5, deserialize=False)
            pings.append(time.perf_counter() - began)
        print(f"ping round trip: median {1000 * statistics.median(pings):.1f} ms over {len(pings)}")
        for seconds in (10.0, 30.0):
            trips, generation_ms, payload = [], [], 0
            for seed in range(clips):
                began = time.perf_counter()
                reply = (await dendrite(axons=[axon], synapse=MusicGenerationSynapse(
                    prompt="upbeat funk", duration_seconds=seconds, seed=seed), timeout=60, deserialize=False))[0]
                trips.append(time.perf_counter() - began)
                if not reply.audio_b64:
                    raise SystemExit(f"the miner returned no audio for a {seconds:.0f} s clip "
                                     f"({reply.dendrite.status_code} {reply.dendrite.status_message})")
                frames = decode_audio_b64(reply.audio_b64).samples.shape[1]
                if frames != int(seconds * SAMPLE_RATE):
                    raise SystemExit(f"a {seconds:.0f} s clip came back with {frames} frames")
                generation_ms.append(reply.generation_time_ms)
                payload = len(reply.audio_b64)
            print(f"{seconds:.0f} s clip: round trip median {statistics.median(trips):.2f} s, miner generation "
                  f"median {statistics.median(generation_ms)} ms, payload {payload / 1e6:.1f} MB base64")
        replies = await asyncio.gather(*(dendrite(
            axons=[axon], synapse=MusicGenerationSynapse(prompt="jazz", duration_seconds=10.0, seed=seed),
            timeout=12, deserialize=False) for seed in range(8)))
        served = sum(1 for r in replies if r[0].audio_b64)
        print(f"burst of 8 x 10 s (timeout 12 s): {served} with audio, {8 - served} empty; "
              f"miner stats {miner.stats.snapshot()}")
    finally:
        await dendrite.aclose_session()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3, help="generations per clip length")
    args = parser.parse_args()
    pin_external_ip("127.0.0.1")
    miner, validator = start_miner()
    try:
        asyncio.run(measure(miner, validator, clips=args.clips))
    finally:
        miner.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
