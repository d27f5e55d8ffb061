"""The whole subnet in one process: local chain, 3 miners on 127.0.0.1 axons, a validator, 2 rounds."""

import json
import sqlite3
from pathlib import Path

import pytest

from tuneforge.cli import main as cli_main
from tuneforge.localnet.network import LocalnetOptions, LocalNetwork

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def localnet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], dict[int, float]]:
    out = tmp_path_factory.mktemp("localnet")
    with LocalNetwork(LocalnetOptions(miners=3, rounds=2, out=out, bad_miners=1)) as net:
        rows = net.run()
        weights = net.chain_weights()
    return out, rows, weights


def test_poor_miner_ends_last(localnet_run: tuple[Path, list[dict], dict[int, float]]) -> None:
    _, rows, _ = localnet_run
    assert len(rows) == 3
    assert rows[-1]["backend"] == "noise"
    assert all(r["ema"] > rows[-1]["ema"] for r in rows[:-1])
    assert all(r["rounds"] == 2 for r in rows)


def test_weights_read_back_from_chain(localnet_run: tuple[Path, list[dict], dict[int, float]]) -> None:
    _, rows, weights = localnet_run
    assert set(weights) == {r["uid"] for r in rows}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    by_uid = {r["uid"]: r for r in rows}
    poor = rows[-1]["uid"]
    assert all(weights[poor] < weights[uid] for uid in by_uid if uid != poor)
    for r in rows:
        assert r["weight_on_chain"] == pytest.approx(weights[r["uid"]])


def test_outputs_written(localnet_run: tuple[Path, list[dict], dict[int, float]]) -> None:
    out, rows, _ = localnet_run
    info = json.loads((out / "localnet.json").read_text())
    assert set(info) >= {"netuid", "validator", "miners"}
    assert set(info["validator"]) == {"wallet_path", "wallet_name", "hotkey_name", "hotkey_ss58"}
    assert [m["uid"] for m in info["miners"]] == sorted(r["uid"] for r in rows)
    assert all(m["ip"] == "127.0.0.1" and m["port"] > 0 for m in info["miners"])
    board = json.loads((out / "leaderboard.json").read_text())
    assert [m["hotkey"] for m in board["miners"]] == [r["hotkey"] for r in rows]
    rounds = sorted((out / "rounds").iterdir())
    assert [d.name for d in rounds] == ["round_001", "round_002"]
    for rdir in rounds:
        summary = json.loads((rdir / "round.json").read_text())
        assert len(summary["miners"]) == 3
        for m in summary["miners"]:
            assert m["breakdown"]["final_score"] == pytest.approx(m["final_score"], abs=1e-6)
            if m["clip"]:
                assert (rdir / m["clip"]).stat().st_size > 1000


def test_cli_zero_rounds_brings_subnet_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["localnet", "--miners", "2", "--rounds", "0", "--out", str(tmp_path)]) == 0
    info = json.loads((tmp_path / "localnet.json").read_text())
    assert len(info["miners"]) == 2
    assert "uid" in capsys.readouterr().out


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["localnet", "--miners", "2", "--bad-miners", "3"]) == 2
    assert "--bad-miners" in capsys.readouterr().err


def test_every_scored_clip_is_stored(localnet_run: tuple[Path, list[dict], dict[int, float]]) -> None:
    out, _, _ = localnet_run
    clips = 0
    for rdir in (out / "rounds").iterdir():
        clips += sum(1 for m in json.loads((rdir / "round.json").read_text())["miners"] if m["clip"])
    db = out / "validator" / "tuneforge.db"
    with sqlite3.connect(db) as conn:
        stored = conn.execute("select count(*) from tracks where is_organic = 0").fetchone()[0]
    assert stored == clips > 0
