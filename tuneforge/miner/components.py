"""Builds the miner's parts from its config: wallet, chain connection, generation backends.

Each builder is used only when the caller did not inject that part, so the local network and
the tests can hand the miner their own wallet, chain and backends. The chain connection goes
through ``tuneforge.chain.connect``, which also knows the in-process local chain.
"""

import logging
from typing import Any

import bittensor as bt

from tuneforge import chain
from tuneforge.generation.base import GenerationBackend, build_backend
from tuneforge.miner.config import MinerConfig

__all__ = ["build_wallet", "connect_subtensor", "build_backends"]

logger = logging.getLogger(__name__)


def build_wallet(config: MinerConfig) -> Any:
    """The ``bt.Wallet`` named by ``--wallet.name/.hotkey/.path`` (keys are read when first used)."""
    return bt.Wallet(name=config.wallet_name, hotkey=config.wallet_hotkey, path=config.wallet_path)


def connect_subtensor(config: MinerConfig) -> Any:
    """A chain connection with the bittensor 10.5 ``Subtensor`` interface.

    ``--subtensor.network localchain`` gives the in-process local chain; any other network (or
    ``--subtensor.chain_endpoint``) a real ``bt.Subtensor``, which connects at once.
    """
    return chain.connect(config.network, config.chain_endpoint)


def build_backends(config: MinerConfig) -> list[GenerationBackend]:
    """One backend per ``--generation.device`` entry, built (models loaded) now.

    Raises ``BackendUnavailable`` with the fix when a backend cannot run here.
    """
    backends = []
    for device in config.devices:
        backend = build_backend(config.generation_settings_for(device))
        logger.info("backend %s (%s) ready on %s", backend.name, backend.model_id, backend.device)
        backends.append(backend)
    return backends
