"""Audio for the wire: encoding float audio as a file, and (re-exported) the strict intake.

The decoding and validating half lives in :mod:`scoring.intake`, which validators, ``tuneforge
score`` and miners share (``scoring`` cannot import ``tuneforge``); its names are re-exported
here so ``from tuneforge.audio.intake import decode_audio_b64`` keeps working.

Encoding writes WAV PCM16, which every peer can read, or FLAC when the WAV would exceed the
20 MiB limit peers enforce.
"""

import base64
import io

import numpy as np
import soundfile as sf

from scoring.intake import (
    DECODE_BLOCK_FRAMES,
    MAX_CHANNELS,
    MAX_DECODED_BYTES,
    MAX_DURATION_SECONDS,
    MAX_SAMPLE_RATE,
    MIN_DURATION_SECONDS,
    MIN_SAMPLE_RATE,
    REASONS,
    AudioRejected,
    DecodedAudio,
    decode_audio_b64,
    decode_audio_bytes,
    decode_audio_file,
)

__all__ = [
    "AudioRejected",
    "DecodedAudio",
    "REASONS",
    "decode_audio_b64",
    "decode_audio_bytes",
    "decode_audio_file",
    "encode_audio",
    "encode_audio_b64",
    "as_channels_first",
    "MAX_DECODED_BYTES",
    "MAX_DURATION_SECONDS",
    "MIN_DURATION_SECONDS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_CHANNELS",
    "DECODE_BLOCK_FRAMES",
]


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------


def as_channels_first(samples: np.ndarray) -> np.ndarray:
    """Return float32 audio shaped ``(channels, frames)`` from ``(frames,)`` or ``(channels, frames)``.

    A 2-D array whose first axis is longer than its second is taken as ``(frames, channels)``.
    """
    arr = np.asarray(samples, dtype=np.float32)
    if arr.ndim == 1:
        return arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"audio must be 1-D or 2-D, got shape {arr.shape}")
    if arr.shape[0] > arr.shape[1]:
        arr = arr.T
    return np.ascontiguousarray(arr)


def encode_audio(samples: np.ndarray, sample_rate: int, fmt: str = "auto") -> bytes:
    """Encode float audio as a file.

    Args:
        samples: shape ``(frames,)`` or ``(channels, frames)``, float in [-1, 1] (clipped).
        sample_rate: Hz.
        fmt: ``"wav"`` (PCM16), ``"flac"`` (16-bit) or ``"auto"`` (WAV unless it would exceed
            20 MiB, then FLAC).

    Returns:
        The file's bytes.
    """
    data = as_channels_first(samples)
    if not np.all(np.isfinite(data)):
        raise ValueError("cannot encode non-finite samples")
    if fmt == "auto":
        wav_bytes = 44 + data.size * 2
        fmt = "wav" if wav_bytes <= MAX_DECODED_BYTES else "flac"
    pcm = np.round(np.clip(data, -1.0, 1.0) * 32767.0).astype(np.int16).T
    buf = io.BytesIO()
    if fmt == "wav":
        sf.write(buf, pcm, int(sample_rate), format="WAV", subtype="PCM_16")
    elif fmt == "flac":
        sf.write(buf, pcm, int(sample_rate), format="FLAC", subtype="PCM_16")
    else:
        raise ValueError(f"unsupported format {fmt!r}")
    return buf.getvalue()


def encode_audio_b64(samples: np.ndarray, sample_rate: int, fmt: str = "auto") -> str:
    """:func:`encode_audio`, base64-encoded (ASCII)."""
    return base64.b64encode(encode_audio(samples, sample_rate, fmt)).decode("ascii")
