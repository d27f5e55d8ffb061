"""Validator flags: parsing into ValidatorConfig, bad values, and `neurons/validator.py --help`."""

import subprocess
import sys
from pathlib import Path

import pytest

from tuneforge.validator.config import ConfigError, ValidatorConfig, parse_validator_config

ROOT = Path(__file__).resolve().parents[1]
FLAGS = (
    "--netuid", "--wallet.name", "--wallet.hotkey", "--wallet.path", "--subtensor.network",
    "--subtensor.chain_endpoint", "--logging.debug", "--neuron.sample_size", "--neuron.timeout",
    "--neuron.round_interval", "--neuron.sync_interval", "--neuron.weights_interval", "--neuron.scoring_budget",
    "--neuron.scoring_workers", "--neuron.state_dir", "--neuron.max_rounds", "--scoring.models_dir",
    "--scoring.require_models", "--scoring.allow_missing_listeners", "--wandb.project", "--wandb.offline", "localchain",
)


def test_flags_parse_into_the_typed_config(tmp_path):
    cfg = parse_validator_config([
        "--netuid", "9", "--subtensor.network", "localchain", "--wallet.name", "v", "--neuron.sample_size", "4",
        "--neuron.timeout", "12.5", "--neuron.scoring_budget", "30", "--neuron.scoring_workers", "3",
        "--neuron.state_dir", str(tmp_path), "--neuron.max_rounds", "2", "--scoring.require_models",
        "--wandb.project", "tf", "--wandb.offline",
    ])
    assert (cfg.netuid, cfg.network, cfg.wallet_name, cfg.sample_size) == (9, "localchain", "v", 4)
    assert (cfg.timeout_s, cfg.scoring_budget_s, cfg.scoring_workers, cfg.max_rounds) == (12.5, 30.0, 3, 2)
    assert cfg.require_models and cfg.wandb_project == "tf" and cfg.wandb_offline
    assert cfg.state_path == str(tmp_path) and cfg.bt_config.wallet.name == "v"


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--neuron.sample_size", "0"], "--neuron.sample_size"),
        (["--neuron.timeout", "-1"], "--neuron.timeout"),
        (["--neuron.scoring_budget", "nan"], "--neuron.scoring_budget"),
        (["--neuron.scoring_workers", "0"], "--neuron.scoring_workers"),
        (["--neuron.max_rounds", "-2"], "--neuron.max_rounds"),
        (["--netuid", "-1"], "--netuid"),
    ],
)
def test_unworkable_values_name_the_flag(argv, flag):
    with pytest.raises(ConfigError, match=flag):
        parse_validator_config(argv)


def test_defaults_are_valid():
    cfg = ValidatorConfig()
    assert cfg.max_rounds == 0 and cfg.wandb_project is None


def test_help_lists_every_flag():
    out = subprocess.run([sys.executable, str(ROOT / "neurons" / "validator.py"), "--help"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    for flag in FLAGS:
        assert flag in out.stdout, flag
    try:
        import tuneforge.api.settings  # noqa: F401
    except ImportError:
        return
    assert "--api.port" in out.stdout and "--api.off" in out.stdout


def test_bad_flag_value_exits_with_a_one_line_error(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "neurons" / "validator.py"), "--neuron.sample_size", "0"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["neurons/validator.py: --neuron.sample_size must be >= 1, got 0"]


def test_missing_listeners_refuse_to_start_unless_allowed(monkeypatch):
    from types import SimpleNamespace

    from scoring import listeners
    from tuneforge.validator.neuron import Validator, ValidatorStartupError

    missing = listeners.ListenerStatus(musicnn=False, notes=True, musicnn_reason="MusicnnMissing: not installed")
    monkeypatch.setattr(listeners, "status", lambda: missing)
    strict = SimpleNamespace(config=parse_validator_config([]))
    with pytest.raises(ValidatorStartupError, match="musicnn: missing .*--scoring.allow_missing_listeners"):
        Validator._check_listeners(strict)
    lenient = SimpleNamespace(config=parse_validator_config(["--scoring.allow_missing_listeners"]))
    assert lenient.config.allow_missing_listeners
    Validator._check_listeners(lenient)  # starts, with a warning
    monkeypatch.setattr(listeners, "status", lambda: listeners.ListenerStatus(musicnn=True, notes=True))
    Validator._check_listeners(strict)
