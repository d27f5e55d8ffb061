"""The API on a real uvicorn server on 127.0.0.1: the curl and Python examples of docs/api.md run
as written (only the host, key and wallet substituted), the signing client and the `tuneforge scores`
CLI read it, a busy port fails loudly, and the service wires to a validator-like object."""

import asyncio
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from bittensor_wallet import Wallet
from test_api_harness import make_settings

from tuneforge import netutils
from tuneforge.api.admin import create_demo_account
from tuneforge.api.service import ApiService, ApiStartError
from tuneforge.api.testing import FakeGateway, fake_breakdown, tone_wav
from tuneforge.client import ScoresApiError, ScoresClient
from tuneforge.store import Store

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"

pytestmark = pytest.mark.slow


def doc_example(name: str) -> str:
    """The fenced block that follows ``<!-- example: name -->`` in docs/api.md."""
    match = re.search(rf"<!-- example: {re.escape(name)} -->\s*```\w+\n(.*?)```", DOCS.read_text(), re.S)
    assert match, f"docs/api.md has no example {name!r}"
    return match.group(1)


class FakeValidator:
    def __init__(self, store: Store, hotkeys: set[str]) -> None:
        self.store = store
        self.organic = FakeGateway(delay_s=0.2)
        self.hotkeys = hotkeys

    def leaderboard_snapshot(self) -> list[dict]:
        return [{"uid": 1, "hotkey": "5FakeMinerHotkey01", "ema": 0.5, "weight": 1.0, "rounds": 2, "last_score": 0.4}]

    def is_registered(self, hotkey: str) -> bool:
        return hotkey in self.hotkeys


@pytest.fixture()
def wallet(tmp_path: Path) -> Wallet:
    w = Wallet(name="docs", hotkey="reader", path=str(tmp_path / "wallets"))
    w.create_if_non_existent(coldkey_use_password=False, hotkey_use_password=False, suppress=True)
    return w


@pytest.fixture()
def service(tmp_path: Path, wallet: Wallet):
    settings = make_settings(tmp_path, port=netutils.free_port("127.0.0.1"))
    store = Store(settings.database_url, settings.audio_dir)
    for i in range(3):
        store.record_scored_clip(
            round_id="r1", challenge={"challenge_id": f"{i:032x}", "prompt": f"round clip {i}", "genre": "rock",
                                      "mood": "", "duration_seconds": 1.0},
            uid=i + 1, hotkey=f"5FakeMinerHotkey0{i + 1}", audio_bytes=tone_wav(seconds=1.0, frequency_hz=200.0 + 90 * i),
            audio_format="wav", breakdown=fake_breakdown(0.3 + 0.1 * i), final_score=0.3 + 0.1 * i, is_organic=False,
            rtt_seconds=0.5, model_id="m")
    svc = ApiService.from_validator(FakeValidator(store, {wallet.hotkey.ss58_address}), settings).start()
    yield svc
    svc.stop()


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq") and shutil.which("bash")),
                    reason="the curl example needs bash, curl and jq")
def test_curl_quickstart_from_the_docs(service: ApiService, tmp_path: Path) -> None:
    _, key = create_demo_account(service.store, credits=20)
    script = doc_example("curl-quickstart")
    script = re.sub(r"(?m)^export TUNEFORGE_URL=\S+", f"export TUNEFORGE_URL={service.url}", script)
    script = re.sub(r"(?m)^export TUNEFORGE_API_KEY=\S+", f"export TUNEFORGE_API_KEY={key}", script)
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    info = sf.info(str(tmp_path / "track.wav"))
    assert info.format == "WAV" and info.duration == pytest.approx(8.0)
    assert "saved track.wav: 8 s, score 0.8" in run.stdout


def test_python_signing_example_from_the_docs(service: ApiService, wallet: Wallet, tmp_path: Path) -> None:
    code = doc_example("python-signing")
    code = code.replace('API = "http://127.0.0.1:8000"', f'API = "{service.url}"')
    code = code.replace('Wallet(name="my_wallet", hotkey="my_hotkey")',
                        f'Wallet(name="docs", hotkey="reader", path={str(tmp_path / "wallets")!r})')
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("0.500  uid 3  'round clip 2'")
    assert f"{service.url}/api/v1/music/audio/trk_" in lines[0]


def test_signing_client_and_scores_cli(service: ApiService, wallet: Wallet, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    async def use_client() -> tuple[list, list, Path]:
        async with ScoresClient(service.url, wallet) as client:
            best = await client.best(limit=2)
            exported = [e async for e in client.export(limit=1)]
            path = await client.download(best[0]["audio_url"], tmp_path / "best.wav")
            board = await client.leaderboard()
            assert board[0]["hotkey"] == "5FakeMinerHotkey01"
        stranger_wallet = Wallet(name="x", hotkey="y", path=str(tmp_path / "w2"))
        stranger_wallet.create_if_non_existent(coldkey_use_password=False, hotkey_use_password=False, suppress=True)
        async with ScoresClient(service.url, stranger_wallet) as stranger:
            with pytest.raises(ScoresApiError) as err:
                await stranger.best()
            assert err.value.status == 401 and "not registered" in err.value.detail
        return best, exported, path

    best, exported, path = asyncio.run(use_client())
    assert [b["final_score"] for b in best] == [0.5, 0.4]
    assert len(exported) == 3 and len({e["track_id"] for e in exported}) == 3
    assert sf.info(str(path)).frames == 16000

    from tuneforge.cli import main

    rc = main(["scores", "best", "--wallet.name", "docs", "--wallet.hotkey", "reader",
               "--wallet.path", str(tmp_path / "wallets"), "--url", service.url, "--limit", "2"])
    out = capsys.readouterr().out
    assert rc == 0 and out.count("\n") == 2 and out.startswith("0.500  uid 3")


def test_busy_port_fails_loudly(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = make_settings(tmp_path, port=port)
        svc = ApiService(store=Store(settings.database_url, settings.audio_dir), settings=settings)
        with pytest.raises(ApiStartError, match="already in use"):
            svc.start()


def test_service_serves_docs_and_stops_cleanly(service: ApiService) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{service.url}/openapi.json", timeout=10) as resp:
        assert resp.status == 200 and resp.headers["X-RateLimit-Limit"] == "60"
    service.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{service.url}/openapi.json", timeout=2)
    service.stop()  # idempotent


def test_settings_flags_round_trip(tmp_path: Path) -> None:
    import argparse

    from tuneforge.api.settings import ApiSettings

    parser = argparse.ArgumentParser()
    ApiSettings.add_args(parser)
    ns = parser.parse_args(["--api.port", "9001", "--api.retention_days", "7", "--api.rate_limit_pro", "500"])
    settings = ApiSettings.from_args(ns, tmp_path)
    assert settings.port == 9001 and settings.retention_days == 7.0 and settings.plan_limits["pro"] == 500
    assert settings.database_url == f"sqlite:///{tmp_path / 'tuneforge.db'}"
    assert settings.audio_dir == str(tmp_path / "audio")
    with pytest.raises(ValueError, match="--api.job_workers"):
        ApiSettings(job_workers=0)
