"""What a newcomer trips over first is one clear line and a non-zero exit, before anything starts.

A miner with a valid wallet and no chain to talk to; ``tuneforge localnet --serve`` with its API
port already taken (checked before a wallet is made or a miner started, and naming localnet's own
flag, ``--api-port``).
"""

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneforge.chain import ChainUnreachable, connect
from tuneforge.cli import main as cli_main
from tuneforge.localnet.wallets import make_wallet

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def taken_port() -> Iterator[int]:
    """A loopback port another process's server holds (listening) for the test's duration."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_connect_to_a_closed_endpoint_is_one_line_naming_it(closed_port: int) -> None:
    url = f"ws://127.0.0.1:{closed_port}"
    with pytest.raises(ChainUnreachable) as info:
        connect("finney", url)
    message = str(info.value)
    assert "\n" not in message
    assert url in message and "refused" in message.lower()
    assert "--subtensor.network" in message  # the fix


def test_miner_with_a_wallet_and_no_chain_is_one_error_line(tmp_path: Path, closed_port: int) -> None:
    make_wallet(tmp_path / "wallets", "m")
    url = f"ws://127.0.0.1:{closed_port}"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "neurons" / "miner.py"),
            "--netuid",
            "1",
            "--subtensor.chain_endpoint",
            url,
            "--wallet.name",
            "m",
            "--wallet.hotkey",
            "default",
            "--wallet.path",
            str(tmp_path / "wallets"),
            "--axon.port",
            str(closed_port),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if " ERROR " in line or line.startswith("ERROR")]
    assert len(errors) == 1, output
    assert "miner could not start: cannot reach the chain at " + url in errors[0]


def test_localnet_with_its_api_port_taken_fails_before_starting(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "net"
    code = cli_main(
        [
            "localnet",
            "--serve",
            "--miners",
            "1",
            "--bad-miners",
            "0",
            "--rounds",
            "1",
            "--api-port",
            str(taken_port),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    lines = [line for line in captured.err.splitlines() if line.startswith("tuneforge localnet:")]
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert f"--api-port {taken_port}" in lines[0] and "already in use" in lines[0]
    assert "--api.port" not in captured.err
    # Nothing was brought up: no wallet made, no state written.
    assert not (out / "wallets").exists() and not (out / "localnet.json").exists()


def test_localnet_rejects_a_non_positive_block_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["localnet", "--serve", "--block-time", "0"]) == 2
    assert "--block-time must be positive" in capsys.readouterr().err
