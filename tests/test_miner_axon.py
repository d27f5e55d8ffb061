"""End-to-end: a real bittensor axon on 127.0.0.1 queried by a real ``bt.Dendrite``.

The chain is the fake subtensor from ``test_miner_doubles``; the backend renders a sine. The
external-IP lookup is pinned before any dendrite is built, so nothing leaves the machine.
"""

import asyncio
import threading

import bittensor as bt
import pytest
from bittensor_wallet import Keypair
from network_synapses import network_class
from pydantic import Field
from test_miner_doubles import FakeSubtensor, SineBackend

import tuneforge
from tuneforge.audio.intake import decode_audio_b64
from tuneforge.miner.config import MinerConfig
from tuneforge.miner.neuron import Miner
from tuneforge.netutils import PortInUse, free_port, pinned_external_ip
from tuneforge.protocol import HealthReportSynapse, MusicGenerationSynapse, PingSynapse

VALIDATOR = Keypair.create_from_uri("//Bob")
NON_VALIDATOR = Keypair.create_from_uri("//Dave")
STRANGER = Keypair.create_from_uri("//Charlie")


@pytest.fixture(scope="module", autouse=True)
def _offline_ip():
    with pinned_external_ip("127.0.0.1"):
        yield


@pytest.fixture(scope="module")
def miner_wallet(tmp_path_factory):
    wallet = bt.Wallet(name="miner", hotkey="default", path=str(tmp_path_factory.mktemp("wallets")))
    wallet.create_coldkey_from_uri("//Alice", use_password=False, overwrite=True, suppress=True)
    wallet.create_hotkey_from_uri("//Alice//miner", use_password=False, overwrite=True, suppress=True)
    return wallet


def _chain(miner_wallet) -> FakeSubtensor:
    chain = FakeSubtensor(netuid=234)
    chain.register(miner_wallet.hotkey.ss58_address)
    chain.register(VALIDATOR.ss58_address, validator_permit=True, stake=5000.0)
    chain.register(NON_VALIDATOR.ss58_address, validator_permit=False, stake=5000.0)
    return chain


@pytest.fixture
def served(miner_wallet):
    """A started miner on a free loopback port, its chain and backend; stopped afterwards."""
    chain = _chain(miner_wallet)
    backend = SineBackend()
    config = MinerConfig(
        axon_ip="127.0.0.1",
        axon_external_ip="127.0.0.1",
        queue_size=1,
        timeout_margin_s=0.5,
        warmup_seconds=1.0,
        resync_interval_s=60.0,
    )
    miner = Miner(config, wallet=miner_wallet, subtensor=chain, backend=backend, port=free_port())
    miner.start()
    try:
        yield miner, chain, backend
    finally:
        if backend.gate is not None:
            backend.gate.set()
        miner.stop()


async def _query(keypair, miner, synapse, timeout):
    dendrite = bt.Dendrite(wallet=keypair)
    try:
        responses = await dendrite(axons=[miner.axon.info()], synapse=synapse, timeout=timeout, deserialize=False)
    finally:
        await dendrite.aclose_session()
    return responses[0]


def test_start_serves_axon_on_chain(served):
    miner, chain, _ = served
    assert miner.uid == 0
    assert chain.serve_calls == [("127.0.0.1", miner.port)]


async def test_valid_caller_gets_audio_of_requested_length(served):
    miner, _, backend = served
    request = MusicGenerationSynapse(prompt="calm jazz piano", duration_seconds=2.5, seed=7, challenge_id="c1")
    response = await _query(VALIDATOR, miner, request, timeout=10.0)
    assert response.dendrite.status_code == 200, response.dendrite.status_message
    clip = decode_audio_b64(response.audio_b64)
    assert clip.sample_rate == backend.sample_rate
    assert clip.samples.shape == (2, int(2.5 * backend.sample_rate))
    assert response.sample_rate == backend.sample_rate
    assert response.model_id == "test-sine"
    assert response.generation_time_ms is not None and response.generation_time_ms >= 0
    assert backend.calls[-1].seed == 7


@pytest.mark.parametrize("caller", [STRANGER, NON_VALIDATOR], ids=["unregistered", "no-permit"])
async def test_blacklisted_caller_is_refused(served, caller):
    miner, _, backend = served
    calls_before = len(backend.calls)
    response = await _query(caller, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0)
    assert response.dendrite.status_code == 403
    assert response.audio_b64 is None
    assert len(backend.calls) == calls_before


async def test_ping_open_to_registered_non_validator(served):
    miner, _, _ = served
    response = await _query(NON_VALIDATOR, miner, PingSynapse(version_check="0.1.0"), timeout=10.0)
    assert response.dendrite.status_code == 200
    assert response.is_available is True
    assert response.supported_genres == ["ambient", "jazz"]
    assert response.supported_durations == [5.0, 10.0, 15.0, 20.0, 30.0]  # the network's form, capped at 30 s
    assert response.max_concurrent == 1
    assert response.gpu_model == "N/A"
    assert response.version == tuneforge.__version__
    refused = await _query(STRANGER, miner, PingSynapse(), timeout=10.0)
    assert refused.dendrite.status_code == 403


async def test_health_report_over_the_wire(served):
    miner, _, _ = served
    await _query(VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0)
    report = await _query(VALIDATOR, miner, HealthReportSynapse(), timeout=10.0)
    assert report.dendrite.status_code == 200
    assert report.generations_completed == 1  # the warm-up is not a served generation
    assert report.errors_last_hour == 0
    assert report.uptime_seconds > 0
    assert report.gpu_utilization == 0.0 and report.gpu_memory_used_mb == 0.0  # no GPU: 0, never null
    assert report.average_generation_time_ms > 0
    assert 0 < report.memory_percent <= 100


async def test_request_that_cannot_finish_in_time_is_answered_empty_not_late(served):
    miner, _, backend = served
    backend.gate = threading.Event()  # the generation cannot finish until the test says so
    request = MusicGenerationSynapse(duration_seconds=1.0, challenge_id="slow")
    response = await _query(VALIDATOR, miner, request, timeout=2.0)
    # The miner gives up at timeout - margin and answers without audio; on a starved machine the
    # dendrite may time out first (408). Either way no audio arrives after the deadline.
    assert response.audio_b64 is None
    assert response.dendrite.status_code in (200, 408)
    assert miner.stats.snapshot().gave_up == 1
    backend.gate.set()


async def test_full_queue_refuses_at_once_over_the_wire(served):
    miner, _, backend = served
    backend.gate = threading.Event()
    backend.started.clear()
    first = asyncio.ensure_future(_query(VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0))
    await asyncio.to_thread(backend.started.wait, 5.0)  # device busy
    second = asyncio.ensure_future(_query(VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0))
    while miner.engine.queue_depth < 1:  # the queue (size 1) now holds the second job
        await asyncio.sleep(0.01)
    third = await _query(VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0)
    assert third.dendrite.status_code == 200
    assert third.audio_b64 is None
    assert miner.stats.snapshot().refused_busy == 1
    backend.gate.set()
    done = await asyncio.gather(first, second)
    assert all(r.audio_b64 is not None for r in done)


def test_busy_port_fails_loudly(served, miner_wallet):
    miner, chain, _ = served
    other = Miner(
        MinerConfig(axon_ip="127.0.0.1", axon_external_ip="127.0.0.1", warmup_seconds=0),
        wallet=miner_wallet,
        subtensor=chain,
        backend=SineBackend(),
        port=miner.port,
    )
    with pytest.raises(PortInUse):
        other.start()
    assert not other.started


async def test_miner_on_the_local_chain(miner_wallet):
    """The same miner against tuneforge.chain's LocalChain, whose metagraph is a real bt.Metagraph."""
    from tuneforge.chain import LocalChain

    chain = LocalChain()
    chain.create_subnet(234)
    coldkey = miner_wallet.coldkeypub.ss58_address
    chain.register_neuron(234, miner_wallet.hotkey.ss58_address, coldkey, stake=0.0, validator_permit=False)
    chain.register_neuron(234, VALIDATOR.ss58_address, coldkey, stake=2000.0, validator_permit=True)
    chain.register_neuron(234, NON_VALIDATOR.ss58_address, coldkey, stake=2000.0, validator_permit=False)
    config = MinerConfig(axon_ip="127.0.0.1", axon_external_ip="127.0.0.1", min_stake=1000.0, warmup_seconds=1.0)
    miner = Miner(config, wallet=miner_wallet, subtensor=chain, backend=SineBackend(), port=free_port())
    miner.start()
    try:
        graph = chain.metagraph(234)
        assert (graph.axons[0].ip, graph.axons[0].port) == ("127.0.0.1", miner.port)
        ok = await _query(VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0)
        assert decode_audio_b64(ok.audio_b64).samples.shape == (2, 16_000)
        refused = await _query(NON_VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0)
        assert refused.dendrite.status_code == 403
        chain.set_stake(234, VALIDATOR.ss58_address, 10.0)  # drops below --blacklist.min_stake
        miner.sync.run_step()  # what the background loop does every --neuron.resync_interval
        low = await _query(VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0)
        assert low.dendrite.status_code == 403
    finally:
        miner.stop()
        chain.close()


async def test_ping_before_start_reports_unavailable(miner_wallet):
    miner = Miner(MinerConfig(), wallet=miner_wallet, subtensor=FakeSubtensor(), backend=SineBackend())
    ping = await miner.forward_ping(PingSynapse())
    assert ping.is_available is False
    assert ping.version == tuneforge.__version__


def test_unregistered_miner_does_not_start(miner_wallet):
    miner = Miner(
        MinerConfig(axon_ip="127.0.0.1", axon_external_ip="127.0.0.1"),
        wallet=miner_wallet,
        subtensor=FakeSubtensor(),
        backend=SineBackend(),
        port=free_port(),
    )
    from tuneforge.miner.neuron import MinerNotRegistered

    with pytest.raises(MinerNotRegistered, match="btcli subnet register"):
        miner.start()
    assert miner.axon is None


async def test_stop_frees_the_port_and_the_miner_restarts(miner_wallet):
    chain = _chain(miner_wallet)
    config = MinerConfig(axon_ip="127.0.0.1", axon_external_ip="127.0.0.1", warmup_seconds=0)
    miner = Miner(config, wallet=miner_wallet, subtensor=chain, backend=SineBackend(), port=free_port())
    miner.start()
    miner.stop()
    assert not miner.started
    miner.start()  # same port, fresh engine and sync loop
    try:
        response = await _query(VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0)
        assert response.audio_b64 is not None
    finally:
        miner.stop()
    assert len(chain.serve_calls) == 1  # the chain record already matched on restart: no second serve


# -- interop with the network's own classes (tests/network_synapses.py) ----------------------------


async def test_networks_dendrite_reads_our_health_report_and_ping(served):
    """A validator built like the network's (its classes, a real dendrite) gets 200 and numbers, not a 422."""
    miner, _, _ = served
    await _query(VALIDATOR, miner, MusicGenerationSynapse(duration_seconds=1.0), timeout=10.0)
    report = await _query(VALIDATOR, miner, network_class("HealthReportSynapse")(), timeout=10.0)
    assert report.dendrite.status_code == 200, report.dendrite.status_message
    assert type(report).__name__ == "HealthReportSynapse" and not isinstance(report, HealthReportSynapse)
    assert report.generations_completed == 1 and report.gpu_utilization == 0.0 and report.uptime_seconds > 0
    ping = await _query(VALIDATOR, miner, network_class("PingSynapse")(version_check="1.0.0"), timeout=10.0)
    assert ping.dendrite.status_code == 200, ping.dendrite.status_message
    assert ping.is_available is True and ping.supported_durations == [5.0, 10.0, 15.0, 20.0, 30.0]


class _OldHealthReport(bt.Synapse):
    """HealthReportSynapse as earlier TuneForge miners declared it: every field optional, None by default."""

    gpu_utilization: float | None = Field(None, ge=0, le=100)
    gpu_memory_used_mb: float | None = Field(None, ge=0)
    cpu_percent: float | None = Field(None, ge=0, le=100)
    memory_percent: float | None = Field(None, ge=0, le=100)
    generations_completed: int | None = Field(None, ge=0)
    average_generation_time_ms: float | None = Field(None, ge=0)
    uptime_seconds: float | None = Field(None, ge=0)
    errors_last_hour: int | None = Field(None, ge=0)


_OldHealthReport.__name__ = _OldHealthReport.__qualname__ = "HealthReportSynapse"
_NetworkHealth = network_class("HealthReportSynapse")


async def _network_health(synapse: _NetworkHealth) -> _NetworkHealth:
    synapse.cpu_percent = 7.5
    synapse.generations_completed = 2
    return synapse


async def _old_health(synapse: _OldHealthReport) -> _OldHealthReport:
    synapse.generations_completed = 5  # everything else left None, as the old miner did without a GPU
    return synapse


@pytest.mark.parametrize(
    ("handler", "expected"),
    [(_network_health, {"cpu_percent": 7.5, "generations_completed": 2, "gpu_utilization": 0.0}),
     (_old_health, {"cpu_percent": 0.0, "generations_completed": 5, "average_generation_time_ms": 0.0})],
    ids=["network-miner", "old-tuneforge-miner"],
)
async def test_our_dendrite_reads_network_and_old_miners_health(miner_wallet, handler, expected):
    """Our validator's class rebuilds a report from a miner built like the network's, and from our old nulls."""
    axon = bt.Axon(wallet=miner_wallet, port=free_port(), ip="127.0.0.1", external_ip="127.0.0.1")
    axon.attach(forward_fn=handler)
    from tuneforge.netutils import bind_axon_host, start_axon, stop_axon

    bind_axon_host(axon, "127.0.0.1")
    start_axon(axon, host="127.0.0.1")
    dendrite = bt.Dendrite(wallet=VALIDATOR)
    try:
        responses = await dendrite(axons=[axon.info()], synapse=HealthReportSynapse(), timeout=10.0, deserialize=False)
    finally:
        await dendrite.aclose_session()
        stop_axon(axon, host="127.0.0.1")
    report = responses[0]
    assert report.dendrite.status_code == 200, report.dendrite.status_message
    assert isinstance(report, HealthReportSynapse)
    for name, value in expected.items():
        assert getattr(report, name) == value, name
