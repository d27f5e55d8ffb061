"""``tuneforge score FILE [FILE ...]``: score audio files against a request, as a validator would.

Builds one :class:`ScoringRequest` from the flags and scores every file (weight-free unless
``--models-dir`` loads the neural models). ``--json`` prints one JSON object per file per line;
otherwise a table with one column per file. An unreadable file gets an error and a final score
of 0 while the others are still scored; the exit code is 0 when at least one file was scored.
"""

import argparse
import json
import logging
import sys

from scoring import constants as C

__all__ = ["register", "run", "build_request"]

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("score", help="Score audio files against a request (weight-free unless --models-dir).")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, OGG)")
    p.add_argument("--prompt", required=True, help="the text prompt the clip answers")
    p.add_argument("--duration", required=True, type=float, help="requested duration in seconds")
    p.add_argument("--genre", default="")
    p.add_argument("--mood", default="")
    p.add_argument("--tempo", type=float, default=None, help="requested tempo (quarter notes per minute)")
    p.add_argument("--key", default=None, help='requested key, e.g. "A minor"')
    p.add_argument("--time-signature", default=None, help='e.g. "4/4", "6/8"')
    p.add_argument("--instruments", default="", help="comma-separated instrument names")
    p.add_argument("--vocals", action="store_true", help="vocals were requested")
    p.add_argument("--lyrics", default=None)
    p.add_argument("--models-dir", default=None, help="directory with the neural scoring models")
    p.add_argument("--json", action="store_true", help="one JSON object per file per line")
    p.set_defaults(func=run)


def build_request(args: argparse.Namespace):
    from scoring.request import ScoringRequest

    if not args.duration or args.duration <= 0:
        raise ValueError(f"--duration must be positive, got {args.duration}")
    return ScoringRequest(
        prompt=args.prompt,
        duration_seconds=float(args.duration),
        genre=args.genre,
        mood=args.mood,
        tempo_bpm=args.tempo,
        key_signature=args.key,
        time_signature=args.time_signature,
        instruments=tuple(i.strip() for i in args.instruments.split(",") if i.strip()),
        vocals_requested=bool(args.vocals),
        lyrics=args.lyrics,
    )


def _load_models(models_dir: str | None):
    if not models_dir:
        return None
    import scoring.models as models_pkg

    if not hasattr(models_pkg, "load_models"):
        logger.warning("neural models are unavailable in this build (scoring.models.load_models missing); scoring weight-free")
        return None
    return models_pkg.load_models(models_dir)


def run(args: argparse.Namespace) -> int:
    from scoring.audio import AudioLoadError, load_audio
    from scoring.breakdown import ScoreBreakdown
    from scoring.scorer import Scorer

    try:
        request = build_request(args)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    scorer = Scorer(models=_load_models(args.models_dir))
    results: list[tuple[str, ScoreBreakdown]] = []
    for path in args.files:
        try:
            samples, sr = load_audio(path)
        except AudioLoadError as exc:
            results.append((path, ScoreBreakdown.failed(f"unreadable file: {exc}")))
            continue
        results.append((path, scorer.score(samples=samples, sample_rate=sr, request=request)))
    if args.json:
        for path, b in results:
            d = b.to_dict()
            line = {
                "file": path,
                "final_score": d["final_score"],
                "composite": d["composite"],
                "signals": d["signals"],
                "penalties": d["penalties"],
                "unavailable": sorted(d["unavailable"]),
                "error": d["error"],
            }
            sys.stdout.write(json.dumps(line, sort_keys=False) + "\n")
    else:
        sys.stdout.write(format_table(results))
    scored = [b for _, b in results if not (b.error or "").startswith("unreadable file")]
    return 0 if scored else 1


def format_table(results: list[tuple[str, "object"]]) -> str:
    """Plain-text table: one row per signal/penalty, one column per file."""
    names = [p.rsplit("/", 1)[-1] for p, _ in results]
    width = max(12, *(min(len(n), 28) for n in names))
    head = f"{'':<22}" + "".join(f"{n[:width]:>{width + 2}}" for n in names)
    lines = [head]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:<22}" + "".join(f"{v:>{width + 2}}" for v in values))

    row("final_score", [f"{b.final_score:.3f}" for _, b in results])
    row("composite", [f"{b.composite:.3f}" for _, b in results])
    for name in C.SIGNAL_WEIGHTS:
        row(f"  {name}", [("—" if b.signals.get(name) is None else f"{b.signals[name]:.3f}") for _, b in results])
    for name in C.PENALTIES:
        row(f"  {name}", [f"{b.penalties.get(name, 1.0):.3f}" for _, b in results])
    errors = [(n, b.error) for n, (_, b) in zip(names, results) if b.error]
    for n, err in errors:
        lines.append(f"{n}: {err}")
    return "\n".join(lines) + "\n"
