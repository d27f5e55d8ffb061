"""Seconds per 30 s clip for the neural scoring models: CLAP, the music encoder, Whisper and
Audiobox Aesthetics.

By default builds the tiny random test models (tests/tiny_models.py) in a temporary folder;
with ``--models-dir`` it loads real weights from there instead (whatever is present is timed).
Each model embeds/transcribes ``--clips`` 30 s clips in one batch, after one warm-up clip.
``--full-aesthetics`` also times the full-size Audiobox Aesthetics architecture (WavLM Base+
sized, 12 layers of 768) with random weights, which is what the released checkpoint costs, once
with one window per forward pass (the CPU route) and once with a clip's three windows together.

    python bench/bench_scoring_neural.py [--models-dir ~/.cache/tuneforge/models] [--clips 4] [--full-aesthetics]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scoring.models import load_models  # noqa: E402

SR = 32_000


def clip(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * 220 * (1 + 0.1 * seed) * t) + 0.03 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def timed(fn, recordings) -> float:
    fn(recordings[:1])  # warm-up
    start = time.perf_counter()
    fn(recordings)
    return (time.perf_counter() - start) / len(recordings)


def full_size_aesthetics():
    """An ``AestheticsPredictor`` of the released architecture (the package's default WavLM
    config, nth_layer 13, one linear head per axis) with random weights."""
    from scoring.models.aesthetics import AXES, AestheticsPredictor
    from scoring.models.aesthetics_model import AesMultiOutput, HeadConfig
    from scoring.models.wavlm import WavLMConfig

    torch.manual_seed(0)
    head = HeadConfig.from_dict({}, {a: {"mean": 5.0, "std": 1.5} for a in AXES})
    return AestheticsPredictor(model=AesMultiOutput(head, WavLMConfig()), name="random full size", identity="-")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models-dir", type=Path, default=None)
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--full-aesthetics", action="store_true",
                   help="also time the full-size Audiobox Aesthetics architecture with random weights")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tmp = None
    if args.models_dir is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from tiny_models import build_all, build_tiny_aesthetics

        tmp = tempfile.TemporaryDirectory()
        models_dir = build_all(tmp.name)
        build_tiny_aesthetics(models_dir)
        label = "tiny random models"
    else:
        models_dir = args.models_dir
        label = str(models_dir)
    bundle = load_models(models_dir)
    recordings = [(clip(30.0, k), SR) for k in range(args.clips)]
    print(f"models: {label}; {args.clips} clips of 30 s; torch threads {args.threads}")
    rows = []
    if bundle.clap is not None:
        rows.append((f"clap ({bundle.clap.name})", timed(bundle.clap.embed_recordings, recordings)))
    if bundle.encoder is not None:
        rows.append((f"encoder ({bundle.encoder.name})", timed(bundle.encoder.summarize_recordings, recordings)))
    if bundle.whisper is not None:
        w = bundle.whisper
        rows.append((f"whisper ({w.name})",
                     timed(lambda r: w.transcribe([w.resample(m, sample_rate=sr) for m, sr in r]), recordings)))
    if bundle.aesthetics is not None:
        a = bundle.aesthetics
        rows.append((f"aesthetics ({a.name}, {a.n_parameters} params)", timed(a.predict_recordings, recordings)))
    if args.full_aesthetics:
        full = full_size_aesthetics()
        rows.append((f"aesthetics full size, random ({full.n_parameters / 1e6:.1f} M params)",
                     timed(full.predict_recordings, recordings)))
        full.batch_windows = 3  # a 30 s clip's three windows in one forward pass (the GPU route)
        rows.append(("aesthetics full size, 3 windows per pass", timed(full.predict_recordings, recordings)))
    for name, sec in rows:
        print(f"{name:48s} {sec:8.3f} s per 30 s clip")
    if not rows:
        print("no neural model found")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
