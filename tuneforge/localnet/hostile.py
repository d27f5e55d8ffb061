"""Hostile miners for the local network: real axons that misbehave the ways the incentive must survive.

Each :class:`HostileMiner` is a full ``tuneforge.miner.neuron.Miner`` (registered, serving a
bittensor axon on 127.0.0.1, rendering with the procedural backend) whose generation handler
cheats in one way (``tuneforge localnet --hostile KIND[,KIND...]``):

=================  ===========================================================================
kind               what it sends back
=================  ===========================================================================
oversized-float    its clip as a float32 WAV scaled to finite samples of about 1e18
disguised-copy     a relay: it asks an honest miner's axon for the same request through its own
                   dendrite, with the honest miner's own seed (the worst case: a relayer that
                   knows the victim's seed, as any miner could compute before round seeds were
                   keyed with the validator's secret), then disguises the clip (a 3 % time-stretch
                   and a float gain of ×0.5) and returns it as a float32 WAV. The issue's ×100
                   float gain is no disguise any more: the intake clips it to full scale and the
                   square wave left earns nothing (``tests/test_hostile_audio.py``); an attacker
                   keeps the copy intact, so only copy detection can stop it
late               an honest clip, one second after the request's timeout
garbage-base64     text that is not base64
rewritten-echo     a 40 % length clip of another prompt, with the request fields in its reply
                   rewritten to match it (shorter duration, other prompt, tempo, challenge id)
wrong-length       an honest clip 30 % as long as requested
crash              alternately raises in its handler (HTTP 500) and drops the connection
                   mid-response (a truncated body)
mute-in-mono       stereo with R = −L: loud in each channel, silent on a mono speaker
=================  ===========================================================================

None of them may earn anything; the honest miners' scores must not move (see docs/localnet.md).
"""

import asyncio
import base64
import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bittensor as bt
import numpy as np
import soundfile as sf

from tuneforge.localnet.hostile_kinds import HOSTILE_KINDS, parse_hostile_kinds
from tuneforge.miner.neuron import Miner
from tuneforge.protocol import MusicGenerationSynapse
from tuneforge.spec import spec_from_synapse

__all__ = ["HOSTILE_KINDS", "HostileMiner", "RelayTarget", "parse_hostile_kinds"]

log = logging.getLogger(__name__)

#: Gain of the oversized float clip: finite in float32, far beyond full scale.
OVERSIZED_GAIN = 1e18
#: The disguise of a relayed copy: float gain (within full scale: the intake clips beyond it)
#: and time-stretch rate (> 1 is faster, shorter).
COPY_GAIN = 0.5
COPY_STRETCH = 1.03
#: Length of the wrong-length clip and of the rewritten-echo clip, as a share of the request.
WRONG_LENGTH_SHARE = 0.3
ECHO_SHARE = 0.4
GENERATION_PATH = f"/{MusicGenerationSynapse.__name__}"


@dataclass(frozen=True)
class RelayTarget:
    """Whom ``disguised-copy`` relays: the victim's ``AxonInfo`` and hotkey, and ``seed_of`` —
    ``(challenge_id, hotkey) -> seed | None``, the seed the validator sent that hotkey."""

    axon: Any
    hotkey: str
    seed_of: Callable[[str, str], int | None]


class HostileMiner(Miner):
    """A miner whose generation handler cheats as ``kind`` says (see the module docstring).

    ``relay`` is required for ``disguised-copy``. ``requests`` counts generation requests seen.
    """

    def __init__(self, *args: Any, kind: str, relay: RelayTarget | None = None, **kwargs: Any) -> None:
        if kind not in HOSTILE_KINDS:
            raise ValueError(f"unknown hostile kind {kind!r}")
        if kind == "disguised-copy" and relay is None:
            raise ValueError("disguised-copy needs a relay target (an honest miner)")
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.relay = relay
        self.requests = 0
        self._count_lock = threading.Lock()

    # -- wiring -----------------------------------------------------------------------------
    def _attach_handlers(self, axon: Any) -> None:
        super()._attach_handlers(axon)
        if self.kind == "crash":  # it sees (and counts) every generation request first
            axon.fast_server.config.app = _DropEveryOtherResponse(axon.fast_server.config.app, self._next_request)

    def _next_request(self) -> int:
        with self._count_lock:
            self.requests += 1
            return self.requests

    async def forward_generation(self, synapse: MusicGenerationSynapse) -> MusicGenerationSynapse:
        n = self.requests if self.kind == "crash" else self._next_request()
        log.info("hostile %s: request %d (%s)", self.kind, n, synapse.challenge_id or "-")
        handler = getattr(self, "_" + self.kind.replace("-", "_"))
        return await handler(synapse, n)

    # -- helpers ----------------------------------------------------------------------------
    async def _render(self, synapse: MusicGenerationSynapse, *, share: float = 1.0, prompt: str | None = None,
                      seed: int | None = None) -> tuple[np.ndarray, int]:
        """Render (part of) the request with the procedural engine: float32 ``(channels, frames)``, rate."""
        spec = spec_from_synapse(synapse)
        changes: dict[str, Any] = {}
        if share != 1.0:
            changes["duration_seconds"] = max(1.0, round(spec.duration_seconds * share, 2))
        if prompt is not None:
            changes["prompt"] = prompt
        if seed is not None:
            changes["seed"] = seed
        if changes:
            from dataclasses import replace

            spec = replace(spec, **changes)
        assert self.engine is not None
        result = await self.engine.generate(spec, deadline=self._deadline_for(synapse))
        return np.asarray(result.audio.samples, dtype=np.float32), int(result.audio.sample_rate)

    @staticmethod
    def _float_wav(samples: np.ndarray, sample_rate: int) -> str:
        buf = io.BytesIO()
        sf.write(buf, np.asarray(samples, dtype=np.float32).T, sample_rate, format="WAV", subtype="FLOAT")
        return base64.b64encode(buf.getvalue()).decode("ascii")

    def _sign(self, synapse: MusicGenerationSynapse, sample_rate: int | None, model: str) -> MusicGenerationSynapse:
        synapse.sample_rate = sample_rate
        synapse.model_id = f"hostile-{model}"
        synapse.generation_time_ms = 1
        return synapse

    # -- the kinds --------------------------------------------------------------------------
    async def _oversized_float(self, synapse: MusicGenerationSynapse, n: int) -> MusicGenerationSynapse:
        samples, rate = await self._render(synapse)
        huge = (samples * np.float32(OVERSIZED_GAIN)).astype(np.float32)
        synapse.audio_b64 = self._float_wav(huge, rate)
        return self._sign(synapse, rate, self.kind)

    async def _disguised_copy(self, synapse: MusicGenerationSynapse, n: int) -> MusicGenerationSynapse:
        assert self.relay is not None
        victim_seed = self.relay.seed_of(synapse.challenge_id, self.relay.hotkey)
        request = MusicGenerationSynapse(
            prompt=synapse.prompt, genre=synapse.genre, mood=synapse.mood, tempo_bpm=synapse.tempo_bpm,
            duration_seconds=synapse.duration_seconds, key_signature=synapse.key_signature,
            time_signature=synapse.time_signature, instruments=synapse.instruments,
            seed=synapse.seed if victim_seed is None else int(victim_seed), challenge_id=synapse.challenge_id,
            lyrics=synapse.lyrics, vocals_requested=synapse.vocals_requested, is_organic=synapse.is_organic,
        )
        dendrite = bt.Dendrite(wallet=self.wallet)
        try:
            reply = await dendrite.call(target_axon=self.relay.axon, synapse=request,
                                        timeout=max(1.0, float(synapse.timeout or 12.0) - 0.5), deserialize=False)
        finally:
            await dendrite.aclose_session()
        if not reply.audio_b64:
            log.info("hostile disguised-copy: the victim sent nothing (%s)", getattr(reply.dendrite, "status_message", ""))
            return self._sign(synapse, None, self.kind)
        data, rate = sf.read(io.BytesIO(base64.b64decode(reply.audio_b64)), dtype="float32", always_2d=True)
        synapse.audio_b64 = self._float_wav(_disguise(data.T), int(rate))
        return self._sign(synapse, int(rate), self.kind)

    async def _late(self, synapse: MusicGenerationSynapse, n: int) -> MusicGenerationSynapse:
        samples, rate = await self._render(synapse)
        await asyncio.sleep(float(synapse.timeout or 12.0) + 1.0)
        await asyncio.to_thread(synapse.attach_audio, samples, rate)
        return self._sign(synapse, rate, self.kind)

    async def _garbage_base64(self, synapse: MusicGenerationSynapse, n: int) -> MusicGenerationSynapse:
        synapse.audio_b64 = "!!not base64!! " + "%$#@" * 512
        return self._sign(synapse, 44_100, self.kind)

    async def _rewritten_echo(self, synapse: MusicGenerationSynapse, n: int) -> MusicGenerationSynapse:
        cheap = "slow ambient drone, no drums"
        samples, rate = await self._render(synapse, share=ECHO_SHARE, prompt=cheap)
        await asyncio.to_thread(synapse.attach_audio, samples, rate)
        # Claim the request was whatever this clip happens to fit.
        synapse.duration_seconds = round(samples.shape[1] / rate, 3)
        synapse.prompt = cheap
        synapse.genre, synapse.mood = "ambient", "calm"
        synapse.tempo_bpm = 60
        synapse.instruments = ["synth pad"]
        synapse.time_signature, synapse.key_signature = "4/4", "C major"
        synapse.challenge_id = "0" * 32
        return self._sign(synapse, rate, self.kind)

    async def _wrong_length(self, synapse: MusicGenerationSynapse, n: int) -> MusicGenerationSynapse:
        samples, rate = await self._render(synapse, share=WRONG_LENGTH_SHARE)
        await asyncio.to_thread(synapse.attach_audio, samples, rate)
        return self._sign(synapse, rate, self.kind)

    async def _crash(self, synapse: MusicGenerationSynapse, n: int) -> MusicGenerationSynapse:
        # Even requests are cut off mid-response by _DropEveryOtherResponse before they get here.
        raise RuntimeError(f"hostile miner crashed on request {n}")

    async def _mute_in_mono(self, synapse: MusicGenerationSynapse, n: int) -> MusicGenerationSynapse:
        samples, rate = await self._render(synapse)
        left = samples.mean(axis=0)
        stereo = np.stack([left, -left]).astype(np.float32)
        await asyncio.to_thread(synapse.attach_audio, stereo, rate)
        return self._sign(synapse, rate, self.kind)


def _disguise(samples: np.ndarray) -> np.ndarray:
    """The relayed copy's disguise: a 3 % time-stretch (pitch kept) and a float gain of ×0.5.
    ``samples`` float32 ``(channels, frames)``."""
    import librosa

    stretched = np.stack([librosa.effects.time_stretch(np.ascontiguousarray(ch), rate=COPY_STRETCH) for ch in samples])
    return (stretched * COPY_GAIN).astype(np.float32)


class _DropEveryOtherResponse:
    """ASGI wrapper for the ``crash`` miner: every second generation request gets the start of a
    200 response and a few bytes of body, then the connection is dropped (the server closes it
    when the application raises after the response started); the others pass through."""

    def __init__(self, app: Any, on_request: Callable[[], int]) -> None:
        self.app = app
        self.on_request = on_request  # counts the request, returns its number (1, 2, ...)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope.get("type") != "http" or scope.get("path") != GENERATION_PATH:
            await self.app(scope, receive, send)
            return
        drop = self.on_request() % 2 == 0
        if not drop:
            await self.app(scope, receive, send)
            return
        while True:  # read the whole request, as a server that crashes while answering would have
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000000")]})
        await send({"type": "http.response.body", "body": b'{"audio_b64": "UklGR', "more_body": True})
        raise ConnectionAbortedError("hostile miner dropped the connection mid-response")
