"""The interface every generation backend implements, and the factory that builds one.

A backend turns a :class:`~tuneforge.spec.MusicSpec` into audio of exactly
``round(spec.duration_seconds * sample_rate)`` frames. It is built once per process (models load
at construction, never per request) and is called from one worker thread at a time per device.
"""

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from tuneforge.spec import MusicSpec

__all__ = ["GeneratedAudio", "GenerationBackend", "GenerationSettings", "BackendUnavailable", "build_backend"]


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing model files, missing packages); the message says how to fix it."""


@dataclass(frozen=True)
class GeneratedAudio:
    """Generated audio. ``samples``: float32, shape ``(channels, frames)``, in [-1, 1]; ``sample_rate`` in Hz."""

    samples: np.ndarray
    sample_rate: int
    model_id: str

    @property
    def duration_seconds(self) -> float:
        return self.samples.shape[1] / float(self.sample_rate)


@dataclass
class GenerationSettings:
    """Backend selection and options (``--generation.*`` flags)."""

    backend: str = "procedural"  # "procedural" | "musicgen"
    model: str = "facebook/musicgen-small"  # MusicGen: hub id (HF cache) or local directory
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    precision: str = "auto"  # "auto" | "fp32" | "fp16" | "bf16"
    sample_rate: int = 44_100  # procedural output rate
    soundfont: str | None = None  # procedural: General-MIDI SF2 path, "auto" (Debian fonts if installed) or None (built-in synth)
    extra: dict = field(default_factory=dict)


@runtime_checkable
class GenerationBackend(Protocol):
    """What the miner needs from a backend."""

    name: str  # "procedural" | "musicgen"
    model_id: str  # reported in the synapse's model_id
    sample_rate: int  # Hz of the returned audio
    device: str  # "cpu", "cuda:0", ...
    max_duration_seconds: float

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        """Render ``spec``; output length is exactly ``round(spec.duration_seconds * sample_rate)`` frames."""
        ...

    def supported_genres(self) -> list[str]:
        """Genres this backend renders deliberately (used in the ping reply)."""
        ...


def build_backend(settings: GenerationSettings) -> GenerationBackend:
    """Construct the configured backend (loads models now). Raises :class:`BackendUnavailable`."""
    if settings.backend == "procedural":
        from tuneforge.generation.procedural import ProceduralBackend

        return ProceduralBackend(sample_rate=settings.sample_rate, soundfont=settings.soundfont)
    if settings.backend == "musicgen":
        from tuneforge.generation.musicgen import MusicGenBackend

        return MusicGenBackend.from_settings(settings)
    raise BackendUnavailable(f"unknown generation backend {settings.backend!r} (procedural | musicgen)")
