"""Seconds per 30 s clip for every weight-free signal and in total, on one core; peak memory of a
180 s stereo 48 kHz clip.

    python bench/bench_scoring.py [--reps 3] [--music-dir DIR] [--skip-memory] [--listeners on|off|both]

``--listeners`` (default ``both``): with the in-wheel listeners (musicnn taggers, basic-pitch
notes; what every validator runs) and/or without them (each signal's DSP fallback), each in its
own process so that nothing one route cached is reused by the other.

Each signal's time includes the features it is the first to ask for (signals run in the
registry's order on a fresh ``Features``), so the per-signal times add up to the total. The
first pass is a warm-up (numba compilation, filter-bank caches) and is not counted. The clip is
``scoring.synth.render_piece`` (pad, bass, melody, drums; 44.1 kHz stereo); ``--music-dir``
also times real files.
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["NUMBA_NUM_THREADS"] = "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from scoring.audio import load_audio  # noqa: E402
from scoring.features import Features  # noqa: E402
from scoring.music_theory import Key  # noqa: E402
from scoring.penalties import PENALTIES  # noqa: E402
from scoring.request import ScoringRequest  # noqa: E402
from scoring.scorer import Scorer  # noqa: E402
from scoring.signals import SIGNALS, WEIGHT_FREE  # noqa: E402
from scoring.signals.base import SignalContext, Unavailable  # noqa: E402
from scoring.synth import render_piece  # noqa: E402

PARTS = [n for n in SIGNALS if n in WEIGHT_FREE] + [
    "duration_penalty", "artifact_penalty", "fingerprint_penalty", "fad_penalty",
]


def disable_listeners() -> None:
    """Make this process score as if musicnn and basic-pitch were not installed."""
    from scoring import listeners

    off = listeners.ListenerStatus(musicnn=False, notes=False, musicnn_reason="off (bench)", notes_reason="off (bench)")
    listeners.status = lambda: off


def time_parts(samples: np.ndarray, sr: int, request: ScoringRequest) -> dict[str, float]:
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    f = Features.from_audio(samples=samples, sample_rate=sr)
    ctx = SignalContext(features=f, request=request, generation_seconds=5.0, hotkey="bench")
    out["(decode to Features)"] = time.perf_counter() - t0
    for name in PARTS:
        fn = SIGNALS.get(name) or PENALTIES[name]
        t = time.perf_counter()
        try:
            fn(ctx)
        except Unavailable:
            pass
        out[name] = time.perf_counter() - t
    return out


def bench_clip(label: str, samples: np.ndarray, sr: int, request: ScoringRequest, reps: int) -> None:
    seconds = samples.shape[-1] / sr
    time_parts(samples, sr, request)  # warm-up
    runs = [time_parts(samples, sr, request) for _ in range(reps)]
    per30 = 30.0 / seconds
    print(f"\n{label}: {seconds:.1f} s, {samples.shape[0]} ch, {sr} Hz — seconds per 30 s of audio (median of {reps})")
    total = 0.0
    for name in runs[0]:
        v = float(np.median([r[name] for r in runs])) * per30
        total += v
        print(f"  {name:<24} {v:7.3f}")
    print(f"  {'TOTAL weight-free':<24} {total:7.3f}   ({total / 30.0:.3f} × real time)")
    scorer = Scorer()
    t = time.perf_counter()
    scorer.score(samples=samples, sample_rate=sr, request=request)
    print(f"  Scorer.score end to end  {(time.perf_counter() - t) * per30:7.3f}")


def memory_case() -> None:
    """Score a 180 s stereo 48 kHz clip and print the peak RSS."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    x = render_piece(key=Key(9, "minor"), tempo_bpm=110, seconds=180, sample_rate=48_000, seed=3)
    req = ScoringRequest(prompt="a long piece", duration_seconds=180, tempo_bpm=110, key_signature="A minor")
    t = time.perf_counter()
    b = Scorer().score(samples=x, sample_rate=48_000, request=req)
    took = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"180 s stereo 48 kHz: scored in {took:.2f} s, final {b.final_score:.3f}; "
          f"peak RSS {peak:.0f} MB (after imports {before:.0f} MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--music-dir", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--listeners", choices=("on", "off", "both"), default="both")
    args = parser.parse_args()
    if args.listeners == "both":
        rest = [a for a in sys.argv[1:] if not a.startswith("--listeners")]
        if "--listeners" in sys.argv:
            i = sys.argv.index("--listeners")
            rest = sys.argv[1:i] + sys.argv[i + 2 :]
        for mode in ("on", "off"):
            print(f"\n===== in-wheel listeners {mode.upper()} =====", flush=True)
            extra = [] if mode == "on" else ["--skip-memory"]
            subprocess.run([sys.executable, __file__, *rest, "--listeners", mode, *extra], check=True)
        return 0
    if args.listeners == "off":
        disable_listeners()
    if args.memory_only:
        memory_case()
        return 0
    req = ScoringRequest(prompt="pop song with piano", duration_seconds=30, tempo_bpm=97, key_signature="E minor", time_signature="4/4")
    x = render_piece(key=Key(4, "minor"), tempo_bpm=97, seconds=30, sample_rate=44_100, seed=1)
    bench_clip("synthetic piece (scoring.synth)", x, 44_100, req, args.reps)
    if args.music_dir:
        for path in sorted(args.music_dir.glob("*30s.flac"))[: args.limit] or sorted(args.music_dir.glob("*.flac"))[: args.limit]:
            y, sr = load_audio(path)
            r = ScoringRequest(prompt="music", duration_seconds=y.shape[1] / sr)
            bench_clip(path.name, y, sr, r, args.reps)
    if not args.skip_memory:
        # separate process, so the peak RSS belongs to the 180 s case alone
        subprocess.run([sys.executable, __file__, "--memory-only", "--listeners", args.listeners], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
