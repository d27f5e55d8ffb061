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


def test_leaderboard_picture_written(localnet_run: tuple[Path, list[dict], dict[int, float]]) -> None:
    from scoring.figure import default_suffix
    from tuneforge.localnet.leaderboard_picture import BAR_PX, picture_layout

    out, rows, _ = localnet_run
    picture = out / f"leaderboard{default_suffix()}"
    geo = picture_layout(len(rows))
    if picture.suffix == ".svg":
        import xml.etree.ElementTree as ET

        root = ET.parse(picture).getroot()
        assert (int(root.get("width")), int(root.get("height"))) == geo["size"]
        widths = [float(r.get("width")) for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "ema-bar"]
    else:
        from PIL import Image

        image = Image.open(picture).convert("RGB")
        assert image.size == geo["size"]
        blue = (0x3B, 0x5B, 0xDB)  # the EMA column's colour
        widths = [sum(image.getpixel((geo["bar_x"]["ema"] + x, geo["row_y"][i] + geo["bar_h"] // 2)) == blue
                      for x in range(BAR_PX)) for i in range(len(rows))]
    assert widths == [round(r["ema"] * BAR_PX) for r in rows]  # one bar per miner, best first, as long as its EMA


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


def test_restart_with_the_same_out_never_overwrites_a_round(tmp_path: Path) -> None:
    """Round folders are named by the validator's round id, which a restart continues."""
    opts = dict(miners=1, rounds=1, out=tmp_path, bad_miners=0, clip_seconds=(5, 5), timeout_s=10.0)
    with LocalNetwork(LocalnetOptions(**opts)) as net:
        net.run()
    first = (tmp_path / "rounds" / "round_001" / "round.json").read_bytes()
    with LocalNetwork(LocalnetOptions(**opts)) as net:
        net.run()
    assert sorted(d.name for d in (tmp_path / "rounds").iterdir()) == ["round_001", "round_002"]
    assert (tmp_path / "rounds" / "round_001" / "round.json").read_bytes() == first
    assert json.loads((tmp_path / "rounds" / "round_002" / "round.json").read_text())["round_id"] == "2"


class _Miner:
    def __init__(self, uid: int, audio: bytes | None) -> None:
        self.uid, self.audio_bytes, self.audio_format = uid, audio, "wav"


class _Result:
    def __init__(self, round_id: str, miners: list[_Miner]) -> None:
        self.round_id, self.miners = round_id, miners

    def to_dict(self) -> dict:
        return {"round_id": self.round_id, "miners": [{"uid": m.uid} for m in self.miners]}


def test_save_round_is_atomic_and_never_overwrites(tmp_path: Path) -> None:
    from tuneforge.localnet.report import round_dir_name, save_round

    result = _Result("7", [_Miner(1, b"RIFF" + b"\0" * 2000), _Miner(2, None)])
    first = save_round(tmp_path, result)
    again = save_round(tmp_path, result)  # e.g. the validator's state was deleted, the rounds kept
    assert (first.name, again.name) == ("round_007", "round_007-2")
    summary = json.loads((first / "round.json").read_text())
    assert [m["clip"] for m in summary["miners"]] == ["uid001.wav", None]
    assert sorted(p.name for p in first.iterdir()) == ["round.json", "uid001.wav"]  # no temp files left
    assert round_dir_name("12") == "round_012" and round_dir_name("../x y") == "round_.._x_y"


def test_save_round_on_a_full_disk_is_one_error_line_and_the_run_goes_on(tmp_path: Path, monkeypatch, caplog) -> None:
    import errno
    import logging
    import os

    from tuneforge.localnet.report import save_round_logged

    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", disk_full)
    with caplog.at_level(logging.ERROR, logger="tuneforge.localnet.report"):
        assert save_round_logged(tmp_path, _Result("3", [_Miner(4, b"RIFF" + b"\0" * 100)])) is None
    monkeypatch.undo()
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = record.getMessage()
    assert "\n" not in message and record.exc_info is None
    assert message.startswith("round 3 not saved") and "disk full: could not write" in message
    assert str(tmp_path / "rounds" / "round_003" / "uid004.wav") in message
    assert not (tmp_path / "rounds" / "round_003" / "uid004.wav").exists()  # no truncated clip


def test_cli_rejects_unknown_hostile_kinds_and_bad_clip_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["localnet", "--hostile", "late,teleport"]) == 2
    assert "teleport" in capsys.readouterr().err
    assert cli_main(["localnet", "--clip-seconds", "five"]) == 2
    assert "--clip-seconds" in capsys.readouterr().err
    assert cli_main(["localnet", "--miners", "1", "--bad-miners", "1", "--hostile", "disguised-copy"]) == 2
    assert "honest miner" in capsys.readouterr().err


def test_seeded_wallets_are_the_same_in_any_directory(tmp_path: Path) -> None:
    from tuneforge.localnet.wallets import make_wallet

    a = make_wallet(tmp_path / "a", "miner0", seed=7)
    b = make_wallet(tmp_path / "b", "miner0", seed=7)
    c = make_wallet(tmp_path / "c", "miner0", seed=8)
    assert a.hotkey.ss58_address == b.hotkey.ss58_address != c.hotkey.ss58_address
    assert a.coldkeypub.ss58_address == b.coldkeypub.ss58_address
