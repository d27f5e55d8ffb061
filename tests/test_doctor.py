"""``tuneforge doctor``: a checklist of an operator's setup with the fix for each failure.

Wallets are made in a temp directory; the chain is the in-process local chain (registered or not)
or a closed loopback port; ports are taken by a listening socket. Exit status 1 when a required
check fails, 0 otherwise (warnings included), 2 on flags or settings that do not parse.
"""

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneforge.chain import get_local_chain, reset_local_chain
from tuneforge.cli import main as cli_main
from tuneforge.doctor import FAIL, OK, SKIP, WARN, check_gpu
from tuneforge.localnet.wallets import make_wallet
from tuneforge.netutils import free_port

NETUID = 7


@pytest.fixture(autouse=True)
def fresh_chain() -> Iterator[None]:
    reset_local_chain()
    yield
    reset_local_chain()


@pytest.fixture()
def wallets(tmp_path: Path) -> Path:
    root = tmp_path / "wallets"
    make_wallet(root, "op")
    return root


def _listening() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _register(wallets: Path, *, permit: bool | None = None, stake: float = 0.0) -> int:
    import bittensor as bt

    wallet = bt.Wallet(name="op", hotkey="default", path=str(wallets))
    chain = get_local_chain()
    if not chain.subnet_exists(NETUID):
        chain.create_subnet(NETUID)
    return chain.register_neuron(
        NETUID,
        wallet.hotkey.ss58_address,
        wallet.coldkeypub.ss58_address,
        stake=stake,
        validator_permit=permit,
    )


def _doctor(capsys, role: str, *flags: str) -> tuple[int, dict[str, dict]]:
    code = cli_main(["doctor", role, "--json", *flags])
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["ok"] == (code == 0)
    return code, {c["name"]: c for c in report["checks"]}


def _miner(wallets: Path, *extra: str) -> list[str]:
    return [
        "--netuid",
        str(NETUID),
        "--subtensor.network",
        "localchain",
        "--wallet.name",
        "op",
        "--wallet.path",
        str(wallets),
        "--axon.ip",
        "127.0.0.1",
        "--axon.port",
        str(free_port()),
        *extra,
    ]


def test_a_ready_miner_passes_every_required_check(wallets: Path, capsys) -> None:
    uid = _register(wallets)
    code, checks = _doctor(capsys, "miner", *_miner(wallets))
    assert code == 0
    assert [c["status"] for c in checks.values() if c["required"]] == [OK] * 6
    assert checks["registered"]["detail"] == f"uid {uid} on netuid {NETUID}"
    assert checks["chain"]["detail"].startswith("in-process local chain at block")
    assert checks["reachable"]["status"] == SKIP  # nothing published yet


def test_the_text_checklist_puts_each_fix_under_its_failure(wallets: Path, capsys) -> None:
    code = cli_main(["doctor", "miner", *_miner(wallets, "--wallet.hotkey", "absent")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0] == "tuneforge doctor: miner"
    wallet = next(i for i, line in enumerate(lines) if line.split()[:2] == ["FAIL", "wallet"])
    assert "no hotkey 'absent'" in lines[wallet]
    assert (
        lines[wallet + 1]
        .strip()
        .startswith("fix: btcli wallet new_hotkey --wallet.name op --wallet.hotkey absent")
    )
    assert lines[-1] == "1 required check failed"


def test_no_wallet_at_all(tmp_path: Path, capsys) -> None:
    code, checks = _doctor(capsys, "miner", *_miner(tmp_path / "empty"))
    assert code == 1 and checks["wallet"]["status"] == FAIL
    assert "btcli wallet new_coldkey --wallet.name op" in checks["wallet"]["fix"]
    assert checks["registered"]["status"] == SKIP


def test_an_unregistered_hotkey(wallets: Path, capsys) -> None:
    get_local_chain().create_subnet(NETUID)
    code, checks = _doctor(capsys, "miner", *_miner(wallets))
    assert code == 1 and checks["registered"]["status"] == FAIL
    assert checks["registered"]["fix"].startswith(f"btcli subnet register --netuid {NETUID}")


def test_a_chain_that_does_not_answer(wallets: Path, capsys) -> None:
    url = f"ws://127.0.0.1:{_closed_port()}"
    flags = [f for f in _miner(wallets) if f != "localchain"]
    flags[flags.index("--subtensor.network")] = "--subtensor.chain_endpoint"
    flags.insert(flags.index("--subtensor.chain_endpoint") + 1, url)
    code, checks = _doctor(capsys, "miner", *flags)
    assert code == 1 and checks["chain"]["status"] == FAIL
    assert url in checks["chain"]["detail"] and "refused" in checks["chain"]["detail"].lower()
    assert "--subtensor.network" in checks["chain"]["fix"]
    assert checks["registered"]["status"] == SKIP


def test_a_taken_axon_port(wallets: Path, capsys) -> None:
    _register(wallets)
    with _listening() as sock:
        port = sock.getsockname()[1]
        flags = _miner(wallets)
        flags[flags.index("--axon.port") + 1] = str(port)
        code, checks = _doctor(capsys, "miner", *flags)
    assert code == 1 and checks["axon port"]["status"] == FAIL
    assert f"{port} on 127.0.0.1 is in use" in checks["axon port"]["detail"]
    assert "--axon.port" in checks["axon port"]["fix"]


def test_the_endpoint_on_chain_is_tried(wallets: Path, capsys) -> None:
    import bittensor as bt

    _register(wallets)
    hotkey = bt.Wallet(name="op", hotkey="default", path=str(wallets)).hotkey.ss58_address
    with _listening() as sock:
        get_local_chain().serve_endpoint(NETUID, hotkey, ip="127.0.0.1", port=sock.getsockname()[1])
        code, checks = _doctor(capsys, "miner", *_miner(wallets))
    assert code == 0 and checks["reachable"]["status"] == OK
    get_local_chain().serve_endpoint(NETUID, hotkey, ip="127.0.0.1", port=_closed_port())
    code, checks = _doctor(capsys, "miner", *_miner(wallets))
    assert code == 0 and checks["reachable"]["status"] == WARN  # informational: the miner may not run yet
    assert "--axon.external_ip" in checks["reachable"]["fix"]


def test_a_missing_musicgen_model_names_the_download_script(
    wallets: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("TUNEFORGE_MODELS_DIR", str(tmp_path / "models"))
    _register(wallets)
    code, checks = _doctor(
        capsys,
        "miner",
        *_miner(
            wallets,
            "--generation.backend",
            "musicgen",
            "--generation.model",
            "nobody/musicgen-nothing",
            "--generation.device",
            "cpu",
        ),
    )
    assert code == 1 and checks["models"]["status"] == FAIL
    assert "nobody/musicgen-nothing" in checks["models"]["detail"]
    assert checks["models"]["fix"] == "run scripts/download_models.sh musicgen-nothing"


def test_cuda_asked_for_without_a_gpu() -> None:
    check = check_gpu(("cuda:0",), "procedural", cuda=lambda: (None, "torch 2.13.0+cpu sees no CUDA device"))
    assert check.status == FAIL and check.required and "--generation.device cpu" in check.fix
    check = check_gpu(
        ("cuda:0", "cuda:3"), "musicgen", cuda=lambda: (["cuda:0 X 80 GiB", "cuda:1 X 80 GiB"], "")
    )
    assert check.status == FAIL and "cuda:3 not present" in check.detail
    check = check_gpu(("auto",), "ace_step", cuda=lambda: (None, "torch is not installed"))
    assert check.status == WARN and not check.required
    assert check_gpu(("cpu",), "procedural").status == OK


def test_too_little_disk(wallets: Path, capsys) -> None:
    _register(wallets)
    code, checks = _doctor(capsys, "miner", *_miner(wallets), "--min-free-gib", "1e9")
    assert code == 1 and checks["disk"]["status"] == FAIL
    assert "at least 1e+09 GiB needed" in checks["disk"]["detail"]


def _validator(wallets: Path, tmp_path: Path, api_port: int, *extra: str) -> list[str]:
    return [
        "--netuid",
        str(NETUID),
        "--subtensor.network",
        "localchain",
        "--wallet.name",
        "op",
        "--wallet.path",
        str(wallets),
        "--neuron.state_dir",
        str(tmp_path / "state"),
        "--api.host",
        "127.0.0.1",
        "--api.port",
        str(api_port),
        "--scoring.models_dir",
        str(tmp_path / "no-models"),
        *extra,
    ]


def test_a_validator_without_permit_or_models_passes_with_warnings(
    wallets: Path, tmp_path: Path, capsys
) -> None:
    _register(wallets, permit=False)
    code, checks = _doctor(capsys, "validator", *_validator(wallets, tmp_path, free_port()))
    assert code == 0
    assert (
        checks["registered"]["status"] == WARN
        and "without a validator permit" in checks["registered"]["detail"]
    )
    assert checks["listeners"]["status"] == OK and checks["api port"]["status"] == OK
    assert checks["models"]["status"] == WARN and not checks["models"]["required"]
    assert not (tmp_path / "state").exists()  # checked, not created


def test_a_validator_that_requires_missing_models_or_finds_its_api_port_taken(
    wallets: Path, tmp_path: Path, capsys
) -> None:
    _register(wallets, permit=True)
    with _listening() as sock:
        code, checks = _doctor(
            capsys,
            "validator",
            *_validator(wallets, tmp_path, sock.getsockname()[1], "--scoring.require_models"),
        )
    assert code == 1
    assert checks["api port"]["status"] == FAIL and "--api.port" in checks["api port"]["fix"]
    assert checks["models"]["status"] == FAIL and checks["models"]["required"]
    assert checks["registered"]["detail"].endswith("validator permit held")


def test_settings_from_an_env_file(wallets: Path, tmp_path: Path, capsys) -> None:
    _register(wallets)
    env = tmp_path / "miner.env"
    env.write_text(
        f"TUNEFORGE_NETUID={NETUID}\nTUNEFORGE_SUBTENSOR__NETWORK=localchain\n"
        f"TUNEFORGE_WALLET__NAME=op\nTUNEFORGE_WALLET__PATH={wallets}\n"
        f"TUNEFORGE_AXON__IP=127.0.0.1\nTUNEFORGE_AXON__PORT={free_port()}\n"
    )
    code, checks = _doctor(capsys, "miner", "--env-file", str(env))
    assert code == 0 and checks["registered"]["status"] == OK
    env.write_text("TUNEFORGE_WALLET__NAIM=op\n")
    assert cli_main(["doctor", "miner", "--env-file", str(env)]) == 2
    assert capsys.readouterr().err.strip() == (
        "tuneforge doctor: TUNEFORGE_WALLET__NAIM: no flag --wallet.naim for neurons/miner.py"
    )
