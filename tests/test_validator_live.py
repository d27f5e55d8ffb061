"""One real round: LocalChain, two in-process miners (procedural backend) on 127.0.0.1 axons,
the validator with a real ``bt.Dendrite`` and the real scorer."""

import dataclasses

import bittensor as bt
import pytest

from tuneforge.chain import LocalChain
from tuneforge.generation.base import GenerationSettings, build_backend
from tuneforge.miner.config import MinerConfig
from tuneforge.miner.neuron import Miner
from tuneforge.netutils import free_port, pinned_external_ip
from tuneforge.validator.config import ValidatorConfig
from tuneforge.validator.neuron import Validator

NETUID = 3


def _wallet(root, name):
    wallet = bt.Wallet(name=name, hotkey="default", path=str(root))
    wallet.create_coldkey_from_uri(f"//{name}", use_password=False, overwrite=True, suppress=True)
    wallet.create_hotkey_from_uri(f"//{name}//hot", use_password=False, overwrite=True, suppress=True)
    return wallet


@pytest.mark.slow
async def test_real_round_over_axons(tmp_path):
    with pinned_external_ip("127.0.0.1"):
        chain = LocalChain(weights_rate_limit=0)
        chain.create_subnet(NETUID)
        vwallet = _wallet(tmp_path / "w", "validator")
        chain.register_neuron(NETUID, vwallet.hotkey.ss58_address, vwallet.coldkeypub.ss58_address, stake=1000.0,
                              validator_permit=True)
        miners = []
        try:
            for i in range(2):
                mw = _wallet(tmp_path / "w", f"miner{i}")
                chain.register_neuron(NETUID, mw.hotkey.ss58_address, mw.coldkeypub.ss58_address)
                config = MinerConfig(netuid=NETUID, network="localchain", axon_ip="127.0.0.1",
                                     axon_external_ip="127.0.0.1", warmup_seconds=0.0)
                backend = build_backend(GenerationSettings(backend="procedural", sample_rate=32000))
                miner = Miner(config, wallet=mw, subtensor=chain, backend=backend, port=free_port())
                miners.append(miner.start())
            config = ValidatorConfig(netuid=NETUID, network="localchain", state_dir=str(tmp_path / "state"),
                                     timeout_s=30.0, scoring_budget_s=120.0, api_off=True)
            validator = Validator(config, wallet=vwallet, subtensor=chain)
            validator.setup()
            original = validator.generator.generate
            validator.generator.generate = lambda rid: dataclasses.replace(original(rid), duration_seconds=5.0)
            result = await validator.run_round()
            await validator.dendrite.aclose_session()
        finally:
            for miner in miners:
                miner.stop()
    assert len(result.miners) == 2
    for m in result.miners:
        assert m.error is None, m.error
        assert m.audio_bytes[:4] == b"RIFF" and m.rtt_seconds > 0
        assert 0.0 < m.final_score <= 1.0
        assert m.breakdown["signals"]["speed"] is not None
    assert {r["hotkey"] for r in validator.leaderboard_snapshot()} == {m.hotkey for m in result.miners}
    assert len({m.seed for m in result.miners}) == 2
