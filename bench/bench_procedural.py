"""Render time of the procedural backend: 30 s of stereo 44.1 kHz audio, several genres, one core.

Prints the median of a few timed renders (after one warm-up render that fills the wavetable
cache) and the real-time factor (render seconds / audio seconds; lower is faster).

    python bench/bench_procedural.py [--duration 30] [--runs 5] [--readback 60] [--soundfont PATH|auto]

``--readback N`` also renders N random 10 s challenges (genre, tempo in the genre's range, one
of its meters, any of the 24 keys; fixed RNG) and reports how often librosa's beat tracker
recovers the tempo (within 8%, allowing x0.5/x2) and how often a Krumhansl-Schmuckler key
estimate on mean chroma_stft is the requested key or its relative.

``--soundfont PATH`` (or ``auto``) renders through a General-MIDI SF2 font instead of the built-in
synth and also prints how long loading the font took.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from tuneforge.generation.procedural import ProceduralBackend  # noqa: E402
from tuneforge.spec import spec_from_fields  # noqa: E402

CASES = [
    ("pop", "4/4", "C major"),
    ("rock", "4/4", "E minor"),
    ("jazz", "3/4", "F major"),
    ("techno", "4/4", "A minor"),
    ("trap", "4/4", "C# minor"),
    ("folk", "6/8", "G major"),
    ("classical", "3/4", "D major"),
    ("ambient", "4/4", "Eb major"),
    ("metal", "7/8", "D minor"),
]


def readback(n: int, soundfont: str | None = None) -> None:
    import warnings

    import librosa
    import numpy as np

    from scoring.music_theory import KEY_NAMES, Key, key_relation
    from tuneforge.catalog import GENRES

    major = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    minor = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
    sr = 22_050
    backend = ProceduralBackend(sample_rate=sr, soundfont=soundfont)
    rng = np.random.default_rng(2024)
    names = list(GENRES)
    tempo_ok = key_ok = 0
    misses = []
    for _ in range(n):
        genre = names[int(rng.integers(len(names)))]
        info = GENRES[genre]
        meter = info.meters[int(rng.integers(len(info.meters)))]
        tempo = int(rng.integers(info.tempo[0], info.tempo[1] + 1))
        key = KEY_NAMES[int(rng.integers(24))]
        spec = spec_from_fields(genre=genre, tempo_bpm=tempo, time_signature=meter, key_signature=key,
                                duration_seconds=10.0, seed=int(rng.integers(1 << 30)))
        y = backend.generate(spec).samples.mean(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bpm = float(np.atleast_1d(librosa.beat.beat_track(y=y, sr=sr)[0])[0])
        t_ok = any(abs(bpm / tempo - m) / m < 0.08 for m in (0.5, 1.0, 2.0))
        chroma = librosa.feature.chroma_stft(y=y, sr=sr).mean(axis=1)
        best = max(((np.corrcoef(chroma, np.roll(t, k))[0, 1], Key(k, mode))
                    for mode, t in (("major", major), ("minor", minor)) for k in range(12)), key=lambda s: s[0])[1]
        rel = key_relation(spec.key, best)
        k_ok = rel in ("exact", "relative")
        tempo_ok += t_ok
        key_ok += k_ok
        if not (t_ok and k_ok):
            misses.append(f"  {genre:14s} {tempo:4d} BPM {meter:5s} {key:9s} -> tracker {bpm:6.1f} "
                          f"({bpm / tempo:.2f}x), key {best.name} ({rel})")
    print(f"read-back over {n} random challenges: tempo {tempo_ok}/{n}, key {key_ok}/{n} (exact or relative)")
    print("\n".join(misses))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample-rate", type=int, default=44_100)
    parser.add_argument("--readback", type=int, default=0, help="also check tempo/key read-back on N clips")
    parser.add_argument("--soundfont", default=None, help="render through this General-MIDI SF2 file (or 'auto')")
    args = parser.parse_args()
    t0 = time.perf_counter()
    backend = ProceduralBackend(sample_rate=args.sample_rate, soundfont=args.soundfont)
    if backend.voices is not None:
        print(f"soundfont {backend.voices.font.path}: loaded and voiced in {time.perf_counter() - t0:.3f} s "
              f"({len(backend.voices.programs)} timbres from the font)")
    backend.generate(spec_from_fields(genre="pop", duration_seconds=5.0, seed=0))  # warm-up
    print(f"procedural backend ({backend.model_id}), {args.duration:.0f} s stereo {args.sample_rate} Hz, "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, median of {args.runs}")
    print(f"{'genre':10s} {'meter':5s} {'key':9s} {'median s':>9s} {'min s':>7s} {'RTF':>7s}")
    medians = []
    for genre, meter, key in CASES:
        times = []
        for run in range(args.runs):
            spec = spec_from_fields(genre=genre, time_signature=meter, key_signature=key,
                                    duration_seconds=args.duration, seed=1000 + run)
            t0 = time.perf_counter()
            backend.generate(spec)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        medians.append(med)
        print(f"{genre:10s} {meter:5s} {key:9s} {med:9.3f} {min(times):7.3f} {med / args.duration:7.4f}")
    print(f"all genres: median {statistics.median(medians):.3f} s, worst {max(medians):.3f} s "
          f"(RTF {max(medians) / args.duration:.4f})")
    if args.readback:
        readback(args.readback, args.soundfont)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
