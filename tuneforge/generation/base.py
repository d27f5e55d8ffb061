"""The interface every generation backend implements, and the factory that builds one.

A backend turns a :class:`~tuneforge.spec.MusicSpec` into audio of exactly
``round(spec.duration_seconds * sample_rate)`` frames. It is built once per process (models load
at construction, never per request) and is called from one worker thread at a time per device.
A backend that can render several requests in one call also implements :class:`BatchingBackend`
(``max_batch``, ``batch_key``, ``generate_batch``); the miner's engine then hands it the queued
requests that share a key.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from tuneforge.spec import MusicSpec

__all__ = [
    "BACKENDS",
    "DEFAULT_MODELS",
    "GeneratedAudio",
    "GenerationBackend",
    "GenerationSettings",
    "BackendUnavailable",
    "BatchingBackend",
    "build_backend",
]

#: Every backend name ``--generation.backend`` accepts.
BACKENDS = ("procedural", "musicgen", "ace_step")
#: The model each neural backend loads when ``--generation.model`` is not given.
DEFAULT_MODELS = {
    "musicgen": "facebook/musicgen-small",
    # The official diffusers-format ACE-Step 1.5 checkpoint (XL turbo: guidance-distilled, 8 steps).
    "ace_step": "ACE-Step/acestep-v15-xl-turbo-diffusers",
}


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

    backend: str = "procedural"  # one of BACKENDS
    model: str | None = None  # neural backends: hub id (local cache) or directory; None: DEFAULT_MODELS[backend]
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    precision: str = "auto"  # "auto" | "fp32" | "fp16" | "bf16"
    sample_rate: int = 44_100  # procedural output rate
    soundfont: str | None = None  # procedural: General-MIDI SF2 path, "auto" (Debian fonts if installed) or None (built-in synth)
    max_batch: int = 1  # queued requests one call may render together (backends that batch: ace_step)
    max_vram_gb: float | None = None  # CUDA memory this process may take per device (GiB); None: no bound
    extra: dict = field(default_factory=dict)

    def model_name(self) -> str:
        """The model to load: ``model``, or the backend's default (empty for the procedural backend)."""
        return self.model or DEFAULT_MODELS.get(self.backend, "")


@runtime_checkable
class GenerationBackend(Protocol):
    """What the miner needs from a backend."""

    name: str  # one of BACKENDS
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


@runtime_checkable
class BatchingBackend(GenerationBackend, Protocol):
    """A backend that renders up to ``max_batch`` requests with equal :meth:`batch_key` in one call."""

    max_batch: int

    def batch_key(self, spec: MusicSpec) -> Hashable:
        """Requests whose keys are equal may share one :meth:`generate_batch` call."""
        ...

    def generate_batch(self, specs: Sequence[MusicSpec]) -> list[GeneratedAudio]:
        """One clip per spec, in order, each as :meth:`generate` would shape it."""
        ...


def build_backend(settings: GenerationSettings) -> GenerationBackend:
    """Construct the configured backend (loads models now). Raises :class:`BackendUnavailable`."""
    if settings.backend == "procedural":
        from tuneforge.generation.procedural import ProceduralBackend

        return ProceduralBackend(sample_rate=settings.sample_rate, soundfont=settings.soundfont)
    if settings.backend == "musicgen":
        from tuneforge.generation.musicgen import MusicGenBackend

        return MusicGenBackend.from_settings(settings)
    if settings.backend == "ace_step":
        try:
            from tuneforge.generation.ace_step import AceStepBackend
        except ImportError as exc:  # diffusers (or torch) not installed
            raise BackendUnavailable(f"the ace_step backend needs diffusers>=0.42.1 (pip install -e '.[models]'): {exc}") from exc
        return AceStepBackend.from_settings(settings)
    raise BackendUnavailable(f"unknown generation backend {settings.backend!r} ({' | '.join(BACKENDS)})")
