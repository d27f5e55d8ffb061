"""Helpers shared by the miner's and the validator's flag parsing and entry points.

Both neurons parse bittensor-style dotted flags with plain argparse (``bt.Config(parser)``
ignores argv unless ``BT_NO_PARSE_CLI_ARGS=0``) and keep a nested ``bt.Config`` with the same
values for bittensor APIs that take one.
"""

import argparse
import logging
import sys
from typing import Any

import bittensor as bt
from bittensor.core.config import DefaultMunch

__all__ = ["nest_config", "set_flag_help", "configure_logging", "restore_own_loggers"]

#: Top-level names of this project's loggers.
OWN_LOGGER_ROOTS = frozenset({"scoring", "tuneforge", "neurons"})


def nest_config(flat: dict[str, Any]) -> Any:
    """A nested ``bt.Config`` from dotted keys: ``{"wallet.name": "m"}`` → ``cfg.wallet.name == "m"``."""
    cfg = bt.Config(parser=None)
    for dotted, value in flat.items():
        node = cfg
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, DefaultMunch):
                child = DefaultMunch(None)
                node[part] = child
            node = child
        node[parts[-1]] = value
    return cfg


def set_flag_help(parser: argparse.ArgumentParser, flag: str, text: str) -> None:
    """Replace the help text of an already added ``flag`` (bittensor's own flags have terse ones)."""
    for action in parser._actions:
        if flag in action.option_strings:
            action.help = text


def configure_logging(bt_config: Any, *, debug: bool) -> None:
    """bittensor's logger from ``--logging.*`` and stdlib logging (stderr) for TuneForge's modules."""
    bt.logging(config=bt_config)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    restore_own_loggers()
    if not debug:  # Alembic logs every migration step at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)


def restore_own_loggers() -> None:
    """Give TuneForge's own loggers back the level of the root logger.

    ``import bittensor`` sets every logger that exists at that moment to CRITICAL (its logging
    machine's default state mutes "third-party" loggers); modules imported before it, such as
    ``scoring.jit`` which every entry point imports first, would then never log. Only loggers under
    :data:`OWN_LOGGER_ROOTS` left at exactly CRITICAL are reset (to NOTSET: follow their parents).
    """
    for name, obj in list(logging.root.manager.loggerDict.items()):
        if (
            isinstance(obj, logging.Logger)
            and name.split(".")[0] in OWN_LOGGER_ROOTS
            and obj.level == logging.CRITICAL
        ):
            obj.setLevel(logging.NOTSET)
