"""The ``tuneforge miner`` sub-command: run a miner, or ``--self-check`` its generation.

``tuneforge miner --self-check`` renders one clip per available backend (or only the one named
by ``--generation.backend``) and prints requested vs measured tempo, key and duration; exit
status 1 when a backend failed. Without ``--self-check`` it runs the miner with the same flags
as ``neurons/miner.py``.
"""

import argparse
import logging
import sys

from tuneforge.miner.config import ConfigError, build_parser, config_from_namespace
from tuneforge.miner.selfcheck import BACKEND_NAMES, format_table, run_self_check
from tuneforge.spec import spec_from_fields

__all__ = ["register", "run", "DEFAULT_CHECK_PROMPT"]

logger = logging.getLogger(__name__)

DEFAULT_CHECK_PROMPT = "upbeat jazz with piano, bass and drums"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "miner",
        help="Run a miner, or check its generation backends with --self-check.",
        description="Run a TuneForge miner (same flags as neurons/miner.py), or --self-check its generation.",
    )
    build_parser(parser)
    # None = self-check every backend; the miner itself falls back to procedural.
    parser.set_defaults(**{"generation.backend": None})
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="Render one clip per available backend and print requested vs measured tempo, key, length.",
    )
    parser.add_argument("--check.prompt", default=DEFAULT_CHECK_PROMPT, help="Self-check: the request's prompt.")
    parser.add_argument("--check.duration", type=float, default=8.0, help="Self-check: seconds of audio to render.")
    parser.add_argument("--check.tempo", type=float, default=112.0, help="Self-check: requested tempo (BPM).")
    parser.add_argument("--check.key", default="F major", help="Self-check: requested key, e.g. 'F major'.")
    parser.add_argument("--check.meter", default="4/4", help="Self-check: requested time signature.")
    parser.add_argument("--check.seed", type=int, default=1, help="Self-check: generation seed.")
    parser.add_argument(
        "--check.lyrics", default=None, help="Self-check: lyrics to sing (asks for vocals; ace_step sings them)."
    )
    parser.set_defaults(func=run)
    return parser


def _self_check(args: argparse.Namespace) -> int:
    v = vars(args)
    try:
        config = config_from_namespace(_with_backend(args, v["generation.backend"] or "procedural"))
    except ConfigError as exc:
        sys.stderr.write(f"tuneforge miner: {exc}\n")
        return 2
    spec = spec_from_fields(
        prompt=v["check.prompt"],
        tempo_bpm=v["check.tempo"],
        key_signature=v["check.key"],
        time_signature=v["check.meter"],
        duration_seconds=v["check.duration"],
        lyrics=v["check.lyrics"],
        vocals_requested=True if v["check.lyrics"] else None,
        seed=v["check.seed"],
    )
    names = (v["generation.backend"],) if v["generation.backend"] else BACKEND_NAMES
    rows = run_self_check(config.generation, spec, backends=names)
    print(f"self-check: {spec.prompt!r} | {spec.genre or 'no genre'} | {spec.meter.name} | seed {spec.seed}")  # noqa: T201
    print(format_table(rows))  # noqa: T201
    for row in rows:
        if row.status == "skipped":
            print(f"{row.backend}: skipped: {row.reason}")  # noqa: T201
    return 1 if any(row.status == "failed" for row in rows) else 0


def _with_backend(args: argparse.Namespace, backend: str) -> argparse.Namespace:
    ns = argparse.Namespace(**vars(args))
    setattr(ns, "generation.backend", backend)
    return ns


def run(args: argparse.Namespace) -> int:
    if args.self_check:
        return _self_check(args)
    from tuneforge.miner.neuron import Miner, run_miner

    try:
        config = config_from_namespace(_with_backend(args, getattr(args, "generation.backend") or "procedural"))
    except ConfigError as exc:
        sys.stderr.write(f"tuneforge miner: {exc}\n")
        return 2
    return run_miner(Miner(config))
