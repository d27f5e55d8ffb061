"""Loading audio files or bytes into float samples for the command line and scripts.

Decoding uses libsndfile (WAV, FLAC, OGG); the validator's network intake is stricter and lives
in ``tuneforge.audio.intake``. Every failure raises :class:`AudioLoadError` with the reason.
"""

import io
import os

import numpy as np
import soundfile as sf

from scoring.signals.base import ScoringError

__all__ = ["AudioLoadError", "load_audio", "load_audio_bytes"]


class AudioLoadError(ScoringError):
    """A file or payload that could not be decoded into audio."""


def _read(source) -> tuple[np.ndarray, int]:
    try:
        data, sr = sf.read(source, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioLoadError(f"cannot decode audio: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioLoadError("audio has no samples")
    if not np.all(np.isfinite(data)):
        raise AudioLoadError("audio contains NaN or Inf")
    return np.ascontiguousarray(data.T), int(sr)


def load_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode a file → (float32 ``(channels, frames)``, sample rate in Hz)."""
    if not os.path.isfile(path):
        raise AudioLoadError(f"no such file: {path}")
    return _read(os.fspath(path))


def load_audio_bytes(payload: bytes) -> tuple[np.ndarray, int]:
    """Decode an in-memory file → (float32 ``(channels, frames)``, sample rate in Hz)."""
    if not payload:
        raise AudioLoadError("empty payload")
    return _read(io.BytesIO(payload))
