"""Render time, spectrum and drum coverage of the procedural backend (one core).

Prints, for 30 s of stereo 44.1 kHz audio in several genres and meters:

* **time**: median wall and CPU seconds of a few timed renders (after one warm-up render that
  fills the wavetable cache) and the real-time factor (render seconds / audio seconds). The
  dev machine is shared, so CPU seconds (``time.process_time``) are the steadier figure.
* **spectrum** of the first render: the share of the power above 7 kHz and above 10 kHz, the
  99 % power rolloff (the frequency below which 99 % of the long-term power lies) and the level
  of the 12-16 kHz band relative to the 0.5-2 kHz band (long-term Welch spectrum, 4096 points,
  channels averaged).
* **drum coverage** (``--coverage``, on by default): every genre with a groove is composed at
  each ``--coverage-durations`` length, its drum stem is rendered alone (the score with its
  pitched parts removed, through the same mixer) and librosa's onset detector runs on it. A beat
  (a quarter note of the request's tempo) is covered when an onset falls inside it. Printed: the
  share of beats covered over the whole clip and over its last quarter, and the last onset.

    python bench/bench_procedural.py [--duration 30] [--runs 5] [--readback 60] [--soundfont PATH|auto]
                                     [--no-coverage] [--coverage-durations 6,13] [--corpus DIR]

``--readback N`` also renders N random 10 s challenges (genre, tempo in the genre's range, one
of its meters, any of the 24 keys; fixed RNG) and reports how often librosa's beat tracker
recovers the tempo (within 8%, allowing x0.5/x2) and how often a Krumhansl-Schmuckler key
estimate on mean chroma_stft is the requested key or its relative.

``--soundfont PATH`` (or ``auto``) renders through a General-MIDI SF2 font instead of the built-in
synth and also prints how long loading the font took.

``--corpus DIR`` prints the same spectrum figures for every ``*.flac``/``*.wav`` under DIR (real
recordings, for reference; a 32 kHz file has nothing above 16 kHz by construction).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.signal import welch  # noqa: E402

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


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Long-term spectrum figures of one clip: power shares (0-1), rolloff (Hz), band level (dB)."""

    share_7k: float
    share_10k: float
    rolloff99_hz: float
    air_db: float  # 12-16 kHz band level relative to the 0.5-2 kHz band


def spectrum(x: np.ndarray, sr: int) -> Spectrum:
    """Spectrum figures of ``x`` (float, shape (channels, frames) or (frames,)) at ``sr`` Hz."""
    mono = np.asarray(x, dtype=np.float64)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    f, p = welch(mono, sr, nperseg=4096)
    total = float(p.sum())
    cum = np.cumsum(p) / total
    band = lambda lo, hi: float(p[(f >= lo) & (f < hi)].mean())  # noqa: E731
    air = (
        10.0 * math.log10(max(band(12_000, 16_000), 1e-30) / band(500, 2_000))
        if sr > 32_000
        else float("nan")
    )
    return Spectrum(
        float(p[f > 7_000].sum() / total),
        float(p[f > 10_000].sum() / total),
        float(f[np.searchsorted(cum, 0.99)]),
        air,
    )


def drum_coverage(spec, sample_rate: int) -> tuple[float, float, float] | None:
    """(share of beats covered, share of the last quarter's beats covered, last onset in s) for ``spec``.

    None when the composition has no drums. The drum stem is the score with its pitched parts
    removed, rendered through the backend's own mixer; onsets come from librosa's detector.
    """
    import librosa

    from tuneforge.generation.procedural.composer import compose
    from tuneforge.generation.procedural.mixer import render_score

    score = compose(spec, np.random.default_rng(int(spec.seed) & 0xFFFFFFFF))
    if not score.drums:
        return None
    n = int(round(spec.duration_seconds * sample_rate))
    stem = render_score(
        dataclasses.replace(score, parts=[]), sample_rate=sample_rate, n_frames=n, seed=int(spec.seed)
    ).mean(axis=0)
    onsets = librosa.onset.onset_detect(y=stem, sr=sample_rate, units="time")
    beat = 60.0 / spec.tempo_bpm
    n_beats = int(spec.duration_seconds / beat)
    slack = 0.05  # the detector reports an onset up to about two frames late
    covered = np.array(
        [np.any((onsets >= k * beat - slack) & (onsets < (k + 1) * beat - slack)) for k in range(n_beats)]
    )
    last = covered[int(0.75 * n_beats) :] if n_beats >= 4 else covered[-1:]
    return float(covered.mean()), float(last.mean()), float(onsets.max()) if onsets.size else 0.0


def coverage_report(durations: list[float], sample_rate: int = 22_050) -> None:
    from tuneforge.catalog import GENRES

    for duration in durations:
        rows = []
        for i, (genre, info) in enumerate(GENRES.items()):
            if info.groove == "none":
                continue
            tempo = int(round(sum(info.tempo) / 2))
            spec = spec_from_fields(
                genre=genre,
                tempo_bpm=tempo,
                time_signature=info.meters[0],
                duration_seconds=duration,
                seed=100 + i,
            )
            cov = drum_coverage(spec, sample_rate)
            if cov is not None:
                rows.append((genre, tempo, info.meters[0], *cov))
        whole = [r[3] for r in rows]
        tail = [r[4] for r in rows]
        print(
            f"drum coverage, {duration:g} s clips, {len(rows)} genres with a groove: beats covered "
            f"mean {statistics.mean(whole):.2f} min {min(whole):.2f}; last quarter mean {statistics.mean(tail):.2f} "
            f"min {min(tail):.2f}; genres with a drum-less last quarter: {sum(t == 0 for t in tail)}"
        )
        for genre, tempo, meter, w, t, last in rows:
            if w < 0.9 or t < 0.9:
                print(
                    f"  {genre:14s} {tempo:4d} BPM {meter:5s} covered {w:.2f}, last quarter {t:.2f}, "
                    f"last onset {last:.2f} s of {duration:g} s"
                )


def corpus_report(directory: str) -> None:
    import soundfile as sf

    paths = sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in (".flac", ".wav"))
    figures = []
    for path in paths:
        x, sr = sf.read(str(path), always_2d=True, dtype="float32")
        s = spectrum(x.T, sr)
        figures.append(s)
        print(
            f"  {path.name[:48]:48s} {sr:6d} Hz  >7k {100 * s.share_7k:6.2f} %  >10k {100 * s.share_10k:6.3f} %  "
            f"r99 {s.rolloff99_hz:6.0f} Hz"
        )
    if figures:
        q = lambda v: np.percentile(v, [25, 50, 75])  # noqa: E731
        a, b, c = (q([getattr(s, k) for s in figures]) for k in ("share_7k", "share_10k", "rolloff99_hz"))
        print(
            f"corpus ({len(figures)} files) quartiles: >7k {100 * a[0]:.2f}/{100 * a[1]:.2f}/{100 * a[2]:.2f} %, "
            f">10k {100 * b[0]:.3f}/{100 * b[1]:.3f}/{100 * b[2]:.3f} %, r99 {c[0]:.0f}/{c[1]:.0f}/{c[2]:.0f} Hz"
        )


def readback(n: int, soundfont: str | None = None) -> None:
    import warnings

    import librosa

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
        spec = spec_from_fields(
            genre=genre,
            tempo_bpm=tempo,
            time_signature=meter,
            key_signature=key,
            duration_seconds=10.0,
            seed=int(rng.integers(1 << 30)),
        )
        y = backend.generate(spec).samples.mean(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bpm = float(np.atleast_1d(librosa.beat.beat_track(y=y, sr=sr)[0])[0])
        t_ok = any(abs(bpm / tempo - m) / m < 0.08 for m in (0.5, 1.0, 2.0))
        chroma = librosa.feature.chroma_stft(y=y, sr=sr).mean(axis=1)
        best = max(
            (
                (np.corrcoef(chroma, np.roll(t, k))[0, 1], Key(k, mode))
                for mode, t in (("major", major), ("minor", minor))
                for k in range(12)
            ),
            key=lambda s: s[0],
        )[1]
        rel = key_relation(spec.key, best)
        k_ok = rel in ("exact", "relative")
        tempo_ok += t_ok
        key_ok += k_ok
        if not (t_ok and k_ok):
            misses.append(
                f"  {genre:14s} {tempo:4d} BPM {meter:5s} {key:9s} -> tracker {bpm:6.1f} "
                f"({bpm / tempo:.2f}x), key {best.name} ({rel})"
            )
    print(f"read-back over {n} random challenges: tempo {tempo_ok}/{n}, key {key_ok}/{n} (exact or relative)")
    print("\n".join(misses))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample-rate", type=int, default=44_100)
    parser.add_argument("--readback", type=int, default=0, help="also check tempo/key read-back on N clips")
    parser.add_argument(
        "--soundfont", default=None, help="render through this General-MIDI SF2 file (or 'auto')"
    )
    parser.add_argument(
        "--no-coverage", dest="coverage", action="store_false", help="skip the drum-coverage table"
    )
    parser.add_argument(
        "--coverage-durations", default="6,13", help="clip lengths (s) for the drum-coverage table"
    )
    parser.add_argument(
        "--corpus", default=None, help="also print spectrum figures of the recordings under DIR"
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    backend = ProceduralBackend(sample_rate=args.sample_rate, soundfont=args.soundfont)
    if backend.voices is not None:
        print(
            f"soundfont {backend.voices.font.path}: loaded and voiced in {time.perf_counter() - t0:.3f} s "
            f"({len(backend.voices.programs)} timbres from the font)"
        )
    backend.generate(spec_from_fields(genre="pop", duration_seconds=5.0, seed=0))  # warm-up
    print(
        f"procedural backend ({backend.model_id}), {args.duration:.0f} s stereo {args.sample_rate} Hz, "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, median of {args.runs}"
    )
    print(
        f"{'genre':10s} {'meter':5s} {'key':9s} {'wall s':>7s} {'cpu s':>6s} {'min s':>6s} {'RTF':>7s} | "
        f"{'>7k %':>6s} {'>10k %':>7s} {'r99 Hz':>7s} {'air dB':>7s}"
    )
    walls, cpus, spectra = [], [], []
    for genre, meter, key in CASES:
        times, cpu = [], []
        first = None
        for run in range(args.runs):
            spec = spec_from_fields(
                genre=genre,
                time_signature=meter,
                key_signature=key,
                duration_seconds=args.duration,
                seed=1000 + run,
            )
            t0, c0 = time.perf_counter(), time.process_time()
            out = backend.generate(spec)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            first = out.samples if first is None else first
        med, cmed = statistics.median(times), statistics.median(cpu)
        walls.append(med)
        cpus.append(cmed)
        s = spectrum(first, args.sample_rate)
        spectra.append(s)
        print(
            f"{genre:10s} {meter:5s} {key:9s} {med:7.3f} {cmed:6.3f} {min(times):6.3f} {med / args.duration:7.4f} | "
            f"{100 * s.share_7k:6.2f} {100 * s.share_10k:7.3f} {s.rolloff99_hz:7.0f} {s.air_db:7.1f}"
        )
    print(
        f"all genres: wall median {statistics.median(walls):.3f} s, worst {max(walls):.3f} s; "
        f"cpu median {statistics.median(cpus):.3f} s, worst {max(cpus):.3f} s (RTF {max(cpus) / args.duration:.4f})"
    )
    print(
        f"spectrum over the {len(spectra)} genres: >7k median {100 * statistics.median(s.share_7k for s in spectra):.2f} %"
        f", >10k median {100 * statistics.median(s.share_10k for s in spectra):.3f} %, r99 median "
        f"{statistics.median(s.rolloff99_hz for s in spectra):.0f} Hz (min {min(s.rolloff99_hz for s in spectra):.0f})"
    )
    if args.coverage:
        coverage_report([float(d) for d in args.coverage_durations.split(",") if d])
    if args.corpus:
        corpus_report(args.corpus)
    if args.readback:
        readback(args.readback, args.soundfont)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
