"""Load and per-clip times of the trained models that ship inside pip wheels, on one thread.

    python bench/bench_wheel_models.py [--models basic_pitch,musicnn] [--reps 3] [--tracks 4] [--music-dir DIR]

One function per model (``bench_<name>``); ``main`` runs those whose wheel is installed. Clips are
the real corpus excerpts (``--music-dir``, default ``../shared/corpus/real``: the first
``--tracks`` tracks' 10 s and 30 s excerpts) or, without it, ``scoring.synth.render_piece``.
Each timing is the median over ``--reps`` runs after one warm-up run, in CPU seconds of this
process (``time.process_time``: everything runs on one thread, so on an idle core this is the wall
time, and on a shared machine it does not count the time other processes hold the core); the
wall-clock median is printed beside the per-clip totals. Resampling is timed separately.
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soxr  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MUSIC = ROOT.parent / "shared" / "corpus" / "real"


WALL: list[float] = []  # wall-clock seconds of the last ``timed`` call's runs


def timed(fn: Callable[[], object], reps: int) -> tuple[float, object]:
    """Median CPU seconds of ``fn()`` over ``reps`` runs after one warm-up, and its last result
    (the runs' wall-clock seconds are left in ``WALL``)."""
    result = fn()
    cpu = []
    WALL.clear()
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        cpu.append(time.process_time() - c0)
        WALL.append(time.perf_counter() - w0)
    return statistics.median(cpu), result


def load_clips(music_dir: Path | None, tracks: int) -> dict[str, tuple[np.ndarray, int]]:
    """name → (mono float32 ``(samples,)``, Hz): real excerpts, or a synthetic piece of 10 s and 30 s."""
    clips: dict[str, tuple[np.ndarray, int]] = {}
    if music_dir is not None and music_dir.is_dir():
        import soundfile as sf

        stems = sorted({p.name.rsplit("__", 1)[0] for p in music_dir.glob("*__30s.flac")})[:tracks]
        for stem in stems:
            for length in ("10s", "30s"):
                y, sr = sf.read(music_dir / f"{stem}__{length}.flac", dtype="float32", always_2d=True)
                clips[f"{stem}__{length}"] = (y.mean(axis=1), sr)
    if not clips:
        from scoring.music_theory import Key
        from scoring.synth import render_piece

        for seconds in (10, 30):
            y = render_piece(
                key=Key(0, "major"), tempo_bpm=110, seconds=seconds, sample_rate=44_100, stereo=False
            )
            clips[f"synth__{seconds}s"] = (y[0], 44_100)
    return clips


def bench_basic_pitch(clips: dict[str, tuple[np.ndarray, int]], reps: int) -> None:
    """basic-pitch (``scoring.wheel_models.basic_pitch``): session load, per-window and per-clip times."""
    t0 = time.perf_counter()
    import onnxruntime  # noqa: F401

    from scoring.wheel_models import basic_pitch as bp
    from scoring.wheel_models.note_events import frame_notes

    t_import = time.perf_counter() - t0
    c0, t0 = time.process_time(), time.perf_counter()
    transcriber = bp.NoteTranscriber.load()
    t_load, c_load = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"basic_pitch: import onnxruntime + scoring modules {t_import * 1000:.0f} ms wall;"
        f" session load (sha256 + onnxruntime session) {c_load * 1000:.0f} ms CPU, {t_load * 1000:.0f} ms wall"
    )

    at_22k = {}
    resample_s = {}
    for name, (y, sr) in clips.items():
        resample_s[name], at_22k[name] = timed(
            lambda y=y, sr=sr: soxr.resample(y, sr, bp.SAMPLE_RATE, quality="HQ").astype(np.float32), reps
        )
    for length in ("10s", "30s"):
        vals = [v for k, v in resample_s.items() if k.endswith(length)]
        print(f"  resample to 22 050 Hz (soxr HQ), {length}: {statistics.median(vals) * 1000:.1f} ms")

    # per window, one thread, batches of windows in one run call
    longest = max(at_22k.values(), key=len)
    windows = bp._windows(longest)
    for batch in (1, 2, 4, 8):
        if windows.shape[0] < batch:
            continue
        session = bp._session(str(bp.model_path()), 1)
        chunk = windows[:batch]
        sec, _ = timed(
            lambda chunk=chunk, session=session: session.run(bp._OUTPUTS, {bp._INPUT: chunk}), reps
        )
        print(f"  model, batch of {batch} window(s) per run: {sec / batch * 1000:.1f} ms per window")

    header = (
        f"  {'clip':>5s} {'max_seconds':>11s} {'windows':>7s} {'model':>8s} {'notes':>8s} {'total':>8s}"
        f" {'max':>8s} {'wall':>8s} {'notes/s':>7s}"
    )
    print(header)
    settings: list[tuple[str, float | None]] = [("10s", None), ("30s", None)]
    settings += [("30s", s) for s in (4.75, 9.5, 14.3, 19.0)]
    for length, max_seconds in settings:
        model_t, notes_t, total_t, wall_t, n_windows, rates = [], [], [], [], [], []
        for name, y in at_22k.items():
            if not name.endswith(length):
                continue
            ranges = bp._excerpt_starts(y.shape[0], max_seconds)
            parts = [y[a:b] for a, b in ranges]
            sec_model, grams = timed(
                lambda parts=parts: [transcriber.posteriorgrams(mono_22050=p) for p in parts], reps
            )
            sec_notes, notes = timed(
                lambda grams=grams: [frame_notes(note=n, onset=o) for n, o, _ in grams], reps
            )
            sec_total, t = timed(lambda y=y, ms=max_seconds: transcriber.transcribe(y, max_seconds=ms), reps)
            model_t.append(sec_model)
            notes_t.append(sec_notes)
            total_t.append(sec_total)
            wall_t.append(statistics.median(WALL))
            n_windows.append(sum(bp._windows(p).shape[0] for p in parts))
            rates.append(len(t.notes) / t.analysed_s)
        label = "whole" if max_seconds is None else f"{max_seconds:g}"
        print(
            f"  {length:>5s} {label:>11s} {statistics.median(n_windows):7.0f} {statistics.median(model_t):8.3f}"
            f" {statistics.median(notes_t):8.3f} {statistics.median(total_t):8.3f} {max(total_t):8.3f}"
            f" {statistics.median(wall_t):8.3f} {statistics.median(rates):7.1f}"
        )
    print(
        "  (CPU seconds, median over clips; 'max' the slowest clip; 'wall' the wall-clock median; notes/s of analysed audio)"
    )


def bench_musicnn(clips: dict[str, tuple[np.ndarray, int]], reps: int) -> None:
    """musicnn taggers (``scoring.wheel_models.musicnn``): checkpoint load, mel, per-tagger and
    both-tagger times per clip, and the effect of ``max_patches``."""
    t0 = time.perf_counter()
    from scoring.wheel_models import musicnn as mnn

    t_import = time.perf_counter() - t0
    loads = []
    for name in mnn.TAGGERS:
        c0, t0 = time.process_time(), time.perf_counter()
        mnn.MusicnnTagger.load(name)
        loads.append(f"{name} {(time.process_time() - c0) * 1000:.0f} ms CPU / {(time.perf_counter() - t0) * 1000:.0f} ms wall")
    print(f"musicnn: import scoring modules {t_import * 1000:.0f} ms wall; checkpoint read + CRC + arrange: {'; '.join(loads)}")

    at_16k: dict[str, np.ndarray] = {}
    resample_s: dict[str, float] = {}
    mel_s: dict[str, float] = {}
    reps_mel: dict[str, np.ndarray] = {}
    for name, (y, sr) in clips.items():
        resample_s[name], at_16k[name] = timed(
            lambda y=y, sr=sr: soxr.resample(y, sr, mnn.SAMPLE_RATE, quality="HQ").astype(np.float32), reps
        )
        mel_s[name], reps_mel[name] = timed(lambda y=at_16k[name]: mnn.log_mel(y), reps)
    for length in ("10s", "30s"):
        res = statistics.median(v for k, v in resample_s.items() if k.endswith(length))
        mel = statistics.median(v for k, v in mel_s.items() if k.endswith(length))
        print(f"  {length}: resample to 16 kHz (soxr HQ) {res * 1000:.1f} ms; log-mel (librosa + float16) {mel * 1000:.1f} ms")

    print(f"  {'clip':>5s} {'taggers':>12s} {'max_patches':>11s} {'patches':>7s} {'forward':>8s} {'per patch':>9s} {'wall':>7s}")
    cases: list[tuple[str, tuple[str, ...], int | None]] = [
        ("10s", mnn.TAGGERS, None),
        ("30s", ("MTT_musicnn",), None),
        ("30s", ("MSD_musicnn",), None),
        ("30s", mnn.TAGGERS, None),
    ] + [("30s", mnn.TAGGERS, k) for k in (3, 5, 7)]
    for length, taggers, max_patches in cases:
        cpu, wall, patches = [], [], []
        for name, rep in reps_mel.items():
            if not name.endswith(length):
                continue
            sec, out = timed(lambda rep=rep, t=taggers, m=max_patches: mnn.analyse_log_mel(rep, taggers=t, max_patches=m), reps)
            cpu.append(sec)
            wall.append(statistics.median(WALL))
            patches.append(next(iter(out.values())).taggram.shape[0])
        label = "both" if len(taggers) == 2 else taggers[0].split("_")[0]
        n = statistics.median(patches)
        forward = statistics.median(cpu)
        print(
            f"  {length:>5s} {label:>12s} {'all' if max_patches is None else max_patches:>11} {n:7.0f} {forward:8.3f}"
            f" {forward / n * 1000:7.1f}ms {statistics.median(wall):7.3f}"
        )
    print("  (CPU seconds of the taggers on the log-mel, median over clips; add resample + log-mel for a whole clip)")


BENCHES: dict[str, tuple[str, Callable[[dict[str, tuple[np.ndarray, int]], int], None]]] = {
    "basic_pitch": ("basic_pitch", bench_basic_pitch),
    "musicnn": ("musicnn", bench_musicnn),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument(
        "--tracks", type=int, default=4, help="real tracks to time (10 s and 30 s excerpt of each)"
    )
    p.add_argument("--music-dir", type=Path, default=DEFAULT_MUSIC)
    args = p.parse_args(argv)
    clips = load_clips(args.music_dir, args.tracks)
    print(f"clips: {', '.join(clips)}")
    for name in args.models.split(","):
        if name not in BENCHES:
            print(f"unknown model {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        package, fn = BENCHES[name]
        if importlib.util.find_spec(package) is None:
            print(f"{name}: wheel {package!r} not installed, skipped")
            continue
        fn(clips, args.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
