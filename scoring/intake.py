"""Strict audio intake: the one decoder for every clip that reaches scoring.

Validators (miner answers), ``tuneforge score`` and the scripts (files), and miners (a request's
``reference_audio``) all decode through this module, so they accept and reject the same inputs.
Received audio is untrusted; the order of the checks is what keeps it cheap and bounded:

1. **Size before reading.** A base64 payload's length bounds its decoded size; a file is
   ``stat``-ed (missing, a directory, not a regular file, over the limit: each its own reason)
   and then read with a bounded read. Nothing over :data:`MAX_DECODED_BYTES` (20 MiB) is decoded.
2. **Header before decoding.** The container is sniffed from its magic bytes (WAV, FLAC, OGG);
   the WAV chunks and the FLAC STREAMINFO block are parsed by hand, so channels (1-2), sample
   rate (8-96 kHz) and the declared length (0.5-180 s) are checked before libsndfile runs. A
   header declaring more data than the file holds is ``header_size_mismatch``. For compressed
   WAV (IMA/MS ADPCM, GSM 6.10) the length comes from the ``fact`` chunk or the samples per
   block of the ``fmt`` extension, never from bytes / block alignment.
3. **Bounded decode.** libsndfile decodes in blocks of :data:`DECODE_BLOCK_FRAMES` frames into a
   buffer that never grows past 180 s at the file's rate, and stops as soon as the clip is longer
   than that (``too_long``): a header that lies about the length (a FLAC claiming 10 h, a FLAC
   of unknown length, a WAV whose fact chunk is wrong) cannot make the intake hold more than
   twice the largest clip it accepts (180 s × 96 kHz × 2 channels × 4 bytes ≈ 132 MiB; two
   copies only for a moment, while the buffer grows or is trimmed). The decoded length, not the
   header, is what the length bounds finally judge.
4. **Sample values.** NaN or Inf anywhere is ``non_finite``. Finite samples beyond full scale
   (only float WAV can hold them; OGG decoders may overshoot slightly) are clipped to [-1, 1] —
   exactly what the integer twin of the same clip holds, since an integer format cannot exceed
   full scale — and counted in :attr:`DecodedAudio.clipped_samples`. No magnitude is rejected:
   a float clip scaled ×100 or holding 1e18 decodes to its clipped waveform and differs from its
   16-bit twin only by that twin's quantisation (±1 LSB), so it scores as the twin does, and no
   magnitude can reach the scorer's numerics. In-range samples are never altered.

Every rejection raises :class:`AudioRejected` with a machine-readable ``reason`` (one of
:data:`REASONS`). This module must not import ``tuneforge`` (``scoring`` is standalone).
"""

import base64
import binascii
import io
import logging
import math
import os
import stat
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
    "decode_audio_file",
    "MAX_DECODED_BYTES",
    "MAX_DURATION_SECONDS",
    "MIN_DURATION_SECONDS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_CHANNELS",
    "DECODE_BLOCK_FRAMES",
]

logger = logging.getLogger(__name__)

MAX_DECODED_BYTES = 20 * 1024 * 1024
MAX_DURATION_SECONDS = 180.0
MIN_DURATION_SECONDS = 0.5
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 96_000
MAX_CHANNELS = 2
#: Frames libsndfile decodes per call (1.4 s at 48 kHz; the scratch buffer is 512 KiB in stereo).
DECODE_BLOCK_FRAMES = 65_536
#: Slack allowed between a header's declared length and the bytes present (one block).
_LENGTH_SLACK_BYTES = 64
#: libsndfile's frame count for a stream of unknown length (SF_COUNT_MAX).
_UNKNOWN_FRAMES = 2**62

REASONS = (
    "missing",  # no payload at all (or an empty file)
    "bad_base64",  # not valid base64
    "payload_too_large",  # decoded bytes (or the file) over 20 MiB
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
    "not_found",  # a file path that does not exist
    "is_directory",  # a file path that is a directory
    "not_regular_file",  # a device, FIFO or socket (e.g. /dev/zero): never read
    "unreadable",  # a file the OS refuses to read (permissions, I/O error)
)

#: WAV format tags whose frame count is data bytes / block alignment.
_WAV_LINEAR_TAGS = {1: "PCM", 3: "IEEE float", 6: "A-law", 7: "mu-law"}
#: WAV format tags with samples-per-block in the fmt extension (IMA ADPCM, MS ADPCM, GSM 6.10).
_WAV_BLOCK_CODECS = {0x0011: "IMA ADPCM", 0x0002: "MS ADPCM", 0x0031: "GSM 6.10"}
_WAV_EXTENSIBLE = 0xFFFE


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

    ``samples`` has shape ``(channels, frames)``, dtype float32, values in [-1, 1];
    ``clipped_samples`` counts the samples (over all channels) that were beyond
    full scale in the file and were clipped to ±1; ``num_bytes`` is the size of the encoded file.
    """

    samples: np.ndarray
    sample_rate: int
    container: str  # "wav" | "flac" | "ogg"
    num_bytes: int
    clipped_samples: int = 0

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
# Entry points
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


def decode_audio_file(path: str | os.PathLike) -> DecodedAudio:
    """Validate and decode an audio file on disk. Raises :class:`AudioRejected`.

    The path is ``stat``-ed first: a missing path, a directory, anything that is not a regular
    file (a FIFO would block, ``/dev/zero`` never ends) and a file over 20 MiB are rejected
    without reading a byte. The file is then opened without blocking, checked again on the open
    descriptor (it may have been swapped meanwhile) and read with a bounded read.
    """
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError as exc:
        raise AudioRejected("not_found", "no such file") from exc
    except NotADirectoryError as exc:
        raise AudioRejected("not_found", "no such file (a parent in the path is not a directory)") from exc
    except OSError as exc:
        raise AudioRejected("unreadable", f"cannot stat: {exc.strerror or exc}") from exc
    _check_file_stat(st)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError as exc:
        raise AudioRejected("is_directory", "a directory, not an audio file") from exc
    except FileNotFoundError as exc:
        raise AudioRejected("not_found", "no such file") from exc
    except OSError as exc:
        raise AudioRejected("unreadable", f"cannot open: {exc.strerror or exc}") from exc
    try:
        _check_file_stat(os.fstat(fd))
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            data = fh.read(MAX_DECODED_BYTES + 1)
    except OSError as exc:
        raise AudioRejected("unreadable", f"cannot read: {exc.strerror or exc}") from exc
    finally:
        if fd >= 0:
            os.close(fd)
    if not data:
        raise AudioRejected("missing", "the file is empty (0 bytes)")
    return decode_audio_bytes(data)


def _check_file_stat(st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise AudioRejected("is_directory", "a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioRejected("not_regular_file", "not a regular file (a device, FIFO or socket is never read)")
    if st.st_size > MAX_DECODED_BYTES:
        raise AudioRejected("payload_too_large", f"file is {st.st_size} bytes (limit {MAX_DECODED_BYTES})")


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
        channels, sample_rate, frames = None, None, None  # OGG: libsndfile reads the header below
    if channels is not None:
        _check_format(channels, sample_rate, frames)
    sfile = _open(data, container)
    try:
        sf_frames = int(sfile.frames)
        _check_format(int(sfile.channels), int(sfile.samplerate), None)
        if container == "ogg" and 0 < sf_frames < _UNKNOWN_FRAMES:
            frames = sf_frames  # last page's granule position: an estimate, the decode decides
            _check_format(int(sfile.channels), int(sfile.samplerate), frames)
        # libsndfile's own count (what it will decode) sizes the buffer when it knows one.
        estimate = sf_frames if 0 < sf_frames < _UNKNOWN_FRAMES else frames
        samples, clipped = _read_bounded(sfile, container, estimate=estimate)
        sample_rate = int(sfile.samplerate)
    finally:
        sfile.close()
    _check_format(samples.shape[0], sample_rate, samples.shape[1])
    if clipped:
        logger.debug("clipped %d samples beyond full scale", clipped)
    return DecodedAudio(
        samples=samples, sample_rate=sample_rate, container=container, num_bytes=len(data), clipped_samples=clipped
    )


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


def _open(data: bytes, container: str) -> sf.SoundFile:
    try:
        return sf.SoundFile(io.BytesIO(data))
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError) as exc:
        if container == "ogg":
            raise AudioRejected("truncated_header", f"unreadable header: {exc}") from exc
        raise AudioRejected("decode_failed", f"could not decode {container}: {exc}") from exc


def _read_bounded(sfile: sf.SoundFile, container: str, *, estimate: int | None) -> tuple[np.ndarray, int]:
    """Decode ``sfile`` block by block → (float32 ``(channels, frames)`` clipped to [-1, 1], clipped count).

    The output buffer starts at the header's length (or 30 s when unknown), grows by doubling
    only when the stream holds more, and never exceeds ``MAX_DURATION_SECONDS`` of frames plus
    one: reaching that frame is ``too_long`` at once, without decoding the rest. libsndfile's own read is used directly (``sf_readf_float``) because
    ``SoundFile.read`` seeks after every call, which fails on a FLAC stream of unknown length.
    """
    channels = int(sfile.channels)
    limit = int(math.floor(MAX_DURATION_SECONDS * int(sfile.samplerate))) + 1  # frames that prove too_long
    initial = estimate if estimate is not None and estimate > 0 else int(30 * sfile.samplerate)
    out = np.empty((channels, max(1, min(limit, initial))), dtype=np.float32)
    block = np.empty((DECODE_BLOCK_FRAMES, channels), dtype=np.float32)
    ptr = sf._ffi.cast("float *", sf._ffi.from_buffer(block))
    n = 0
    clipped = 0
    while True:
        want = min(DECODE_BLOCK_FRAMES, limit - n)
        if want <= 0:
            raise AudioRejected("too_long", f"more than {MAX_DURATION_SECONDS:.0f} s of audio (stopped decoding)")
        got = int(sf._snd.sf_readf_float(sfile._file, ptr, want))
        if got <= 0:
            break
        part = block[:got]
        lo, hi = float(part.min()), float(part.max())  # NaN propagates through min/max
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise AudioRejected("non_finite", "audio contains NaN or Inf samples")
        if lo < -1.0 or hi > 1.0:
            clipped += int(np.count_nonzero(part > 1.0)) + int(np.count_nonzero(part < -1.0))
            np.clip(part, -1.0, 1.0, out=part)
        if n + got > out.shape[1]:
            grown = np.empty((channels, min(limit, max(n + got, 2 * out.shape[1]))), dtype=np.float32)
            grown[:, :n] = out[:, :n]
            out = grown
        out[:, n : n + got] = part.T
        n += got
    code = int(sf._snd.sf_error(sfile._file))
    if code != 0:
        message = sf._ffi.string(sf._snd.sf_strerror(sfile._file)).decode("utf-8", "replace")
        raise AudioRejected("decode_failed", f"could not decode {container}: {message}")
    if n == 0:
        raise AudioRejected("too_short", f"no samples decoded (minimum {MIN_DURATION_SECONDS} s)")
    return (out if n == out.shape[1] else np.ascontiguousarray(out[:, :n])), clipped


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


# --------------------------------------------------------------------------------------------
# Headers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _WavFormat:
    tag: int  # format tag (the sub-format's for WAVE_FORMAT_EXTENSIBLE)
    channels: int
    sample_rate: int
    block_align: int  # bytes per block (one frame for linear formats)
    samples_per_block: int | None  # codecs only, from the fmt extension


def _wav_fmt(data: bytes, body: int, size: int) -> _WavFormat:
    if size < 16 or body + 16 > len(data):
        raise AudioRejected("truncated_header", "WAV fmt chunk is cut short")
    tag, channels, sample_rate, _rate, block_align, bits = struct.unpack_from("<HHIIHH", data, body)
    if block_align == 0:
        raise AudioRejected("truncated_header", "WAV fmt chunk has zero block alignment")
    extension = data[body + 16 : body + min(size, len(data) - body)]
    if tag == _WAV_EXTENSIBLE and len(extension) >= 24:
        (tag,) = struct.unpack_from("<H", extension, 8)  # first two bytes of the SubFormat GUID
    # Codecs (GSM 6.10 in particular) legitimately store 0 bits per sample; linear formats cannot.
    if tag in _WAV_LINEAR_TAGS and bits == 0:
        raise AudioRejected("truncated_header", f"WAV {_WAV_LINEAR_TAGS[tag]} fmt chunk has zero bits per sample")
    samples_per_block = None
    if tag in _WAV_BLOCK_CODECS and len(extension) >= 4:
        (spb,) = struct.unpack_from("<H", extension, 2)  # after cbSize
        samples_per_block = spb or None
    return _WavFormat(tag, channels, sample_rate, block_align, samples_per_block)


def _wav_header(data: bytes) -> tuple[int, int, int | None]:
    """Walk RIFF chunks; return (channels, sample_rate, frames or None when the decode must count).

    Linear formats (PCM, float, A-law, mu-law): frames = data bytes / block alignment. Codecs:
    the ``fact`` chunk's sample count, else blocks × samples per block, else unknown.
    """
    if data[:4] == b"RIFX":
        raise AudioRejected("unsupported_encoding", "big-endian RIFX WAV is not accepted")
    pos = 12
    fmt: _WavFormat | None = None
    fact: int | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt = _wav_fmt(data, body, size)
        elif chunk_id == b"fact" and size >= 4 and body + 4 <= len(data):
            (fact,) = struct.unpack_from("<I", data, body)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioRejected("truncated_header", "WAV data chunk before fmt chunk")
            present = len(data) - body
            if size > present + _LENGTH_SLACK_BYTES:
                raise AudioRejected(
                    "header_size_mismatch",
                    f"WAV data chunk declares {size} bytes but {present} are present",
                )
            data_bytes = min(size, present)
            if fmt.tag in _WAV_LINEAR_TAGS:
                return fmt.channels, fmt.sample_rate, data_bytes // fmt.block_align
            if fact is None:
                fact = _fact_after(data, body + size + (size & 1))
            if fact:
                return fmt.channels, fmt.sample_rate, fact
            if fmt.samples_per_block:
                blocks = -(-data_bytes // fmt.block_align)
                return fmt.channels, fmt.sample_rate, blocks * fmt.samples_per_block
            return fmt.channels, fmt.sample_rate, None
        if size > len(data) - body + _LENGTH_SLACK_BYTES:
            raise AudioRejected(
                "header_size_mismatch", f"WAV chunk {chunk_id!r} declares {size} bytes past the end"
            )
        pos = body + size + (size & 1)
    raise AudioRejected("truncated_header", "WAV has no complete fmt and data chunks")


def _fact_after(data: bytes, pos: int) -> int | None:
    """A ``fact`` chunk placed after the data chunk (rare); stops quietly at anything malformed,
    since trailing chunks were never part of what the intake checks."""
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if chunk_id == b"fact" and size >= 4 and pos + 12 <= len(data):
            return struct.unpack_from("<I", data, pos + 8)[0]
        pos += 8 + size + (size & 1)
    return None


def _flac_header(data: bytes) -> tuple[int, int, int | None]:
    """Parse the STREAMINFO block; return (channels, sample_rate, frames or None when unknown)."""
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
        return channels, sample_rate, None  # unknown length (allowed by the format): the decode counts
    # Bound the declared length by the bytes present: 16-bit PCM rarely compresses below 1/20 and
    # never 64 samples per bit; a header claiming far more samples than that is a lie.
    max_plausible = (len(data) * 8) * 64 // max(channels, 1)
    if total_samples > max_plausible:
        raise AudioRejected(
            "header_size_mismatch",
            f"FLAC header declares {total_samples} samples for a {len(data)}-byte file",
        )
    return channels, sample_rate, total_samples
