"""``tuneforge doctor miner|validator [FLAGS]``: check an operator's setup before starting it.

The flags are the role's own (``neurons/miner.py`` / ``neurons/validator.py``), parsed by its real
parser, and ``--env-file FILE`` reads the same ``TUNEFORGE_*`` settings the pm2 file and the
containers use (:mod:`tuneforge.launch`). Each check says what it found and, when it fails, the
command or flag that fixes it:

* **wallet**: the coldkey's public file and the hotkey exist, the hotkey is readable without a
  password (a neuron cannot type one);
* **chain**: the configured network answers (its block number), with a time limit;
* **registered**: the hotkey holds a uid on the subnet (and, for a validator, a permit);
* **port**: the miner's axon port / the validator's API port is free to bind here; for a miner,
  the endpoint the chain lists for it is reached over TCP when one is listed (informational);
* **models**: what the configured backend (miner) or scorer (validator) loads is on disk;
* **disk**: free space where the role writes (validator state, the miner's home);
* **gpu**: CUDA devices when the configuration asks for them.

A required check that fails makes the exit status 1; warnings (``warn``) and checks that could
not run (``skip``) do not. Nothing is downloaded and nothing is started.
"""

import argparse
import json
import logging
import os
import shutil
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Check", "MIN_FREE_GIB", "ROLES", "format_checklist", "register", "run", "run_checks"]

log = logging.getLogger(__name__)

ROLES = ("miner", "validator")
#: Free space a role needs where it writes, GiB (a validator keeps every round's clips for
#: ``--api.retention_days``; a miner only logs).
MIN_FREE_GIB = {"miner": 1.0, "validator": 5.0}
CHAIN_TIMEOUT_S = 20.0
REACH_TIMEOUT_S = 3.0

OK, FAIL, WARN, SKIP = "ok", "FAIL", "warn", "skip"


@dataclass(frozen=True)
class Check:
    """One line of the checklist. ``status``: ok, FAIL, warn or skip; ``fix``: what to do when it is not ok."""

    name: str
    status: str
    detail: str
    fix: str | None = None
    required: bool = True

    @property
    def failed(self) -> bool:
        return self.required and self.status == FAIL


@dataclass
class _Context:
    """What later checks need from earlier ones."""

    hotkey: str | None = None
    chain: Any = None


# -- the checks -----------------------------------------------------------------------------------


def check_wallet(name: str, hotkey: str, path: str, ctx: _Context) -> Check:
    """The coldkey's public file and an unencrypted, readable hotkey under ``path``."""
    import bittensor as bt

    wallet = bt.Wallet(name=name, hotkey=hotkey, path=path)
    where = f"{name}/{hotkey} under {os.path.expanduser(path)}"
    if not wallet.coldkeypub_file.exists_on_device():
        return Check(
            "wallet",
            FAIL,
            f"no coldkey {name!r} ({wallet.coldkeypub_file.path} missing)",
            f"btcli wallet new_coldkey --wallet.name {name} --wallet.path {path} "
            f"(or regen_coldkeypub), or pass the right --wallet.name / --wallet.path",
        )
    if not wallet.hotkey_file.exists_on_device():
        return Check(
            "wallet",
            FAIL,
            f"no hotkey {hotkey!r} for coldkey {name!r} ({wallet.hotkey_file.path} missing)",
            f"btcli wallet new_hotkey --wallet.name {name} --wallet.hotkey {hotkey} --wallet.path {path}, "
            f"or pass the right --wallet.hotkey",
        )
    if not wallet.hotkey_file.is_readable():
        return Check(
            "wallet",
            FAIL,
            f"hotkey file {wallet.hotkey_file.path} is not readable by this user",
            "run as the wallet's owner, or give this user read access to the hotkey file",
        )
    if wallet.hotkey_file.is_encrypted():
        return Check(
            "wallet",
            FAIL,
            f"hotkey {where} is password-protected: a neuron cannot enter the password",
            f"regenerate the hotkey without a password (btcli wallet regen_hotkey --wallet.name {name} "
            f"--wallet.hotkey {hotkey} --no-use-password)",
        )
    try:
        ctx.hotkey = wallet.hotkey.ss58_address
        coldkey = wallet.coldkeypub.ss58_address
    except Exception as exc:  # a corrupt key file: say which and why
        return Check(
            "wallet",
            FAIL,
            f"wallet {where} cannot be read: {type(exc).__name__}: {exc}",
            "restore the key files from your backup (btcli wallet regen_hotkey / regen_coldkeypub)",
        )
    return Check("wallet", OK, f"{where}: coldkey {coldkey}, hotkey {ctx.hotkey}")


def _connect_with_timeout(network: str, endpoint: str | None, timeout_s: float) -> Any:
    """``tuneforge.chain.connect`` in a thread; raises ``TimeoutError`` after ``timeout_s``."""
    from tuneforge.chain import connect

    box: dict[str, Any] = {}

    def _run() -> None:
        try:
            box["chain"] = connect(network, endpoint)
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=_run, name="doctor-chain", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["chain"]


def check_chain(
    network: str, endpoint: str | None, netuid: int, ctx: _Context, *, timeout_s: float = CHAIN_TIMEOUT_S
) -> Check:
    """The chain answers (its current block). The in-process local chain is used when this process
    holds the subnet (a local network, a test); otherwise there is nothing to reach."""
    from tuneforge.chain import ChainUnreachable, endpoint_of, get_local_chain, is_local_network

    if is_local_network(network):
        local = get_local_chain()
        if local.subnet_exists(netuid):
            ctx.chain = local
            return Check("chain", OK, f"in-process local chain at block {local.get_current_block()}")
        return Check(
            "chain",
            SKIP,
            f"{network} is the in-process chain of tuneforge localnet and the tests: "
            "nothing to reach from here",
            required=False,
        )
    target = endpoint or network
    try:
        ctx.chain = _connect_with_timeout(network, endpoint, timeout_s)
        block = int(ctx.chain.get_current_block())
    except ChainUnreachable as exc:
        message, _, hint = str(exc).partition("; ")
        return Check("chain", FAIL, message, hint or None)
    except Exception as exc:  # a timeout or a node that answers nonsense
        return Check(
            "chain",
            FAIL,
            f"chain {target} ({endpoint_of(target)}): {type(exc).__name__}: {exc}",
            "check --subtensor.network / --subtensor.chain_endpoint and this machine's network",
        )
    return Check("chain", OK, f"{target} ({endpoint_of(target)}) at block {block}")


def check_registered(netuid: int, ctx: _Context, *, validator: bool) -> Check:
    """The hotkey holds a uid on ``netuid`` (a validator: and a permit, as a warning)."""
    if ctx.chain is None or ctx.hotkey is None:
        return Check("registered", SKIP, "needs a readable hotkey and a reachable chain", required=False)
    try:
        uid = ctx.chain.get_uid_for_hotkey_on_subnet(ctx.hotkey, netuid)
    except Exception as exc:
        return Check(
            "registered",
            FAIL,
            f"registration query failed: {type(exc).__name__}: {exc}",
            "try again; if it persists, the node may be out of sync",
        )
    if uid is None:
        return Check(
            "registered",
            FAIL,
            f"hotkey {ctx.hotkey} is not registered on netuid {netuid}",
            f"btcli subnet register --netuid {netuid} --wallet.name ... --wallet.hotkey ...",
        )
    if not validator:
        return Check("registered", OK, f"uid {uid} on netuid {netuid}")
    try:
        permit = bool(ctx.chain.metagraph(netuid, lite=True).validator_permit[uid])
    except Exception as exc:
        return Check(
            "registered",
            WARN,
            f"uid {uid} on netuid {netuid}; permit unknown ({type(exc).__name__}: {exc})",
            required=False,
        )
    if not permit:
        return Check(
            "registered",
            WARN,
            f"uid {uid} on netuid {netuid} without a validator permit: the chain refuses its weights",
            "stake to the hotkey until it is among the subnet's top validators",
            required=False,
        )
    return Check("registered", OK, f"uid {uid} on netuid {netuid}, validator permit held")


def check_port(name: str, host: str, port: int, flag: str) -> Check:
    """``host:port`` can be bound here now."""
    from tuneforge.netutils import port_is_free

    if port_is_free(host, port):
        return Check(name, OK, f"{port} free on {host}")
    return Check(
        name,
        FAIL,
        f"{port} on {host} is in use (another process listens there; this role already running?)",
        f"stop that process (ss -ltnp 'sport = :{port}' names it) or choose another {flag}",
    )


def check_axon_reachable(netuid: int, ctx: _Context) -> Check:
    """The endpoint the chain lists for this hotkey answers a TCP connection (informational)."""
    if ctx.chain is None or ctx.hotkey is None:
        return Check("reachable", SKIP, "needs a readable hotkey and a reachable chain", required=False)
    try:
        axon = ctx.chain.get_neuron_for_pubkey_and_subnet(ctx.hotkey, netuid).axon_info
    except Exception as exc:
        return Check("reachable", SKIP, f"axon query failed: {type(exc).__name__}: {exc}", required=False)
    ip, port = str(getattr(axon, "ip", "0.0.0.0")), int(getattr(axon, "port", 0) or 0)
    if ip in ("0.0.0.0", "", "::") or port == 0:
        return Check(
            "reachable", SKIP, "no axon on chain yet (the miner publishes it when it starts)", required=False
        )
    try:
        with socket.create_connection((ip, port), timeout=REACH_TIMEOUT_S):
            pass
    except OSError as exc:
        return Check(
            "reachable",
            WARN,
            f"chain lists {ip}:{port}, not reachable from here ({exc.strerror or exc})",
            "start the miner, open the port in the firewall, or set --axon.external_ip/--axon.external_port "
            "to the address validators can reach",
            required=False,
        )
    return Check("reachable", OK, f"chain lists {ip}:{port}, which accepts connections", required=False)


def check_miner_models(cfg: Any) -> Check:
    """The configured backend's model (or soundfont) is on disk."""
    from tuneforge.generation.base import DEFAULT_MODELS, BackendUnavailable

    backend = cfg.generation.backend
    if backend == "procedural":
        soundfont = cfg.generation.soundfont
        if soundfont:
            from tuneforge.generation.procedural.soundfont import SoundFontError, resolve_soundfont_path

            try:
                path = resolve_soundfont_path(soundfont)
            except SoundFontError as exc:
                return Check(
                    "models",
                    FAIL,
                    f"--generation.soundfont {exc}",
                    "give an existing SF2 file, 'auto', or leave the flag out for the built-in synth",
                )
            return Check(
                "models",
                OK,
                f"procedural backend with soundfont {path or 'auto: none found, built-in synth'}",
            )
        return Check("models", OK, "procedural backend: no model needed")
    model = cfg.generation.model or DEFAULT_MODELS[backend]
    try:
        if backend == "musicgen":
            from tuneforge.generation.musicgen_loading import resolve_model_dir

            found = resolve_model_dir(model)
        else:
            from tuneforge.generation.ace_step_loading import resolve_ace_step_dir

            found = resolve_ace_step_dir(model)
    except BackendUnavailable as exc:
        message, _, fix = str(exc).partition("; ")
        return Check("models", FAIL, f"{backend}: {message}", fix or "scripts/download_models.sh")
    return Check("models", OK, f"{backend} model {model} at {found}")


def check_validator_models(cfg: Any) -> list[Check]:
    """The in-wheel listeners every validator scores with, and the neural models in ``--scoring.models_dir``."""
    from scoring import listeners

    checks: list[Check] = []
    state = listeners.status()
    if state.complete:
        checks.append(Check("listeners", OK, state.describe()))
    else:
        checks.append(
            Check(
                "listeners",
                WARN if cfg.allow_missing_listeners else FAIL,
                state.describe(),
                "pip install --no-deps musicnn==0.1.0 basic-pitch==0.4.0",
                required=not cfg.allow_missing_listeners,
            )
        )
    from tuneforge.generation.musicgen_loading import models_dir

    directory = Path(cfg.models_dir).expanduser() if cfg.models_dir else models_dir()
    try:
        from scoring.models import AESTHETICS_DIR, ENCODER_DIRS, FAD_FILE, PREFERENCE_FILE
    except ImportError as exc:  # the minimal install: no torch, weight-free scoring
        status = FAIL if cfg.require_models else WARN
        checks.append(
            Check(
                "models",
                status,
                f"neural scoring cannot load in this install ({exc})",
                "pip install torch==2.13.0 -e '.[models]'",
                required=cfg.require_models,
            )
        )
        return checks
    pieces = {
        "clap": [directory / "clap"],
        "encoder": [directory / d for d in ENCODER_DIRS],
        "whisper": [directory / "whisper"],
        "aesthetics": [directory / AESTHETICS_DIR],
        "preference": [directory / PREFERENCE_FILE],
        "fad_reference": [directory / FAD_FILE],
    }
    absent = sorted(name for name, paths in pieces.items() if not any(p.exists() for p in paths))
    if not absent:
        checks.append(Check("models", OK, f"every scoring model in {directory}"))
    else:
        status = FAIL if cfg.require_models else WARN
        checks.append(
            Check(
                "models",
                status,
                f"absent from {directory}: {', '.join(absent)} (their signals are "
                "unavailable; the weight-free ones still score)",
                "scripts/download_models.sh (or --scoring.models_dir DIR)",
                required=cfg.require_models,
            )
        )
    return checks


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (where the directory will be created)."""
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(path: Path, min_free_gib: float, what: str) -> Check:
    """At least ``min_free_gib`` GiB free on the filesystem holding ``path``."""
    where = _existing(path)
    free_gib = shutil.disk_usage(where).free / 2**30
    detail = f"{free_gib:.1f} GiB free for {what} ({where}; at least {min_free_gib:g} GiB needed)"
    if free_gib < min_free_gib:
        return Check("disk", FAIL, detail, f"free space on that filesystem or move {what} to a larger one")
    return Check("disk", OK, detail)


def _cuda_devices() -> tuple[list[str] | None, str]:
    """``(device names, why)``: None when torch or CUDA is not available (``why`` says which)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None, "torch is not installed"
    import torch

    if not torch.cuda.is_available():
        return None, f"torch {torch.__version__} sees no CUDA device"
    names = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        names.append(f"cuda:{i} {props.name} {props.total_memory / 2**30:.0f} GiB")
    return names, ""


def check_gpu(
    devices: tuple[str, ...], backend: str, cuda: Callable[[], tuple[list[str] | None, str]] = _cuda_devices
) -> Check:
    """CUDA devices when asked for (``--generation.device cuda...``); advice for neural backends on ``auto``."""
    wanted = [d for d in devices if d.startswith("cuda")]
    if backend == "procedural" and not wanted:
        return Check("gpu", OK, "not needed: the procedural backend runs on the CPU", required=False)
    names, why = cuda()
    if wanted:
        if names is None:
            return Check(
                "gpu",
                FAIL,
                f"--generation.device {','.join(devices)} asks for CUDA, but {why}",
                "install the CUDA build of torch and the NVIDIA driver (nvidia-smi must list the GPU), "
                "or use --generation.device cpu",
            )
        missing = [d for d in wanted if d != "cuda" and int(d.split(":")[1]) >= len(names)]
        if missing:
            return Check(
                "gpu",
                FAIL,
                f"{', '.join(missing)} not present ({len(names)} device(s): {'; '.join(names)})",
                "name devices that exist (cuda:0 ... cuda:N-1)",
            )
        return Check("gpu", OK, "; ".join(names))
    if names is None:
        return Check(
            "gpu",
            WARN,
            f"{backend} on --generation.device auto will run on the CPU ({why}): slow, "
            "validators may time out",
            "run on a CUDA machine, or use the procedural backend",
            required=False,
        )
    return Check("gpu", OK, "; ".join(names), required=False)


def run_checks(
    role: str, cfg: Any, *, min_free_gib: float | None = None, chain_timeout_s: float = CHAIN_TIMEOUT_S
) -> list[Check]:
    """Every check of ``role`` for ``cfg`` (a ``MinerConfig`` or ``ValidatorConfig``), in checklist order."""
    ctx = _Context()
    free = MIN_FREE_GIB[role] if min_free_gib is None else float(min_free_gib)
    checks = [
        check_wallet(cfg.wallet_name, cfg.wallet_hotkey, cfg.wallet_path, ctx),
        check_chain(cfg.network, cfg.chain_endpoint, cfg.netuid, ctx, timeout_s=chain_timeout_s),
    ]
    if role == "miner":
        checks.append(check_registered(cfg.netuid, ctx, validator=False))
        checks.append(check_port("axon port", cfg.axon_ip, cfg.axon_port, "--axon.port"))
        checks.append(check_axon_reachable(cfg.netuid, ctx))
        checks.append(check_miner_models(cfg))
        checks.append(check_disk(Path.home(), free, "the miner's home"))
        checks.append(check_gpu(cfg.devices, cfg.generation.backend))
    else:
        checks.append(check_registered(cfg.netuid, ctx, validator=True))
        if cfg.api is not None and not cfg.api_off:
            checks.append(check_port("api port", cfg.api.host, cfg.api.port, "--api.port"))
        checks += check_validator_models(cfg)
        checks.append(check_disk(Path(cfg.state_path), free, "the validator's state (--neuron.state_dir)"))
        names, why = _cuda_devices()
        checks.append(
            Check(
                "gpu",
                OK,
                "; ".join(names) if names else f"none ({why}): scoring runs on the CPU",
                required=False,
            )
        )
    return checks


# -- output -----------------------------------------------------------------------------------------


def format_checklist(role: str, checks: list[Check]) -> str:
    """The checklist as text: one line per check, its fix under each that is not ok, a verdict."""
    width = max(len(c.name) for c in checks)
    lines = [f"tuneforge doctor: {role}"]
    for check in checks:
        lines.append(f"  {check.status:<4}  {check.name:<{width}}  {check.detail}")
        if check.status != OK and check.fix:
            lines.append(f"  {'':<4}  {'':<{width}}  fix: {check.fix}")
    failed = sum(c.failed for c in checks)
    lines.append(
        f"{failed} required check{'s' if failed != 1 else ''} failed"
        if failed
        else "all required checks passed"
    )
    return "\n".join(lines)


# -- the sub-command --------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="Check a miner's or validator's setup (wallet, chain, registration, ports, models, disk, GPU).",
        description="Check a miner's or validator's setup before starting it: the role's own flags (and "
        "--env-file FILE with TUNEFORGE_* settings, as the pm2 file and containers use), a checklist with the fix "
        "for every failure; exit status 1 when a required check fails.",
    )
    p.add_argument("role", choices=ROLES, help="what to check")
    p.add_argument(
        "flags",
        nargs=argparse.REMAINDER,
        help="the role's flags (--wallet.name ... --subtensor.network ...), plus --env-file FILE, "
        "--json and --min-free-gib N",
    )
    p.set_defaults(func=run)


def _own_options(flags: list[str]) -> tuple[argparse.Namespace, list[str]]:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--env-file", default=None)
    own.add_argument("--json", action="store_true")
    own.add_argument("--min-free-gib", type=float, default=None)
    return own.parse_known_args(flags)


def _config(role: str, argv: list[str]) -> Any:
    if role == "miner":
        from tuneforge.miner.config import parse_miner_config

        return parse_miner_config(argv)
    from tuneforge.validator.config import parse_validator_config

    return parse_validator_config(argv)


def run(args: argparse.Namespace) -> int:
    from tuneforge import launch

    own, role_flags = _own_options(list(args.flags))
    try:
        env = launch.merged_environment(own.env_file, os.environ)
        argv = launch.flags_from_env(env, launch.role_parser(args.role)) + role_flags
        cfg = _config(args.role, argv)
    except (launch.LaunchError, ValueError) as exc:  # ConfigError is a ValueError
        sys.stderr.write(f"tuneforge doctor: {exc}\n")
        return 2
    checks = run_checks(args.role, cfg, min_free_gib=own.min_free_gib)
    if own.json:
        sys.stdout.write(
            json.dumps(
                {
                    "role": args.role,
                    "ok": not any(c.failed for c in checks),
                    "checks": [asdict(c) for c in checks],
                },
                indent=2,
            )
            + "\n"
        )
    else:
        sys.stdout.write(format_checklist(args.role, checks) + "\n")
    return 1 if any(c.failed for c in checks) else 0
