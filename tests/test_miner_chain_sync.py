"""Background metagraph re-sync and keeping the on-chain axon record current."""

import threading
from types import SimpleNamespace

import pytest
from test_miner_doubles import FakeSubtensor

from tuneforge.miner.chain_sync import AxonPublisher, ChainSync, extrinsic_outcome


class StubAxon:
    """What serve_axon and the publisher read from a bt.Axon."""

    def __init__(self, hotkey: str, ip: str = "127.0.0.1", port: int = 8091) -> None:
        self.wallet = SimpleNamespace(hotkey=SimpleNamespace(ss58_address=hotkey))
        self.external_ip = ip
        self.external_port = port


@pytest.fixture
def chain():
    chain = FakeSubtensor()
    chain.register("5Miner")
    chain.register("5Validator", validator_permit=True, stake=1000.0)
    return chain


def test_step_publishes_registry_and_uid(chain):
    sync = ChainSync(subtensor=chain, netuid=234, hotkey="5Miner", interval_s=60)
    registry = sync.run_step()
    assert sync.uid == 0
    assert sync.registry is registry
    assert registry.get("5Validator").validator_permit
    assert sync.block == chain.block


def test_new_registration_is_seen_at_next_step(chain):
    sync = ChainSync(subtensor=chain, netuid=234, hotkey="5Miner", interval_s=60)
    sync.run_step()
    chain.register("5NewValidator", validator_permit=True, stake=10.0)
    assert sync.registry.get("5NewValidator") is None
    sync.run_step()
    assert sync.registry.get("5NewValidator").uid == 2


def test_deregistration_clears_uid(chain):
    sync = ChainSync(subtensor=chain, netuid=234, hotkey="5Miner", interval_s=60)
    sync.run_step()
    chain.neurons[0].hotkey = "5Replacement"
    sync.run_step()
    assert sync.uid is None


def test_background_loop_keeps_old_snapshot_on_failure_and_recovers(chain):
    stepped = threading.Event()
    sync = ChainSync(subtensor=chain, netuid=234, hotkey="5Miner", interval_s=0.01, on_step=lambda s: stepped.set())
    sync.run_step()
    before = sync.registry
    stepped.clear()
    chain.fail_metagraph = True
    sync.start()
    try:
        for _ in range(500):
            if sync.consecutive_failures >= 2:
                break
            threading.Event().wait(0.01)
        assert sync.consecutive_failures >= 2
        assert "chain unreachable" in sync.last_error
        assert sync.registry is before  # stale but intact
        chain.fail_metagraph = False
        assert stepped.wait(10)
    finally:
        sync.stop()
    assert sync.registry is not before


def test_publisher_serves_when_chain_record_differs(chain):
    axon = StubAxon("5Miner", "127.0.0.1", 9001)
    publisher = AxonPublisher(subtensor=chain, netuid=234, axon=axon)
    assert publisher.reconcile(chain.metagraph(234), 0) is True
    assert chain.serve_calls == [("127.0.0.1", 9001)]
    assert publisher.reconcile(chain.metagraph(234), 0) is False  # now equal: no second serve
    assert chain.serve_calls == [("127.0.0.1", 9001)]


def test_publisher_reserves_after_external_ip_change(chain):
    addresses = iter(["127.0.0.1", "127.0.0.1", "10.1.2.3"])
    axon = StubAxon("5Miner", "127.0.0.1", 9001)
    sync = ChainSync(subtensor=chain, netuid=234, hotkey="5Miner", interval_s=60)
    sync.publisher = AxonPublisher(subtensor=chain, netuid=234, axon=axon, detect_ip=lambda: next(addresses))
    sync.run_step()
    sync.run_step()
    assert chain.serve_calls == [("127.0.0.1", 9001)]
    sync.run_step()
    assert axon.external_ip == "10.1.2.3"
    assert chain.serve_calls[-1] == ("10.1.2.3", 9001)


def test_failed_ip_lookup_keeps_last_address(chain):
    def broken() -> str:
        raise OSError("offline")

    axon = StubAxon("5Miner", "127.0.0.1", 9001)
    publisher = AxonPublisher(subtensor=chain, netuid=234, axon=axon, detect_ip=broken)
    publisher.reconcile(chain.metagraph(234), 0)
    assert axon.external_ip == "127.0.0.1"
    assert chain.serve_calls == [("127.0.0.1", 9001)]


def test_serve_failure_is_reported_not_raised(chain):
    axon = StubAxon("5Unregistered")
    publisher = AxonPublisher(subtensor=chain, netuid=234, axon=axon)
    assert publisher.serve() is False
    assert publisher.serve_count == 0


@pytest.mark.parametrize(
    "response, expected",
    [
        (True, (True, "")),
        ((False, "rate limited"), (False, "rate limited")),
        (SimpleNamespace(success=False, message="nope"), (False, "nope")),
        (SimpleNamespace(success=True, message=None), (True, "")),
    ],
)
def test_extrinsic_outcome(response, expected):
    assert extrinsic_outcome(response) == expected
