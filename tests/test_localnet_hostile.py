"""The incentive's regression suite: the local network with one hostile miner of every kind.

Two runs with the same ``seed`` (same hotkeys, challenges and seeds), 2 rounds of 5 s clips: one
with the honest miners alone, one with every hostile kind beside them. With the hostile miners
present the honest miners' breakdowns match the run without them, except the fields that see
the other clips of the round or the clock (``diversity``, ``speed``); the hostile miners earn
nothing; the run ends with weights set on the chain.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from scoring import constants as C
from tuneforge.localnet.hostile_kinds import HOSTILE_KINDS
from tuneforge.localnet.network import LocalnetOptions, LocalNetwork

pytestmark = pytest.mark.slow

ROUNDS = 2
OPTIONS = dict(miners=2, bad_miners=0, rounds=ROUNDS, seed=7, clip_seconds=(5, 5), timeout_s=6.0)
#: Fields of an honest miner's breakdown that may differ when other miners join the round.
ROUND_FIELDS = ("diversity", "speed")


@dataclass
class Run:
    out: Path
    rows: list[dict]
    weights: dict[int, float]
    hostile_of: dict[str, str]  # hotkey -> kind
    requests: dict[str, int]  # kind -> generation requests it served

    def rounds(self) -> list[dict]:
        return [json.loads((d / "round.json").read_text()) for d in sorted((self.out / "rounds").iterdir())]

    def miner(self, round_index: int, hotkey: str) -> dict:
        return next(m for m in self.rounds()[round_index]["miners"] if m["hotkey"] == hotkey)


def _run(out: Path, hostile: tuple[str, ...]) -> Run:
    with LocalNetwork(LocalnetOptions(**OPTIONS, hostile=hostile, out=out)) as net:
        rows = net.run()
        weights = net.chain_weights()
        hostile_of = {s.hotkey: s.hostile for s in net.slots if s.hostile}
        requests = {s.hostile: s.miner.requests for s in net.slots if s.hostile}
    return Run(out=out, rows=rows, weights=weights, hostile_of=hostile_of, requests=requests)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return {
        "clean": _run(tmp_path_factory.mktemp("clean"), ()),
        "hostile": _run(tmp_path_factory.mktemp("hostile"), HOSTILE_KINDS),
    }


def _honest(run: Run) -> list[str]:
    return [r["hotkey"] for r in run.rows if r["hotkey"] not in run.hostile_of]


def _kind_hotkey(run: Run, kind: str) -> str:
    return next(h for h, k in run.hostile_of.items() if k == kind)


def test_the_same_honest_miners_in_both_runs(runs):
    clean, hostile = runs["clean"], runs["hostile"]
    assert sorted(_honest(clean)) == sorted(_honest(hostile)) and len(_honest(clean)) == 2
    assert sorted(hostile.hostile_of.values()) == sorted(HOSTILE_KINDS)
    for i in range(ROUNDS):
        assert clean.rounds()[i]["challenge"] == hostile.rounds()[i]["challenge"]
        assert len(hostile.rounds()[i]["miners"]) == 2 + len(HOSTILE_KINDS)  # every hostile miner was asked


def test_honest_scores_match_a_run_without_hostile_miners(runs):
    clean, hostile = runs["clean"], runs["hostile"]
    for i in range(ROUNDS):
        for hotkey in _honest(clean):
            a, b = clean.miner(i, hotkey), hostile.miner(i, hotkey)
            assert a["seed"] == b["seed"] and a["error"] is None and b["error"] is None
            ba, bb = a["breakdown"], b["breakdown"]
            for name in C.SIGNAL_WEIGHTS:
                if name not in ROUND_FIELDS:
                    assert bb["signals"][name] == ba["signals"][name], (i, hotkey, name)
            assert bb["penalties"] == ba["penalties"], (i, hotkey)
            assert bb["penalties"]["fingerprint_penalty"] == 1.0  # no honest clip is taken for a copy
            assert bb["weights"] == ba["weights"]
            # The final score moves by exactly what the round fields moved, weighted.
            moved = sum(ba["weights"][n] * ((bb["signals"][n] or 0.0) - (ba["signals"][n] or 0.0)) for n in ROUND_FIELDS)
            product = 1.0
            for value in ba["penalties"].values():
                product *= value
            assert bb["final_score"] == pytest.approx(ba["final_score"] + moved * product, abs=2e-6), (i, hotkey)


def test_every_hostile_miner_was_served_and_caught_its_own_way(runs):
    hostile = runs["hostile"]
    assert all(hostile.requests[k] >= ROUNDS for k in HOSTILE_KINDS), hostile.requests
    per_round = {k: [hostile.miner(i, _kind_hotkey(hostile, k)) for i in range(ROUNDS)] for k in HOSTILE_KINDS}
    assert all(m["breakdown"]["penalties"]["artifact_penalty"] == 0.0 for m in per_round["oversized-float"])
    assert all(m["error"] is None and m["clip"] for m in per_round["disguised-copy"])  # the relay delivered
    assert all("408" in m["error"] for m in per_round["late"])
    assert all(m["reject_reason"] == "bad_base64" for m in per_round["garbage-base64"])
    for kind in ("rewritten-echo", "wrong-length"):  # graded against the stored 5 s request, not the echo
        assert all(m["breakdown"]["penalties"]["duration_penalty"] == 0.0 for m in per_round[kind])
    crash = [m["error"] for m in per_round["crash"]]
    assert "status 500" in crash[0] and "payload" in crash[1].lower()  # raised, then dropped mid-response
    assert all("silence in mono" in m["error"] for m in per_round["mute-in-mono"])


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_hostile_miner_earns_nothing(runs, kind):
    hostile = runs["hostile"]
    hotkey = _kind_hotkey(hostile, kind)
    row = next(r for r in hostile.rows if r["hotkey"] == hotkey)
    assert row["rounds"] == ROUNDS
    assert all(hostile.miner(i, hotkey)["final_score"] == 0.0 for i in range(ROUNDS))
    assert row["ema"] == 0.0 and hostile.weights.get(row["uid"], 0.0) == 0.0


def test_the_run_ends_with_weights_set(runs):
    for run in runs.values():
        assert run.weights and sum(run.weights.values()) == pytest.approx(1.0, abs=1e-3)
        for hotkey in _honest(run):
            uid = next(r["uid"] for r in run.rows if r["hotkey"] == hotkey)
            assert run.weights[uid] > 0.0


def test_round_folders_are_named_by_round_id(runs):
    for run in runs.values():
        assert [d.name for d in sorted((run.out / "rounds").iterdir())] == ["round_001", "round_002"]
        assert [r["round_id"] for r in run.rounds()] == ["1", "2"]
