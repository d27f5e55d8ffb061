"""Cold vs warm ``tuneforge score``: what the JIT cache (scoring/jit, docs/jit.md) saves a process.

Each figure is the wall time of a whole ``python -m tuneforge.cli score CLIP --json`` process
(start-up, imports, model loads, scoring), one core (``OMP_NUM_THREADS=1``), against a cache base
of its own in a temporary directory (``TUNEFORGE_JIT_CACHE_DIR``), so the install's cache is
neither used nor touched:

* ``cold``: an empty base. The process finds no sealed cache, builds it (the warm-up child compiles
  every librosa kernel the scoring path uses), then scores. What the first request paid before.
* ``install warm``: ``python -m scoring.jit warm`` on an empty base (what scripts/_venv.sh runs).
* ``warm``: the base sealed; the process copies and verifies it, then loads each kernel.
* ``damaged``: the sealed generation with ``--damage`` of its data files overwritten with garbage
  (the process detects it, loads none of it, rebuilds the cache, then scores).
* ``validator start``: ``warm_before_serving(in_process=True)`` on a warm base, the time a
  validator spends loading every kernel before its axon and API accept work.

Medians over ``--reps`` runs (cold, install and damaged runs each need a fresh base: ``--cold-reps``).
Also prints whether each warm process compiled any kernel itself (it should not).

Usage: ``python bench/bench_jit.py [--reps 5] [--cold-reps 1] [--seconds 10] [--damage 4]``.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)  # TuneForge chooses; this shows it does not matter
    env.update(
        {
            "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TUNEFORGE_JIT_CACHE_DIR": str(base),
        }
    )
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str, str]:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... exited {proc.returncode}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout, proc.stderr


def _score(clip: Path, seconds: float, base: Path) -> tuple[float, dict]:
    cmd = [
        sys.executable,
        "-m",
        "tuneforge.cli",
        "score",
        str(clip),
        "--prompt",
        "a calm piece in D minor",
        "--duration",
        str(seconds),
        "--json",
    ]
    elapsed, out, _ = _timed(cmd, _env(base))
    return elapsed, json.loads(out.strip().splitlines()[-1])


def _compiles_nothing(clip: Path, base: Path) -> bool:
    """A warm process scoring ``clip`` and reporting the kernel indexes it wrote itself."""
    code = (
        "import json; from scoring import jit; from scoring.audio import load_clip; "
        "from scoring.request import ScoringRequest; from scoring.scorer import Scorer; "
        f"c = load_clip({str(clip)!r}); "
        "Scorer().score(samples=c.samples, sample_rate=c.sample_rate, "
        "request=ScoringRequest(prompt='x', duration_seconds=c.samples.shape[-1] / c.sample_rate)); "
        "print(json.dumps(jit.status()['compiled_here']))"
    )
    _, out, _ = _timed([sys.executable, "-c", code], _env(base))
    return json.loads(out.strip().splitlines()[-1]) == []


def _differing(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted names of the fields where two breakdowns differ."""
    out: list[str] = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _differing(x, y, f"{prefix}{key}.")
        elif x != y:
            out.append(f"{prefix}{key}")
    return out


def _generation(base: Path) -> Path:
    (gen,) = base.glob("*/gen-*")
    return gen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="warm runs (median)")
    parser.add_argument("--cold-reps", type=int, default=1, help="cold, install and damaged runs (median)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (32 kHz stereo)")
    parser.add_argument("--damage", type=int, default=4, help="data files damaged for the damaged case")
    args = parser.parse_args()

    import soundfile as sf

    from scoring.music_theory import Key
    from scoring.synth import render_piece

    tmp = Path(tempfile.mkdtemp(prefix="bench-jit-"))
    try:
        clip = tmp / "clip.wav"
        sf.write(
            clip,
            render_piece(
                key=Key(2, "minor"), tempo_bpm=96, seconds=args.seconds, sample_rate=32_000, seed=5
            ).T,
            32_000,
            subtype="FLOAT",
        )
        rows: dict[str, list[float]] = {
            "cold": [],
            "install warm": [],
            "warm": [],
            "damaged": [],
            "validator start": [],
        }
        breakdowns: list[dict] = []
        warm_base = tmp / "warm-base"
        for i in range(args.cold_reps):
            base = warm_base if i == 0 else tmp / f"cold-{i}"
            t, b = _score(clip, args.seconds, base)
            rows["cold"].append(t)
            breakdowns.append(b)
            t, _, _ = _timed([sys.executable, "-m", "scoring.jit", "warm"], _env(tmp / f"install-{i}"))
            rows["install warm"].append(t)
        for _ in range(args.reps):
            t, b = _score(clip, args.seconds, warm_base)
            rows["warm"].append(t)
            breakdowns.append(b)
        for i in range(args.cold_reps):
            base = tmp / f"damaged-{i}"
            shutil.copytree(warm_base, base)
            data = sorted(_generation(base).rglob("*.nbc"))
            for f in data[:: max(1, len(data) // max(1, args.damage))][: args.damage]:
                f.write_bytes(os.urandom(f.stat().st_size))
            t, b = _score(clip, args.seconds, base)
            rows["damaged"].append(t)
            breakdowns.append(b)
        start_code = (
            "import logging, time; from scoring import jit; t0 = time.monotonic(); "
            "jit.warm_before_serving('validator', in_process=True); print(time.monotonic() - t0)"
        )
        for _ in range(args.reps):
            _, out, _ = _timed([sys.executable, "-c", start_code], _env(warm_base))
            rows["validator start"].append(float(out.strip().splitlines()[-1]))
        no_compile = _compiles_nothing(clip, warm_base)

        print(f"tuneforge score, {args.seconds:.0f} s 32 kHz stereo clip, one core (OMP_NUM_THREADS=1)")
        print(f"  {'case':18s} {'median s':>9s} {'runs':>5s}  all runs")
        for name, times in rows.items():
            runs = " ".join(f"{t:.1f}" for t in times)
            print(f"  {name:18s} {statistics.median(times):9.1f} {len(times):5d}  {runs}")
        print("  ('validator start' is the in-process kernel load alone, not a whole process)")
        same = all(b == breakdowns[0] for b in breakdowns)
        print(f"every run gave the same breakdown: {same}")
        for i, b in enumerate(breakdowns[1:], 1):
            fields = _differing(breakdowns[0], b)
            if fields:  # (on a checkout being edited while this runs, the code itself may have changed)
                print(f"  run {i} differs from run 0 in: {', '.join(fields)}")
        print(f"a warm process compiled no kernel itself: {no_compile}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
