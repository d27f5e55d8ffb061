"""Validator settings: bittensor-style dotted flags parsed into one typed ``ValidatorConfig``.

Flags come from plain ``argparse`` plus bittensor's ``add_args`` helpers (``--wallet.*``,
``--subtensor.*`` which also accepts ``localchain``, ``--logging.*``), because ``bt.Config(parser)``
ignores the command line unless ``BT_NO_PARSE_CLI_ARGS=0``. The HTTP API's flags (``--api.*``)
come from ``tuneforge.api.settings.ApiSettings.add_args`` when that module is installed. A nested
``bt.Config`` with the same values is kept for bittensor APIs (wallet, logging).
"""

import argparse
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import bittensor as bt

from tuneforge import chain
from tuneforge.neuron_config import nest_config, set_flag_help

__all__ = ["ValidatorConfig", "ConfigError", "build_parser", "config_from_namespace", "parse_validator_config"]

log = logging.getLogger(__name__)

DEFAULT_NETUID = 234
DEFAULT_NETWORK = "test"
DEFAULT_STATE_DIR = "~/.tuneforge/validator"


class ConfigError(ValueError):
    """A flag value the validator cannot run with; the message names the flag."""


def _api_settings_class() -> Any:
    """``tuneforge.api.settings.ApiSettings`` or None when the API package is not installed."""
    try:
        from tuneforge.api.settings import ApiSettings
    except ImportError:
        return None
    return ApiSettings


@dataclass
class ValidatorConfig:
    """Everything the validator reads from its command line (seconds unless named otherwise)."""

    netuid: int = DEFAULT_NETUID
    wallet_name: str = "default"
    wallet_hotkey: str = "default"
    wallet_path: str = "~/.bittensor/wallets/"
    network: str = DEFAULT_NETWORK  # finney | test | local | ws(s)://... | localchain
    chain_endpoint: str | None = None
    # Rounds
    sample_size: int = 16
    timeout_s: float = 30.0  # per request for a 10 s clip; scaled by the requested duration
    round_interval_s: float = 60.0
    sync_interval_s: float = 120.0
    weights_interval_s: float = 360.0
    scoring_budget_s: float = 120.0
    scoring_workers: int = 2
    state_dir: str = DEFAULT_STATE_DIR
    max_rounds: int = 0  # 0 = run until stopped
    # Scoring models
    models_dir: str | None = None
    require_models: bool = False
    allow_missing_listeners: bool = False
    # Experiment logging
    wandb_project: str | None = None
    wandb_entity: str | None = None
    wandb_offline: bool = False
    # Logging
    logging_debug: bool = False
    logging_trace: bool = False
    # HTTP API: an ``ApiSettings`` (None when the API package is absent) and the off switch
    api: Any = None
    api_off: bool = False
    #: Whole-second range challenge durations are drawn from; None = the catalogue's 5-30 s.
    #: No flag: the local network sets it to keep rounds short on a CPU.
    challenge_durations: tuple[int, int] | None = None
    bt_config: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()
        if self.bt_config is None:
            self.bt_config = nest_config({
                "netuid": self.netuid, "wallet.name": self.wallet_name, "wallet.hotkey": self.wallet_hotkey,
                "wallet.path": self.wallet_path, "subtensor.network": self.network,
                "subtensor.chain_endpoint": self.chain_endpoint, "logging.debug": self.logging_debug,
                "logging.trace": self.logging_trace,
            })

    @property
    def state_path(self) -> str:
        """``state_dir`` with ``~`` expanded."""
        return os.path.expanduser(self.state_dir)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first flag whose value cannot work."""
        if self.netuid < 0:
            raise ConfigError(f"--netuid must be >= 0, got {self.netuid}")
        if self.sample_size < 1:
            raise ConfigError(f"--neuron.sample_size must be >= 1, got {self.sample_size}")
        for flag, value in (
            ("--neuron.timeout", self.timeout_s), ("--neuron.round_interval", self.round_interval_s),
            ("--neuron.sync_interval", self.sync_interval_s), ("--neuron.weights_interval", self.weights_interval_s),
            ("--neuron.scoring_budget", self.scoring_budget_s),
        ):
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{flag} must be a positive number of seconds, got {value}")
        if self.scoring_workers < 1:
            raise ConfigError(f"--neuron.scoring_workers must be >= 1, got {self.scoring_workers}")
        if self.max_rounds < 0:
            raise ConfigError(f"--neuron.max_rounds must be >= 0 (0 = forever), got {self.max_rounds}")
        if not self.state_dir:
            raise ConfigError("--neuron.state_dir must not be empty")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add every validator flag to ``parser`` (a new one when None) and return it."""
    parser = parser or argparse.ArgumentParser(
        prog="neurons/validator.py",
        description="TuneForge validator: challenges miners, scores their music, sets weights, serves the API.",
    )
    d = ValidatorConfig.__dataclass_fields__
    parser.add_argument("--netuid", type=int, default=DEFAULT_NETUID, help="Subnet uid to validate (TuneForge testnet: 234).")
    bt.Wallet.add_args(parser)
    chain.add_args(parser)
    bt.logging.add_args(parser)
    parser.set_defaults(**{"subtensor.chain_endpoint": None, "subtensor.network": DEFAULT_NETWORK})
    set_flag_help(parser, "--subtensor.chain_endpoint", "Chain websocket URL; overrides --subtensor.network when given.")

    def add(flag: str, name: str, kind: type, text: str) -> None:
        default = d[name].default
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default {default}).")

    add("--neuron.sample_size", "sample_size", int, "Miners queried per round")
    add("--neuron.timeout", "timeout_s", float,
        "Seconds a miner gets per request for a 10 s clip; scaled up in proportion for longer clips")
    add("--neuron.round_interval", "round_interval_s", float, "Seconds between the starts of two rounds")
    add("--neuron.sync_interval", "sync_interval_s", float, "Seconds between metagraph syncs")
    add("--neuron.weights_interval", "weights_interval_s", float,
        "Seconds between weight-setting attempts (the chain's rate limit still applies)")
    add("--neuron.scoring_budget", "scoring_budget_s", float,
        "Seconds scoring one round may take; clips not scored by then get 0")
    add("--neuron.scoring_workers", "scoring_workers", int, "Threads scoring rounds and organic requests")
    add("--neuron.state_dir", "state_dir", str,
        "Directory for validator state (leaderboard, miner history, issued challenges, challenge secret)")
    add("--neuron.max_rounds", "max_rounds", int, "Stop after this many rounds; 0 runs until SIGINT/SIGTERM")
    parser.add_argument("--scoring.models_dir", default=None,
                        help="Directory with the scoring models (CLAP, ...); default: the Hugging Face cache.")
    parser.add_argument("--scoring.require_models", action="store_true", default=False,
                        help="Refuse to start when a scoring model is missing (default: score without it).")
    parser.add_argument("--scoring.allow_missing_listeners", action="store_true", default=False,
                        help="Start even when the in-wheel listeners (musicnn, basic-pitch) cannot load; scores then "
                             "differ from every other validator's (default: refuse to start).")
    parser.add_argument("--wandb.project", default=None, help="Log rounds to this wandb project (off when not given).")
    parser.add_argument("--wandb.entity", default=None, help="wandb entity (team or user).")
    parser.add_argument("--wandb.offline", action="store_true", default=False,
                        help="Write wandb runs locally only (sync later with `wandb sync`).")
    api_settings = _api_settings_class()
    if api_settings is not None:
        api_settings.add_args(parser)
    return parser


def config_from_namespace(ns: argparse.Namespace) -> ValidatorConfig:
    """Copy a parsed namespace (dotted attribute names) into a validated :class:`ValidatorConfig`."""
    v = vars(ns)
    api_settings = _api_settings_class()
    api = api_settings.from_args(ns) if api_settings is not None and any(k.startswith("api.") for k in v) else None
    return ValidatorConfig(
        netuid=int(v["netuid"]), wallet_name=v["wallet.name"], wallet_hotkey=v["wallet.hotkey"],
        wallet_path=v["wallet.path"], network=v["subtensor.network"], chain_endpoint=v["subtensor.chain_endpoint"],
        sample_size=int(v["neuron.sample_size"]), timeout_s=float(v["neuron.timeout"]),
        round_interval_s=float(v["neuron.round_interval"]), sync_interval_s=float(v["neuron.sync_interval"]),
        weights_interval_s=float(v["neuron.weights_interval"]), scoring_budget_s=float(v["neuron.scoring_budget"]),
        scoring_workers=int(v["neuron.scoring_workers"]), state_dir=str(v["neuron.state_dir"]),
        max_rounds=int(v["neuron.max_rounds"]), models_dir=v["scoring.models_dir"],
        require_models=bool(v["scoring.require_models"]),
        allow_missing_listeners=bool(v.get("scoring.allow_missing_listeners", False)), wandb_project=v["wandb.project"],
        wandb_entity=v["wandb.entity"], wandb_offline=bool(v["wandb.offline"]),
        logging_debug=bool(v.get("logging.debug")), logging_trace=bool(v.get("logging.trace")),
        api=api, api_off=bool(v.get("api.off", api is None)),
    )


def parse_validator_config(argv: list[str] | None = None) -> ValidatorConfig:
    """Parse ``argv`` (``sys.argv[1:]`` when None). argparse exits 2 on unknown flags or
    malformed values; a value that parses but cannot work raises :class:`ConfigError`."""
    args = list(sys.argv[1:] if argv is None else argv)
    return config_from_namespace(build_parser().parse_args(args))
