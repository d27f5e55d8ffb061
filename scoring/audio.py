"""Loading audio files or bytes into float samples for ``tuneforge score`` and the scripts.

Everything goes through the strict intake (:mod:`scoring.intake`), the same checks a validator
applies to a miner's answer: the file is ``stat``-ed before it is read (a missing file, a
directory, a device or FIFO, an unreadable file and a file over 20 MiB each get their own
reason), then the container, sample rate, channels and length are bounded before and during the
decode, and samples beyond full scale are clipped. Every failure raises :class:`AudioLoadError`
whose ``reason`` is one of :data:`scoring.intake.REASONS`.
"""

import os

import numpy as np

from scoring.intake import AudioRejected, DecodedAudio, decode_audio_bytes, decode_audio_file
from scoring.signals.base import ScoringError

__all__ = ["AudioLoadError", "load_audio", "load_audio_bytes", "load_clip"]


class AudioLoadError(ScoringError):
    """A file or payload that could not be decoded into audio; ``reason`` is an intake reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def load_clip(path: str | os.PathLike) -> DecodedAudio:
    """Decode and validate a file → :class:`DecodedAudio` (samples float32 ``(channels, frames)``)."""
    try:
        return decode_audio_file(path)
    except AudioRejected as exc:
        raise AudioLoadError(exc.reason, str(exc)) from exc


def load_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode a file → (float32 ``(channels, frames)`` in [-1, 1], sample rate in Hz)."""
    clip = load_clip(path)
    return clip.samples, clip.sample_rate


def load_audio_bytes(payload: bytes) -> tuple[np.ndarray, int]:
    """Decode an in-memory file → (float32 ``(channels, frames)`` in [-1, 1], sample rate in Hz)."""
    try:
        clip = decode_audio_bytes(payload)
    except AudioRejected as exc:
        raise AudioLoadError(exc.reason, str(exc)) from exc
    return clip.samples, clip.sample_rate
