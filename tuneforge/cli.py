"""The ``tuneforge`` command: one sub-command per capability.

Each sub-command lives with the code it drives and exposes ``register(subparsers)``, which adds
its parser and sets ``func(args) -> int``. Heavy imports (torch, transformers) happen inside
``func``, so ``tuneforge --help`` stays fast.
"""

import argparse
import importlib
import importlib.util
import logging
import sys

# Before any sub-command imports librosa: choose (and verify) numba's kernel cache for this process.
from scoring import jit

__all__ = ["main", "SUBCOMMAND_MODULES"]

#: Modules that each contribute one sub-command.
SUBCOMMAND_MODULES = (
    "tuneforge.localnet.cli",  # tuneforge localnet
    "tuneforge.miner.cli",  # tuneforge miner --self-check
    "tuneforge.generation.cli",  # tuneforge generate --prompt ... --out FILE
    "scoring.cli",  # tuneforge score FILE ...
    "tuneforge.api.cli",  # tuneforge api account|key|credits ...
    "tuneforge.client_cli",  # tuneforge scores best|export
    "tuneforge.doctor",  # tuneforge doctor miner|validator [FLAGS]
)

#: Sub-commands that serve, and whether they score clips in this process: before they accept work,
#: the JIT cache is verified (built once per install if missing) and, when they score, every kernel
#: loaded (docs/jit.md). ``tuneforge api serve`` (an API replica) only queues jobs for validators.
SERVING_COMMANDS = {("localnet", None): True, ("api", "serve"): False}


def _serving(args: argparse.Namespace) -> bool | None:
    """Whether ``args`` start a server that scores (True), one that does not (False), or no server."""
    group = getattr(args, "api_group", None) if args.command == "api" else None
    return SERVING_COMMANDS.get((args.command, group))


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuneforge", description="TuneForge: text-to-music on Bittensor.")
    parser.add_argument("--log-level", default="INFO", help="Logging level (DEBUG, INFO, WARNING).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        if not _module_exists(name):
            continue
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from tuneforge.neuron_config import restore_own_loggers  # bittensor (imported by sub-commands) muted them

    restore_own_loggers()
    # Alembic logs every migration step at INFO; keep it to warnings unless debugging.
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    scores = _serving(args)
    if scores is not None:
        name = " ".join(part for part in (args.command, getattr(args, "api_group", None)) if part)
        jit.warm_before_serving(f"tuneforge {name}", in_process=scores)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
