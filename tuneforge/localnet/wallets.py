"""Wallets for the local network: created without prompts, mnemonics never printed."""

import logging
from pathlib import Path

import bittensor as bt

__all__ = ["make_wallet", "wallet_uri"]

log = logging.getLogger(__name__)


def wallet_uri(seed: int, name: str) -> str:
    """The key derivation URI of wallet ``name`` in a local network run with ``--seed seed``."""
    return f"//tuneforge-localnet/{int(seed)}/{name}"


def make_wallet(root: Path, name: str, hotkey: str = "default", *, seed: int | None = None) -> "bt.Wallet":
    """Create (or reuse) an unencrypted coldkey + hotkey under ``root``.

    Without ``seed`` the keys are random (``suppress=True`` keeps the mnemonics off the
    terminal), and reusing ``root`` across runs reuses them, so ``--out DIR`` gives stable
    hotkeys. With ``seed`` both keys are derived from :func:`wallet_uri`, so every run with the
    same seed has the same hotkeys whatever ``root`` is (runs can then be compared miner by miner).
    """
    root.mkdir(parents=True, exist_ok=True)
    wallet = bt.Wallet(name=name, hotkey=hotkey, path=str(root))
    if seed is None:
        wallet.create_if_non_existent(coldkey_use_password=False, hotkey_use_password=False, suppress=True)
    else:
        uri = wallet_uri(seed, name)
        wallet.create_coldkey_from_uri(uri, use_password=False, overwrite=True, suppress=True)
        wallet.create_hotkey_from_uri(f"{uri}/{hotkey}", use_password=False, overwrite=True, suppress=True)
    log.debug("wallet %s/%s hotkey %s", name, hotkey, wallet.hotkey.ss58_address)
    return wallet
