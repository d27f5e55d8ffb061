"""Crash safety: issued challenges are durable before they are sent, state is saved as one
snapshot, and a full disk is reported as such while the validator keeps running.

A "kill" is simulated by dropping a validator without ``stop()`` and building a new one on the
same state directory; a full disk by making ``os.write`` (every new byte a save writes) raise
ENOSPC, which leaves in-place writes to already allocated blocks (``os.pwrite``) working, as on
ext4.
"""

import asyncio
import errno
import json
import logging
import os

import pytest
from test_validator_doubles import NETUID, EchoSensitiveScorer, FakeDendrite, local_chain

from tuneforge import fsutil
from tuneforge.validator.config import ValidatorConfig
from tuneforge.validator.issued import SLOT_BYTES, IssueRecord
from tuneforge.validator.neuron import ISSUED_FILE, RoundNotIssued, Validator
from tuneforge.validator.snapshot import KEEP, SnapshotSaveError, SnapshotStore


class KillSwitchDendrite(FakeDendrite):
    """Answers like ``FakeDendrite``; with ``hang`` set, never answers (the validator is then "killed").
    ``issued_on_send`` keeps, per request, what the issue record on disk said at the moment it was sent."""

    def __init__(self, behaviours, state_dir, *, hang: bool = False) -> None:
        super().__init__(behaviours)
        self.hang = hang
        self.state_dir = state_dir
        self.issued_on_send: list[tuple[str, object]] = []
        self.sent = asyncio.Event()

    async def call(self, target_axon, synapse, timeout=12.0, deserialize=True):
        record = IssueRecord(self.state_dir / ISSUED_FILE).load()
        self.issued_on_send.append((synapse.challenge_id, record))
        self.sent.set()
        if self.hang:
            await asyncio.sleep(3600)
        return await super().call(target_axon, synapse, timeout=timeout, deserialize=deserialize)


def _validator(state_dir, chain, wallet, dendrite, scorer=None):
    config = ValidatorConfig(netuid=NETUID, network="localchain", state_dir=str(state_dir), sample_size=16,
                             timeout_s=1.0, scoring_budget_s=10.0, api_off=True)
    return Validator(config, wallet=wallet, subtensor=chain, dendrite=dendrite, scorer=scorer or EchoSensitiveScorer())


def _sent(dendrite) -> list[tuple[str, int]]:
    return [(syn.challenge_id, syn.seed) for _, syn in dendrite.calls if hasattr(syn, "seed")]


def test_a_validator_killed_mid_round_never_reissues_that_challenge(tmp_path):
    state = tmp_path / "state"
    chain, wallet, behaviours, _ = local_chain(["good", "good"])

    async def killed_during_round_2():
        first = _validator(state, chain, wallet, KillSwitchDendrite(behaviours, state))
        await first.run_round()  # round 1 completes and is saved
        first.dendrite.hang = True
        task = asyncio.create_task(first.run_round())
        await first.dendrite.sent.wait()
        first.dendrite.sent.clear()
        while len(first.dendrite.issued_on_send) < 2 + 2:  # both miners of round 2 were sent the challenge
            await asyncio.sleep(0.01)
        task.cancel()  # the process dies here: no completion, no save, no stop()
        return first

    first = asyncio.run(killed_during_round_2())
    round2_ids = {cid for cid, _ in first.dendrite.issued_on_send[2:]}
    assert len(round2_ids) == 1
    # The challenge was on disk, fsynced, before the first request left.
    for cid, record in first.dendrite.issued_on_send:
        assert record is not None and record.challenge["challenge_id"] == cid

    dendrite = KillSwitchDendrite(behaviours, state)
    again = _validator(state, chain, wallet, dendrite)
    again.setup()
    assert again.rounds_completed == 1 and again.rounds_issued == 2
    result = asyncio.run(again.run_round())
    assert result.round_id == "3"
    assert result.challenge.challenge_id not in round2_ids | {cid for cid, _ in first.dendrite.issued_on_send[:2]}
    seeds_before = {seed for _, seed in _sent(first.dendrite)}
    assert not seeds_before & {seed for _, seed in _sent(dendrite)}
    # The unfinished round's challenge is still known as issued (a late reply would be recognised).
    assert next(iter(round2_ids)) in again.challenges


def test_recording_the_issue_fails_nothing_is_sent_and_the_round_number_is_reused(tmp_path, monkeypatch, caplog):
    state = tmp_path / "state"
    chain, wallet, behaviours, _ = local_chain(["good"])
    validator = _validator(state, chain, wallet, FakeDendrite(behaviours))
    validator.setup()
    real_pwrite = os.pwrite

    def failing_pwrite(fd, data, offset):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "pwrite", failing_pwrite)
    with pytest.raises(RoundNotIssued, match=f"round 1 not sent: .*could not write {state / ISSUED_FILE}"):
        asyncio.run(validator.run_round())
    assert validator.dendrite.calls == [] and len(validator.challenges) == 0 and validator.rounds_issued == 0
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    result = asyncio.run(validator.run_round())
    assert result.round_id == "1" and len(validator.dendrite.calls) == 1


def _disk_full_writes(monkeypatch):
    """Every ``os.write`` fails with ENOSPC (new data needs free blocks); ``os.pwrite`` still works."""

    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", disk_full)


def test_full_disk_keeps_rounds_going_and_the_saved_state_consistent(tmp_path, monkeypatch, caplog):
    state = tmp_path / "state"
    chain, wallet, behaviours, _ = local_chain(["good", "short"])
    validator = _validator(state, chain, wallet, FakeDendrite(behaviours))
    asyncio.run(validator.run_round())
    store = SnapshotStore(state / "snapshots")
    assert store.generations() == [1]
    saved = store.load().files

    _disk_full_writes(monkeypatch)
    with caplog.at_level(logging.ERROR, logger="tuneforge.validator.neuron"):
        for _ in range(2):
            result = asyncio.run(validator.run_round())  # rounds go on: issued, queried, scored
            assert len(result.miners) == 2
    assert validator.rounds_completed == 3 and validator.rounds_issued == 3
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and all("disk full: could not write" in e for e in errors)
    assert all(str(state / "snapshots" / "0000000002" / "state.json") in e for e in errors)  # the file it was writing
    assert validator.status()["state_saves"]["failures"] == 2
    # Nothing half-saved: the one complete snapshot is still round 1's, every file of it.
    assert store.generations() == [1] and store.load().files == saved
    assert [p.name for p in (state / "snapshots").iterdir()] == ["0000000001"]

    monkeypatch.undo()
    asyncio.run(validator.run_round())  # the save is retried after the next round, and succeeds
    assert validator.status()["state_saves"] == {"snapshot": 2, "failures": 2, "last_error": None}
    files = store.load().files
    assert json.loads(files["state.json"])["rounds_completed"] == 4
    assert len(json.loads(files["challenges.json"])["challenges"]) == 4


def test_full_disk_while_writing_the_history_blames_the_history(tmp_path, monkeypatch, caplog):
    """state.json written, then the disk fills up inside miner_history.npz: nothing is committed and
    the log names miner_history.npz, not the state file."""
    state = tmp_path / "state"
    chain, wallet, behaviours, _ = local_chain(["good"])
    scorer = EchoSensitiveScorer()
    validator = _validator(state, chain, wallet, FakeDendrite(behaviours), scorer=scorer)
    asyncio.run(validator.run_round())
    real_save = scorer.history.save

    def history_save(path):
        real_save(path)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(scorer.history, "save", history_save)
    with caplog.at_level(logging.ERROR, logger="tuneforge.validator.neuron"):
        asyncio.run(validator.run_round())
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "disk full: could not write" in message and "miner_history.npz" in message
    assert "state.json" not in message
    snap = SnapshotStore(state / "snapshots").load()
    assert snap.generation == 1 and json.loads(snap.files["state.json"])["rounds_completed"] == 1

    again = _validator(state, chain, wallet, FakeDendrite(behaviours))
    again.setup()
    # Restarted from the one consistent snapshot, and the counter from the issue record: round 3 next.
    assert again.rounds_completed == 1 and again.rounds_issued == 2


def test_snapshot_save_error_names_the_file_and_keeps_the_previous_generation(tmp_path, monkeypatch):
    store = SnapshotStore(tmp_path / "snapshots")
    store.save({"a.json": b"1", "b.bin": b"2"})
    calls = {"n": 0}
    real_write = os.write

    def second_file_fails(fd, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", second_file_fails)
    with pytest.raises(SnapshotSaveError) as info:
        store.save({"a.json": b"10", "b.bin": b"20"})
    monkeypatch.undo()
    assert info.value.disk_full and info.value.errno == errno.ENOSPC
    assert str(info.value).startswith("state snapshot 2 not saved: disk full: could not write")
    assert info.value.path == tmp_path / "snapshots" / "0000000002" / "b.bin"
    assert "generation 1 is still the newest" in str(info.value)
    assert store.load().files == {"a.json": b"1", "b.bin": b"2"}
    assert sorted(p.name for p in store.root.iterdir()) == ["0000000001"]


def test_crash_mid_save_and_damaged_generations_fall_back(tmp_path):
    store = SnapshotStore(tmp_path / "snapshots")
    for i in range(1, 4):
        store.save({"state.json": f"{i}".encode(), "h.npz": bytes([i]) * 10})
    assert KEEP == 2 and store.generations() == [3, 2]
    # A crash before the rename leaves a temp directory: invisible to load, removed by the next save.
    leftover = store.root / ".0000000004.tmp-1-abcd"
    leftover.mkdir()
    (leftover / "state.json").write_bytes(b"4")
    assert store.load().generation == 3
    # A generation damaged after the fact (a bad disk, a hand edit) is skipped.
    (store.root / "0000000003" / "h.npz").write_bytes(b"\x00" * 3)
    assert store.load().generation == 2 and store.load().files["state.json"] == b"2"
    # A committed directory without its manifest (not ours) is skipped too.
    (store.root / "0000000009").mkdir()
    assert store.load().generation == 2
    snap = store.save({"state.json": b"10"})
    assert snap.generation == 10 and not leftover.exists()
    assert store.load().files == {"state.json": b"10"}
    assert store.generations() == [10, 2]  # damaged 9 and 3 pruned, the newest two complete kept


def test_state_written_before_snapshots_is_restored_then_saved_as_a_snapshot(tmp_path):
    from tuneforge.validator.leaderboard import Leaderboard
    from tuneforge.validator.state import StateFile, ValidatorState

    state = tmp_path / "state"
    chain, wallet, behaviours, hotkeys = local_chain(["good"])
    board = Leaderboard()
    board.update(1, hotkeys[0], 0.5, block=1)
    StateFile(state / "state.json").save(ValidatorState(leaderboard=board.to_dict(), rounds_completed=5))
    validator = _validator(state, chain, wallet, FakeDendrite(behaviours))
    validator.setup()
    assert validator.rounds_completed == 5 and validator.rounds_issued == 5
    assert validator.leaderboard.get(1).ema == pytest.approx(0.1)
    result = asyncio.run(validator.run_round())
    assert result.round_id == "6"
    saved = json.loads(SnapshotStore(state / "snapshots").load().files["state.json"])
    assert saved["rounds_completed"] == 6 and saved["rounds_issued"] == 6


def test_issue_record_survives_a_torn_write(tmp_path):
    path = tmp_path / "issued.dat"
    record = IssueRecord(path)
    assert record.open() is None and path.stat().st_size == 2 * SLOT_BYTES
    record.record(1, {"challenge_id": "a"})
    record.record(2, {"challenge_id": "b"})
    assert record.load().round_number == 2
    # Tear the newest record (round 2 lives in slot 2 % 2 = 0): the previous one is still there.
    raw = bytearray(path.read_bytes())
    raw[40:60] = b"\xff" * 20
    path.write_bytes(bytes(raw))
    reopened = IssueRecord(path)
    assert reopened.open().round_number == 1
    reopened.record(3, {"challenge_id": "c"})  # goes to the other slot, not over round 1's
    assert IssueRecord(path).load().challenge == {"challenge_id": "c"}


def test_issue_record_needs_no_free_space(tmp_path, monkeypatch):
    record = IssueRecord(tmp_path / "issued.dat")
    record.open()
    _disk_full_writes(monkeypatch)
    record.record(7, {"challenge_id": "x", "prompt": "p" * 2000})
    assert IssueRecord(tmp_path / "issued.dat").load().round_number == 7
    with pytest.raises(ValueError, match="does not fit"):
        record.record(8, {"lyrics": "x" * SLOT_BYTES})


def test_atomic_write_reports_disk_full_with_the_target_path(tmp_path, monkeypatch):
    target = tmp_path / "clip.wav"
    target.write_bytes(b"old")
    _disk_full_writes(monkeypatch)
    with pytest.raises(fsutil.DiskFull) as info:
        fsutil.atomic_write_bytes(target, b"new bytes")
    monkeypatch.undo()
    assert str(info.value) == f"disk full: could not write {target} ({os.strerror(errno.ENOSPC)})"
    assert info.value.path == target and target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav"]
