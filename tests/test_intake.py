"""Strict audio intake: every rejection reason with a crafted input, and the encode/decode round trips.

Each bad input asserts the machine-readable ``reason``. Oversized payloads are proven to be
refused before any base64 or audio decoding runs (those functions are patched to fail if called).
The decoder lives in ``scoring.intake``; ``tuneforge.audio.intake`` keeps the encoder and
re-exports the decoder, which is checked here too. File-path, compressed-WAV, unknown-length
FLAC, over-full-scale and mutated-file cases are in ``test_intake_files.py``.
"""

import base64
import io
import struct

import numpy as np
import pytest
import soundfile as sf

import scoring.intake as intake
import tuneforge.audio.intake as wire_intake
from scoring.intake import (
    MAX_DECODED_BYTES,
    REASONS,
    AudioRejected,
    decode_audio_b64,
    decode_audio_bytes,
)
from tuneforge.audio.intake import as_channels_first, encode_audio, encode_audio_b64


def _tone(seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    rows = [0.5 * np.sin(2 * np.pi * (220.0 + 110.0 * c) * t) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def _wav(data: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(data).T, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def _wav_header(*, channels: int, sample_rate: int, bits: int = 16, data_size: int, fmt_tag: int = 1) -> bytes:
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sample_rate, sample_rate * block_align, block_align, bits)
    riff_size = 4 + (8 + len(fmt)) + (8 + data_size)
    return (
        b"RIFF" + struct.pack("<I", riff_size & 0xFFFFFFFF) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", data_size)
    )


def _reason(fn, *args) -> str:
    with pytest.raises(AudioRejected) as err:
        fn(*args)
    assert err.value.reason in REASONS
    assert str(err.value).startswith(err.value.reason + ": ")
    return err.value.reason


# ---------------------------------------------------------------------------------------------
# Rejections
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [None, "", b""])
def test_missing(payload):
    assert _reason(decode_audio_b64, payload) == "missing"


def test_missing_bytes():
    assert _reason(decode_audio_bytes, b"") == "missing"


@pytest.mark.parametrize("payload", ["this is not base64!!", "QUJD=X", "ÄÖÜ", "QUJDRA=="[:-1] + "*"])
def test_bad_base64(payload):
    assert _reason(decode_audio_b64, payload) == "bad_base64"


def test_truncated_header():
    full = _wav(_tone(1.0, 8000), 8000)
    assert _reason(decode_audio_bytes, full[:30]) == "truncated_header"  # fmt chunk cut short
    assert _reason(decode_audio_bytes, full[:8]) == "truncated_header"  # shorter than any magic
    assert _reason(decode_audio_bytes, b"fLaC" + b"\x00" * 10) == "truncated_header"


def test_wav_claiming_4_gb():
    data = _wav_header(channels=1, sample_rate=16000, data_size=0xFFFFFFF0) + b"\x00\x01" * 50
    assert _reason(decode_audio_bytes, data) == "header_size_mismatch"
    assert _reason(decode_audio_b64, base64.b64encode(data).decode()) == "header_size_mismatch"


def test_flac_claiming_far_more_samples_than_bytes():
    flac = encode_audio(_tone(1.0, 8000), 8000, fmt="flac")
    info = int.from_bytes(flac[18:26], "big")
    forged = (info & ~((1 << 36) - 1)) | ((1 << 36) - 1)  # total samples = 2^36 - 1
    data = flac[:18] + forged.to_bytes(8, "big") + flac[26:]
    assert _reason(decode_audio_bytes, data) == "header_size_mismatch"


def test_nan_samples():
    x = _tone(1.0, 16000)
    x[0, 100] = np.nan
    assert _reason(decode_audio_bytes, _wav(x, 16000, subtype="FLOAT")) == "non_finite"
    x[0, 100] = np.inf
    assert _reason(decode_audio_b64, base64.b64encode(_wav(x, 16000, subtype="FLOAT"))) == "non_finite"


def test_six_channels():
    assert _reason(decode_audio_bytes, _wav(_tone(1.0, 16000, channels=6), 16000)) == "bad_channels"


def test_one_hertz_sample_rate():
    data = _wav_header(channels=1, sample_rate=1, data_size=200) + b"\x00" * 200
    assert _reason(decode_audio_bytes, data) == "bad_sample_rate"


def test_sample_rate_above_96k():
    data = _wav_header(channels=1, sample_rate=192_000, data_size=192_000 * 2) + b"\x00" * (192_000 * 2)
    assert _reason(decode_audio_bytes, data) == "bad_sample_rate"


def test_payload_over_20_mib_rejected_before_decoding(monkeypatch):
    def fail(*_args, **_kwargs):
        raise AssertionError("decoding ran on an oversized payload")

    monkeypatch.setattr(intake.base64, "b64decode", fail)
    monkeypatch.setattr(intake.sf, "read", fail)
    monkeypatch.setattr(intake.sf, "info", fail)
    monkeypatch.setattr(intake.sf, "SoundFile", fail)
    payload = "A" * (50 * 1024 * 1024)
    assert _reason(decode_audio_b64, payload) == "payload_too_large"
    assert _reason(decode_audio_bytes, b"RIFF" + b"\x00" * (MAX_DECODED_BYTES + 1)) == "payload_too_large"


def test_just_under_limit_is_not_rejected_for_size():
    # 20 MiB of decoded bytes exactly (a WAV header + PCM): the size gate lets it through.
    frames = (MAX_DECODED_BYTES - 44) // 4
    data = _wav_header(channels=2, sample_rate=96000, data_size=frames * 4) + b"\x00" * (frames * 4)
    assert len(data) == 44 + frames * 4 <= MAX_DECODED_BYTES
    clip = decode_audio_b64(base64.b64encode(data).decode())
    assert clip.frames == frames and clip.channels == 2


@pytest.mark.parametrize(
    "data",
    [
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64,  # MP3 with an ID3 tag
        b"\xff\xfb\x90\x00" * 64,  # bare MP3 frame sync
        b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 64,  # MP4/AAC
        b"OggT" + b"\x00" * 64,
    ],
)
def test_unsupported_container(data):
    assert _reason(decode_audio_bytes, data) == "unsupported_container"


def test_big_endian_rifx_refused():
    data = bytearray(_wav(_tone(1.0, 8000), 8000))
    data[:4] = b"RIFX"
    assert _reason(decode_audio_bytes, bytes(data)) == "unsupported_encoding"


def test_undecodable_sample_format():
    data = _wav_header(channels=1, sample_rate=16000, data_size=32000, fmt_tag=0x1234) + b"\x01" * 32000
    assert _reason(decode_audio_bytes, data) == "decode_failed"


def test_too_short():
    assert _reason(decode_audio_bytes, _wav(_tone(0.2, 16000), 16000)) == "too_short"


def test_too_long():
    assert _reason(decode_audio_bytes, _wav(np.zeros((1, 181 * 8000), np.float32), 8000)) == "too_long"


def test_unknown_reason_code_is_a_bug():
    with pytest.raises(ValueError, match="unknown rejection reason"):
        AudioRejected("too_loud", "x")


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["wav", "flac"])
@pytest.mark.parametrize("channels", [1, 2])
def test_round_trip_wav_flac(fmt, channels):
    x = _tone(1.5, 22050, channels)
    clip = decode_audio_b64(encode_audio_b64(x, 22050, fmt=fmt))
    assert clip.container == fmt and clip.sample_rate == 22050
    assert clip.samples.shape == x.shape and clip.samples.dtype == np.float32
    np.testing.assert_allclose(clip.samples, x, atol=1.0 / 32767 + 1e-6)
    assert clip.duration_seconds == pytest.approx(1.5)
    assert clip.mono().shape == (x.shape[1],)


def test_round_trip_ogg():
    x = _tone(2.0, 44100, 2)
    buf = io.BytesIO()
    sf.write(buf, x.T, 44100, format="OGG", subtype="VORBIS")
    clip = decode_audio_bytes(buf.getvalue())
    assert clip.container == "ogg" and clip.sample_rate == 44100 and clip.channels == 2
    assert abs(clip.frames - x.shape[1]) <= 1024  # Vorbis may pad to a block
    assert np.corrcoef(clip.samples[0, 2000:40000], x[0, 2000:40000])[0, 1] > 0.99


def test_auto_switches_to_flac_over_20_mib():
    x = np.zeros((2, 96000 * 60), dtype=np.float32)  # WAV would be 2 ch × 96 kHz × 60 s × 2 B ≈ 22 MiB
    x[:, ::97] = 0.25
    data = encode_audio(x, 96000)
    assert data[:4] == b"fLaC" and len(data) <= MAX_DECODED_BYTES
    clip = decode_audio_bytes(data)
    assert clip.container == "flac" and clip.frames == 96000 * 60 and clip.channels == 2


def test_auto_stays_wav_under_limit():
    assert encode_audio(_tone(1.0, 16000), 16000)[:4] == b"RIFF"


def test_encode_clips_out_of_range():
    clip = decode_audio_bytes(encode_audio(np.full((1, 8000), 3.0, np.float32), 8000))
    assert clip.samples.max() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_encode_rejects_non_finite(bad):
    x = _tone(1.0, 8000)
    x[0, 5] = bad
    with pytest.raises(ValueError, match="non-finite"):
        encode_audio(x, 8000)


def test_encode_rejects_unknown_format():
    with pytest.raises(ValueError, match="unsupported format"):
        encode_audio(_tone(1.0, 8000), 8000, fmt="mp3")


def test_as_channels_first_shapes():
    assert as_channels_first(np.zeros(10)).shape == (1, 10)
    assert as_channels_first(np.zeros((100, 2))).shape == (2, 100)
    assert as_channels_first(np.zeros((2, 100))).shape == (2, 100)
    with pytest.raises(ValueError):
        as_channels_first(np.zeros((2, 2, 2)))


def test_wire_module_re_exports_the_one_intake():
    for name in ("AudioRejected", "DecodedAudio", "REASONS", "decode_audio_b64", "decode_audio_bytes",
                 "decode_audio_file", "MAX_DECODED_BYTES", "MAX_DURATION_SECONDS", "MIN_DURATION_SECONDS",
                 "MIN_SAMPLE_RATE", "MAX_SAMPLE_RATE", "MAX_CHANNELS"):
        assert getattr(wire_intake, name) is getattr(intake, name), name
