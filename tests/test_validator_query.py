"""Querying miners with a scripted dendrite: sampling, deadline, intake rejections, per-miner seeds."""

from types import SimpleNamespace

import pytest
from test_validator_doubles import NETUID, FakeDendrite, local_chain

from tuneforge.validator.challenges import ChallengeGenerator
from tuneforge.validator.query import (
    is_serving,
    ping_miners,
    query_miners,
    query_timeout,
    sample_miners,
    serving_targets,
)


def test_serving_targets_skip_self_and_unserved_axons():
    chain, validator, _, hotkeys = local_chain(["good", "unserved", "good"])
    graph = chain.metagraph(NETUID)
    targets = serving_targets(graph, own_hotkey=validator.hotkey.ss58_address)
    assert [t.hotkey for t in targets] == [hotkeys[0], hotkeys[2]]
    assert not is_serving(SimpleNamespace(ip="0.0.0.0", port=8091))
    assert not is_serving(SimpleNamespace(ip="1.2.3.4", port=0))
    assert is_serving(SimpleNamespace(ip="1.2.3.4", port=8091))


def test_sampling_is_bounded_and_reproducible():
    chain, validator, _, _ = local_chain(["good"] * 12)
    graph = chain.metagraph(NETUID)
    own = validator.hotkey.ss58_address
    a = sample_miners(graph, own_hotkey=own, sample_size=5, round_seed="r1")
    assert len(a) == 5 and [t.uid for t in a] == sorted(t.uid for t in a)
    assert [t.uid for t in a] == [t.uid for t in sample_miners(graph, own_hotkey=own, sample_size=5, round_seed="r1")]
    others = {tuple(t.uid for t in sample_miners(graph, own_hotkey=own, sample_size=5, round_seed=f"r{i}")) for i in range(10)}
    assert len(others) > 1
    with pytest.raises(ValueError):
        sample_miners(graph, own_hotkey=own, sample_size=0, round_seed="r")


def test_timeout_scales_with_duration():
    assert query_timeout(30.0, 5.0) == 30.0
    assert query_timeout(30.0, 10.0) == 30.0
    assert query_timeout(30.0, 60.0) == 180.0


async def test_deadline_cuts_off_slow_miners_and_keeps_the_others():
    chain, validator, behaviours, hotkeys = local_chain(["good", "slow", "garbage", "silent"])
    graph = chain.metagraph(NETUID)
    targets = serving_targets(graph, own_hotkey=validator.hotkey.ss58_address)
    challenge = ChallengeGenerator("k").generate(1)
    dendrite = FakeDendrite(behaviours)
    responses = await query_miners(dendrite, targets, challenge, timeout=5.0, deadline=0.5)
    by_hotkey = {r.hotkey: r for r in responses}
    good, slow, garbage, silent = (by_hotkey[h] for h in hotkeys)
    assert good.delivered and good.error is None and good.audio_format == "wav" and good.rtt_seconds is not None
    assert good.audio.duration_seconds == pytest.approx(challenge.duration_seconds)
    assert good.audio_bytes[:4] == b"RIFF" and good.model_id == "fake-good" and good.process_time_s == 0.01
    assert not slow.delivered and "deadline" in slow.error and slow.rtt_seconds is None
    assert not garbage.delivered and garbage.reject_reason == "bad_base64" and garbage.error.startswith("rejected")
    assert not silent.delivered and "503" in silent.error
    assert dendrite.synapse_history == []  # cleared every round
    seeds = {port: syn.seed for port, syn in dendrite.calls}
    assert len(set(seeds.values())) == 4
    assert {syn.prompt for _, syn in dendrite.calls} == {challenge.prompt}
    assert all(syn.time_signature == challenge.time_signature and not syn.is_organic for _, syn in dendrite.calls)


async def test_ping_reports_availability():
    chain, validator, behaviours, hotkeys = local_chain(["ping", "busy", "slow"])
    targets = serving_targets(chain.metagraph(NETUID), own_hotkey=validator.hotkey.ss58_address)
    available = await ping_miners(FakeDendrite(behaviours, slow_seconds=5.0), targets, timeout=0.2)
    assert available == {1: True, 2: False, 3: False}
