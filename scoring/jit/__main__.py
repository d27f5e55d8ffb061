"""``python -m scoring.jit warm|status``: warm the install's JIT cache, or say where it stands.

``warm`` builds the sealed cache when there is none (scripts/_venv.sh runs it at install);
``--in-process`` also loads every kernel here, ``--rebuild`` seals a new generation anyway. Exit 0
when this process ends with a verified sealed cache, 1 otherwise (processes still work, compiling
their own kernels). ``status`` prints one JSON object. ``build`` is the warm-up child's command.
"""

import argparse
import importlib
import json
import logging
import os
import sys

from scoring.jit import cache


def _run_workload(spec: str) -> None:
    module_name, _, func_name = spec.partition(":")
    getattr(importlib.import_module(module_name), func_name or "run_warmup")()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scoring.jit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    warm = sub.add_parser("warm", help="build the sealed JIT cache if needed")
    warm.add_argument("--in-process", action="store_true", help="also load every kernel in this process")
    warm.add_argument("--rebuild", action="store_true", help="seal a new generation even if one is sealed")
    sub.add_parser("status", help="print where this process's JIT cache stands (JSON)")
    build = sub.add_parser("build", help=argparse.SUPPRESS)
    build.add_argument("--workload", default=cache.DEFAULT_WORKLOAD)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.command == "build":
        if not os.environ.get(cache.BUILD_DIR_ENV):
            sys.stderr.write(
                f"python -m scoring.jit build: only the warm-up child runs this ({cache.BUILD_DIR_ENV} unset)\n"
            )
            return 2
        _run_workload(args.workload)
        return 0
    if args.command == "status":
        sys.stdout.write(json.dumps(cache.status(), sort_keys=True) + "\n")
        return 0
    sel = cache.ensure_warm(in_process=args.in_process, rebuild=args.rebuild)
    logging.getLogger("scoring.jit").info(
        "JIT cache: %s (%s), numba uses %s", sel.mode, sel.reason, sel.numba_dir
    )
    return 0 if sel.mode == "sealed" else 1


if __name__ == "__main__":
    sys.exit(main())
