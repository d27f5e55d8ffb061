"""Build ``scoring/data/musicnn_tag_priors.json``: how each musicnn tag reads on real music.

For every excerpt in ``--music-dir`` (default ``../shared/corpus/real``: 21 human-made game and
free-music recordings, a 10 s and a 30 s excerpt of each) the clip goes through the scorer's own
path (``scoring.features.Features.from_audio`` → ``Features.musicnn``: both taggers on at most
``MUSICNN_MAX_PATCHES`` evenly spaced 3 s patches) and ``scoring.prompt_tags.clip_logits`` turns
its tag probabilities into log-odds. The excerpts of one recording are averaged (a recording
counts once, however many excerpts it has), and the file stores, per tag, the mean and the
standard deviation (ddof 1) over recordings. ``scoring.prompt_tags`` floors the deviations at
``PROMPT_PRIOR_STD_FLOOR`` when it reads the file.

    python scripts/build_tag_priors.py [--music-dir ../shared/corpus/real] [--pattern '*.flac']
        [--out scoring/data/musicnn_tag_priors.json]

``recording_logits`` is reused by ``scripts/eval_prompt_adherence.py`` to measure with priors that
leave the evaluated recording out.
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from scoring import constants as C  # noqa: E402
from scoring import prompt_tags  # noqa: E402
from scoring import tag_vocabulary as V  # noqa: E402
from scoring.audio import load_audio  # noqa: E402
from scoring.features import Features  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "scoring" / "data" / prompt_tags.PRIORS_FILE
logger = logging.getLogger("build_tag_priors")


def recording_of(path: Path) -> str:
    """``name__10s.flac`` → ``name`` (the recording an excerpt comes from)."""
    stem = path.stem
    return stem.rsplit("__", 1)[0] if "__" in stem else stem


def excerpt_logits(path: Path) -> np.ndarray:
    """One file's tag log-odds ``(K,)`` in ``tag_vocabulary.TAGS`` order, as the scorer hears it."""
    samples, sr = load_audio(path)
    outputs = Features.from_audio(samples=samples, sample_rate=sr).musicnn
    if outputs is None:
        raise SystemExit("musicnn is not installed (pip install --no-deps musicnn==0.1.0)")
    return prompt_tags.clip_logits(outputs)


def recording_logits(files: list[Path]) -> dict[str, np.ndarray]:
    """Recording → the mean of its excerpts' log-odds ``(K,)``, in sorted recording order."""
    groups: dict[str, list[np.ndarray]] = {}
    for i, path in enumerate(sorted(files)):
        logger.info("[%d/%d] %s", i + 1, len(files), path.name)
        groups.setdefault(recording_of(path), []).append(excerpt_logits(path))
    return {name: np.mean(groups[name], axis=0) for name in sorted(groups)}


def priors_document(per_recording: dict[str, np.ndarray], *, files: list[Path], music_dir: Path) -> dict:
    x = np.stack(list(per_recording.values()))
    mean, std = x.mean(axis=0), x.std(axis=0, ddof=1)
    return {
        "about": (
            "Per-tag mean and standard deviation (ddof 1) of the musicnn taggers' clip-level log-odds "
            "over real recordings, for scoring.prompt_tags (issue 9: prompt adherence without CLAP). "
            "Built by scripts/build_tag_priors.py: each excerpt scored through Features.from_audio -> "
            "Features.musicnn (both taggers, at most MUSICNN_MAX_PATCHES evenly spaced 3 s patches), "
            "tag probabilities clipped to [PROMPT_TAG_FLOOR, 1 - PROMPT_TAG_FLOOR] and turned into "
            "log-odds, the excerpts of one recording averaged, then mean and std over recordings. "
            "The deviations are floored at PROMPT_PRIOR_STD_FLOOR when read."
        ),
        "command": "python scripts/build_tag_priors.py --music-dir " + os.path.relpath(music_dir, ROOT),
        "musicnn": "0.1.0 (MTT_musicnn, MSD_musicnn)",
        "max_patches": C.MUSICNN_MAX_PATCHES,
        "tag_floor": C.PROMPT_TAG_FLOOR,
        "recordings": len(per_recording),
        "excerpts": len(files),
        "recording_names": list(per_recording),
        "tags": list(V.TAGS),
        "mean": {t: round(float(m), 6) for t, m in zip(V.TAGS, mean)},
        "std": {t: round(float(s), 6) for t, s in zip(V.TAGS, std)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music-dir", type=Path, default=ROOT.parent / "shared" / "corpus" / "real")
    parser.add_argument("--pattern", default="*.flac")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    files = sorted(args.music_dir.glob(args.pattern))
    if len(files) < 2:
        print(f"need at least 2 files matching {args.pattern} in {args.music_dir}", file=sys.stderr)
        return 1
    per_recording = recording_logits(files)
    doc = priors_document(per_recording, files=files, music_dir=args.music_dir.resolve())
    prompt_tags.TagPriors.from_json(doc)  # the file must load
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(per_recording)} recordings, {len(files)} excerpts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
