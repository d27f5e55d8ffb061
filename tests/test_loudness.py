"""Streamed BS.1770 integrated loudness (scoring.loudness) against pyloudnorm, the reference."""

import tracemalloc

import numpy as np
import pyloudnorm
import pytest

from scoring.features import Features
from scoring.loudness import BLOCK_SECONDS, gating_block_bounds, integrated_loudness
from scoring.music_theory import Key
from scoring.synth import render_piece

TOLERANCE_LU = 1e-6


def _reference(x: np.ndarray, sr: int) -> float:
    """pyloudnorm on a float64 (frames, channels) copy, short clips zero-padded to one block + 1."""
    data = np.atleast_2d(np.asarray(x, dtype=np.float64)).T
    need = int(BLOCK_SECONDS * sr) + 1
    if data.shape[0] < need:
        data = np.concatenate([data, np.zeros((need - data.shape[0], data.shape[1]))])
    return float(pyloudnorm.Meter(sr).integrated_loudness(data))


def _assert_same(x: np.ndarray, sr: int, **kw) -> float:
    ours, ref = integrated_loudness(x, sr, **kw), _reference(x, sr)
    if np.isinf(ref):
        assert ours == ref
    else:
        assert abs(ours - ref) <= TOLERANCE_LU, (ours, ref)
    return ours


def _sine(freq: float, dbfs: float, seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)
    return np.repeat(x[np.newaxis].astype(np.float32), channels, axis=0)


@pytest.mark.parametrize("sr", [8_000, 11_025, 22_050, 32_000, 44_100, 48_000, 96_000])
@pytest.mark.parametrize("dbfs", [-3.0, -20.0, -45.0, -75.0])
def test_sines_at_several_levels_and_rates(sr, dbfs):
    _assert_same(_sine(997.0, dbfs, 2.3, sr), sr)


def test_a_full_scale_1khz_sine_reads_about_minus_3_lufs():
    # BS.1770: a 0 dBFS 1 kHz sine in one channel is -3.01 LUFS (K-weighting is ~+0.7 dB at 1 kHz)
    assert integrated_loudness(_sine(1000.0, 0.0, 5.0, 48_000), 48_000) == pytest.approx(-3.01, abs=0.1)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("sr", [16_000, 44_100, 96_000])
def test_noise_mono_and_stereo(channels, sr):
    rng = np.random.default_rng(sr + channels)
    _assert_same((0.1 * rng.standard_normal((channels, int(3.7 * sr)))).astype(np.float32), sr)


@pytest.mark.parametrize("sr", [22_050, 44_100, 48_000])
def test_music_with_gating_in_play(sr):
    # a rendered piece with quiet passages (20 and 40 dB down) and digital silence: both gates act
    x = render_piece(key=Key(9, "minor"), tempo_bpm=100, seconds=8, sample_rate=sr, seed=4).copy()
    x[:, int(2 * sr) : int(3.5 * sr)] *= 0.1
    x[:, int(4 * sr) : int(5 * sr)] *= 0.01
    x[:, int(6 * sr) : int(6.7 * sr)] = 0.0
    _assert_same(x, sr)
    _assert_same(x[:1], sr)
    meter = pyloudnorm.Meter(sr)
    meter.integrated_loudness(x.T.astype(np.float64))
    levels = np.asarray(meter.blockwise_loudness)
    assert np.sum(levels < -70) > 0 and np.sum(levels < levels.max() - 20) > 0  # gating really is in play


@pytest.mark.parametrize("seconds", [0.01, 0.1, 0.25, 0.3999, 0.4, 0.41, 0.5])
@pytest.mark.parametrize("channels", [1, 2])
def test_short_clips_padded_like_before(seconds, channels):
    rng = np.random.default_rng(7)
    x = (0.3 * rng.standard_normal((channels, max(2, int(seconds * 44_100))))).astype(np.float32)
    _assert_same(x, 44_100)


def test_silence_and_near_silence_are_minus_inf():
    assert integrated_loudness(np.zeros((2, 48_000), np.float32), 48_000) == float("-inf")
    assert _assert_same(_sine(440.0, -90.0, 2.0, 48_000), 48_000) == float("-inf")


@pytest.mark.parametrize("chunk_frames", [1, 7, 1000, 4410, 4411, 1 << 17])
def test_chunking_does_not_change_the_value(chunk_frames):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, int(2.05 * 44_100))) * np.linspace(0.001, 0.5, int(2.05 * 44_100))).astype(np.float32)
    values = {integrated_loudness(x, 44_100, chunk_frames=c) for c in (chunk_frames, 1 << 20)}
    assert max(values) - min(values) < 1e-12
    _assert_same(x, 44_100, chunk_frames=chunk_frames)


@pytest.mark.parametrize("sr", [8_000, 11_025, 44_100, 96_000])
@pytest.mark.parametrize("seconds", [0.41, 1.0, 7.33, 180.0])
def test_gating_block_bounds_are_pyloudnorm_s(sr, seconds):
    n = int(seconds * sr)
    lower, upper = gating_block_bounds(n, sr)
    t_g, step = 0.4, 1.0 - 0.75
    n_blocks = int(np.round((n / sr - t_g) / (t_g * step))) + 1
    assert lower.size == n_blocks
    for j in np.arange(n_blocks):  # pyloudnorm's own loop
        assert lower[j] == int(t_g * (j * step) * sr)
        assert upper[j] == min(n, int(t_g * (j * step + 1) * sr))


def test_features_loudness_is_the_reference_on_a_stereo_clip():
    x = render_piece(key=Key(2, "major"), tempo_bpm=120, seconds=3, sample_rate=44_100, seed=1)
    f = Features.from_audio(samples=x, sample_rate=44_100)
    assert abs(f.loudness_lufs - _reference(x, 44_100)) <= TOLERANCE_LU
    assert Features.from_audio(samples=np.zeros((1, 4410), np.float32), sample_rate=44_100).loudness_lufs == float("-inf")


def test_a_long_clip_is_never_copied_whole():
    # 40 s of 48 kHz stereo float32 is 14.6 MiB; pyloudnorm's way holds ~4x that in float64
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((2, 40 * 48_000))).astype(np.float32)
    tracemalloc.start()
    try:
        integrated_loudness(x, 48_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 2, peak


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        integrated_loudness(np.zeros((3, 48_000), np.float32), 48_000)
