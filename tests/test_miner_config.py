"""Miner flags: parsing into MinerConfig, validation, and the --help listing."""

import subprocess
import sys
from pathlib import Path

import pytest

from tuneforge.miner.config import (
    DEFAULT_MIN_STAKE,
    DEFAULT_NETWORK,
    ConfigError,
    MinerConfig,
    build_parser,
    parse_miner_config,
)

REPO = Path(__file__).resolve().parents[1]


def test_defaults():
    config = parse_miner_config([])
    assert config.netuid == 234
    assert config.network == DEFAULT_NETWORK == "test"
    assert config.chain_endpoint is None
    assert config.min_stake == DEFAULT_MIN_STAKE == 0.0
    assert config.allow_non_validators is False
    assert config.generation.backend == "procedural"
    assert config.devices == ("auto",)


def test_every_flag_reaches_the_config():
    config = parse_miner_config(
        [
            "--netuid", "7",
            "--wallet.name", "m", "--wallet.hotkey", "h", "--wallet.path", "/tmp/w",
            "--subtensor.network", "localchain", "--subtensor.chain_endpoint", "ws://127.0.0.1:9944",
            "--axon.port", "9000", "--axon.ip", "127.0.0.1", "--axon.external_ip", "10.0.0.2",
            "--axon.external_port", "9100",
            "--logging.debug",
            "--generation.backend", "musicgen", "--generation.model", "/models/mg",
            "--generation.device", "cuda:0,cuda:1", "--generation.precision", "fp16",
            "--generation.soundfont", "/sf/gm.sf2",
            "--blacklist.min_stake", "250.5", "--blacklist.allow_non_validators",
            "--miner.queue_size", "9", "--miner.timeout_margin", "2.5", "--miner.warmup_seconds", "0",
            "--neuron.resync_interval", "30",
        ]
    )  # fmt: skip
    assert config.netuid == 7
    assert (config.wallet_name, config.wallet_hotkey, config.wallet_path) == ("m", "h", "/tmp/w")
    assert (config.network, config.chain_endpoint) == ("localchain", "ws://127.0.0.1:9944")
    assert (config.axon_port, config.axon_ip, config.axon_external_ip, config.axon_external_port) == (
        9000, "127.0.0.1", "10.0.0.2", 9100,
    )  # fmt: skip
    assert config.logging_debug is True
    g = config.generation
    assert (g.backend, g.model, g.precision, g.soundfont) == ("musicgen", "/models/mg", "fp16", "/sf/gm.sf2")
    assert config.devices == ("cuda:0", "cuda:1")
    assert [config.generation_settings_for(d).device for d in config.devices] == ["cuda:0", "cuda:1"]
    assert (config.min_stake, config.allow_non_validators) == (250.5, True)
    assert (config.queue_size, config.timeout_margin_s, config.warmup_seconds) == (9, 2.5, 0.0)
    assert config.resync_interval_s == 30.0
    bt_cfg = config.bt_config
    assert (bt_cfg.wallet.name, bt_cfg.axon.port, bt_cfg.subtensor.network, bt_cfg.netuid) == ("m", 9000, "localchain", 7)


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--blacklist.min_stake", "-1"], "--blacklist.min_stake"),
        (["--blacklist.min_stake", "nan"], "--blacklist.min_stake"),
        (["--miner.queue_size", "0"], "--miner.queue_size"),
        (["--neuron.resync_interval", "0"], "--neuron.resync_interval"),
        (["--miner.timeout_margin", "-0.5"], "--miner.timeout_margin"),
        (["--generation.device", "cuda:0,cuda:0"], "--generation.device"),
        (["--generation.device", "cpu,"], "--generation.device"),
        (["--axon.port", "70000"], "--axon.port"),
        (["--netuid", "-3"], "--netuid"),
        (["--generation.max_batch", "0"], "--generation.max_batch"),
        (["--generation.max_batch", "17"], "--generation.max_batch"),
        (["--generation.max_vram_gb", "0"], "--generation.max_vram_gb"),
        (["--generation.max_vram_gb", "inf"], "--generation.max_vram_gb"),
    ],
)
def test_unworkable_values_name_the_flag(argv, flag):
    with pytest.raises(ConfigError, match=flag.replace(".", r"\.")):
        parse_miner_config(argv)


@pytest.mark.parametrize("argv", [["--generation.backend", "audiocraft"], ["--miner.queue_size", "many"], ["--bogus"]])
def test_malformed_flags_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_miner_config(argv)
    assert exc.value.code == 2


def test_ace_step_backend_flags_reach_each_devices_settings():
    config = parse_miner_config(
        ["--generation.backend", "ace_step", "--generation.device", "cuda:0,cuda:1",
         "--generation.max_batch", "4", "--generation.max_vram_gb", "20", "--generation.precision", "bf16"]
    )  # fmt: skip
    settings = config.generation_settings_for("cuda:1")
    assert (settings.backend, settings.max_batch, settings.max_vram_gb, settings.precision) == ("ace_step", 4, 20.0, "bf16")
    assert settings.model is None and settings.model_name() == "ACE-Step/acestep-v15-xl-turbo-diffusers"
    assert parse_miner_config([]).generation.model_name() == ""  # procedural: no model
    assert parse_miner_config(["--generation.backend", "musicgen"]).generation.model_name() == "facebook/musicgen-small"


def test_dataclass_validates_direct_construction():
    with pytest.raises(ConfigError, match="queue_size"):
        MinerConfig(queue_size=0)


def test_help_lists_every_flag_with_a_description():
    out = subprocess.run(
        [sys.executable, str(REPO / "neurons" / "miner.py"), "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    flags = [opt for action in build_parser()._actions for opt in action.option_strings if opt.startswith("--")]
    required = [
        "--netuid", "--wallet.name", "--wallet.hotkey", "--wallet.path", "--subtensor.network",
        "--subtensor.chain_endpoint", "--axon.port", "--axon.ip", "--axon.external_ip", "--axon.external_port",
        "--logging.debug", "--generation.backend", "--generation.model", "--generation.device",
        "--generation.precision", "--generation.soundfont", "--blacklist.min_stake",
        "--blacklist.allow_non_validators", "--miner.queue_size", "--neuron.resync_interval",
    ]  # fmt: skip
    assert set(required) <= set(flags)
    for flag in flags:
        assert flag in out, flag
    for action in build_parser()._actions:
        assert action.help, action.option_strings
