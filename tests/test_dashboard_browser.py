"""/dashboard in a real browser: headless Chromium on the page of a live local network.

Two miners (one deliberately poor) on real axons, one scripted 5 s round with weights set on the
local chain, then ``start_serving`` (the validator's loops and its API). The page must list every
miner, show the weights set on chain, draw the selected miner's history chart and each clip's
breakdown (16 signal bars, 4 penalty bars, as wide as their values), load a clip in its
``<audio>`` element (duration known to the browser, equal to the stored clip's), show a round the
test runs while the page is open without being reloaded (polling), and leave no error in the
console. A screenshot of the page is saved in the test's temp dir.
"""

import json
import urllib.request
from pathlib import Path

import pytest
from cdp_browser import HeadlessChromium, chromium_path

from tuneforge.localnet.network import LocalnetOptions, LocalNetwork

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium_path() is None, reason="chromium is not installed (scripts/test.sh installs it)"
    ),
]

#: The page polls every POLL_S seconds here (default 5): 30 requests a minute stays under the
#: anonymous limit (60) with the assets, round and history fetches and audio on top.
POLL_S = 2
BAR_WIDTH = 170  # dashboard.js breakdownChart's barW


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("dashboard-localnet")
    net = LocalNetwork(
        LocalnetOptions(
            miners=2, rounds=1, out=out, serve=True, bad_miners=1, clip_seconds=(5, 5), round_interval_s=3600
        )
    )
    with net:
        net.run()
        info = net.start_serving()
        yield net, info["url"]


def _json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


async def test_dashboard_in_headless_chromium(live, tmp_path: Path) -> None:
    net, url = live
    hotkeys = {s.hotkey for s in net.slots}
    async with HeadlessChromium(tmp_path) as page:
        await page.navigate(f"{url}/dashboard?poll={POLL_S}")

        listed = await page.wait_for(
            "(() => { const r = [...document.querySelectorAll('#leaderboard tbody tr[data-hotkey]')];"
            f" return r.length >= {len(hotkeys)} && r.map(x => x.dataset.hotkey); }})()",
            what="every miner listed",
        )
        assert set(listed) == hotkeys

        # Weights were set on chain after round 1: the page shows them, and they are the chain's.
        on_chain = net.chain_weights()
        assert on_chain, "the scripted round set no weights"
        shown = await page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#leaderboard tbody tr[data-hotkey]')]"
            ".map(r => [r.dataset.uid, r.children[5].textContent]))"
        )
        for uid, weight in on_chain.items():
            assert float(shown[str(uid)]) == pytest.approx(weight, abs=2e-3)  # u16 on chain, 3 decimals shown
        assert await page.evaluate("document.querySelector('#card-weights .value').textContent") == "set"

        # The history chart of the top miner is drawn: one point per stored validation clip.
        points = await page.wait_for(
            "document.querySelectorAll('#history-chart svg circle.point').length", what="the history chart"
        )
        top = listed[0]
        history = _json(f"{url}/dashboard/api/miners/{top}")["history"]
        assert points == len(history) >= 1
        assert await page.evaluate(
            "document.querySelector('#history-chart svg path.score-line').getAttribute('d')"
        )

        # Every clip of the round has a breakdown: 16 signal bars and 4 penalty bars, widths = values.
        bars = await page.evaluate(
            "[...document.querySelectorAll('.clip svg.breakdown')].map(s => ({"
            " signals: [...s.querySelectorAll('rect.signal-bar')].map(r => [r.dataset.value, +r.getAttribute('width')]),"
            " penalties: [...s.querySelectorAll('rect.penalty-bar')].map(r => [r.dataset.value, +r.getAttribute('width')])}))"
        )
        assert len(bars) >= len(hotkeys)
        for chart in bars:
            assert len(chart["signals"]) == 16 and len(chart["penalties"]) == 4
            for value, width in chart["signals"] + chart["penalties"]:
                expected = 0.0 if value == "" else min(1.0, max(0.0, float(value))) * BAR_WIDTH
                assert width == pytest.approx(expected, abs=0.06)

        # A clip loads in its <audio> element and the browser knows its duration.
        loaded = await page.evaluate(
            "new Promise(done => { const a = document.querySelector('audio[data-track-id]');"
            " a.addEventListener('loadedmetadata', () => done({duration: a.duration, stored: +a.dataset.duration}), {once: true});"
            " a.addEventListener('error', () => done({error: a.error && a.error.code}), {once: true});"
            " a.preload = 'metadata'; a.load(); })",
            timeout=30,
        )
        assert "error" not in loaded, loaded
        assert loaded["duration"] == pytest.approx(loaded["stored"], abs=0.01) and loaded["duration"] > 1.0

        # Live: a round run now appears on the open page by itself (no reload), newest first.
        await page.evaluate("window.notReloaded = true")
        shown = await page.evaluate(
            "[...document.querySelectorAll('#rounds article')].map(a => a.dataset.roundId)"
        )
        result = (
            await net.validator.run_round()
        )  # after the loop's own first round (the round lock orders them)
        assert result.round_id not in shown
        await page.wait_for(
            f"document.querySelector('#rounds article[data-round-id=\"{result.round_id}\"]') !== null",
            timeout=60,
            what=f"round {result.round_id} to appear on the open page",
        )
        assert (
            await page.evaluate("document.querySelector('#rounds article').dataset.roundId")
            == result.round_id
        )
        assert await page.evaluate("window.notReloaded === true")
        card = await page.evaluate("document.querySelector('#card-round .value').textContent")
        assert card == f"#{result.round_id}"

        shot = await page.screenshot(tmp_path / "dashboard.png")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
        assert page.errors == [], page.errors
