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

``--listener musicnn`` builds the weight-free reference shipped in the package instead
(``scoring/listener_reference.py``): no models directory; every file is cut into consecutive
``MUSICNN_REFERENCE_SEGMENT_SECONDS`` segments, each embedded as the scorer embeds a clip
(``Features.musicnn_embedding``); the recording a segment comes from is its file name up to the
first ``--recording-sep`` (default ``__``), for the leave-one-recording-out typicality distances.
The shipped file was built from the development corpus's 30 s excerpts (the 10 s ones are their
middle thirds):

    python scripts/build_fad_reference.py --listener musicnn --music-dir ../shared/corpus/real \
        --pattern '*__30s.flac' --out scoring/data/musicnn_reference.npz
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
    p.add_argument("--models-dir", type=Path, help="scoring models folder (needs clap/; not with --listener)")
    p.add_argument("--listener", choices=("musicnn",), help="build the weight-free musicnn reference instead")
    p.add_argument("--pattern", default="*", help="file name glob within --music-dir (default: every file)")
    p.add_argument("--recording-sep", default="__", help="file names up to this separator name the recording")
    p.add_argument("--out", required=True, type=Path, help="output .npz")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if not args.music_dir.is_dir():
        print(f"--music-dir {args.music_dir} is not a folder", file=sys.stderr)
        return 2
    files = [f for f in find_audio(args.music_dir) if f.match(args.pattern)]
    if args.listener == "musicnn":
        return build_musicnn(files, args)
    if args.models_dir is None:
        print("--models-dir is required (or --listener musicnn)", file=sys.stderr)
        return 2
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


def build_musicnn(files: list[Path], args: argparse.Namespace) -> int:
    """The ``--listener musicnn`` route: segments → embeddings → reference file."""
    from scoring import listeners
    from scoring.features import Features
    from scoring.listener_reference import (
        TYPICALITY_PATH,
        build_musicnn_reference,
        build_typicality,
        pooled_features,
    )

    if not listeners.status().musicnn:
        print(f"musicnn is not usable: {listeners.status().musicnn_reason}", file=sys.stderr)
        return 2
    seg = C.MUSICNN_REFERENCE_SEGMENT_SECONDS
    embeddings: list[np.ndarray] = []
    pooled: list[np.ndarray] = []
    recordings: list[str] = []
    start = time.perf_counter()
    for path in files:
        try:
            samples, sr = load_audio(path)
        except AudioLoadError as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        step = int(round(seg * sr))
        for k in range(samples.shape[1] // step):
            features = Features(samples=samples[:, k * step : (k + 1) * step], sample_rate=sr)
            embeddings.append(features.musicnn_embedding)
            pooled.append(pooled_features(features.musicnn))
            recordings.append(path.name.split(args.recording_sep)[0])
        log.info("%s: %d segments (%.1f s)", path.name, samples.shape[1] // step, time.perf_counter() - start)
    need = 2 * C.MUSICNN_FAD_WINDOW_CLIPS
    if len(embeddings) < need:
        print(f"only {len(embeddings)} segments of {seg:g} s; need {need}", file=sys.stderr)
        return 2
    ref = build_musicnn_reference(np.stack(embeddings), recordings, identity=listeners.MUSICNN_SOURCE, seed=args.seed)
    ref.save(args.out)
    typical = build_typicality(np.stack(pooled), recordings, identity=listeners.MUSICNN_SOURCE)
    typical_path = args.out.with_name(TYPICALITY_PATH.name)
    typical.save(typical_path)
    t50, t95 = np.percentile(typical.distances, [50, 95])
    print(f"wrote {typical_path}: typicality distance p50 {t50:.3f} p95 {t95:.3f} max {typical.distances.max():.3f} "
          "(leave one source out)")
    d = ref.encoder.distances
    print(f"wrote {args.out}: {ref.n_clips} segments of {len(set(recordings))} sources, dim {ref.dim}, "
          f"baseline FAD median {np.median(ref.baseline):.4f}, typicality distance p50 {np.median(d):.3f} "
          f"p95 {np.percentile(d, 95):.3f} (leave one source out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
