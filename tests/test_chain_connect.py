"""tuneforge.chain.connect / add_args: local chain singleton and real-subtensor endpoint choice."""

import argparse

import bittensor as bt
import pytest

from tuneforge import chain as chain_mod
from tuneforge.chain import LocalChain, add_args, connect, get_local_chain, reset_local_chain


@pytest.fixture(autouse=True)
def fresh_singleton():
    reset_local_chain()
    yield
    reset_local_chain()


def test_localchain_and_mock_share_the_process_singleton() -> None:
    a = connect("localchain")
    b = connect("mock", chain_endpoint="ws://ignored:1")
    assert isinstance(a, LocalChain) and a is b is get_local_chain()
    a.create_subnet(3)
    reset_local_chain()
    assert not connect("localchain").subnet_exists(3)


def test_empty_network_is_an_error() -> None:
    with pytest.raises(ValueError, match="no chain network"):
        connect("  ")


@pytest.mark.parametrize(
    ("network", "endpoint", "expected"),
    [
        ("test", None, "test"),
        ("finney", "wss://entrypoint-finney.opentensor.ai:443", "finney"),  # argparse default: not an override
        ("test", "wss://entrypoint-finney.opentensor.ai:443", "test"),
        ("local", "ws://127.0.0.1:9944", "ws://127.0.0.1:9944"),
        ("finney", "ws://10.0.0.5:9944", "ws://10.0.0.5:9944"),
    ],
)
def test_real_networks_build_a_subtensor(monkeypatch, network, endpoint, expected) -> None:
    built = []

    class FakeSubtensor:
        def __init__(self, network: str) -> None:
            built.append(network)

    monkeypatch.setattr(bt, "Subtensor", FakeSubtensor)
    assert isinstance(connect(network, endpoint), FakeSubtensor)
    assert built == [expected]


def test_add_args_accepts_localchain_and_documents_it() -> None:
    parser = argparse.ArgumentParser()
    add_args(parser)
    add_args(parser)  # a second call is harmless
    args = parser.parse_args(["--subtensor.network", "localchain"])
    assert getattr(args, "subtensor.network") == "localchain"
    assert "localchain" in parser.format_help()


def test_connect_from_config() -> None:
    config = argparse.Namespace(subtensor=argparse.Namespace(network="localchain", chain_endpoint=None))
    assert chain_mod.connect_from_config(config) is get_local_chain()
