"""Miner settings: bittensor-style dotted flags parsed into one typed ``MinerConfig``.

Flags come from plain ``argparse`` on ``argv`` plus bittensor's own ``add_args`` helpers
(``--wallet.*``, ``--subtensor.*``, ``--axon.*``, ``--logging.*``), because ``bt.Config(parser)``
ignores the command line unless ``BT_NO_PARSE_CLI_ARGS=0`` is set. The parsed namespace is
validated and copied into :class:`MinerConfig`; a nested ``bt.Config`` with the same values is
kept for code that takes bittensor's config object (wallet, subtensor, logging).
"""

import argparse
import math
import sys
from dataclasses import dataclass, field
from typing import Any

import bittensor as bt

from tuneforge import chain
from tuneforge.generation.base import BACKENDS, DEFAULT_MODELS, GenerationSettings
from tuneforge.neuron_config import nest_config, set_flag_help

__all__ = [
    "MinerConfig",
    "ConfigError",
    "build_parser",
    "parse_miner_config",
    "DEFAULT_NETUID",
    "DEFAULT_NETWORK",
    "DEFAULT_MIN_STAKE",
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_TIMEOUT_MARGIN_S",
    "DEFAULT_RESYNC_INTERVAL_S",
]

#: TuneForge's subnet on the test network.
DEFAULT_NETUID = 234
#: The network TuneForge's subnet runs on.
DEFAULT_NETWORK = "test"
#: Stake (in the subnet's stake units) a caller needs. 0 because the validator permit is the real
#: gate (only the top stakers of a subnet hold one) and testnet stake is faucet money; raise it on
#: a network where permits are cheap.
DEFAULT_MIN_STAKE = 0.0
#: Generation jobs allowed to wait behind the running ones.
DEFAULT_QUEUE_SIZE = 4
#: Seconds of ``synapse.timeout`` reserved for encoding the clip and sending it back.
DEFAULT_TIMEOUT_MARGIN_S = 1.5
#: Seconds between metagraph re-syncs.
DEFAULT_RESYNC_INTERVAL_S = 120.0
#: Seconds of audio generated once at start to warm the model and seed the speed estimate.
DEFAULT_WARMUP_SECONDS = 1.0

_BACKENDS = BACKENDS
_PRECISIONS = ("auto", "fp32", "fp16", "bf16")


class ConfigError(ValueError):
    """A flag value the miner cannot run with; the message names the flag."""


@dataclass
class MinerConfig:
    """Everything the miner reads from its command line (units in the field names or comments)."""

    netuid: int = DEFAULT_NETUID
    # Wallet
    wallet_name: str = "default"
    wallet_hotkey: str = "default"
    wallet_path: str = "~/.bittensor/wallets/"
    # Chain
    network: str = DEFAULT_NETWORK  # finney | test | local | ws(s)://... | localchain (in-process)
    chain_endpoint: str | None = None
    # Axon
    axon_port: int = 8091
    axon_ip: str = "[::]"  # interface to bind; 127.0.0.1 serves loopback only
    axon_external_ip: str | None = None  # None: detected at start (needs the internet)
    axon_external_port: int | None = None
    axon_max_workers: int = 10
    # Generation
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    devices: tuple[str, ...] = ("auto",)  # one backend and one worker thread per device
    # Blacklist
    min_stake: float = DEFAULT_MIN_STAKE
    allow_non_validators: bool = False
    # Request handling
    queue_size: int = DEFAULT_QUEUE_SIZE
    timeout_margin_s: float = DEFAULT_TIMEOUT_MARGIN_S
    warmup_seconds: float = DEFAULT_WARMUP_SECONDS
    # Neuron lifecycle
    resync_interval_s: float = DEFAULT_RESYNC_INTERVAL_S
    # Logging
    logging_debug: bool = False
    logging_trace: bool = False
    #: The same values as a nested ``bt.Config`` (``config.wallet.name`` ...), for bittensor APIs.
    bt_config: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()
        if self.bt_config is None:
            self.bt_config = self.to_bt_config()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first flag whose value cannot work."""
        if self.netuid < 0:
            raise ConfigError(f"--netuid must be >= 0, got {self.netuid}")
        if not 0 < self.axon_port < 65536:
            raise ConfigError(f"--axon.port must be 1-65535, got {self.axon_port}")
        if self.axon_external_port is not None and not 0 < self.axon_external_port < 65536:
            raise ConfigError(f"--axon.external_port must be 1-65535, got {self.axon_external_port}")
        if self.generation.backend not in _BACKENDS:
            raise ConfigError(f"--generation.backend must be one of {'|'.join(_BACKENDS)}, got {self.generation.backend!r}")
        if self.generation.precision not in _PRECISIONS:
            raise ConfigError(
                f"--generation.precision must be one of {'|'.join(_PRECISIONS)}, got {self.generation.precision!r}"
            )
        if not 1 <= self.generation.max_batch <= 16:
            raise ConfigError(f"--generation.max_batch must be 1-16, got {self.generation.max_batch}")
        if self.generation.max_vram_gb is not None and not (
            math.isfinite(self.generation.max_vram_gb) and self.generation.max_vram_gb > 0
        ):
            raise ConfigError(f"--generation.max_vram_gb must be > 0 GiB, got {self.generation.max_vram_gb}")
        if not self.devices or any(not d for d in self.devices):
            raise ConfigError("--generation.device needs at least one device name (e.g. cpu, cuda:0,cuda:1)")
        if len(set(self.devices)) != len(self.devices):
            raise ConfigError(f"--generation.device lists a device twice: {','.join(self.devices)}")
        if not math.isfinite(self.min_stake) or self.min_stake < 0:
            raise ConfigError(f"--blacklist.min_stake must be a finite number >= 0, got {self.min_stake}")
        if self.queue_size < 1:
            raise ConfigError(f"--miner.queue_size must be >= 1, got {self.queue_size}")
        if not math.isfinite(self.timeout_margin_s) or self.timeout_margin_s < 0:
            raise ConfigError(f"--miner.timeout_margin must be >= 0 seconds, got {self.timeout_margin_s}")
        if not math.isfinite(self.warmup_seconds) or self.warmup_seconds < 0:
            raise ConfigError(f"--miner.warmup_seconds must be >= 0, got {self.warmup_seconds}")
        if not math.isfinite(self.resync_interval_s) or self.resync_interval_s <= 0:
            raise ConfigError(f"--neuron.resync_interval must be > 0 seconds, got {self.resync_interval_s}")

    def generation_settings_for(self, device: str) -> GenerationSettings:
        """The generation settings with ``device`` substituted (one backend per device)."""
        g = self.generation
        return GenerationSettings(
            backend=g.backend,
            model=g.model,
            device=device,
            precision=g.precision,
            sample_rate=g.sample_rate,
            soundfont=g.soundfont,
            max_batch=g.max_batch,
            max_vram_gb=g.max_vram_gb,
            extra=dict(g.extra),
        )

    @property
    def bind_host(self) -> str:
        """Host the axon's HTTP server binds (``[::]`` and ``0.0.0.0`` mean all interfaces)."""
        return self.axon_ip

    def to_bt_config(self) -> Any:
        """A nested ``bt.Config`` carrying these values (``cfg.wallet.name``, ``cfg.axon.port`` ...)."""
        flat = {
            "netuid": self.netuid,
            "wallet.name": self.wallet_name,
            "wallet.hotkey": self.wallet_hotkey,
            "wallet.path": self.wallet_path,
            "subtensor.network": self.network,
            "subtensor.chain_endpoint": self.chain_endpoint,
            "axon.port": self.axon_port,
            "axon.ip": self.axon_ip,
            "axon.external_ip": self.axon_external_ip,
            "axon.external_port": self.axon_external_port,
            "axon.max_workers": self.axon_max_workers,
            "logging.debug": self.logging_debug,
            "logging.trace": self.logging_trace,
            "generation.backend": self.generation.backend,
            "generation.model": self.generation.model,
            "generation.device": ",".join(self.devices),
            "generation.precision": self.generation.precision,
            "generation.soundfont": self.generation.soundfont,
            "generation.max_batch": self.generation.max_batch,
            "generation.max_vram_gb": self.generation.max_vram_gb,
            "blacklist.min_stake": self.min_stake,
            "blacklist.allow_non_validators": self.allow_non_validators,
            "miner.queue_size": self.queue_size,
            "miner.timeout_margin": self.timeout_margin_s,
            "neuron.resync_interval": self.resync_interval_s,
        }
        return nest_config(flat)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add every miner flag to ``parser`` (a new one when None) and return it."""
    parser = parser or argparse.ArgumentParser(
        prog="neurons/miner.py",
        description="TuneForge miner: serves text-to-music generation on a bittensor axon.",
    )
    parser.add_argument("--netuid", type=int, default=DEFAULT_NETUID, help="Subnet uid to mine on (TuneForge testnet: 234).")
    bt.Wallet.add_args(parser)
    chain.add_args(parser)  # bittensor's --subtensor.* flags, plus the in-process "localchain"
    bt.Axon.add_args(parser)
    bt.logging.add_args(parser)
    # bittensor defaults the endpoint to finney's, which would override --subtensor.network.
    # TuneForge's subnet lives on the test network, so that is the default network.
    parser.set_defaults(**{"subtensor.chain_endpoint": None, "subtensor.network": DEFAULT_NETWORK})
    set_flag_help(parser, "--axon.ip", "Interface the axon binds: [::] or 0.0.0.0 for all, 127.0.0.1 for loopback only.")
    set_flag_help(parser, "--axon.external_ip", "IP announced on chain; detected over the internet when omitted.")
    set_flag_help(parser, "--axon.external_port", "Port announced on chain (default: --axon.port).")
    set_flag_help(parser, "--axon.max_workers", "Threads bittensor's axon uses for request handling.")
    set_flag_help(parser, "--subtensor.chain_endpoint", "Chain websocket URL; overrides --subtensor.network when given.")
    gen = GenerationSettings()
    parser.add_argument(
        "--generation.backend",
        choices=_BACKENDS,
        default=gen.backend,
        help="Generator: procedural (weight-free composer, CPU), musicgen (transformers, GPU advised) or "
        "ace_step (ACE-Step 1.5 through diffusers: sings lyrics; GPU advised).",
    )
    parser.add_argument(
        "--generation.model",
        default=gen.model,
        help="Neural backend's model: hub id in the local cache (scripts/download_models.sh) or a local directory "
        f"(default: {DEFAULT_MODELS['musicgen']} for musicgen, {DEFAULT_MODELS['ace_step']} for ace_step).",
    )
    parser.add_argument(
        "--generation.device",
        default=gen.device,
        help="Device(s): auto, cpu, cuda, cuda:N; comma-separate several for one worker per device.",
    )
    parser.add_argument(
        "--generation.precision",
        choices=_PRECISIONS,
        default=gen.precision,
        help="Neural backend precision; auto: fp32 on CPU, fp16 (musicgen) / bf16 where supported (ace_step) on CUDA.",
    )
    parser.add_argument(
        "--generation.max_batch",
        type=int,
        default=gen.max_batch,
        help="Queued requests rendered together in one call by a backend that batches (ace_step), 1-16 (default 1).",
    )
    parser.add_argument(
        "--generation.max_vram_gb",
        type=float,
        default=None,
        help="CUDA memory this miner may take per device, in GiB; a batch past it is rendered in halves (default: no bound).",
    )
    parser.add_argument(
        "--generation.soundfont",
        default=None,
        help="Procedural backend: render through this General-MIDI SF2 file, or 'auto' for Debian's "
        "/usr/share/sounds/sf2/TimGM6mb.sf2 or FluidR3_GM.sf2 if installed (default: built-in synth).",
    )
    parser.add_argument("--generation.sample_rate", type=int, default=gen.sample_rate, help="Procedural output sample rate in Hz.")
    parser.add_argument(
        "--blacklist.min_stake",
        type=float,
        default=DEFAULT_MIN_STAKE,
        help=f"Refuse callers with less stake than this (default {DEFAULT_MIN_STAKE:g}; the validator permit is the main gate).",
    )
    parser.add_argument(
        "--blacklist.allow_non_validators",
        action="store_true",
        default=False,
        help="Serve registered hotkeys without a validator permit (off by default).",
    )
    parser.add_argument(
        "--miner.queue_size",
        type=int,
        default=DEFAULT_QUEUE_SIZE,
        help=f"Generation jobs that may wait behind the running ones; more are refused at once (default {DEFAULT_QUEUE_SIZE}).",
    )
    parser.add_argument(
        "--miner.timeout_margin",
        type=float,
        default=DEFAULT_TIMEOUT_MARGIN_S,
        help=f"Seconds of each request's timeout reserved for encoding and transport (default {DEFAULT_TIMEOUT_MARGIN_S:g}).",
    )
    parser.add_argument(
        "--miner.warmup_seconds",
        type=float,
        default=DEFAULT_WARMUP_SECONDS,
        help="Seconds of audio generated per device at start to warm up and time the backend (0 disables).",
    )
    parser.add_argument(
        "--neuron.resync_interval",
        type=float,
        default=DEFAULT_RESYNC_INTERVAL_S,
        help=f"Seconds between metagraph re-syncs in the background (default {DEFAULT_RESYNC_INTERVAL_S:g}).",
    )
    return parser


def _devices(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in str(text).split(","))


def config_from_namespace(ns: argparse.Namespace) -> MinerConfig:
    """Copy a parsed namespace (dotted attribute names) into a validated :class:`MinerConfig`."""
    v = vars(ns)
    devices = _devices(v["generation.device"])
    generation = GenerationSettings(
        backend=v["generation.backend"],
        model=v["generation.model"],
        device=devices[0] if devices else "",
        precision=v["generation.precision"],
        sample_rate=int(v["generation.sample_rate"]),
        soundfont=v["generation.soundfont"],
        max_batch=int(v["generation.max_batch"]),
        max_vram_gb=None if v["generation.max_vram_gb"] is None else float(v["generation.max_vram_gb"]),
    )
    return MinerConfig(
        netuid=int(v["netuid"]),
        wallet_name=v["wallet.name"],
        wallet_hotkey=v["wallet.hotkey"],
        wallet_path=v["wallet.path"],
        network=v["subtensor.network"],
        chain_endpoint=v["subtensor.chain_endpoint"],
        axon_port=int(v["axon.port"]),
        axon_ip=str(v["axon.ip"]),
        axon_external_ip=v["axon.external_ip"],
        axon_external_port=v["axon.external_port"],
        axon_max_workers=int(v["axon.max_workers"]),
        generation=generation,
        devices=devices,
        min_stake=float(v["blacklist.min_stake"]),
        allow_non_validators=bool(v["blacklist.allow_non_validators"]),
        queue_size=int(v["miner.queue_size"]),
        timeout_margin_s=float(v["miner.timeout_margin"]),
        warmup_seconds=float(v["miner.warmup_seconds"]),
        resync_interval_s=float(v["neuron.resync_interval"]),
        logging_debug=bool(v["logging.debug"]),
        logging_trace=bool(v["logging.trace"]),
    )


def parse_miner_config(argv: list[str] | None = None) -> MinerConfig:
    """Parse ``argv`` (``sys.argv[1:]`` when None) into a :class:`MinerConfig`.

    argparse exits with status 2 on an unknown flag or a malformed value; a value that parses
    but cannot work (a negative stake, an empty queue) raises :class:`ConfigError`.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    return config_from_namespace(parser.parse_args(args))
