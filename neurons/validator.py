"""TuneForge validator entry point: parse the flags, build the validator, run until SIGINT/SIGTERM.

    python neurons/validator.py --netuid 234 --subtensor.network test \\
        --wallet.name v --wallet.hotkey h --api.port 8000

``--help`` lists every flag; docs/validator.md explains them.
"""

import sys

# scoring first: its import chooses numba's kernel cache before anything imports librosa
from scoring import jit
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
    # The validator scores in this process: its kernels are loaded before the axon or the API takes a clip.
    jit.warm_before_serving("validator", in_process=True)
    return run_validator(Validator(config))


if __name__ == "__main__":
    sys.exit(main())
