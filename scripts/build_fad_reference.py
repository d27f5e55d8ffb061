"""Build the FAD reference statistics of real music with the scoring CLAP (and encoder).

Every audio file under ``--music-dir`` (wav, flac, ogg; recursive, sorted) is decoded, mixed to
mono and embedded exactly as the scorer embeds a clip (``ClapEmbedder.embed_recordings``: one
resample to 48 kHz, fixed 10 s windows, mean, L2 norm). The file records the CLAP name and
identity (a mismatch with the loaded CLAP is refused at load), the Gaussian statistics, and a
bootstrap of the FAD that real music itself gets in ``FAD_WINDOW_CLIPS``-clip windows. When the
models directory also has a music encoder (``mert/`` or ``encoder/``), its layer-mean
statistics for ``neural_quality`` are stored alongside.

    python scripts/build_fad_reference.py --music-dir /data/music --models-dir ~/.cache/tuneforge/models \\
        --out ~/.cache/tuneforge/models/fad_reference.npz

Needs at least 2 × FAD_WINDOW_CLIPS (64) files. Exit status 2 on bad arguments or too few clips.
"""

import argparse
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from scoring import constants as C  # noqa: E402
from scoring.audio import AudioLoadError, load_audio  # noqa: E402
from scoring.fad import EncoderReference, build_reference, encoder_distance  # noqa: E402
from scoring.models import load_models  # noqa: E402
from scoring.signals.base import ScoringError  # noqa: E402

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
BATCH = 16

log = logging.getLogger("build_fad_reference")


def find_audio(music_dir: Path) -> list[Path]:
    return sorted(p for p in music_dir.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--music-dir", required=True, type=Path, help="folder of real music files")
    p.add_argument("--models-dir", required=True, type=Path, help="scoring models folder (needs clap/)")
    p.add_argument("--out", required=True, type=Path, help="output .npz")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if not args.music_dir.is_dir():
        print(f"--music-dir {args.music_dir} is not a folder", file=sys.stderr)
        return 2
    files = find_audio(args.music_dir)
    need = 2 * C.FAD_WINDOW_CLIPS
    if len(files) < need:
        print(f"found {len(files)} audio files in {args.music_dir}; a reference needs at least {need}", file=sys.stderr)
        return 2
    try:
        bundle = load_models(args.models_dir)
    except ScoringError as exc:
        print(f"cannot load models: {exc}", file=sys.stderr)
        return 2
    if bundle.clap is None:
        print(f"no CLAP in {args.models_dir} (expected {args.models_dir / 'clap'})", file=sys.stderr)
        return 2

    embeddings: list[np.ndarray] = []
    layer_means: list[np.ndarray] = []
    skipped = 0
    start = time.perf_counter()
    for b in range(0, len(files), BATCH):
        recordings = []
        for path in files[b : b + BATCH]:
            try:
                samples, sr = load_audio(path)
            except AudioLoadError as exc:
                log.warning("skipping %s: %s", path, exc)
                skipped += 1
                continue
            recordings.append((samples.mean(axis=0), sr))
        if not recordings:
            continue
        embeddings.extend(bundle.clap.embed_recordings(recordings))
        if bundle.encoder is not None:
            layer_means.extend(s.layer_means for s in bundle.encoder.summarize_recordings(recordings))
        done = min(b + BATCH, len(files))
        log.info("embedded %d/%d files (%.1f s)", done, len(files), time.perf_counter() - start)
    if len(embeddings) < need:
        print(f"only {len(embeddings)} files decoded ({skipped} skipped); need {need}", file=sys.stderr)
        return 2

    encoder_ref = None
    if layer_means:
        stack = np.stack(layer_means).astype(np.float64)  # (n, L, H)
        mean, std = stack.mean(axis=0), stack.std(axis=0)
        distances = np.array([encoder_distance(m, mean=mean, std=std) for m in stack])
        encoder_ref = EncoderReference(name=bundle.encoder.name, identity=bundle.encoder.identity,
                                       mean=mean, std=std, distances=distances)
    log.info("bootstrapping the %d-clip baseline ...", C.FAD_WINDOW_CLIPS)
    ref = build_reference(np.stack(embeddings), model_name=bundle.clap.name, model_identity=bundle.clap.identity,
                          encoder=encoder_ref, seed=args.seed)
    ref.save(args.out)
    print(f"wrote {args.out}: {ref.n_clips} clips, {ref.model_name} ({ref.model_identity}), dim {ref.dim}, "
          f"baseline FAD median {np.median(ref.baseline):.4f}, encoder stats {'yes' if encoder_ref else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
