"""Chain access for TuneForge neurons: one ``connect`` for the local chain and for subtensor.

``connect("localchain")`` (or ``"mock"``) returns the process-wide in-memory ``LocalChain``; any
other network (``finney``, ``test``, ``local``, ``archive`` or a ``ws://``/``wss://`` URL) builds a
real ``bt.Subtensor`` when called (never at import), which connects at once; a chain that does not
answer raises :class:`ChainUnreachable`, whose message is one line naming the endpoint and the fix.
Both expose the same method names the miner and validator use (``metagraph``, ``serve_axon``,
``set_weights``, ``weights``, ``get_current_block``, ``blocks_since_last_update``,
``weights_rate_limit``, ``is_hotkey_registered``, ``get_uid_for_hotkey_on_subnet``).
"""

import argparse
import logging
from typing import Any

from tuneforge.chain.local import (
    LocalChain,
    LocalChainError,
    LocalMetagraph,
    get_local_chain,
    reset_local_chain,
)

__all__ = [
    "LOCAL_NETWORKS",
    "ChainUnreachable",
    "LocalChain",
    "LocalChainError",
    "LocalMetagraph",
    "add_args",
    "connect",
    "connect_from_config",
    "endpoint_of",
    "get_local_chain",
    "is_local_network",
    "reset_local_chain",
]

log = logging.getLogger(__name__)

#: ``--subtensor.network`` values served by the in-process chain.
LOCAL_NETWORKS = ("localchain", "mock")

_NETWORK_HELP = (
    "Chain to use: finney (main network), test (test network), local (a subtensor localnet at "
    "ws://127.0.0.1:9944), archive, a ws:// or wss:// URL, or localchain (TuneForge's in-process "
    "chain for the local network and tests; 'mock' is an alias)."
)


class ChainUnreachable(ConnectionError):
    """The chain could not be reached; the message is one line: the endpoint, the cause, the fix."""


def endpoint_of(network: str) -> str:
    """The websocket URL bittensor uses for ``network`` (a URL is returned as given)."""
    from bittensor.core import settings

    return settings.NETWORK_MAP.get(network.strip().lower(), network)


def is_local_network(network: str | None) -> bool:
    return network is not None and network.strip().lower() in LOCAL_NETWORKS


def connect(network: str, chain_endpoint: str | None = None) -> Any:
    """Return a subtensor for ``network``.

    ``chain_endpoint`` overrides ``network`` for a real chain unless it is bittensor's default
    endpoint (which argparse fills in when the flag is absent). It is ignored for the local chain.

    Raises:
        ValueError: ``network`` is empty.
        ChainUnreachable: the chain did not answer (nothing listening, DNS failure, bad URL).
    """
    if not network or not network.strip():
        raise ValueError("no chain network given (use finney, test, local, a ws:// URL or localchain)")
    if is_local_network(network):
        return get_local_chain()
    import bittensor as bt
    from bittensor.core import settings

    target = network
    if chain_endpoint and chain_endpoint != settings.DEFAULTS.subtensor.chain_endpoint:
        target = chain_endpoint
    log.info("connecting to subtensor %s", target)
    try:
        return bt.Subtensor(network=target)
    except Exception as exc:  # any failure to open the websocket: one line, the chain named
        raise ChainUnreachable(_unreachable_message(target, exc)) from exc


def _unreachable_message(target: str, exc: BaseException) -> str:
    url = endpoint_of(target)
    cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    named = f"{target} ({url})" if url != target else url
    if url.startswith(("ws://127.", "ws://localhost")):
        hint = (
            "start a subtensor node there, or choose --subtensor.network test / finney "
            "(or localchain, TuneForge's in-process chain)"
        )
    else:
        hint = (
            "check the address and this machine's network, or pass --subtensor.chain_endpoint ws://HOST:PORT"
        )
    return f"cannot reach the chain at {named}: {cause}; {hint}"


def connect_from_config(config: Any) -> Any:
    """``connect`` using ``config.subtensor.network`` and ``config.subtensor.chain_endpoint``."""
    sub = config.subtensor
    return connect(sub.network, getattr(sub, "chain_endpoint", None))


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add bittensor's ``--subtensor.*`` flags, documenting that ``localchain`` is accepted."""
    import bittensor as bt

    bt.Subtensor.add_args(parser)  # tolerates being called twice
    for action in parser._actions:
        if "--subtensor.network" in action.option_strings:
            action.help = _NETWORK_HELP
