"""LocalChain: subnets, registration and permits, axons, metagraph, set_weights rules, blocks."""

import threading
import time
from types import SimpleNamespace

import bittensor as bt
import numpy as np
import pytest
from bittensor.core.chain_data import AxonInfo

from tuneforge.chain import LocalChain, LocalChainError

NETUID = 7


def wallet(hotkey: str) -> SimpleNamespace:
    return SimpleNamespace(hotkey=SimpleNamespace(ss58_address=hotkey))


@pytest.fixture
def chain() -> LocalChain:
    c = LocalChain(weights_rate_limit=3, max_allowed_validators=2)
    c.create_subnet(NETUID)
    return c


@pytest.fixture
def populated(chain: LocalChain) -> LocalChain:
    """uid 0 validator (stake 100), uids 1-3 miners (no stake)."""
    chain.register_neuron(NETUID, "V", "CV", stake=100.0)
    for i in range(1, 4):
        chain.register_neuron(NETUID, f"M{i}", f"C{i}")
    return chain


def test_subnet_creation_and_unknown_subnet(chain: LocalChain) -> None:
    assert chain.subnet_exists(NETUID) and not chain.subnet_exists(NETUID + 1)
    with pytest.raises(LocalChainError, match="already exists"):
        chain.create_subnet(NETUID)
    with pytest.raises(LocalChainError, match="does not exist"):
        chain.register_neuron(NETUID + 1, "A", "B")
    assert chain.get_all_subnets_netuid() == [NETUID]


def test_registration_permits_by_stake_and_metagraph_arrays(chain: LocalChain) -> None:
    stakes = [10.0, 0.0, 30.0, 20.0]
    uids = [chain.register_neuron(NETUID, f"H{i}", f"C{i}", stake=s) for i, s in enumerate(stakes)]
    assert uids == [0, 1, 2, 3]
    mg = chain.metagraph(NETUID)
    assert isinstance(mg, bt.Metagraph)
    assert int(mg.n) == 4
    assert mg.uids.dtype == np.int64 and mg.uids.tolist() == [0, 1, 2, 3]
    assert mg.hotkeys == ["H0", "H1", "H2", "H3"] and mg.coldkeys == ["C0", "C1", "C2", "C3"]
    assert mg.S.dtype == np.float32 and mg.S.tolist() == stakes and mg.stake.tolist() == stakes
    # K = 2: the two largest stakes (uids 2 and 3) hold permits
    assert mg.validator_permit.dtype == np.bool_
    assert mg.validator_permit.tolist() == [False, False, True, True]
    # stake change re-ranks; an explicit permit overrides the rule; zero stake never earns one by rank
    chain.set_stake(NETUID, "H0", 50.0)
    chain.set_validator_permit(NETUID, "H1", True)
    chain.set_validator_permit(NETUID, "H2", False)
    mg.sync(subtensor=chain)
    assert mg.validator_permit.tolist() == [True, True, False, True]
    with pytest.raises(LocalChainError, match="already registered"):
        chain.register_neuron(NETUID, "H0", "C0")
    with pytest.raises(ValueError):
        chain.register_neuron(NETUID, "H9", "C9", stake=-1.0)


def test_force_register_neuron_matches_mock_signature(chain: LocalChain) -> None:
    uid = chain.force_register_neuron(NETUID, "HK", "CK", stake=bt.Balance.from_tao(5.0))
    assert uid == 0
    assert chain.metagraph(NETUID).S.tolist() == [5.0]


def test_full_subnet_recycles_lowest_stake_uid() -> None:
    chain = LocalChain()
    chain.create_subnet(1, max_allowed_uids=3)
    for hk, stake in (("A", 5.0), ("B", 1.0), ("C", 1.0)):
        chain.register_neuron(1, hk, "c", stake=stake)
    assert chain.register_neuron(1, "D", "c", stake=2.0) == 1  # B: lowest stake, lower uid than C
    assert chain.metagraph(1).hotkeys == ["A", "D", "C"]
    assert not chain.is_hotkey_registered("B", netuid=1)


def test_unknown_hotkeys_are_not_registered(populated: LocalChain) -> None:
    assert populated.is_hotkey_registered("M1", netuid=NETUID)
    assert populated.is_hotkey_registered("M1")
    assert populated.is_hotkey_registered("nobody", netuid=NETUID) is False
    assert populated.is_hotkey_registered("nobody") is False
    assert populated.get_uid_for_hotkey_on_subnet("M2", NETUID) == 2
    assert populated.get_uid_for_hotkey_on_subnet("nobody", NETUID) is None
    assert populated.get_neuron_for_pubkey_and_subnet("nobody", NETUID).is_null
    neuron = populated.get_neuron_for_pubkey_and_subnet("V", NETUID)
    assert neuron.uid == 0 and neuron.validator_permit and not neuron.is_null


def test_serve_axon_with_a_real_axon_shows_in_metagraph(populated: LocalChain, tmp_path) -> None:
    from tuneforge.localnet.wallets import make_wallet
    from tuneforge.netutils import free_port

    w = make_wallet(tmp_path, "miner")
    uid = populated.register_neuron(NETUID, w.hotkey.ss58_address, w.coldkeypub.ss58_address)
    port = free_port()
    axon = bt.Axon(wallet=w, ip="127.0.0.1", port=port, external_ip="127.0.0.1", external_port=port)
    result = populated.serve_axon(netuid=NETUID, axon=axon)
    success, message = result
    assert success and result.success and message == result.message
    mg = populated.metagraph(NETUID)
    served: AxonInfo = mg.axons[uid]
    assert isinstance(served, AxonInfo)
    assert (served.ip, served.port, served.hotkey) == ("127.0.0.1", port, w.hotkey.ss58_address)
    assert served.coldkey == w.coldkeypub.ss58_address and served.version > 0
    assert served.is_serving
    assert not mg.axons[1].is_serving  # never served
    # an unregistered hotkey cannot serve
    refused = populated.serve_endpoint(NETUID, "nobody", ip="127.0.0.1", port=port)
    assert not refused.success and "HotKeyNotRegisteredInNetwork" in refused.message


def test_metagraph_sync_refreshes_in_place(populated: LocalChain) -> None:
    mg = populated.metagraph(NETUID)
    populated.step_block(4)
    populated.register_neuron(NETUID, "M4", "C4")
    before = id(mg)
    mg.sync(subtensor=populated)
    assert id(mg) == before and int(mg.n) == 5 and mg.hotkeys[-1] == "M4"
    assert int(mg.block) == 4
    assert mg.last_update.tolist() == [0, 0, 0, 0, 4]


def test_set_weights_success_and_u16_read_back(populated: LocalChain) -> None:
    populated.step_block(4)  # past the rate limit counted from registration at block 0
    result = populated.set_weights(
        wallet=wallet("V"), netuid=NETUID, uids=[1, 2, 3], weights=[0.2, 0.4, 0.1], version_key=10,
        wait_for_inclusion=True, wait_for_finalization=False,
    )
    success, message = result
    assert success is True and result.success and "weights" in message.lower()
    # max-upscaled to 65535 as bittensor does: 0.2/0.4*65535 = 32767.5 -> 32768; 0.1/0.4*65535 -> 16384
    assert populated.weights(NETUID) == [(0, [(1, 32768), (2, 65535), (3, 16384)])]
    assert populated.blocks_since_last_update(NETUID, 0) == 0
    mg = populated.metagraph(NETUID, lite=False)
    assert mg.last_update.tolist()[0] == 4
    np.testing.assert_allclose(mg.W[0], [0.0, 32768 / 114687, 65535 / 114687, 16384 / 114687], rtol=1e-5)


def test_set_weights_rate_limit(populated: LocalChain) -> None:
    v = wallet("V")
    assert populated.weights_rate_limit(NETUID) == 3
    # registration counts as an update: at block 3 only 3 blocks have passed (needs > 3)
    populated.step_block(3)
    early = populated.set_weights(v, NETUID, [1], [1.0])
    assert not early.success and "SettingWeightsTooFast" in early.message
    populated.step_block(1)
    assert populated.set_weights(v, NETUID, [1], [1.0]).success
    populated.step_block(3)
    assert not populated.set_weights(v, NETUID, [2], [1.0]).success
    assert populated.weights(NETUID) == [(0, [(1, 65535)])]  # unchanged by the refusal
    populated.step_block(1)
    assert populated.set_weights(v, NETUID, [2], [1.0]).success
    populated.set_weights_rate_limit(NETUID, 0)
    populated.step_block(1)
    assert populated.set_weights(v, NETUID, [3], [1.0]).success


@pytest.mark.parametrize(
    ("caller", "uids", "weights", "version_key", "error"),
    [
        ("M1", [2], [1.0], 10, "NeuronNoValidatorPermit"),
        ("nobody", [2], [1.0], 10, "HotKeyNotRegisteredInSubNet"),
        ("V", [2], [1.0], 4, "IncorrectWeightVersionKey"),
        ("V", [2, 2], [1.0, 1.0], 10, "DuplicateUids"),
        ("V", [9], [1.0], 10, "UidVecContainInvalidOne"),
        ("V", [1, 2], [1.0], 10, "WeightVecNotEqualSize"),
        ("V", [1], [-1.0], 10, "InvalidWeights"),
        ("V", [1], [float("nan")], 10, "InvalidWeights"),
        ("V", [1, 2], [0.0, 0.0], 10, "WeightVecLengthIsLow"),
    ],
)
def test_set_weights_refusals(populated: LocalChain, caller, uids, weights, version_key, error) -> None:
    populated.set_weights_version(NETUID, 5)
    populated.step_block(10)
    result = populated.set_weights(wallet(caller), NETUID, uids, weights, version_key=version_key)
    assert result.success is False and error in result.message
    assert populated.weights(NETUID) == []
    with pytest.raises(LocalChainError, match=error):
        populated.set_weights(wallet(caller), NETUID, uids, weights, version_key=version_key, raise_error=True)


def test_block_stepping_and_auto_step(chain: LocalChain) -> None:
    assert chain.get_current_block() == 0 and chain.block == 0
    assert chain.step_block() == 1 and chain.step_block(5) == 6
    with pytest.raises(ValueError):
        chain.step_block(-1)
    chain.start_auto_step(0.005)
    deadline = time.monotonic() + 10.0
    while chain.get_current_block() < 9 and time.monotonic() < deadline:
        time.sleep(0.01)
    chain.close()
    stopped_at = chain.get_current_block()
    assert stopped_at >= 9
    time.sleep(0.05)
    assert chain.get_current_block() == stopped_at  # the stepper thread has stopped


def test_concurrent_registration_gives_unique_uids(chain: LocalChain) -> None:
    def register(start: int) -> None:
        for i in range(start, start + 20):
            chain.register_neuron(NETUID, f"T{i}", "c")

    threads = [threading.Thread(target=register, args=(k * 20,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mg = chain.metagraph(NETUID)
    assert int(mg.n) == 80 and sorted(mg.uids.tolist()) == list(range(80)) and len(set(mg.hotkeys)) == 80


def test_unemulated_runtime_api_is_an_explicit_error(chain: LocalChain) -> None:
    with pytest.raises(NotImplementedError, match="does not emulate"):
        chain.query_runtime_api("NeuronInfoRuntimeApi", "get_neurons", [NETUID])


def test_a_plain_bt_metagraph_syncs_from_the_local_chain(populated: LocalChain) -> None:
    mg = bt.Metagraph(netuid=NETUID, network="localchain", sync=False)
    mg.sync(subtensor=populated)
    assert mg.hotkeys == ["V", "M1", "M2", "M3"]
    assert mg.S.tolist() == [100.0, 0.0, 0.0, 0.0] and mg.validator_permit.tolist() == [True, False, False, False]
