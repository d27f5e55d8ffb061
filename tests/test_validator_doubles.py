"""Test doubles for the validator: a scripted dendrite, a request-sensitive scorer, a local chain setup.

``FakeDendrite`` answers ``call`` per axon port with a behaviour: ``good`` (a clip of the requested
length), ``slow`` (sleeps past any deadline), ``garbage`` (invalid base64), ``silent`` (status 503,
no audio), ``rewrite`` (the same clip as ``good``, with the request fields rewritten to flatter
itself). ``EchoSensitiveScorer`` scores a clip by how well its length and the request agree, so a
scorer fed the miner's echo instead of the stored challenge would give a different number.
"""

import asyncio
import copy
import threading
import time
from types import SimpleNamespace

import numpy as np
from bittensor_wallet import Keypair

from scoring.breakdown import ScoreBreakdown
from scoring.history import MinerHistory
from tuneforge.chain import LocalChain

NETUID = 7
SAMPLE_RATE = 16_000


def make_wallet(uri: str) -> SimpleNamespace:
    """Enough of a wallet for the validator and the local chain: ``wallet.hotkey`` is a Keypair."""
    key = Keypair.create_from_uri(uri)
    return SimpleNamespace(hotkey=key, coldkeypub=key, coldkey=key)


def clip(seconds: float, *, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


class FakeDendrite:
    """Scripted miners keyed by axon port. ``calls`` records (port, synapse) pairs as sent."""

    def __init__(self, behaviours: dict[int, str], *, slow_seconds: float = 30.0) -> None:
        self.behaviours = behaviours
        self.slow_seconds = slow_seconds
        self.calls: list[tuple[int, object]] = []
        self.synapse_history: list[object] = []

    async def call(self, target_axon, synapse, timeout=12.0, deserialize=True):
        port = int(target_axon.port)
        self.calls.append((port, copy.deepcopy(synapse)))
        self.synapse_history.append(synapse)
        behaviour = self.behaviours.get(port, "good")
        reply = synapse.model_copy(deep=True)
        reply.dendrite.status_code = 200
        reply.dendrite.process_time = "0.01"
        if behaviour == "ping":
            reply.is_available = True
            return reply
        if behaviour == "busy":
            reply.is_available = False
            return reply
        if behaviour == "slow":
            await asyncio.sleep(self.slow_seconds)
        if behaviour == "silent":
            reply.dendrite.status_code = 503
            reply.dendrite.status_message = "busy"
            return reply
        if behaviour == "garbage":
            reply.audio_b64 = "!!!not base64!!!"
            return reply
        if not hasattr(reply, "attach_audio"):  # a PingSynapse for a generating miner
            reply.is_available = True
            return reply
        reply.attach_audio(clip(synapse.duration_seconds * (0.5 if behaviour in ("short", "short-rewrite") else 1.0)), SAMPLE_RATE)
        reply.model_id = f"fake-{behaviour}"
        if behaviour in ("rewrite", "short-rewrite"):
            # A cheat: claim the request was whatever the clip happens to fit.
            reply.prompt = "anything"
            reply.duration_seconds = float(len(clip(synapse.duration_seconds)) / SAMPLE_RATE) * 0.5
            reply.tempo_bpm = 300
            reply.challenge_id = "0" * 32
        return reply

    async def aclose_session(self):
        return None


class EchoSensitiveScorer:
    """``score_round`` double: 1 - relative length error vs. the request, scaled by the request's tempo.

    Records every request it is given; ``delay`` seconds of sleep per call simulate slow scoring.
    """

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.requests = []
        self.calls = 0
        self.history = MinerHistory()
        self.lock = threading.Lock()

    def score_round(self, entries):
        with self.lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        out = []
        for e in entries:
            self.requests.append(e.request)
            if e.samples is None:
                out.append(ScoreBreakdown.failed(e.error or "no audio"))
                continue
            seconds = np.asarray(e.samples).shape[-1] / float(e.sample_rate)
            fit = max(0.0, 1.0 - abs(seconds - e.request.duration_seconds) / e.request.duration_seconds)
            final = fit * (0.5 + 0.5 * min(1.0, (e.request.tempo_bpm or 120) / 300.0))
            out.append(ScoreBreakdown(signals={"attribute": fit}, composite=final, final_score=final))
            self.history.add(e.hotkey, embedding=np.ones(4, dtype=np.float32))
        return out


def local_chain(miner_behaviours: list[str], *, validator_uri: str = "//Validator"):
    """A LocalChain with subnet NETUID: the validator (uid 0, permit) and one serving miner per behaviour.

    Returns (chain, validator_wallet, {port: behaviour}, [miner hotkeys]).
    """
    chain = LocalChain(weights_rate_limit=0)
    chain.create_subnet(NETUID)
    validator = make_wallet(validator_uri)
    chain.register_neuron(NETUID, validator.hotkey.ss58_address, validator.hotkey.ss58_address, stake=1000.0,
                          validator_permit=True)
    behaviours, hotkeys = {}, []
    for i, behaviour in enumerate(miner_behaviours):
        hk = Keypair.create_from_uri(f"//Miner{i}").ss58_address
        chain.register_neuron(NETUID, hk, hk)
        port = 9000 + i
        if behaviour != "unserved":
            chain.serve_endpoint(NETUID, hk, ip="127.0.0.1", port=port)
        behaviours[port] = behaviour
        hotkeys.append(hk)
    return chain, validator, behaviours, hotkeys
