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

__all__ = ["nest_config", "set_flag_help", "configure_logging"]


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
    if not debug:  # Alembic logs every migration step at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)
