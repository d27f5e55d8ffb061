"""Strict intake, part two: files on disk, the three misreads, lying lengths, sample values, mutations.

Every input is crafted here from bytes (nothing from disk but what the test writes). Cases:
the file-path reasons (each its own), the 10 s IMA/MS ADPCM and GSM 6.10 WAVs that used to be
misread, a FLAC of unknown length, headers that lie about the length (the decode stays bounded),
float samples over full scale (clipped and counted; a ×100 float copy scores as its int16 twin),
and a few hundred deterministic byte mutations that must either decode within bounds or be
rejected with a reason.
"""

import io
import os
import struct
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

import scoring.intake as intake
from scoring.audio import AudioLoadError, load_audio, load_audio_bytes, load_clip
from scoring.intake import (
    MAX_CHANNELS,
    MAX_DECODED_BYTES,
    MAX_DURATION_SECONDS,
    MAX_SAMPLE_RATE,
    MIN_DURATION_SECONDS,
    MIN_SAMPLE_RATE,
    REASONS,
    AudioRejected,
    decode_audio_bytes,
    decode_audio_file,
)
from scoring.music_theory import Key
from scoring.request import ScoringRequest
from scoring.scorer import Scorer
from scoring.synth import render_piece


def _tone(seconds: float, sr: int, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    rows = [amp * np.sin(2 * np.pi * (220.0 + 110.0 * c) * t) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def _encode(data: np.ndarray, sr: int, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(data).T, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def _reason(fn, *args) -> str:
    with pytest.raises(AudioRejected) as err:
        fn(*args)
    assert err.value.reason in REASONS
    return err.value.reason


def _chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(id, body offset, size) of each RIFF chunk."""
    out, pos = [], 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        out.append((cid, pos + 8, size))
        pos += 8 + size + (size & 1)
    return out


def _without_chunk(data: bytes, chunk_id: bytes) -> bytes:
    out = bytearray(data[:12])
    for cid, body, size in _chunks(data):
        if cid != chunk_id:
            out += data[body - 8 : body + size + (size & 1)]
    struct.pack_into("<I", out, 4, len(out) - 8)
    return bytes(out)


def _flac_with_total(flac: bytes, total: int) -> bytes:
    """The FLAC with STREAMINFO's 36-bit total-samples field set to ``total``."""
    info = int.from_bytes(flac[18:26], "big")
    info = (info & ~((1 << 36) - 1)) | total
    return flac[:18] + info.to_bytes(8, "big") + flac[26:]


def _fail(*_args, **_kwargs):
    raise AssertionError("decoding ran although the header already decided")


# ---------------------------------------------------------------------------------------------
# Files on disk: each failure its own reason, checked before reading
# ---------------------------------------------------------------------------------------------


def test_file_round_trip(tmp_path):
    path = tmp_path / "ok.wav"
    path.write_bytes(_encode(_tone(1.0, 16000), 16000))
    clip = decode_audio_file(path)
    assert clip.sample_rate == 16000 and clip.frames == 16000 and clip.container == "wav"
    samples, sr = load_audio(path)
    assert sr == 16000 and samples.shape == (1, 16000) and samples.dtype == np.float32


def test_missing_file(tmp_path):
    assert _reason(decode_audio_file, tmp_path / "nope.wav") == "not_found"
    assert _reason(decode_audio_file, tmp_path / "nope" / "deeper.wav") == "not_found"


def test_directory(tmp_path):
    with pytest.raises(AudioRejected, match="is_directory: a directory"):
        decode_audio_file(tmp_path)


def test_device_and_fifo_are_never_read(tmp_path, monkeypatch):
    monkeypatch.setattr(intake.os, "open", _fail)  # a FIFO would block in open(), /dev/zero never ends
    assert _reason(decode_audio_file, "/dev/zero") == "not_regular_file"
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    assert _reason(decode_audio_file, fifo) == "not_regular_file"


def test_oversized_file_refused_from_stat(tmp_path, monkeypatch):
    path = tmp_path / "big.wav"
    with open(path, "wb") as fh:
        fh.truncate(MAX_DECODED_BYTES + 1)  # sparse: no disk used
    monkeypatch.setattr(intake.os, "open", _fail)
    assert _reason(decode_audio_file, path) == "payload_too_large"


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.wav"
    path.write_bytes(_encode(_tone(1.0, 8000), 8000))

    def denied(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(intake.os, "open", denied)  # the suite may run as root, where chmod 000 reads fine
    with pytest.raises(AudioRejected, match="unreadable: cannot open: Permission denied"):
        decode_audio_file(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioRejected, match="missing: the file is empty"):
        decode_audio_file(path)


def test_symlink_to_device_is_refused(tmp_path):
    link = tmp_path / "zero.wav"
    link.symlink_to("/dev/zero")
    assert _reason(decode_audio_file, link) == "not_regular_file"


def test_load_audio_errors_carry_the_reason(tmp_path):
    with pytest.raises(AudioLoadError) as err:
        load_audio(tmp_path)
    assert err.value.reason == "is_directory"
    with pytest.raises(AudioLoadError) as err:
        load_audio_bytes(b"RIFF....garbage!")
    assert err.value.reason in REASONS


# ---------------------------------------------------------------------------------------------
# Bounds before decoding (the `tuneforge score` cases of issue 8)
# ---------------------------------------------------------------------------------------------


def _pcm_wav(sample_rate: int, frames: int, channels: int = 1) -> bytes:
    block_align = 2 * channels
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, (sample_rate * block_align) & 0xFFFFFFFF, block_align, 16)
    size = frames * block_align
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", size) + b"\x00\x01" * (size // 2))


@pytest.mark.parametrize("rate", [1, 8, 7_999, 96_001, 4_000_000_000])
def test_sample_rate_bounds_before_decoding(tmp_path, monkeypatch, rate):
    path = tmp_path / f"rate{rate}.wav"
    path.write_bytes(_pcm_wav(rate, 1000))
    monkeypatch.setattr(intake.sf, "SoundFile", _fail)
    with pytest.raises(AudioLoadError) as err:
        load_audio(path)
    assert err.value.reason == "bad_sample_rate"


@pytest.mark.parametrize("rate", [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE])
def test_sample_rate_limits_are_inclusive(rate):
    assert decode_audio_bytes(_pcm_wav(rate, rate)).sample_rate == rate


def test_600_s_wav_refused_from_header(monkeypatch):
    data = _pcm_wav(8000, 600 * 8000)  # 9.6 MB: under the size limit, over the length limit
    assert len(data) < MAX_DECODED_BYTES
    monkeypatch.setattr(intake.sf, "SoundFile", _fail)
    assert _reason(decode_audio_bytes, data) == "too_long"


def test_flac_claiming_10_hours_refused_before_decoding(monkeypatch):
    flac = _encode(_tone(2.0, 16000), 16000, fmt="FLAC")
    lying = _flac_with_total(flac, 10 * 3600 * 16000)
    monkeypatch.setattr(intake.sf, "SoundFile", _fail)
    assert _reason(decode_audio_bytes, lying) in ("too_long", "header_size_mismatch")


def test_three_channels_refused_before_decoding(monkeypatch):
    data = _encode(_tone(1.0, 8000, channels=3), 8000)
    monkeypatch.setattr(intake.sf, "SoundFile", _fail)
    assert MAX_CHANNELS == 2 and _reason(decode_audio_bytes, data) == "bad_channels"


# ---------------------------------------------------------------------------------------------
# The three misreads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("subtype", ["IMA_ADPCM", "MS_ADPCM", "GSM610"])
def test_compressed_wav_length_is_read_right(subtype):
    x = _tone(10.0, 16000)
    data = _encode(x, 16000, subtype=subtype)
    clip = decode_audio_bytes(data)
    assert clip.duration_seconds == pytest.approx(10.0, abs=0.1)
    assert clip.sample_rate == 16000 and clip.channels == 1
    assert np.corrcoef(clip.samples[0, 1000:150000], x[0, 1000:150000])[0, 1] > 0.99
    # and the header alone estimates ~10 s, not bytes / block_align
    _, _, frames = intake._wav_header(data)
    assert frames == pytest.approx(160000, rel=0.01)


@pytest.mark.parametrize("subtype", ["IMA_ADPCM", "MS_ADPCM", "GSM610"])
def test_compressed_wav_without_fact_chunk_uses_samples_per_block(subtype):
    data = _without_chunk(_encode(_tone(10.0, 16000), 16000, subtype=subtype), b"fact")
    assert b"fact" not in [c for c, _, _ in _chunks(data)]
    _, _, frames = intake._wav_header(data)
    assert frames == pytest.approx(160000, rel=0.01)
    assert decode_audio_bytes(data).duration_seconds == pytest.approx(10.0, abs=0.1)


def test_gsm_zero_bits_is_not_a_broken_header():
    data = _encode(_tone(2.0, 8000), 8000, subtype="GSM610")
    fmt = next(body for cid, body, _ in _chunks(data) if cid == b"fmt ")
    assert struct.unpack_from("<H", data, fmt + 14)[0] == 0  # bits per sample really is 0
    assert decode_audio_bytes(data).duration_seconds == pytest.approx(2.0, abs=0.05)


def test_pcm_with_zero_bits_is_still_refused():
    data = bytearray(_encode(_tone(1.0, 8000), 8000))
    fmt = next(body for cid, body, _ in _chunks(bytes(data)) if cid == b"fmt ")
    struct.pack_into("<H", data, fmt + 14, 0)
    assert _reason(decode_audio_bytes, bytes(data)) == "truncated_header"


def test_extensible_wav_is_read_as_its_sub_format():
    data = _encode(_tone(1.0, 16000, channels=2), 16000, fmt="WAV", subtype="PCM_24")
    wavex = _encode(_tone(1.0, 16000, channels=2), 16000, fmt="WAVEX", subtype="PCM_24")
    fmt = next(body for cid, body, _ in _chunks(wavex) if cid == b"fmt ")
    assert struct.unpack_from("<H", wavex, fmt)[0] == 0xFFFE
    assert decode_audio_bytes(wavex).frames == decode_audio_bytes(data).frames == 16000


def test_flac_of_unknown_length_is_measured():
    x = _tone(10.0, 16000)
    unknown = _flac_with_total(_encode(x, 16000, fmt="FLAC"), 0)
    assert sf.info(io.BytesIO(unknown)).frames > 10**12  # what misled the old intake
    clip = decode_audio_bytes(unknown)
    assert clip.frames == 160000
    np.testing.assert_allclose(clip.samples, x, atol=1.0 / 32767 + 1e-6)


def test_flac_of_unknown_length_too_short_or_too_long():
    short = _flac_with_total(_encode(_tone(0.3, 16000), 16000, fmt="FLAC"), 0)
    assert _reason(decode_audio_bytes, short) == "too_short"


def test_unknown_length_flac_past_the_limit_stops_decoding():
    """10 min of near-silence at 8 kHz (tiny as FLAC), length unknown: rejected after ~180 s decoded."""
    seconds, sr = 600, 8000
    x = np.zeros((1, seconds * sr), np.float32)
    x[0, ::4000] = 0.01
    unknown = _flac_with_total(_encode(x, sr, fmt="FLAC"), 0)
    assert len(unknown) < MAX_DECODED_BYTES
    tracemalloc.start()
    try:
        assert _reason(decode_audio_bytes, unknown) == "too_long"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full = seconds * sr * 4
    assert peak < 0.6 * full, f"peak {peak} bytes: the decode was not bounded (full clip {full})"


def test_header_shorter_than_stream_decodes_only_the_declared_length():
    """A FLAC whose STREAMINFO says 1 s but holds 10 s: libsndfile stops at the declared count."""
    x = _tone(10.0, 16000)
    lying = _flac_with_total(_encode(x, 16000, fmt="FLAC"), 16000)
    assert decode_audio_bytes(lying).frames == 16000


# ---------------------------------------------------------------------------------------------
# Sample values over full scale
# ---------------------------------------------------------------------------------------------


def test_float_over_full_scale_is_clipped_and_counted():
    x = _tone(1.0, 16000, amp=0.5) * 100.0
    clip = decode_audio_bytes(_encode(x, 16000, subtype="FLOAT"))
    expected = np.clip(x, -1.0, 1.0)
    np.testing.assert_array_equal(clip.samples, expected)
    assert clip.clipped_samples == int(np.count_nonzero(np.abs(x) > 1.0)) > 0


def test_in_range_float_is_untouched():
    x = _tone(1.0, 16000, amp=0.999)
    x[0, 10] = 1.0
    x[0, 11] = -1.0
    clip = decode_audio_bytes(_encode(x, 16000, subtype="FLOAT"))
    np.testing.assert_array_equal(clip.samples, x)
    assert clip.clipped_samples == 0


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_huge_finite_samples_are_clipped(subtype):
    x = _tone(1.0, 16000) * 1e18
    clip = decode_audio_bytes(_encode(x, 16000, subtype=subtype))
    assert clip.samples.max() == 1.0 and clip.samples.min() == -1.0
    assert clip.clipped_samples > 0.9 * x.size


def test_integer_formats_never_count_as_clipped():
    x = np.full((1, 16000), -1.0, np.float32)
    x[0, ::2] = 1.0
    clip = decode_audio_bytes(_encode(x, 16000, subtype="PCM_16"))
    assert clip.clipped_samples == 0 and clip.samples.min() == -1.0


def _piece(seconds: float = 6.0, sr: int = 22_050) -> np.ndarray:
    return render_piece(key=Key(2, "minor"), tempo_bpm=96, seconds=seconds, sample_rate=sr, seed=3)


def test_float_x100_scores_as_its_int16_twin():
    sr = 22_050
    x = _piece(sr=sr)
    loud = x * 100.0
    float_clip = decode_audio_bytes(_encode(loud, sr, subtype="FLOAT"))
    twin_clip = decode_audio_bytes(_encode(np.clip(loud, -1.0, 1.0), sr, subtype="PCM_16"))
    assert float_clip.clipped_samples > 0 and twin_clip.clipped_samples == 0
    request = ScoringRequest(prompt="dark folk", duration_seconds=6.0, tempo_bpm=96, key_signature="D minor")
    scorer = Scorer()
    a = scorer.score(samples=float_clip.samples, sample_rate=sr, request=request)
    b = scorer.score(samples=twin_clip.samples, sample_rate=sr, request=request)
    assert a.error is None and b.error is None
    for name in a.signals:
        va, vb = a.signals[name], b.signals[name]
        assert (va is None) == (vb is None), name
        if va is not None:
            assert va == pytest.approx(vb, abs=1e-3), name
    for name in a.penalties:
        assert a.penalties[name] == pytest.approx(b.penalties[name], abs=1e-3), name
    assert a.final_score == pytest.approx(b.final_score, abs=1e-3)


def test_1e18_clip_is_decoded_clipped_and_scored():
    sr = 22_050
    clip = decode_audio_bytes(_encode(_piece(4.0, sr) * 1e18, sr, subtype="FLOAT"))
    assert float(np.abs(clip.samples).max()) <= 1.0
    b = Scorer().score(samples=clip.samples, sample_rate=sr, request=ScoringRequest(prompt="x", duration_seconds=4.0))
    assert 0.0 <= b.final_score <= 1.0 and np.isfinite(b.composite)


# ---------------------------------------------------------------------------------------------
# Mutated files: decode within bounds, or a reason; nothing else
# ---------------------------------------------------------------------------------------------


def _seeds() -> list[bytes]:
    x = _tone(1.0, 8000, channels=2, amp=0.7)
    return [
        _encode(x, 8000, "WAV", "PCM_16"),
        _encode(x, 8000, "WAV", "FLOAT"),
        _encode(x, 8000, "WAV", "IMA_ADPCM"),
        _encode(x[:1], 8000, "WAV", "GSM610"),
        _encode(x, 8000, "FLAC", "PCM_16"),
        _encode(x, 8000, "OGG", "VORBIS"),
    ]


def _mutations(data: bytes, rng: np.random.Generator, n: int) -> list[bytes]:
    out = []
    header = min(len(data), 128)
    for _ in range(n):
        m = bytearray(data)
        kind = rng.integers(4)
        if kind == 0:  # flip bytes in the header region
            for i in rng.integers(0, header, size=rng.integers(1, 4)):
                m[i] = int(rng.integers(256))
        elif kind == 1:  # plant a huge 32-bit value in the header
            i = int(rng.integers(0, max(1, header - 4)))
            m[i : i + 4] = struct.pack("<I", int(rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000])))
        elif kind == 2:  # truncate
            m = m[: int(rng.integers(0, len(m)))]
        else:  # corrupt the payload
            for i in rng.integers(header, len(m), size=16):
                m[i] = int(rng.integers(256))
        out.append(bytes(m))
    return out


def test_mutated_files_decode_within_bounds_or_are_rejected():
    rng = np.random.default_rng(8)
    outcomes: dict[str, int] = {}
    for seed in _seeds():
        for data in _mutations(seed, rng, 60):
            try:
                clip = decode_audio_bytes(data)
            except AudioRejected as exc:
                outcomes[exc.reason] = outcomes.get(exc.reason, 0) + 1
                continue
            outcomes["ok"] = outcomes.get("ok", 0) + 1
            assert clip.samples.dtype == np.float32 and clip.samples.ndim == 2
            assert 1 <= clip.channels <= MAX_CHANNELS
            assert MIN_SAMPLE_RATE <= clip.sample_rate <= MAX_SAMPLE_RATE
            assert MIN_DURATION_SECONDS <= clip.duration_seconds <= MAX_DURATION_SECONDS
            assert np.isfinite(clip.samples).all() and float(np.abs(clip.samples).max()) <= 1.0
    assert outcomes.get("ok", 0) > 0 and len(outcomes) > 3, outcomes


def test_load_clip_returns_the_decoded_clip(tmp_path):
    path = tmp_path / "x.flac"
    path.write_bytes(_encode(_tone(1.0, 16000, channels=2), 16000, fmt="FLAC"))
    clip = load_clip(path)
    assert clip.container == "flac" and clip.channels == 2 and clip.num_bytes == path.stat().st_size
