"""The TuneForge wire protocol: synapse classes exchanged between validators and miners.

Bittensor routes a request to ``POST /<SynapseClassName>`` on the miner's axon, so class names
and field names are the live network's contract (testnet netuid 234, see PROTOCOL.md). The
effective body-hash field set is empty, as on the live network: bittensor's axon recomputes the
body hash from its own class definition and rejects a mismatch, so declaring hash fields would
break interoperability. Grading is protected instead by scoring against the challenge the
validator stored, never the fields a miner echoes back.
"""

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import bittensor as bt
from pydantic import Field, field_validator

from tuneforge.audio.intake import DecodedAudio, decode_audio_b64, encode_audio_b64

__all__ = [
    "MusicGenerationSynapse",
    "PingSynapse",
    "HealthReportSynapse",
    "TEMPO_MIN",
    "TEMPO_MAX",
    "DURATION_MIN",
    "DURATION_MAX",
    "SERVED_DURATIONS",
    "GPU_MODEL_NONE",
    "served_durations",
    "duration_bounds",
]

TEMPO_MIN, TEMPO_MAX = 20, 300
DURATION_MIN, DURATION_MAX = 1.0, 180.0
#: The discrete clip lengths (seconds) a miner advertises in ``PingSynapse.supported_durations``,
#: as the network's reference miner does (``[5, 10, 15, 20, 30]``), then 60-180 s for backends
#: that render longer clips; :func:`served_durations` caps the list at the backend's maximum.
SERVED_DURATIONS = (5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0)
#: ``PingSynapse.gpu_model`` of a miner without a GPU, as the network's miners send it.
GPU_MODEL_NONE = "N/A"


def served_durations(max_seconds: float) -> list[float]:
    """The ``supported_durations`` list for a backend rendering up to ``max_seconds``.

    ``[5.0, 10.0, 15.0, 20.0, 30.0]`` for a 30 s backend; a maximum between two lengths is not
    itself listed (``45`` gives the list up to 30); a maximum under 5 s gives ``[max_seconds]``.
    """
    cap = float(max_seconds)
    served = [d for d in SERVED_DURATIONS if d <= cap]
    return served or [cap]


def duration_bounds(supported: Sequence[float] | None) -> tuple[float, float] | None:
    """(shortest, longest) seconds a ping reply's ``supported_durations`` says the miner serves.

    Reads both forms peers send: the network's discrete list (``[5, 10, 15, 20, 30]``) and the
    ``[min, max]`` pair earlier TuneForge miners sent (``[1.0, 30.0]``); both give
    ``(min, max)`` of the values. None, an empty list, or non-finite / negative / out-of-range
    values (a miner may send anything) give None: "unknown", never a guessed range.
    """
    if not supported:
        return None
    try:
        values = [float(v) for v in supported]
    except (TypeError, ValueError):
        return None
    if any(not math.isfinite(v) or v <= 0 or v > DURATION_MAX for v in values):
        return None
    return min(values), max(values)


class MusicGenerationSynapse(bt.Synapse):
    """A text-to-music request (validator → miner) and its audio response (miner → validator)."""

    required_hash_fields: ClassVar[tuple[str, ...]] = ()

    # Request
    prompt: str = Field("", description="Free-text description of the music.")
    genre: str = Field("", description="Requested genre, e.g. 'jazz'.")
    mood: str = Field("", description="Requested mood, e.g. 'melancholic'.")
    tempo_bpm: int = Field(120, ge=TEMPO_MIN, le=TEMPO_MAX, description="Tempo in beats per minute.")
    duration_seconds: float = Field(
        10.0, ge=DURATION_MIN, le=DURATION_MAX, description="Requested length in seconds."
    )
    key_signature: str | None = Field(None, description="Key, e.g. 'Eb minor', 'F# major'.")
    time_signature: str | None = Field(None, description="Meter, e.g. '4/4', '6/8', '7/8'.")
    instruments: list[str] | None = Field(None, description="Instruments to feature.")
    reference_audio: str | None = Field(None, description="Base64 audio file used as a style reference.")
    seed: int | None = Field(None, description="Generation seed.")
    challenge_id: str = Field("", description="Identifier the validator binds the response to.")
    lyrics: str | None = Field(None, description="Lyrics to sing, when vocals are requested.")
    vocals_requested: bool = Field(False, description="Whether the music should contain vocals.")
    is_organic: bool = Field(False, description="Set by the network for user requests.")

    # Response
    audio_b64: str | None = Field(None, description="Base64 of a whole audio file (WAV PCM16, FLAC or OGG).")
    sample_rate: int | None = Field(None, description="Informational; the file header is the truth.")
    generation_time_ms: int | None = Field(None, description="Miner-measured generation time.")
    model_id: str | None = Field(None, description="Identifier of the model that generated the audio.")

    def attach_audio(self, samples, sample_rate: int) -> None:
        """Encode ``samples`` (float, shape ``(n,)`` or ``(channels, n)``, in [-1, 1]) into ``audio_b64``.

        WAV PCM16 is used unless it would exceed the 20 MiB limit, then FLAC.
        """
        self.audio_b64 = encode_audio_b64(samples, sample_rate)
        self.sample_rate = int(sample_rate)

    def read_audio(self) -> DecodedAudio:
        """Decode and strictly validate ``audio_b64``; raises ``AudioRejected`` with a reason code."""
        return decode_audio_b64(self.audio_b64)

    def deserialize(self) -> "MusicGenerationSynapse":
        return self


class PingSynapse(bt.Synapse):
    """Liveness and capability check."""

    required_hash_fields: ClassVar[tuple[str, ...]] = ()

    version_check: str | None = Field(None, description="Caller's protocol version.")
    is_available: bool = Field(False, description="Whether the miner can take a generation now.")
    supported_genres: list[str] | None = Field(None, description="Genres the miner's backend handles.")
    supported_durations: list[float] | None = Field(
        None, description="Clip lengths served, seconds (the network's form: [5, 10, 15, 20, 30])."
    )
    gpu_model: str | None = Field(None, description="GPU name; 'N/A' on CPU.")
    max_concurrent: int | None = Field(None, description="Generations the miner runs at once.")
    version: str | None = Field(None, description="Miner software version.")

    def deserialize(self) -> "PingSynapse":
        return self


class HealthReportSynapse(bt.Synapse):
    """Resource and throughput report (response-only fields).

    Every field is a plain number with a zero default, exactly as the network's class declares
    them: bittensor rebuilds a synapse from the peer's JSON with the receiving class's fields, so a
    ``null`` sent to a network peer fails its validation (422 at its dendrite, 500 at its axon).
    A miner reports 0 for what it cannot measure. A ``null`` RECEIVED (from an earlier TuneForge
    miner, whose fields were optional) is read as 0, so our validator reads both forms;
    the JSON schema is unchanged by that leniency.
    """

    required_hash_fields: ClassVar[tuple[str, ...]] = ()

    gpu_utilization: float = Field(0.0, ge=0, le=100, description="GPU utilisation, percent (0 when unmeasured).")
    gpu_memory_used_mb: float = Field(0.0, ge=0, description="GPU memory in use, MiB (0 when unmeasured).")
    cpu_percent: float = Field(0.0, ge=0, le=100, description="CPU utilisation, percent (0 when unmeasured).")
    memory_percent: float = Field(0.0, ge=0, le=100, description="RAM in use, percent (0 when unmeasured).")
    generations_completed: int = Field(0, ge=0, description="Generations since start.")
    average_generation_time_ms: float = Field(0.0, ge=0, description="Mean generation time, ms (0 before any).")
    uptime_seconds: float = Field(0.0, ge=0, description="Seconds since the miner started.")
    errors_last_hour: int = Field(0, ge=0, description="Failed generations in the last hour.")

    @field_validator(
        "gpu_utilization", "gpu_memory_used_mb", "cpu_percent", "memory_percent",
        "generations_completed", "average_generation_time_ms", "uptime_seconds", "errors_last_hour",
        mode="before",
    )
    @classmethod
    def _null_is_zero(cls, value: Any) -> Any:
        return 0 if value is None else value

    def deserialize(self) -> "HealthReportSynapse":
        return self
