"""Querying miners: who is asked, how long they get, and what comes back through strict intake.

:func:`sample_miners` picks the uids a round asks: axons that serve (an IP other than 0.0.0.0 and
a port above 0), never this validator's own hotkey, at most ``sample_size`` of them, sampled
deterministically from the round's seed. :func:`query_miners` sends each miner its own copy of
the challenge (same prompt, its own seed) in one task per axon, so each miner's round trip is
timed by the validator on its own (``rtt_seconds``, what the speed signal uses; bittensor's
``dendrite.process_time`` is kept beside it as a cross-check). Each call has the per-request
timeout; the whole gather has a hard deadline (``asyncio.wait_for``) after which miners that
have not answered are recorded as such. Audio goes through ``decode_audio_b64`` (off the event
loop); a rejection is recorded per miner with its reason code. Nothing a miner echoes back is
trusted except the audio itself and its model id: grading reads the stored challenge.
"""

import asyncio
import base64
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from tuneforge.audio.intake import AudioRejected, DecodedAudio, decode_audio_b64
from tuneforge.protocol import PingSynapse
from tuneforge.validator.challenges import Challenge

__all__ = [
    "MinerTarget",
    "MinerResponse",
    "is_serving",
    "serving_targets",
    "sample_miners",
    "query_timeout",
    "query_miners",
    "ping_miners",
    "REFERENCE_DURATION_S",
]

log = logging.getLogger(__name__)

#: ``--neuron.timeout`` is the allowance for a clip of this many seconds; longer clips get more.
REFERENCE_DURATION_S = 10.0


@dataclass(frozen=True)
class MinerTarget:
    """A miner to ask: its uid, hotkey and ``AxonInfo``."""

    uid: int
    hotkey: str
    axon: Any


@dataclass
class MinerResponse:
    """What one miner's answer amounted to after intake.

    ``audio`` is the decoded clip (``samples`` float32 ``(channels, frames)``) or None;
    ``error`` says why there is none (``"rejected: <reason>: ..."`` for an intake rejection,
    with the reason code in ``reject_reason``). ``rtt_seconds`` is the validator-measured round
    trip in seconds (None when the miner never answered before the deadline).
    """

    uid: int
    hotkey: str
    seed: int
    audio: DecodedAudio | None = None
    audio_bytes: bytes | None = None
    audio_format: str | None = None
    model_id: str | None = None
    rtt_seconds: float | None = None
    process_time_s: float | None = None
    status_code: int | None = None
    error: str | None = None
    reject_reason: str | None = None
    claimed_generation_ms: int | None = None

    @property
    def delivered(self) -> bool:
        return self.audio is not None


def is_serving(axon: Any) -> bool:
    """An axon that can be queried: a real IP and a port above 0."""
    ip = str(getattr(axon, "ip", "") or "")
    port = int(getattr(axon, "port", 0) or 0)
    return ip not in ("", "0.0.0.0", "0") and port > 0


def serving_targets(metagraph: Any, *, own_hotkey: str) -> list[MinerTarget]:
    """Every serving uid of ``metagraph`` except this validator's own, by uid."""
    out = []
    for uid, (hotkey, axon) in enumerate(zip(metagraph.hotkeys, metagraph.axons, strict=False)):
        if hotkey == own_hotkey or not is_serving(axon):
            continue
        out.append(MinerTarget(uid=uid, hotkey=str(hotkey), axon=axon))
    return out


def sample_miners(metagraph: Any, *, own_hotkey: str, sample_size: int, round_seed: str | int) -> list[MinerTarget]:
    """Up to ``sample_size`` serving miners, sampled reproducibly from ``round_seed``, by uid.

    Raises:
        ValueError: ``sample_size`` < 1.
    """
    if sample_size < 1:
        raise ValueError(f"sample_size must be >= 1, got {sample_size}")
    candidates = serving_targets(metagraph, own_hotkey=own_hotkey)
    if len(candidates) <= sample_size:
        return candidates
    rng = random.Random(f"tuneforge-sample:{round_seed}")
    return sorted(rng.sample(candidates, sample_size), key=lambda t: t.uid)


def query_timeout(base_timeout_s: float, duration_seconds: float) -> float:
    """Per-request timeout: ``base_timeout_s`` per ``REFERENCE_DURATION_S`` seconds of audio, never less than the base."""
    return float(base_timeout_s) * max(1.0, float(duration_seconds) / REFERENCE_DURATION_S)


def _intake(payload: str) -> tuple[DecodedAudio, bytes]:
    clip = decode_audio_b64(payload)
    return clip, base64.b64decode(payload.strip() if isinstance(payload, str) else payload)


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


async def _query_one(dendrite: Any, target: MinerTarget, challenge: Challenge, timeout: float) -> MinerResponse:
    synapse = challenge.to_synapse(target.hotkey)
    result = MinerResponse(uid=target.uid, hotkey=target.hotkey, seed=int(synapse.seed))
    started = time.perf_counter()
    try:
        reply = await dendrite.call(target_axon=target.axon, synapse=synapse, timeout=timeout, deserialize=False)
    except Exception as exc:  # one miner's transport failure is that miner's error, not the round's
        result.rtt_seconds = time.perf_counter() - started
        result.error = f"query failed: {type(exc).__name__}: {exc}"
        log.info("uid %d: %s", target.uid, result.error)
        return result
    result.rtt_seconds = time.perf_counter() - started
    info = getattr(reply, "dendrite", None)
    result.status_code = None if info is None or info.status_code is None else int(info.status_code)
    result.process_time_s = None if info is None else _float_or_none(info.process_time)
    result.model_id = getattr(reply, "model_id", None)
    result.claimed_generation_ms = getattr(reply, "generation_time_ms", None)
    if result.status_code is not None and result.status_code != 200:
        message = getattr(info, "status_message", None) or ""
        result.error = f"no clip: status {result.status_code} {message}".strip()
        return result
    payload = getattr(reply, "audio_b64", None)
    try:
        clip, raw = await asyncio.to_thread(_intake, payload)
    except AudioRejected as exc:
        result.reject_reason = exc.reason
        result.error = f"rejected: {exc}"
        log.info("uid %d clip rejected: %s", target.uid, exc)
        return result
    result.audio, result.audio_bytes, result.audio_format = clip, raw, clip.container
    return result


async def query_miners(
    dendrite: Any,
    targets: list[MinerTarget],
    challenge: Challenge,
    *,
    timeout: float,
    deadline: float,
) -> list[MinerResponse]:
    """Send ``challenge`` to every target; one :class:`MinerResponse` per target, in target order.

    Args:
        dendrite: a ``bt.Dendrite`` (or anything with its async ``call``).
        timeout: seconds each request may take (bittensor's per-request timeout).
        deadline: seconds the whole fan-out may take; miners still pending then are cut off.
    """
    if hasattr(dendrite, "synapse_history"):
        dendrite.synapse_history.clear()  # bittensor keeps every synapse otherwise
    done: dict[int, MinerResponse] = {}

    async def one(index: int, target: MinerTarget) -> None:
        done[index] = await _query_one(dendrite, target, challenge, timeout)

    try:
        await asyncio.wait_for(asyncio.gather(*(one(i, t) for i, t in enumerate(targets))), timeout=deadline)
    except TimeoutError:
        log.warning("round deadline of %.1f s reached: %d of %d miners answered", deadline, len(done), len(targets))
    finally:
        if hasattr(dendrite, "synapse_history"):
            dendrite.synapse_history.clear()
    out = []
    for i, target in enumerate(targets):
        response = done.get(i)
        if response is None:
            response = MinerResponse(
                uid=target.uid, hotkey=target.hotkey, seed=challenge.seed_for(target.hotkey),
                error=f"no answer within the round deadline of {deadline:.1f} s",
            )
        out.append(response)
    return out


async def ping_miners(dendrite: Any, targets: list[MinerTarget], *, timeout: float) -> dict[int, bool]:
    """uid → whether the miner answered a ``PingSynapse`` saying it is available now."""
    from tuneforge import __version__

    available: dict[int, bool] = {}

    async def one(target: MinerTarget) -> None:
        try:
            reply = await dendrite.call(
                target_axon=target.axon, synapse=PingSynapse(version_check=__version__), timeout=timeout,
                deserialize=False,
            )
        except Exception as exc:  # an unreachable miner is simply not available
            log.info("ping to uid %d failed: %s: %s", target.uid, type(exc).__name__, exc)
            available[target.uid] = False
            return
        info = getattr(reply, "dendrite", None)
        ok = (info is None or info.status_code in (None, 200)) and bool(getattr(reply, "is_available", False))
        available[target.uid] = ok

    try:
        await asyncio.wait_for(asyncio.gather(*(one(t) for t in targets)), timeout=timeout + 1.0)
    except TimeoutError:
        log.warning("pings did not finish within %.1f s; the silent miners count as unavailable", timeout + 1.0)
    finally:
        if hasattr(dendrite, "synapse_history"):
            dendrite.synapse_history.clear()
    return {t.uid: available.get(t.uid, False) for t in targets}
