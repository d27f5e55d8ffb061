"""``tuneforge localnet --serve`` keeps going: blocks advance, rounds are scored and recorded, weights set.

Before, the local chain was stepped only by the scripted rounds, so once the validator ran its own
loops the block number stood still (block 17 after 3 rounds) and every weight update was refused
("rate limited: 0 blocks since the last update"), while nothing new reached ``rounds/`` or
``leaderboard.json``. Here the real command runs as a subprocess with short settings (2 miners,
5 s clips, a round every second, a block every 0.2 s) until it has served three rounds of its own
with weights accepted after each, then stops on SIGINT.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuneforge.localnet.serving import RoundRecorder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SERVED_ROUNDS = 3
#: Seconds the whole run may take on a loaded 2-core machine (a safety net, not a measurement).
RUN_LIMIT_S = 420.0


def _weight_blocks(log_text: str) -> list[int]:
    """Blocks at which the chain accepted the validator's weights (the weight setter's INFO line)."""
    return [int(b) for b in re.findall(r"weights set for \d+ uids at block (\d+)", log_text)]


def _rounds(out: Path) -> list[Path]:
    return sorted(p for p in (out / "rounds").glob("round_*") if (p / "round.json").exists())


def test_serve_keeps_producing_blocks_rounds_and_weights(tmp_path: Path) -> None:
    out = tmp_path / "net"
    log_path = tmp_path / "localnet.log"
    cmd = [
        sys.executable,
        "-m",
        "tuneforge.cli",
        "localnet",
        "--serve",
        "--miners",
        "2",
        "--bad-miners",
        "1",
        "--rounds",
        "1",
        "--clip-seconds",
        "5",
        "--round-interval",
        "1",
        "--block-time",
        "0.2",
        "--out",
        str(out),
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
        try:
            deadline = time.monotonic() + RUN_LIMIT_S
            while time.monotonic() < deadline and proc.poll() is None:
                text = log_path.read_text()
                # 1 scripted round + SERVED_ROUNDS of the validator's own, each followed by accepted weights
                if len(_rounds(out)) >= 1 + SERVED_ROUNDS and len(_weight_blocks(text)) >= 1 + SERVED_ROUNDS:
                    break
                time.sleep(1.0)
            assert proc.poll() is None, "localnet --serve exited early:\n" + log_path.read_text()[-4000:]
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log_path.read_text()
    assert code == 0, text[-4000:]

    served_start = int(re.search(r"serving from block (\d+) on", text).group(1))
    blocks = _weight_blocks(text)
    after_serving = [b for b in blocks if b > served_start]
    assert len(after_serving) >= SERVED_ROUNDS, text[-4000:]
    assert after_serving == sorted(set(after_serving))  # each update at a later block: the chain moved on
    assert "rate limited: 0 blocks" not in text
    # The first round shows its scoring progress, clip by clip (no silent stall).
    first = text[: text.index("round 1/1 done")]
    assert "scoring.progress: scoring 2 clips …" in first
    assert re.search(r"clip 1/2 \(\w+…?\) analysed in [0-9.]+ s", first)

    rounds = _rounds(out)
    assert len(rounds) >= 1 + SERVED_ROUNDS
    assert [r.name for r in rounds[: 1 + SERVED_ROUNDS]] == [
        f"round_{i:03d}" for i in range(1, 2 + SERVED_ROUNDS)
    ]
    for rdir in rounds:
        summary = json.loads((rdir / "round.json").read_text())
        assert len(summary["miners"]) == 2
        assert all(m["clip"] and (rdir / m["clip"]).stat().st_size > 1000 for m in summary["miners"])
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["block"] > served_start  # rewritten while serving, not the scripted rounds' copy
    assert all(m["rounds"] >= 1 + SERVED_ROUNDS for m in board["miners"])
    assert sum(m["weight_on_chain"] for m in board["miners"]) == pytest.approx(1.0, abs=1e-3)


class _FakeRound:
    def __init__(self, round_id: str) -> None:
        self.round_id = round_id
        self.miners: list = []
        self.started_at, self.finished_at = 0.0, 1.0
        self.challenge = type("C", (), {"prompt": "p"})()

    def to_dict(self) -> dict:
        return {"round_id": self.round_id, "miners": []}


class _FakeValidator:
    def __init__(self) -> None:
        self.last_round = _FakeRound("1")
        self.rounds_completed = 1
        self.weight_setter = type("W", (), {"last_result": None})()


def test_recorder_saves_only_rounds_it_has_not_seen(tmp_path: Path) -> None:
    validator = _FakeValidator()
    written: list[int] = []
    recorder = RoundRecorder(
        validator=validator,
        out_dir=tmp_path,
        last_breakdowns={},
        write_leaderboard=lambda last: written.append(1) or [],
    )
    assert recorder.check() is False  # the round that existed at the start was recorded already
    validator.last_round, validator.rounds_completed = _FakeRound("2"), 2
    assert recorder.check() is True and recorder.check() is False
    assert [p.name for p in (tmp_path / "rounds").iterdir()] == ["round_002"]
    assert written == [1] and recorder.rounds_recorded == 1
