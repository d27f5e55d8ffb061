"""Generation backends: the weight-free procedural composer and MusicGen."""

from tuneforge.generation.base import (
    BackendUnavailable,
    GeneratedAudio,
    GenerationBackend,
    GenerationSettings,
    build_backend,
)

__all__ = ["BackendUnavailable", "GeneratedAudio", "GenerationBackend", "GenerationSettings", "build_backend"]
