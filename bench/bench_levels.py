"""Time and traced memory of the clip-rate level measures: loudness, RMS, peak, stereo correlation,
flat tops, clicks, dropouts.

These read the clip at its own rate and channels (not the 22.05 kHz analysis mono), so they are
what grows with a 96 kHz stereo clip. For each measure, on a fresh ``Features`` (the channel
mean computed beforehand, as the scorer has it by then): the median wall time of ``--reps`` runs
and the tracemalloc peak above what was held before it. Clips: 30 s of 44.1 kHz stereo
(``scoring.synth.render_piece``, what ``bench_scoring.py`` times) and 180 s of 96 kHz stereo (the
largest clip the intake accepts). Also checks the streamed loudness against pyloudnorm.

Uses only names that exist before and after the chunked rewrite, so the same script run on an
older checkout (``PYTHONPATH=that/checkout``) gives the before figures.

Usage: ``python bench/bench_levels.py [--reps 7] [--skip-long]``.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pyloudnorm  # noqa: E402

from scoring.features import Features  # noqa: E402
from scoring.music_theory import Key  # noqa: E402
from scoring.penalties import artifact  # noqa: E402
from scoring.signals import production  # noqa: E402
from scoring.synth import render_piece  # noqa: E402

MEASURES: dict[str, Callable[[Features], object]] = {
    "Features.rms": lambda f: f.rms,
    "Features.mono_rms": lambda f: f.mono_rms,
    "Features.peak": lambda f: f.peak,
    "Features.loudness_lufs": lambda f: f.loudness_lufs,
    "Features.short_term_loudness_db": lambda f: f.short_term_loudness_db,
    "production.stereo_correlation": production.stereo_correlation,
    "artifact.clipped_share": artifact.clipped_share,
    "artifact.click_rate": artifact.click_rate,
    "artifact.dropout_events": artifact.dropout_events,
}


def _fresh(x: np.ndarray, sr: int) -> Features:
    f = Features.from_audio(samples=x, sample_rate=sr)
    f.mono_original, f.mono  # noqa: B018 - cached before the measures, as in the scorer
    return f


def _clip(seconds: float, sr: int) -> np.ndarray:
    piece = render_piece(key=Key(4, "minor"), tempo_bpm=97, seconds=min(seconds, 30), sample_rate=sr, seed=1)
    return np.tile(piece, (1, int(np.ceil(seconds / 30))))[:, : int(seconds * sr)]


def bench(label: str, x: np.ndarray, sr: int, reps: int) -> None:
    print(f"\n{label}: {x.shape[1] / sr:.0f} s, {x.shape[0]} ch, {sr} Hz ({x.nbytes / 2**20:.0f} MiB float32)")
    print(f"  {'measure':34s} {'ms (median)':>12s} {'peak MiB':>9s}")
    mono_t, mono_peak = [], 0.0
    for _ in range(reps):
        f = Features.from_audio(samples=x, sample_rate=sr)
        tracemalloc.start()
        t = time.perf_counter()
        f.mono_original  # noqa: B018
        mono_t.append(time.perf_counter() - t)
        mono_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(f"  {'Features.mono_original':34s} {1000 * statistics.median(mono_t):12.2f} {mono_peak:+9.1f}")
    total = 1000 * statistics.median(mono_t)
    for name, fn in MEASURES.items():
        times = []
        for _ in range(reps):
            f = _fresh(x, sr)
            t = time.perf_counter()
            fn(f)
            times.append(time.perf_counter() - t)
        f = _fresh(x, sr)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        fn(f)
        peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
        ms = 1000 * statistics.median(times)
        total += ms
        print(f"  {name:34s} {ms:12.2f} {peak:+9.1f}")
    print(f"  {'sum of medians':34s} {total:12.2f}")
    f = Features.from_audio(samples=x, sample_rate=sr)
    reference = pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64))
    print(f"  loudness {f.loudness_lufs:.9f} LUFS, pyloudnorm {reference:.9f}: |diff| {abs(f.loudness_lufs - reference):.1e} LU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--skip-long", action="store_true")
    args = parser.parse_args()
    bench("synthetic piece", _clip(30, 44_100), 44_100, args.reps)
    if not args.skip_long:
        bench("synthetic piece tiled", _clip(180, 96_000), 96_000, max(1, args.reps // 3))


if __name__ == "__main__":
    main()
