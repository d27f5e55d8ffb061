"""The TuneForge wire protocol: synapse classes exchanged between validators and miners.

Bittensor routes a request to ``POST /<SynapseClassName>`` on the miner's axon, so class names
and field names are the live network's contract (testnet netuid 234, see PROTOCOL.md). The
effective body-hash field set is empty, as on the live network: bittensor's axon recomputes the
body hash from its own class definition and rejects a mismatch, so declaring hash fields would
break interoperability. Grading is protected instead by scoring against the challenge the
validator stored, never the fields a miner echoes back.
"""

from typing import ClassVar

import bittensor as bt
from pydantic import Field

from tuneforge.audio.intake import DecodedAudio, decode_audio_b64, encode_audio_b64

__all__ = [
    "MusicGenerationSynapse",
    "PingSynapse",
    "HealthReportSynapse",
    "TEMPO_MIN",
    "TEMPO_MAX",
    "DURATION_MIN",
    "DURATION_MAX",
]

TEMPO_MIN, TEMPO_MAX = 20, 300
DURATION_MIN, DURATION_MAX = 1.0, 180.0


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
    supported_durations: list[float] | None = Field(None, description="[min, max] duration in seconds.")
    gpu_model: str | None = Field(None, description="GPU name, or None on CPU.")
    max_concurrent: int | None = Field(None, description="Generations the miner runs at once.")
    version: str | None = Field(None, description="Miner software version.")

    def deserialize(self) -> "PingSynapse":
        return self


class HealthReportSynapse(bt.Synapse):
    """Resource and throughput report (response-only fields)."""

    required_hash_fields: ClassVar[tuple[str, ...]] = ()

    gpu_utilization: float | None = Field(None, ge=0, le=100, description="GPU utilisation, percent.")
    gpu_memory_used_mb: float | None = Field(None, ge=0, description="GPU memory in use, MiB.")
    cpu_percent: float | None = Field(None, ge=0, le=100, description="CPU utilisation, percent.")
    memory_percent: float | None = Field(None, ge=0, le=100, description="RAM in use, percent.")
    generations_completed: int | None = Field(None, ge=0, description="Generations since start.")
    average_generation_time_ms: float | None = Field(None, ge=0, description="Mean generation time, ms.")
    uptime_seconds: float | None = Field(None, ge=0, description="Seconds since the miner started.")
    errors_last_hour: int | None = Field(None, ge=0, description="Failed generations in the last hour.")

    def deserialize(self) -> "HealthReportSynapse":
        return self
