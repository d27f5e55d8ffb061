"""The bounded-memory (chunked) feature and penalty code gives the same bits as the one-shot code.

Each ``_old_*`` function below is the implementation the chunked one replaced (whole-clip float64
copies), kept here as the reference: every comparison is exact equality. Signals are long enough
to cross the chunk edges (2**16 values for the pairwise sums, 2**18 samples for flat tops and
short-term loudness, 2**20 for clicks), with defects placed on those edges.
"""

import tracemalloc

import numpy as np
import pytest

from scoring import constants as C
from scoring.chunked import mean_square, pairwise_sums, sum_of_squares
from scoring.features import Features
from scoring.penalties import artifact
from scoring.signals import production


def _old_rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _old_peak(x: np.ndarray) -> float:
    return float(np.max(np.abs(x)))


def _old_mono_original(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=0).astype(np.float32) if x.shape[0] > 1 else x[0]


def _old_short_term_loudness_db(mono: np.ndarray) -> np.ndarray:
    x = mono.astype(np.float64)
    sr = C.ANALYSIS_SAMPLE_RATE
    win, hop = 3 * sr, sr
    if x.size <= win:
        return np.array([10 * np.log10(np.mean(x**2) + 1e-12)])
    csum = np.concatenate([[0.0], np.cumsum(x**2)])
    starts = np.arange(0, x.size - win + 1, hop)
    return 10 * np.log10((csum[starts + win] - csum[starts]) / win + 1e-12)


def _old_stereo_correlation(st: np.ndarray) -> float | None:
    left, right = st[0].astype(np.float64), st[1].astype(np.float64)
    denom = np.sqrt(np.sum(left**2) * np.sum(right**2))
    return float(np.sum(left * right) / denom) if denom > 0 else None


def _old_clipped_share(samples: np.ndarray, peak: float) -> float:
    if peak <= 0:
        return 0.0
    total = 0
    for ch in samples:
        at_ceiling = np.abs(ch) >= C.CLIP_LEVEL_RATIO * peak
        same = np.abs(np.diff(ch)) <= 1e-6
        flat = at_ceiling[1:] & at_ceiling[:-1] & same
        edges = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(np.int8), [0]])))
        lengths = edges[1::2] - edges[::2]
        total += int(np.sum(lengths[lengths >= C.CLIP_MIN_RUN - 1] + 1))
    return total / samples.size


def _old_click_rate(x: np.ndarray, sr: int, duration: float) -> float:
    if x.size < sr // 10:
        return 0.0
    e_all = np.abs(np.diff(x, 2)).astype(np.float32)
    w, q = max(16, int(0.01 * sr)), 3
    chunk = 1 << 20
    found = []
    for start in range(0, e_all.size, chunk):
        lo, hi = max(0, start - w), min(e_all.size, start + chunk + w)
        e = e_all[lo:hi].astype(np.float64)
        cs = np.concatenate([[0.0], np.cumsum(e * e)])
        idx = np.arange(start - lo, min(start + chunk, e_all.size) - lo)
        a0, a1 = np.clip(idx - w, 0, e.size), np.clip(idx - q, 0, e.size)
        b0, b1 = np.clip(idx + q + 1, 0, e.size), np.clip(idx + w + 1, 0, e.size)
        scale = np.sqrt(((cs[a1] - cs[a0]) + (cs[b1] - cs[b0])) / np.maximum((a1 - a0) + (b1 - b0), 1))
        hits = (e[idx] > C.CLICK_RATIO * scale) & (e[idx] > 1e-3)
        found.append(idx[hits] + lo)
    spikes = np.concatenate(found)
    if spikes.size == 0:
        return 0.0
    events = 1 + int(np.sum(np.diff(spikes) > int(0.005 * sr)))
    return events / (duration / 60.0)


def _old_dropout_events(mono_original: np.ndarray, sr: int) -> int:
    x = mono_original.astype(np.float64)
    block = max(1, int(C.DROPOUT_BLOCK_SECONDS * sr))
    n = x.size // block
    if n < 3:
        return 0
    level = 10 * np.log10(np.mean(x[: n * block].reshape(n, block) ** 2, axis=1) + 1e-20)
    silent = level < C.DROPOUT_SILENT_DBFS
    events = 0
    i = 1
    while i < n:
        if silent[i] and not silent[i - 1]:
            j = i
            while j < n and silent[j]:
                j += 1
            if level[i - 1] > C.DROPOUT_LOUD_DBFS and j < n:
                events += 1
            i = j
        i += 1
    return events


def _music_like(channels: int, frames: int, seed: int, noise: float = 0.05) -> np.ndarray:
    """Tones + noise with a slow envelope, float32 ``(channels, frames)`` (channels correlated)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 48_000
    base = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t))
    rows = [base + noise * (c + 1) * rng.standard_normal(frames) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def _defective(channels: int, frames: int, seed: int) -> np.ndarray:
    """:func:`_music_like` with flat tops (many across chunk edges), clicks and dropouts."""
    x = _music_like(channels, frames, seed, noise=0.01)
    rng = np.random.default_rng(seed + 1)
    edges = sorted({k * (1 << 18) for k in range(1, frames >> 18)} | {k * (1 << 20) for k in range(1, frames >> 20)})
    spots = edges + [int(p) for p in rng.integers(10, frames - 20, size=12)]
    for e in spots:
        for ch in range(channels):
            off, length = int(rng.integers(-8, 3)), int(rng.integers(2, 12))
            x[ch, max(0, e + off) : e + off + length] = 0.9 * (1 if ch == 0 else -1)  # flat top
    if edges:
        x[:, edges[0] - 3 : edges[0]] = 0.9  # a run ending right at a chunk edge
    for pos in rng.integers(100, frames - 100, size=40):
        x[:, pos] += 0.5  # clicks
    for start in (frames // 3, frames // 2):
        x[:, start : start + frames // 50] = 0.0  # dropouts
    return np.clip(x, -0.9, 0.9)


# --- the pairwise sums ------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 7, 8, 127, 128, 129, 1000, 65_535, 65_536, 65_537, 200_001, 1_234_567])
@pytest.mark.parametrize("leaf", [128, 1000, 1 << 16])
def test_pairwise_sums_are_numpy_s_bits(n, leaf):
    x = (np.random.default_rng(n).standard_normal(n) * 3).astype(np.float32)
    assert mean_square(x, leaf=leaf) == float(np.mean(np.square(x, dtype=np.float64)))
    assert sum_of_squares(x, leaf=leaf) == float(np.sum(np.square(x, dtype=np.float64)))


def test_pairwise_sums_of_several_streams_and_bad_leaf():
    x = np.random.default_rng(0).standard_normal((2, 300_001)).astype(np.float32)

    def leaf_sums(a: int, b: int) -> np.ndarray:
        left, right = x[0, a:b].astype(np.float64), x[1, a:b].astype(np.float64)
        return np.array([np.sum(left * right), np.sum(left)])

    got = pairwise_sums(leaf_sums, x.shape[1], leaf=4096)
    left, right = x[0].astype(np.float64), x[1].astype(np.float64)
    assert got[0] == np.sum(left * right) and got[1] == np.sum(left)
    with pytest.raises(ValueError):
        pairwise_sums(leaf_sums, 10, leaf=64)


# --- features, signals and penalties: old vs new, exact -----------------------------------------
CASES = [
    ("mono 48k 25 s", 1, 48_000, 25 * 48_000),
    ("stereo 96k 12 s", 2, 96_000, 12 * 96_000 + 13),
    ("stereo 8k 1.3 s", 2, 8_000, 10_400),
    ("mono 32k 0.7 s", 1, 32_000, 22_400),
]


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def clip(request):
    _, channels, sr, frames = request.param
    x = _defective(channels, frames, seed=frames % 1000)
    return x, sr, Features.from_audio(samples=x, sample_rate=sr)


def test_levels_and_mono_are_bit_identical(clip):
    x, _, f = clip
    assert f.rms == _old_rms(x)
    assert f.peak == _old_peak(x)
    old_mono = _old_mono_original(x)
    assert f.mono_original.dtype == np.float32 and np.array_equal(f.mono_original, old_mono)
    assert f.mono_rms == _old_rms(old_mono)
    np.testing.assert_array_equal(f.short_term_loudness_db, _old_short_term_loudness_db(f.mono))


def test_stereo_correlation_is_bit_identical(clip):
    x, _, f = clip
    expected = _old_stereo_correlation(x) if x.shape[0] == 2 else None
    assert production.stereo_correlation(f) == expected


def test_artifact_measures_are_bit_identical(clip):
    x, sr, f = clip
    share = artifact.clipped_share(f)
    assert share == _old_clipped_share(x, _old_peak(x))
    assert artifact.click_rate(f) == _old_click_rate(_old_mono_original(x), sr, x.shape[1] / sr)
    assert artifact.dropout_events(f) == _old_dropout_events(_old_mono_original(x), sr)


def test_the_defects_are_really_there():
    # the comparisons above are only worth something if the clips hold flat tops, clicks, dropouts
    x = _defective(1, 25 * 48_000, seed=0)
    f = Features.from_audio(samples=x, sample_rate=48_000)
    assert artifact.clipped_share(f) > 0 and artifact.click_rate(f) > 0 and artifact.dropout_events(f) >= 2


def test_flat_tops_across_every_chunk_edge():
    # one long flat top over several chunks, runs ending exactly at an edge, short runs that do
    # not count, and a clip that is all flat top
    n = 5 * (1 << 18) + 17
    x = _music_like(1, n, seed=5)
    x[0, (1 << 18) - 2 : 3 * (1 << 18) + 5] = -0.8  # spans two whole chunks
    x[0, 4 * (1 << 18) - C.CLIP_MIN_RUN : 4 * (1 << 18)] = 0.8  # ends at an edge, exactly CLIP_MIN_RUN long
    x[0, 4 * (1 << 18) + 1 : 4 * (1 << 18) + C.CLIP_MIN_RUN] = 0.8  # one sample short of a run
    x[0, -3:] = 0.8
    for y in (x, np.full((2, n), 0.5, np.float32), -np.zeros((1, n), np.float32)):
        f = Features.from_audio(samples=y, sample_rate=48_000)
        assert artifact.clipped_share(f) == _old_clipped_share(y, _old_peak(y))
    assert Features.from_audio(samples=-np.zeros((1, 100), np.float32), sample_rate=8_000).peak == 0.0


def test_long_clip_steps_hold_no_full_length_copy():
    # 60 s of 96 kHz stereo: 44 MiB float32 (a float64 copy of its mono is as large); each step
    # may hold chunks (click_rate's are the largest, ~17 MiB), never a clip-sized array
    x = _music_like(2, 60 * 96_000, seed=9)
    f = Features.from_audio(samples=x, sample_rate=96_000)
    steps = {
        "rms": lambda: f.rms,
        "peak": lambda: f.peak,
        "mono_original": lambda: f.mono_original,  # one half-size array is its result
        "mono_rms": lambda: f.mono_rms,
        "stereo_correlation": lambda: production.stereo_correlation(f),
        "clipped_share": lambda: artifact.clipped_share(f),
        "click_rate": lambda: artifact.click_rate(f),
        "dropout_events": lambda: artifact.dropout_events(f),
    }
    limits = {"mono_original": 0.55 * x.nbytes}  # its result: one float32 mono array
    tracemalloc.start()
    try:
        for name, step in steps.items():
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            step()
            grew = tracemalloc.get_traced_memory()[1] - before
            assert grew < limits.get(name, 20 * 2**20), (name, grew / 2**20)
    finally:
        tracemalloc.stop()
