"""Start a miner, a validator or an API replica from environment variables (pm2, Docker).

Process managers and containers configure a program through its environment; TuneForge's
programs take bittensor-style dotted flags. ``python -m tuneforge.launch ROLE`` turns one into
the other and starts the role's real entry point (``neurons/miner.py``, ``neurons/validator.py``
or ``tuneforge api serve``) with the flags it built, so nothing about the settings is parsed twice:

* ``TUNEFORGE_<FLAG>`` names a flag, upper-cased, with ``__`` for each dot:
  ``TUNEFORGE_WALLET__NAME=miner`` is ``--wallet.name miner``, ``TUNEFORGE_NETUID=234`` is
  ``--netuid 234``, ``TUNEFORGE_STATE_DIR`` is ``tuneforge api serve``'s ``--state-dir``.
* A value starting with ``~`` is expanded to the home directory, as a shell would.
* On/off flags take ``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``); ``true``
  passes the bare flag. An empty value passes nothing (the flag's default holds).
* A ``TUNEFORGE_`` name with ``__`` that is no flag of the role is an error (a typo must not be
  ignored); one without ``__`` that is no flag (``TUNEFORGE_MODELS_DIR``) is an ordinary
  environment variable, read by the code itself. Everything else is left as it is.

``--env-file FILE`` adds the ``KEY=VALUE`` lines of FILE (``#`` comments, blank lines, optional
``export`` and quotes, no expansion: the format docker compose's ``env_file`` reads) to the
environment; a variable already set in the environment wins over the file, and flags given after
the role win over both. ``--dry-run`` prints the command instead of running it. The
``env/*.env.example`` files list every setting an operator usually changes.
"""

import argparse
import logging
import os
import re
import shlex
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "ENV_PREFIX",
    "LaunchError",
    "ROLES",
    "build_command",
    "flag_for",
    "flags_from_env",
    "main",
    "merged_environment",
    "read_env_file",
    "role_parser",
]

log = logging.getLogger(__name__)

ENV_PREFIX = "TUNEFORGE_"
ROLES = ("miner", "validator", "api")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_REPO = Path(__file__).resolve().parents[1]


class LaunchError(ValueError):
    """An environment or env file the launcher cannot turn into flags; the message names the variable."""


def read_env_file(path: str | Path) -> dict[str, str]:
    """``KEY=VALUE`` pairs of an env file, in file order.

    Values are taken literally (no ``$VAR`` expansion); one pair of matching surrounding quotes
    is removed, and an unquoted value ends at `` #`` (a trailing comment).

    Raises:
        LaunchError: the file cannot be read, or a line is not ``KEY=VALUE`` (line number given).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LaunchError(f"cannot read env file {path}: {exc.strerror or exc}") from exc
    pairs: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise LaunchError(f"{path}:{number}: not KEY=VALUE: {raw.strip()[:60]!r}")
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        pairs[key] = value
    return pairs


def role_parser(role: str) -> argparse.ArgumentParser:
    """The real flag parser of ``role`` (the one its entry point parses ``argv`` with)."""
    if role == "miner":
        from tuneforge.miner.config import build_parser

        return build_parser()
    if role == "validator":
        from tuneforge.validator.config import build_parser as build_validator_parser

        return build_validator_parser()
    if role == "api":
        from tuneforge.api.cli import _common
        from tuneforge.api.serve import add_serve_parser

        holder = argparse.ArgumentParser(prog="tuneforge api")
        groups = holder.add_subparsers(dest="api_group")
        add_serve_parser(groups, _common())
        return groups.choices["serve"]
    raise LaunchError(f"unknown role {role!r} (one of {', '.join(ROLES)})")


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Normalised flag name (``wallet.name``, ``state_dir``) → its action, for every long option."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                found.setdefault(option[2:].replace("-", "_").lower(), action)
    return found


def _flag_name(key: str) -> str:
    return key[len(ENV_PREFIX) :].lower().replace("__", ".")


def flag_for(key: str, parser: argparse.ArgumentParser) -> str | None:
    """The long option ``TUNEFORGE_*`` variable ``key`` stands for in ``parser``, or None."""
    if not key.startswith(ENV_PREFIX):
        return None
    action = _options(parser).get(_flag_name(key))
    return None if action is None else next(o for o in action.option_strings if o.startswith("--"))


def flags_from_env(env: Mapping[str, str], parser: argparse.ArgumentParser) -> list[str]:
    """The flags the ``TUNEFORGE_*`` variables of ``env`` stand for (see the module docstring).

    Raises:
        LaunchError: a dotted ``TUNEFORGE_`` name that ``parser`` has no flag for, or an on/off
            flag given something other than true/false.
    """
    options = _options(parser)
    flags: list[str] = []
    for key in sorted(k for k in env if k.startswith(ENV_PREFIX)):
        name, value = _flag_name(key), env[key].strip()
        action = options.get(name)
        if action is None:
            if "." in name:
                raise LaunchError(f"{key}: no flag --{name} for {parser.prog}")
            continue  # an ordinary environment variable (TUNEFORGE_MODELS_DIR, ...)
        option = next(o for o in action.option_strings if o.startswith("--"))
        if action.nargs == 0:  # store_true / store_false
            word = value.lower()
            if word not in _TRUE | _FALSE and word != "":
                raise LaunchError(f"{key}={value!r}: {option} is on/off; use true or false")
            if word in _TRUE:
                flags.append(option)
        elif value != "":
            flags += [
                option,
                os.path.expanduser(value) if value.startswith("~") else value,
            ]  # as a shell would
    return flags


def _entry(role: str) -> list[str]:
    """The command that starts ``role`` (this interpreter).

    Raises:
        LaunchError: the neuron's entry point is not beside the package (an install without the
            source checkout; ``pip install -e .`` keeps it there).
    """
    if role == "api":
        return [sys.executable, "-m", "tuneforge.cli", "api", "serve"]
    script = _REPO / "neurons" / f"{role}.py"
    if not script.is_file():
        raise LaunchError(f"{script} not found: run from a source checkout installed with pip install -e .")
    return [sys.executable, str(script)]


def build_command(role: str, env: Mapping[str, str], extra: Iterable[str] = ()) -> list[str]:
    """``argv`` that starts ``role`` with the flags of ``env`` and then ``extra`` (last wins)."""
    if role not in ROLES:
        raise LaunchError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    return _entry(role) + flags_from_env(env, role_parser(role)) + list(extra)


def merged_environment(env_file: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` over the pairs of ``env_file`` (the process environment wins)."""
    merged = dict(read_env_file(env_file)) if env_file else {}
    merged.update(environ)
    return merged


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tuneforge.launch",
        description="Start a TuneForge miner, validator or API replica with flags taken from TUNEFORGE_* "
        "environment variables (and an env file).",
    )
    p.add_argument("role", choices=ROLES, help="what to start")
    p.add_argument(
        "--env-file", default=None, help="KEY=VALUE file added to the environment (the environment wins)"
    )
    p.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, build the role's command and replace this process with it (or print it)."""
    args, extra = _parser().parse_known_args(argv)
    try:
        env = merged_environment(args.env_file, os.environ)
        command = build_command(args.role, env, extra)
    except LaunchError as exc:
        sys.stderr.write(f"tuneforge.launch: {exc}\n")
        return 2
    if args.dry_run:
        sys.stdout.write(shlex.join(command) + "\n")
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, env)  # the role's own process: pm2's and Docker's signals reach it
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
