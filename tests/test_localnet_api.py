"""The API documentation's examples against a live local network (`tuneforge localnet --serve`).

docs/api.md's curl quickstart (generate → poll status → download) and its Python signing example
(GET /api/v1/scores/best with a hotkey signature) run unchanged but for the host, the API key and
the wallet, against real miners on 127.0.0.1 axons, the real validator and its organic gateway.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tuneforge.localnet.network import LocalnetOptions, LocalNetwork

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"

pytestmark = pytest.mark.slow


def doc_example(name: str) -> str:
    match = re.search(rf"<!-- example: {re.escape(name)} -->\s*```\w+\n(.*?)```", DOCS.read_text(), re.S)
    assert match, f"docs/api.md has no example {name!r}"
    return match.group(1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("localnet-serve")
    net = LocalNetwork(LocalnetOptions(miners=2, rounds=1, out=out, serve=True, bad_miners=1, round_interval_s=3600))
    with net:
        net.run()
        info = net.start_serving()
        yield net, info, out


def test_localnet_json_records_the_api(served) -> None:
    _, info, out = served
    recorded = json.loads((out / "localnet.json").read_text())["api"]
    assert recorded["url"] == info["url"] and recorded["url"].startswith("http://127.0.0.1:")
    assert recorded["api_key"].startswith("tf_")


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the curl example needs curl and jq")
def test_curl_quickstart_against_live_localnet(served, tmp_path: Path) -> None:
    _, info, _ = served
    script = doc_example("curl-quickstart")
    script = re.sub(r"(?m)^export TUNEFORGE_URL=\S+", f"export TUNEFORGE_URL={info['url']}", script)
    script = re.sub(r"(?m)^export TUNEFORGE_API_KEY=\S+", f"export TUNEFORGE_API_KEY={info['api_key']}", script)
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    clip = sf.info(str(tmp_path / "track.wav"))
    assert clip.format == "WAV" and clip.duration == pytest.approx(8.0)
    score = float(re.search(r"score ([0-9.]+)", run.stdout).group(1))
    assert score > 0.3  # the best of the real miners' clips, scored by the validator


def test_python_signing_example_against_live_localnet(served) -> None:
    net, info, out = served
    code = doc_example("python-signing")
    code = code.replace('API = "http://127.0.0.1:8000"', f'API = "{info["url"]}"')
    code = code.replace(
        'Wallet(name="my_wallet", hotkey="my_hotkey")',
        f'Wallet(name="validator", hotkey="default", path={str(out / "wallets")!r})',
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines, "scores/best returned no tracks after a round"
    miner_uids = {s.uid for s in net.slots}
    for line in lines:
        assert int(re.search(r"uid (\d+)", line).group(1)) in miner_uids
        assert f"{info['url']}/api/v1/music/audio/trk_" in line
