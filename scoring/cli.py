"""``tuneforge score FILE [FILE ...]``: score audio files against a request, as a validator would.

Builds one :class:`ScoringRequest` from the flags and scores every file (weight-free unless
``--models-dir`` loads the neural models). Files are decoded by the validator's strict intake
(:mod:`scoring.intake`); a file it rejects (missing, a directory, over 20 MiB, a bad header, too
long...) is one line on stderr, ``error: FILE: reason: message``, and is not scored; the other
files still are. Exit status: 0 when every file was scored, 1 when any file could not be read,
2 on bad arguments.

Without ``--round`` each file is scored alone. With ``--round`` the files are scored as one
round (``Scorer.score_round``): each file is one miner's answer, its hotkey the file name
(``name#2``, ``name#3`` for repeats), delivered in argument order (the i-th file's delivery
time is i milliseconds, so the first of a near-duplicate group keeps its score and every file
reads as delivered in real time for the ``speed`` signal), with a fresh in-memory
``MinerHistory``, so the fingerprint penalty and the diversity signal act across the files.

Progress goes to stderr as log lines (the ``scoring.progress`` logger: "scoring 4 clips …" and
one line per clip and step; without ``--round`` a line naming each file first), so a slow first
run in a fresh process is never a silent one.

``--json`` prints one JSON object per file per line, in argument order (``hotkey`` added with
``--round``; a file that could not be read has ``error`` and ``reason`` set and null scores);
otherwise a table with one column per scored file. Column labels are never cut: names longer
than :data:`MAX_HEADER` characters are numbered, with a legend above the table.

``--plot FILE.png`` (or ``.svg``) also draws every scored clip: its breakdown as bars (16 signals,
4 penalties) next to its spectrogram (:mod:`scoring.plot`). The target is checked before scoring
(suffix, Pillow for a PNG, the folder exists), so a bad one costs no scoring time.
"""

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from scoring import constants as C

__all__ = ["register", "run", "build_request", "format_table", "file_hotkeys", "MAX_HEADER"]

logger = logging.getLogger(__name__)

#: Longest file label used as a column header; longer labels get numbered columns and a legend.
MAX_HEADER = 24
#: Delivery time (seconds) between consecutive files of a ``--round``.
DELIVERY_STEP_SECONDS = 0.001


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
    p.add_argument(
        "--round",
        action="store_true",
        help="score the files as one round: each file one miner's answer (hotkey = file name), delivered in "
        "argument order; fingerprint, diversity and history act across them",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per file per line")
    p.add_argument("--plot", default=None, metavar="FILE.png|FILE.svg",
                   help="also draw each scored clip's breakdown bars and spectrogram into FILE "
                   "(.png needs Pillow; .svg needs nothing)")
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


def file_hotkeys(paths: Sequence[str]) -> list[str]:
    """One unique label per path: its base name, ``name#2``, ``name#3`` ... for repeats."""
    taken: set[str] = set()
    out: list[str] = []
    for path in paths:
        base = os.path.basename(os.path.normpath(path)) or path
        label, k = base, 1
        while label in taken:
            k += 1
            label = f"{base}#{k}"
        taken.add(label)
        out.append(label)
    return out


def run(args: argparse.Namespace) -> int:
    from scoring.audio import AudioLoadError, load_clip
    from scoring.breakdown import ScoreBreakdown
    from scoring.history import MinerHistory
    from scoring.scorer import RoundEntry, Scorer

    try:
        request = build_request(args)
        _check_plot_path(getattr(args, "plot", None))
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    labels = file_hotkeys(args.files)
    # (path, label, clip or None, load error or None) in argument order
    loaded: list[tuple[str, str, object, AudioLoadError | None]] = []
    for path, label in zip(args.files, labels):
        try:
            loaded.append((path, label, load_clip(path), None))
        except AudioLoadError as exc:
            sys.stderr.write(f"error: {path}: {exc}\n")
            loaded.append((path, label, None, exc))
    good = [(path, label, clip) for path, label, clip, err in loaded if err is None]
    breakdowns: dict[str, ScoreBreakdown] = {}
    if good:
        if args.models_dir:
            logger.info("loading the scoring models from %s …", args.models_dir)
        models = _load_models(args.models_dir)
        if args.round:
            scorer = Scorer(models=models, history=MinerHistory())
            entries = [
                RoundEntry(
                    hotkey=label, samples=clip.samples, sample_rate=clip.sample_rate, request=request,
                    generation_seconds=(i + 1) * DELIVERY_STEP_SECONDS,
                )
                for i, (_, label, clip) in enumerate(good)
            ]
            for (_, label, _), b in zip(good, scorer.score_round(entries)):
                breakdowns[label] = b
        else:
            scorer = Scorer(models=models)
            for i, (path, label, clip) in enumerate(good):
                logger.info("file %d/%d: %s", i + 1, len(good), path)
                breakdowns[label] = scorer.score(samples=clip.samples, sample_rate=clip.sample_rate, request=request)
    if args.json:
        for path, label, _, err in loaded:
            line = _json_line(path, breakdowns.get(label), err)
            if args.round:
                line["hotkey"] = label if err is None else None
            sys.stdout.write(json.dumps(line, sort_keys=False) + "\n")
    elif breakdowns:
        sys.stdout.write(format_table([(label, breakdowns[label]) for _, label, _ in good]))
    if getattr(args, "plot", None) and breakdowns and not _write_plot(args.plot, request, good, breakdowns):
        return 1
    return 1 if len(good) < len(loaded) else 0


def _check_plot_path(path: str | None) -> None:
    """Refuse a ``--plot`` target that cannot be written before any scoring starts (ValueError)."""
    if path is None:
        return
    from scoring.figure import pillow_available

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"--plot {path}: name a .png or .svg file")
    if suffix == ".png" and not pillow_available():
        raise ValueError(f"--plot {path}: a PNG needs Pillow (pip install pillow); an .svg needs nothing")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"--plot {path}: no such directory {folder}")


def _write_plot(path: str, request, good, breakdowns) -> bool:
    """Draw every scored clip into ``path`` (scoring.plot); False (one stderr line) when it fails."""
    from scoring.figure import PlotError
    from scoring.plot import PlotEntry, score_figure

    entries = [PlotEntry(label, breakdowns[label], clip.samples, clip.sample_rate) for _, label, clip in good]
    try:
        score_figure(entries, title=f"{request.prompt[:100]}  ({request.duration_seconds:g} s requested)").save(path)
    except PlotError as exc:
        sys.stderr.write(f"error: --plot {exc}\n")
        return False
    logger.info("wrote %s", path)
    return True


def _json_line(path: str, b, err) -> dict:
    if b is None:
        return {
            "file": path, "final_score": None, "composite": None, "signals": {}, "penalties": {},
            "unavailable": [], "error": f"unreadable file: {err}", "reason": err.reason,
        }
    d = b.to_dict()
    return {
        "file": path,
        "final_score": d["final_score"],
        "composite": d["composite"],
        "signals": d["signals"],
        "penalties": d["penalties"],
        "unavailable": sorted(d["unavailable"]),
        "error": d["error"],
    }


def format_table(results: list[tuple[str, "object"]]) -> str:
    """Plain-text table: one row per signal/penalty, one column per ``(label, breakdown)``.

    Labels are never cut: when one is longer than :data:`MAX_HEADER`, columns are numbered
    ``#1``, ``#2`` ... and a legend with the full labels precedes the table.
    """
    labels = [label for label, _ in results]
    lines: list[str] = []
    if any(len(label) > MAX_HEADER for label in labels):
        headers = [f"#{i + 1}" for i in range(len(labels))]
        lines.extend(f"{h:>4}  {label}" for h, label in zip(headers, labels))
        lines.append("")
    else:
        headers = labels
    width = max(12, *(len(h) for h in headers))
    lines.append(f"{'':<22}" + "".join(f"{h:>{width + 2}}" for h in headers))

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:<22}" + "".join(f"{v:>{width + 2}}" for v in values))

    row("final_score", [f"{b.final_score:.3f}" for _, b in results])
    row("composite", [f"{b.composite:.3f}" for _, b in results])
    for name in C.SIGNAL_WEIGHTS:
        row(f"  {name}", [("—" if b.signals.get(name) is None else f"{b.signals[name]:.3f}") for _, b in results])
    for name in C.PENALTIES:
        row(f"  {name}", [f"{b.penalties.get(name, 1.0):.3f}" for _, b in results])
    for label, b in results:
        if b.error:
            lines.append(f"{label}: {b.error}")
    return "\n".join(lines) + "\n"
