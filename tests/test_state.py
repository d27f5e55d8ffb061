"""Validator state: round trip, corrupt and unknown-format files moved aside, full disk, crash mid-save."""

import errno
import json
import logging
import os

import pytest

from tuneforge.validator import state as state_mod
from tuneforge.validator.leaderboard import Leaderboard
from tuneforge.validator.state import FORMAT_VERSION, StateFile, StateSaveError, ValidatorState


def make_state(rounds: int = 3) -> ValidatorState:
    board = Leaderboard()
    board.update(0, "hk0", 0.8, block=10)
    board.update(5, "hk5", 0.3, block=10)
    return ValidatorState(leaderboard=board.to_dict(), rounds_completed=rounds, last_weight_block=42,
                          hotkeys={0: "hk0", 5: "hk5"})


def temp_files(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name)


def test_round_trip(tmp_path) -> None:
    store = StateFile(tmp_path / "sub" / "state.json")
    assert store.load() is None  # nothing saved yet
    original = make_state()
    store.save(original)
    loaded = store.load()
    assert loaded == original
    assert Leaderboard.from_dict(loaded.leaderboard).get(5).ema == pytest.approx(0.06)
    on_disk = json.loads(store.path.read_text())
    assert on_disk["format"] == FORMAT_VERSION and on_disk["hotkeys"] == {"0": "hk0", "5": "hk5"}
    store.save(make_state(rounds=4))
    assert store.load().rounds_completed == 4
    assert temp_files(store.path.parent) == []


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe\x00",
        json.dumps({"format": 2, "rounds_completed": 1}).encode(),
        json.dumps([1, 2, 3]).encode(),
        json.dumps({"format": 1, "rounds_completed": "many", "hotkeys": {}, "leaderboard": {"miners": []}}).encode(),
        json.dumps({"format": 1, "rounds_completed": 1, "hotkeys": {},
                    "leaderboard": {"miners": [{"uid": 0, "hotkey": "a", "ema": 7, "rounds": 1}]}}).encode(),
    ],
)
def test_unreadable_file_is_moved_aside_with_a_warning(tmp_path, caplog, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="tuneforge.validator.state"):
        assert StateFile(path).load() is None
    assert not path.exists()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content  # preserved for inspection
    assert any(r.levelno == logging.WARNING and "moved to" in r.getMessage() for r in caplog.records)
    # a second corrupt file in the same second does not overwrite the first one moved aside
    path.write_bytes(content)
    StateFile(path).load()
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("state.json.corrupt-")]) == 2


def test_full_disk_raises_and_keeps_the_previous_file(tmp_path, monkeypatch) -> None:
    store = StateFile(tmp_path / "state.json")
    store.save(make_state(rounds=1))
    before = store.path.read_bytes()

    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(state_mod.os, "write", disk_full)
    with pytest.raises(StateSaveError, match="previous state file is unchanged") as info:
        store.save(make_state(rounds=2))
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC
    assert store.path.read_bytes() == before and store.load().rounds_completed == 1
    assert temp_files(tmp_path) == []


def test_crash_between_write_and_rename_leaves_old_state_loadable(tmp_path, monkeypatch) -> None:
    store = StateFile(tmp_path / "state.json")
    store.save(make_state(rounds=1))

    def crash(src, dst):
        raise OSError(errno.EIO, "simulated crash before rename")

    monkeypatch.setattr(state_mod.os, "replace", crash)
    with pytest.raises(StateSaveError):
        store.save(make_state(rounds=2))
    monkeypatch.undo()
    assert store.load().rounds_completed == 1
    # a hard crash (process killed) leaves its temp file behind; the next good save removes it
    (tmp_path / ".state.json.tmp-99999-1").write_text("{partial")
    store.save(make_state(rounds=3))
    assert store.load().rounds_completed == 3
    assert temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
