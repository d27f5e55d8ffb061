"""Strict audio intake shared by miners, validators and the HTTP API.

Received audio is untrusted. Everything that can be checked cheaply is checked before the
payload is decoded: the base64 length, the decoded byte count, the container's magic bytes
and its header (channels, sample rate, declared length). Only then does libsndfile decode the
samples, which are checked for NaN/Inf. Every rejection raises :class:`AudioRejected` with a
machine-readable ``reason`` (one of :data:`REASONS`).

Encoding writes WAV PCM16, which every peer can read, or FLAC when the WAV would exceed the
20 MiB limit peers enforce.
"""

import base64
import binascii
import io
import struct
from dataclasses import dataclass

import numpy as np
import soundfile as sf

__all__ = [
    "AudioRejected",
    "DecodedAudio",
    "REASONS",
    "decode_audio_b64",
    "decode_audio_bytes",
    "encode_audio",
    "encode_audio_b64",
    "as_channels_first",
]

MAX_DECODED_BYTES = 20 * 1024 * 1024
MAX_DURATION_SECONDS = 180.0
MIN_DURATION_SECONDS = 0.5
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 96_000
MAX_CHANNELS = 2
#: Slack allowed between a header's declared length and the bytes present (one block).
_LENGTH_SLACK_BYTES = 64

REASONS = (
    "missing",  # no payload at all
    "bad_base64",  # not valid base64
    "payload_too_large",  # decoded bytes over 20 MiB
    "unsupported_container",  # not WAV, FLAC or OGG
    "truncated_header",  # container header cut short or unparsable
    "header_size_mismatch",  # header declares more data than present
    "unsupported_encoding",  # e.g. a WAV sample format libsndfile cannot read
    "bad_sample_rate",  # outside 8-96 kHz
    "bad_channels",  # not 1 or 2 channels
    "too_short",  # under 0.5 s
    "too_long",  # over 180 s
    "decode_failed",  # libsndfile could not decode the payload
    "non_finite",  # NaN or Inf samples
)


class AudioRejected(ValueError):
    """Raised when audio fails validation. ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class DecodedAudio:
    """A validated clip.

    ``samples`` has shape ``(channels, frames)``, dtype float32, values nominally in [-1, 1].
    """

    samples: np.ndarray
    sample_rate: int
    container: str  # "wav" | "flac" | "ogg"
    num_bytes: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_seconds(self) -> float:
        return self.frames / float(self.sample_rate)

    def mono(self) -> np.ndarray:
        """Mean of the channels, shape ``(frames,)``, float32."""
        return self.samples.mean(axis=0, dtype=np.float32) if self.channels > 1 else self.samples[0]


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


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


def decode_audio_b64(payload: str | bytes | None) -> DecodedAudio:
    """Validate and decode a base64 audio file. Raises :class:`AudioRejected`."""
    if payload is None or len(payload) == 0:
        raise AudioRejected("missing", "no audio payload")
    if isinstance(payload, str):
        try:
            payload = payload.encode("ascii")
        except UnicodeEncodeError as exc:
            raise AudioRejected("bad_base64", "payload contains non-ASCII characters") from exc
    payload = payload.strip()
    # Upper bound of the decoded size, checked before decoding anything.
    if (len(payload) // 4) * 3 > MAX_DECODED_BYTES + 3:
        raise AudioRejected(
            "payload_too_large",
            f"base64 payload decodes to about {(len(payload) // 4) * 3} bytes (limit {MAX_DECODED_BYTES})",
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AudioRejected("bad_base64", f"invalid base64: {exc}") from exc
    return decode_audio_bytes(data)


def decode_audio_bytes(data: bytes) -> DecodedAudio:
    """Validate and decode an audio file's bytes. Raises :class:`AudioRejected`."""
    if not data:
        raise AudioRejected("missing", "no audio payload")
    if len(data) > MAX_DECODED_BYTES:
        raise AudioRejected("payload_too_large", f"{len(data)} bytes (limit {MAX_DECODED_BYTES})")
    container = _sniff_container(data)
    if container == "wav":
        channels, sample_rate, frames = _wav_header(data)
    elif container == "flac":
        channels, sample_rate, frames = _flac_header(data)
    else:
        channels, sample_rate, frames = _libsndfile_header(data)
    _check_format(channels, sample_rate, frames)
    try:
        samples, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioRejected("decode_failed", f"could not decode {container}: {exc}") from exc
    samples = np.ascontiguousarray(samples.T)
    _check_format(samples.shape[0], int(sr), samples.shape[1])
    if not np.all(np.isfinite(samples)):
        raise AudioRejected("non_finite", "audio contains NaN or Inf samples")
    return DecodedAudio(samples=samples, sample_rate=int(sr), container=container, num_bytes=len(data))


def _sniff_container(data: bytes) -> str:
    if len(data) >= 12 and data[:4] in (b"RIFF", b"RIFX") and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if len(data) < 12:
        raise AudioRejected("truncated_header", f"only {len(data)} bytes: too short for any container")
    raise AudioRejected("unsupported_container", f"unrecognised magic bytes {data[:4]!r} (WAV, FLAC, OGG only)")


def _check_format(channels: int, sample_rate: int, frames: int | None) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioRejected(
            "bad_sample_rate", f"{sample_rate} Hz outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioRejected("bad_channels", f"{channels} channels (1 or 2 allowed)")
    if frames is None:
        return
    duration = frames / float(sample_rate)
    if duration > MAX_DURATION_SECONDS:
        raise AudioRejected("too_long", f"{duration:.2f} s (limit {MAX_DURATION_SECONDS:.0f} s)")
    if duration < MIN_DURATION_SECONDS:
        raise AudioRejected("too_short", f"{duration:.3f} s (minimum {MIN_DURATION_SECONDS} s)")


def _wav_header(data: bytes) -> tuple[int, int, int]:
    """Walk RIFF chunks; return (channels, sample_rate, frames) from ``fmt `` and ``data``."""
    if data[:4] == b"RIFX":
        raise AudioRejected("unsupported_encoding", "big-endian RIFX WAV is not accepted")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise AudioRejected("truncated_header", "WAV fmt chunk is cut short")
            _tag, channels, sample_rate, _rate, block_align, bits = struct.unpack_from("<HHIIHH", data, body)
            if block_align == 0 or bits == 0:
                raise AudioRejected("truncated_header", "WAV fmt chunk has zero block alignment")
            fmt = (channels, sample_rate, block_align, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioRejected("truncated_header", "WAV data chunk before fmt chunk")
            present = len(data) - body
            if size > present + _LENGTH_SLACK_BYTES:
                raise AudioRejected(
                    "header_size_mismatch",
                    f"WAV data chunk declares {size} bytes but {present} are present",
                )
            channels, sample_rate, block_align, _bits = fmt
            frames = min(size, present) // block_align
            return channels, sample_rate, frames
        if size > len(data) - body + _LENGTH_SLACK_BYTES:
            raise AudioRejected(
                "header_size_mismatch", f"WAV chunk {chunk_id!r} declares {size} bytes past the end"
            )
        pos = body + size + (size & 1)
    raise AudioRejected("truncated_header", "WAV has no complete fmt and data chunks")


def _flac_header(data: bytes) -> tuple[int, int, int]:
    """Parse the STREAMINFO block; return (channels, sample_rate, frames)."""
    if len(data) < 4 + 4 + 34:
        raise AudioRejected("truncated_header", "FLAC STREAMINFO block is cut short")
    block_type = data[4] & 0x7F
    (length,) = struct.unpack(">I", b"\x00" + data[5:8])
    if block_type != 0 or length < 34:
        raise AudioRejected("truncated_header", "FLAC stream does not start with STREAMINFO")
    info = int.from_bytes(data[8 + 10 : 8 + 18], "big")
    sample_rate = info >> 44
    channels = ((info >> 41) & 0x7) + 1
    total_samples = info & ((1 << 36) - 1)
    if total_samples == 0:
        # Unknown length (allowed by the format): measure after decoding.
        _check_format(channels, sample_rate, None)
        return channels, sample_rate, _libsndfile_header(data)[2]
    # A compressed FLAC frame holds at most ~4.6 bits per... bound the declared length by bytes present:
    # 16-bit PCM rarely compresses below 1/20; a header claiming far more samples is a lie.
    max_plausible = (len(data) * 8) * 64 // max(channels, 1)
    if total_samples > max_plausible:
        raise AudioRejected(
            "header_size_mismatch",
            f"FLAC header declares {total_samples} samples for a {len(data)}-byte file",
        )
    return channels, sample_rate, total_samples


def _libsndfile_header(data: bytes) -> tuple[int, int, int]:
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioRejected("truncated_header", f"unreadable header: {exc}") from exc
    return int(info.channels), int(info.samplerate), int(info.frames)
