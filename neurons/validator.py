"""TuneForge validator entry point: parse the flags, build the validator, run until SIGINT/SIGTERM.

    python neurons/validator.py --netuid 234 --subtensor.network test \\
        --wallet.name v --wallet.hotkey h --api.port 8000

``--help`` lists every flag; docs/validator.md explains them.
"""

import sys

from tuneforge.neuron_config import configure_logging
from tuneforge.validator.config import ConfigError, parse_validator_config
from tuneforge.validator.neuron import Validator, run_validator


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_validator_config(argv)
    except ConfigError as exc:
        sys.stderr.write(f"neurons/validator.py: {exc}\n")
        return 2
    configure_logging(config.bt_config, debug=config.logging_debug or config.logging_trace)
    return run_validator(Validator(config))


if __name__ == "__main__":
    sys.exit(main())
