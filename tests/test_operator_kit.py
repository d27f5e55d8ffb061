"""The operator kit: pm2's ecosystem.config.js, env/*.env.example, the Dockerfiles and docker-compose.yml.

What can run here does: node loads the pm2 file; every env example goes through the role's real
flag parser into its real config object (``tuneforge.launch`` is the bridge); the compose file
validates against a compact schema written from the Compose Specification
(tests/data/compose-schema.json), and every TUNEFORGE_* setting it gives a container is a flag of
the role that container runs.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tuneforge import launch
from tuneforge.launch import LaunchError, build_command, flags_from_env, read_env_file, role_parser

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {role: ROOT / "env" / f"{role}.env.example" for role in launch.ROLES}
#: compose service → the role its command starts.
SERVICE_ROLES = {"validator": "validator", "api": "api", "miner": "miner"}


def _flags(role: str) -> list[str]:
    return flags_from_env(read_env_file(EXAMPLES[role]), role_parser(role))


# -- pm2 ----------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (apt-get install nodejs)")
def test_pm2_file_loads_in_node_and_starts_each_role_from_its_env_file() -> None:
    script = "process.stdout.write(JSON.stringify(require(process.argv[1]).apps))"
    run = subprocess.run(
        ["node", "-e", script, str(ROOT / "ecosystem.config.js")], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    apps = {a["name"]: a for a in json.loads(run.stdout)}
    assert set(apps) == {"tuneforge-miner", "tuneforge-validator", "tuneforge-api"}
    for role in launch.ROLES:
        app = apps[f"tuneforge-{role}"]
        assert app["interpreter"] == "none" and app["cwd"] == str(ROOT)
        assert app["script"] == str(ROOT / ".venv" / "bin" / "python")
        assert app["args"] == [
            "-m",
            "tuneforge.launch",
            role,
            "--env-file",
            str(ROOT / "env" / f"{role}.env"),
        ]
        assert EXAMPLES[role].is_file()  # what the operator copies to env/<role>.env
        assert app["stop_exit_codes"] == [2]  # a bad flag is not retried forever
    assert apps["tuneforge-validator"]["kill_timeout"] > apps["tuneforge-miner"]["kill_timeout"]


# -- env examples through the real parsers -------------------------------------------------------


@pytest.mark.parametrize("role", launch.ROLES)
def test_every_setting_of_an_example_reaches_a_flag(role: str) -> None:
    pairs = read_env_file(EXAMPLES[role])
    parser = role_parser(role)
    flags = _flags(role)
    given = {k: v for k, v in pairs.items() if k.startswith("TUNEFORGE_") and v not in ("", "false")}
    assert given, "the example sets nothing"
    for key in given:
        option = launch.flag_for(key, parser)
        if option is None:
            assert key == "TUNEFORGE_MODELS_DIR", key  # read by the backends, not a flag
            continue
        assert option in flags, (key, flags)


def test_miner_example_loads_into_a_miner_config() -> None:
    from tuneforge.miner.config import parse_miner_config

    cfg = parse_miner_config(_flags("miner"))
    assert (cfg.netuid, cfg.network, cfg.chain_endpoint) == (234, "test", None)
    assert (cfg.wallet_name, cfg.wallet_hotkey) == ("miner", "default")
    assert cfg.wallet_path == os.path.expanduser("~/.bittensor/wallets")
    assert (cfg.axon_port, cfg.axon_external_ip, cfg.axon_external_port) == (8091, None, None)
    assert (cfg.generation.backend, cfg.devices, cfg.generation.precision) == ("procedural", ("cpu",), "auto")
    assert (cfg.queue_size, cfg.min_stake, cfg.allow_non_validators, cfg.logging_debug) == (
        4,
        0.0,
        False,
        False,
    )


def test_validator_example_loads_into_a_validator_config() -> None:
    from tuneforge.validator.config import parse_validator_config

    cfg = parse_validator_config(_flags("validator"))
    assert (cfg.netuid, cfg.network, cfg.wallet_name) == (234, "test", "validator")
    assert (cfg.sample_size, cfg.timeout_s, cfg.round_interval_s, cfg.weights_interval_s) == (
        16,
        30.0,
        60.0,
        360.0,
    )
    assert cfg.state_path == os.path.expanduser("~/.tuneforge/validator")
    assert not cfg.require_models and cfg.models_dir is None and cfg.wandb_project is None
    assert cfg.api is not None and not cfg.api_off
    assert (cfg.api.host, cfg.api.port, cfg.api.redis_url) == ("0.0.0.0", 8000, None)
    assert cfg.api.database_url == f"sqlite:///{Path(cfg.state_path) / 'tuneforge.db'}"


def test_api_example_loads_into_api_serve_settings() -> None:
    from tuneforge.api.settings import ApiSettings
    from tuneforge.cli import build_parser

    args = build_parser().parse_args(["api", "serve", *_flags("api")])
    settings = ApiSettings.from_args(vars(args), state_dir=args.state_dir)
    assert (settings.host, settings.port) == ("0.0.0.0", 8001)
    assert settings.database_url == "postgresql+psycopg://tuneforge:change-me@127.0.0.1:5432/tuneforge"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.secret_key_file == os.path.expanduser("~/.tuneforge/validator/api_secrets.key")
    assert settings.audio_dir == os.path.expanduser("~/.tuneforge/validator/audio")
    assert settings.trusted_proxies == []


# -- the launcher --------------------------------------------------------------------------------


def test_env_file_syntax(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_text("# comment\n\nexport A=1\nB = 'two words'\nC=\"q\"\nD=x # trailing\nE=$HOME\n")
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "q", "D": "x", "E": "$HOME"}
    path.write_text("A=1\nnot a pair\n")
    with pytest.raises(LaunchError, match=r"x\.env:2: not KEY=VALUE"):
        read_env_file(path)
    with pytest.raises(LaunchError, match="cannot read env file"):
        read_env_file(tmp_path / "missing.env")


def test_a_misspelt_dotted_setting_is_refused_and_plain_ones_pass_through() -> None:
    parser = role_parser("miner")
    with pytest.raises(LaunchError, match="TUNEFORGE_WALLET__NAEM: no flag --wallet.naem"):
        flags_from_env({"TUNEFORGE_WALLET__NAEM": "m"}, parser)
    with pytest.raises(LaunchError, match="on/off"):
        flags_from_env({"TUNEFORGE_BLACKLIST__ALLOW_NON_VALIDATORS": "maybe"}, parser)
    assert (
        flags_from_env({"TUNEFORGE_MODELS_DIR": "/m", "PATH": "/bin", "TUNEFORGE_NETUID": ""}, parser) == []
    )
    assert flags_from_env({"TUNEFORGE_BLACKLIST__ALLOW_NON_VALIDATORS": "Yes"}, parser) == [
        "--blacklist.allow_non_validators"
    ]


def test_environment_wins_over_the_file_and_flags_win_over_both(tmp_path: Path) -> None:
    path = tmp_path / "m.env"
    path.write_text("TUNEFORGE_AXON__PORT=8091\nTUNEFORGE_WALLET__NAME=file\n")
    env = launch.merged_environment(str(path), {"TUNEFORGE_WALLET__NAME": "environ"})
    command = build_command("miner", env, ["--axon.port", "9000"])
    assert command[:2] == [sys.executable, str(ROOT / "neurons" / "miner.py")]
    from tuneforge.miner.config import parse_miner_config

    cfg = parse_miner_config(command[2:])
    assert (cfg.wallet_name, cfg.axon_port) == ("environ", 9000)


def test_dry_run_prints_the_command(tmp_path: Path) -> None:
    env = dict(os.environ, TUNEFORGE_API__PORT="8123")
    run = subprocess.run(
        [sys.executable, "-m", "tuneforge.launch", "api", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[1:] == ["-m", "tuneforge.cli", "api", "serve", "--api.port", "8123"]
    bad = subprocess.run(
        [sys.executable, "-m", "tuneforge.launch", "miner", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TUNEFORGE_AXON__PROT="1"),
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "tuneforge.launch: TUNEFORGE_AXON__PROT: no flag --axon.prot for neurons/miner.py"
    )


# -- docker compose and the Dockerfiles ----------------------------------------------------------


_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(value: object, env: dict[str, str]) -> object:
    """``value`` with compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` substituted
    from ``env`` (``$$`` is a literal ``$``), as ``docker compose`` does before it validates."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op is not None and op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op is not None and op.endswith("-") and unset:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def _compose(env: dict[str, str] | None = None) -> dict:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return _interpolate(raw, {"POSTGRES_PASSWORD": "secret"} if env is None else env)


def _schema() -> dict:
    return json.loads((ROOT / "tests" / "data" / "compose-schema.json").read_text())


def test_compose_file_validates_against_the_schema() -> None:
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed (pip install jsonschema)"
    )
    jsonschema.Draft7Validator.check_schema(_schema())
    jsonschema.validate(_compose(), _schema())
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):  # compose refuses to start without a password
        _compose({})


def test_the_schema_refuses_what_compose_would() -> None:
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed (pip install jsonschema)"
    )
    schema = _schema()
    for broken in (
        {"services": {"validator": {"build": ".", "enviroment": {"A": "1"}}}},  # misspelt key
        {"services": {"validator": {"command": ["validator"]}}},  # neither image nor build
        {"services": {"api": {"image": "x", "depends_on": {"db": {"condition": "service_ready"}}}}},
        {"services": {"api": {"image": "x", "healthcheck": {"interval": "5 seconds"}}}},
        {"volumes": {}},  # no services
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_compose_services_are_wired_to_what_exists() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"postgres", "redis", "validator", "api", "miner"} <= set(services)
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith(("/", ".", "~", "$")):
                assert source in declared_volumes, (name, source)
        build = service.get("build")
        if isinstance(build, dict):
            assert (ROOT / build["context"] / build["dockerfile"]).is_file()
        for env_file in service.get("env_file") or []:
            assert (ROOT / f"{env_file}.example").is_file(), env_file
    assert services["validator"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["miner"]["profiles"] == ["miner"]


@pytest.mark.parametrize("service", sorted(SERVICE_ROLES))
def test_compose_settings_are_flags_of_the_role_each_container_runs(service: str) -> None:
    spec = _compose()["services"][service]
    role = SERVICE_ROLES[service]
    assert spec["command"] == [role]
    env = {k: str(v) for k, v in (spec.get("environment") or {}).items()}
    flags = flags_from_env(env, role_parser(role))  # raises on a setting the role has no flag for
    assert len(flags) >= 2 * sum(1 for k in env if k.startswith("TUNEFORGE_") and "__" in k)
    if role == "validator":
        from tuneforge.validator.config import parse_validator_config

        cfg = parse_validator_config(flags)
        assert cfg.api.database_url.startswith("postgresql+psycopg://tuneforge:secret@postgres:5432/")
        assert (cfg.api.redis_url, cfg.state_path) == ("redis://redis:6379/0", "/data/validator")


@pytest.mark.parametrize("dockerfile", ["miner-cpu.Dockerfile", "validator.Dockerfile"])
def test_dockerfiles_copy_what_exists_and_start_through_the_launcher(dockerfile: str) -> None:
    text = (ROOT / "docker" / dockerfile).read_text()
    for line in re.findall(r"(?m)^COPY (.+)$", text):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source
    assert re.search(r'(?m)^ENTRYPOINT \["python", "-m", "tuneforge.launch"\]$', text)
    role = json.loads(re.search(r"(?m)^CMD (.+)$", text).group(1))
    assert role in (["miner"], ["validator"])
    assert "pip install -e " in text  # the launcher finds neurons/ beside the package
    assert not re.search(r"pip install[^\n]*torch", text)  # CPU images: the minimal install, no torch wheel
