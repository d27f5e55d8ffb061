"""Answering one generation request: synapse → spec → engine (backend) → encoded clip in the synapse.

The miner's axon handler (``Miner.forward_generation``) and ``tuneforge generate`` both run
:func:`answer`, so the command writes exactly the bytes a miner with the same backend sends for
the same request. The steps: the request's fields and prompt text become a ``MusicSpec``
(:func:`request_spec`); the engine renders it on a backend and checks the output's shape,
finiteness and exact length; the clip is encoded as WAV PCM16 (FLAC above 20 MiB) into
``audio_b64`` with the sample rate, the measured generation time and the model id
(:func:`fill_answer`).

A request's ``reference_audio`` travels in the spec untouched; its only consumer, the
MusicGen-Melody backend, decodes it through the strict intake (``scoring.intake``) and falls
back to text alone when the intake rejects it.
"""

import asyncio

from tuneforge.miner.engine import GenerationEngine, GenerationResult
from tuneforge.spec import MusicSpec, spec_from_synapse

__all__ = ["answer", "fill_answer", "request_spec"]


def request_spec(synapse) -> MusicSpec:
    """The spec a ``MusicGenerationSynapse`` asks for (structured fields win over the prompt text)."""
    return spec_from_synapse(synapse)


def fill_answer(synapse, result: GenerationResult) -> None:
    """Put ``result`` into the synapse: ``audio_b64`` (WAV PCM16, FLAC above 20 MiB), ``sample_rate``,
    ``generation_time_ms`` and ``model_id``."""
    synapse.attach_audio(result.audio.samples, result.audio.sample_rate)
    synapse.generation_time_ms = int(round(result.generation_time_s * 1000.0))
    synapse.model_id = result.audio.model_id


async def answer(
    synapse, engine: GenerationEngine, *, deadline: float, spec: MusicSpec | None = None
) -> GenerationResult:
    """Render the synapse's request on ``engine`` and fill the synapse's response fields.

    Args:
        synapse: a ``MusicGenerationSynapse``; its response fields are set on success.
        engine: a started :class:`GenerationEngine`.
        deadline: monotonic instant (the engine's clock) by which generation must finish.
        spec: the spec already derived from ``synapse`` with :func:`request_spec`, if any.

    Raises what :meth:`GenerationEngine.generate` raises (``QueueFull``, ``WouldFinishLate``,
    ``EngineStopped``, ``GenerationFailed``); the synapse is then left as it was.
    """
    spec = spec if spec is not None else request_spec(synapse)
    result = await engine.generate(spec, deadline=deadline)
    await asyncio.to_thread(fill_answer, synapse, result)
    return result
