"""TuneForge miner entry point: parse the flags, build the miner, serve until SIGINT/SIGTERM.

    python neurons/miner.py --netuid 234 --subtensor.network test \\
        --wallet.name m --wallet.hotkey h --axon.port 8091

``--help`` lists every flag; docs/miner.md explains them.
"""

import sys

# scoring first: its import chooses numba's kernel cache before anything imports librosa
from scoring import jit
from tuneforge.miner.config import ConfigError, parse_miner_config
from tuneforge.miner.neuron import Miner, run_miner
from tuneforge.neuron_config import configure_logging


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_miner_config(argv)
    except ConfigError as exc:
        sys.stderr.write(f"neurons/miner.py: {exc}\n")
        return 2
    configure_logging(config.bt_config, debug=config.logging_debug or config.logging_trace)
    # The miner scores nothing itself: the install's cache is verified (built once if missing) so a
    # backend or self-check that analyses audio loads its kernels instead of compiling them mid-request.
    jit.warm_before_serving("miner", in_process=False)
    return run_miner(Miner(config))


if __name__ == "__main__":
    sys.exit(main())
