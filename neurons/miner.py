"""TuneForge miner entry point: parse the flags, build the miner, serve until SIGINT/SIGTERM.

    python neurons/miner.py --netuid 234 --subtensor.network test \\
        --wallet.name m --wallet.hotkey h --axon.port 8091

``--help`` lists every flag; docs/miner.md explains them.
"""

import logging
import sys

import bittensor as bt

from tuneforge.miner.config import ConfigError, MinerConfig, parse_miner_config
from tuneforge.miner.neuron import Miner, run_miner


def configure_logging(config: MinerConfig) -> None:
    """bittensor's logger from ``--logging.*``, and stdlib logging for TuneForge's own modules."""
    bt.logging(config=config.bt_config)
    level = logging.DEBUG if (config.logging_debug or config.logging_trace) else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_miner_config(argv)
    except ConfigError as exc:
        sys.stderr.write(f"neurons/miner.py: {exc}\n")
        return 2
    configure_logging(config)
    return run_miner(Miner(config))


if __name__ == "__main__":
    sys.exit(main())
