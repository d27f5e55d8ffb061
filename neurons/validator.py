"""TuneForge validator entry point: parse the flags, build the validator, run until SIGINT/SIGTERM.

    python neurons/validator.py --netuid 234 --subtensor.network test \\
        --wallet.name v --wallet.hotkey h --api.port 8000

``--help`` lists every flag; docs/validator.md explains them.
"""

import logging
import sys

import bittensor as bt

from tuneforge.validator.config import ConfigError, ValidatorConfig, parse_validator_config
from tuneforge.validator.neuron import Validator, run_validator


def configure_logging(config: ValidatorConfig) -> None:
    """bittensor's logger from ``--logging.*``, and stdlib logging for TuneForge's own modules."""
    bt.logging(config=config.bt_config)
    level = logging.DEBUG if (config.logging_debug or config.logging_trace) else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_validator_config(argv)
    except ConfigError as exc:
        sys.stderr.write(f"neurons/validator.py: {exc}\n")
        return 2
    configure_logging(config)
    return run_validator(Validator(config))


if __name__ == "__main__":
    sys.exit(main())
