"""Test doubles for the miner tests: a fake chain (metagraph + subtensor) and a sine backend.

The fake subtensor implements the part of the bittensor 10.5 ``Subtensor`` interface the miner
uses (``metagraph``, ``serve_axon``, ``get_current_block``, ``is_hotkey_registered``); its
metagraph exposes the ``bt.Metagraph`` attribute names the miner reads. The sine backend
implements the ``GenerationBackend`` protocol and can be slowed or held on an event to drive
the engine's queue and deadline logic deterministically.
"""

import threading
from dataclasses import dataclass, field

import numpy as np

from tuneforge.generation.base import GeneratedAudio
from tuneforge.spec import MusicSpec


@dataclass
class FakeAxonInfo:
    ip: str = "0.0.0.0"
    port: int = 0


@dataclass
class FakeNeuron:
    hotkey: str
    validator_permit: bool
    stake: float
    axon: FakeAxonInfo = field(default_factory=FakeAxonInfo)


class FakeMetagraph:
    """The ``bt.Metagraph`` attributes the miner reads: hotkeys, validator_permit, S, axons, n."""

    def __init__(self, neurons: list[FakeNeuron]) -> None:
        self.hotkeys = [n.hotkey for n in neurons]
        self.validator_permit = np.array([n.validator_permit for n in neurons], dtype=bool)
        self.S = np.array([n.stake for n in neurons], dtype=np.float32)
        self.axons = [FakeAxonInfo(n.axon.ip, n.axon.port) for n in neurons]
        self.n = len(neurons)


class FakeSubtensor:
    """An in-memory chain with one subnet."""

    def __init__(self, netuid: int = 234) -> None:
        self.netuid = netuid
        self.neurons: list[FakeNeuron] = []
        self.block = 100
        self.serve_calls: list[tuple[str, int]] = []
        self.metagraph_calls = 0
        self.fail_metagraph = False

    def register(self, hotkey: str, *, validator_permit: bool = False, stake: float = 0.0) -> int:
        self.neurons.append(FakeNeuron(hotkey, validator_permit, stake))
        return len(self.neurons) - 1

    def metagraph(self, netuid: int, mechid: int = 0, lite: bool = True, block: int | None = None) -> FakeMetagraph:
        assert netuid == self.netuid
        self.metagraph_calls += 1
        if self.fail_metagraph:
            raise ConnectionError("chain unreachable")
        return FakeMetagraph(self.neurons)

    def get_current_block(self) -> int:
        self.block += 1
        return self.block

    def is_hotkey_registered(self, hotkey_ss58: str, netuid: int | None = None, block: int | None = None) -> bool:
        return any(n.hotkey == hotkey_ss58 for n in self.neurons)

    def serve_axon(self, netuid: int, axon, **kwargs) -> tuple[bool, str]:
        hotkey = axon.wallet.hotkey.ss58_address
        for n in self.neurons:
            if n.hotkey == hotkey:
                n.axon = FakeAxonInfo(axon.external_ip, int(axon.external_port))
                self.serve_calls.append((axon.external_ip, int(axon.external_port)))
                return True, ""
        return False, "hotkey not registered"


class SineBackend:
    """Renders a 440 Hz stereo sine of exactly the requested length.

    ``delay_s`` sleeps before returning; ``gate`` (a threading.Event) holds every call until
    set; ``started`` is set when a call begins; ``fail`` makes calls raise.
    """

    name = "sine"
    model_id = "test-sine"
    max_duration_seconds = 30.0

    def __init__(self, *, sample_rate: int = 16_000, device: str = "cpu", delay_s: float = 0.0) -> None:
        self.sample_rate = sample_rate
        self.device = device
        self.delay_s = delay_s
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.fail = False
        self.calls: list[MusicSpec] = []

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        self.calls.append(spec)
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10.0)
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        if self.fail:
            raise RuntimeError("synth exploded")
        frames = int(round(spec.duration_seconds * self.sample_rate))
        t = np.arange(frames, dtype=np.float64) / self.sample_rate
        tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        return GeneratedAudio(samples=np.stack([tone, tone]), sample_rate=self.sample_rate, model_id=self.model_id)

    def supported_genres(self) -> list[str]:
        return ["ambient", "jazz"]
