"""Wallets for the local network: created without prompts, mnemonics never printed."""

import logging
from pathlib import Path

import bittensor as bt

__all__ = ["make_wallet"]

log = logging.getLogger(__name__)


def make_wallet(root: Path, name: str, hotkey: str = "default") -> "bt.Wallet":
    """Create (or reuse) an unencrypted coldkey + hotkey under ``root``.

    Keys are random; ``suppress=True`` keeps the mnemonics off the terminal. Reusing ``root``
    across runs reuses the same keys, so ``--out DIR`` gives stable hotkeys.
    """
    root.mkdir(parents=True, exist_ok=True)
    wallet = bt.Wallet(name=name, hotkey=hotkey, path=str(root))
    wallet.create_if_non_existent(coldkey_use_password=False, hotkey_use_password=False, suppress=True)
    log.debug("wallet %s/%s hotkey %s", name, hotkey, wallet.hotkey.ss58_address)
    return wallet
