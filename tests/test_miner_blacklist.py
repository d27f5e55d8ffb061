"""Caller rules: unregistered, no validator permit, too little stake; ping open to registered hotkeys."""

import numpy as np
import pytest
from test_miner_doubles import FakeMetagraph, FakeNeuron

from tuneforge.miner.blacklist import CallerPolicy, CallerRegistry


@pytest.fixture
def registry() -> CallerRegistry:
    graph = FakeMetagraph(
        [
            FakeNeuron("5Miner", validator_permit=False, stake=0.0),
            FakeNeuron("5BigValidator", validator_permit=True, stake=5000.0),
            FakeNeuron("5SmallValidator", validator_permit=True, stake=20.0),
            FakeNeuron("5RichMiner", validator_permit=False, stake=9000.0),
        ]
    )
    return CallerRegistry.from_metagraph(graph, block=42)


def test_registry_indexes_the_metagraph(registry):
    assert len(registry) == 4
    assert registry.block == 42
    record = registry.get("5SmallValidator")
    assert (record.uid, record.validator_permit, record.stake) == (2, True, 20.0)
    assert registry.get("5Nobody") is None
    assert registry.get(None) is None


def test_unregistered_hotkey_is_refused(registry):
    refused, reason = CallerPolicy().check_generation("5Nobody", registry).as_tuple()
    assert refused
    assert "not registered" in reason


def test_missing_hotkey_is_refused(registry):
    refused, reason = CallerPolicy().check_generation(None, registry).as_tuple()
    assert refused and "<none>" in reason


def test_validator_is_allowed(registry):
    assert CallerPolicy().check_generation("5BigValidator", registry).refused is False


def test_no_permit_is_refused_unless_allowed(registry):
    verdict = CallerPolicy().check_generation("5RichMiner", registry)
    assert verdict.refused and "no validator permit" in verdict.reason
    assert CallerPolicy(allow_non_validators=True).check_generation("5RichMiner", registry).refused is False


def test_stake_below_minimum_is_refused(registry):
    policy = CallerPolicy(min_stake=100.0)
    verdict = policy.check_generation("5SmallValidator", registry)
    assert verdict.refused and "stake 20 < minimum 100" in verdict.reason
    assert policy.check_generation("5BigValidator", registry).refused is False
    # Allowing non-validators does not waive the stake rule.
    lenient = CallerPolicy(min_stake=100.0, allow_non_validators=True)
    assert lenient.check_generation("5Miner", registry).refused
    assert not lenient.check_generation("5RichMiner", registry).refused


def test_ping_is_open_to_any_registered_hotkey(registry):
    policy = CallerPolicy(min_stake=100.0)
    assert policy.check_ping("5Miner", registry).refused is False
    assert policy.check_ping("5Nobody", registry).refused is True


def test_priority_is_stake(registry):
    assert CallerPolicy.priority("5BigValidator", registry) == 5000.0
    assert CallerPolicy.priority("5Nobody", registry) == 0.0


def test_empty_registry_refuses_everyone():
    assert CallerPolicy().check_generation("5BigValidator", CallerRegistry()).refused


def test_inconsistent_metagraph_is_rejected():
    graph = FakeMetagraph([FakeNeuron("5A", True, 1.0)])
    graph.S = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="metagraph arrays disagree"):
        CallerRegistry.from_metagraph(graph)
