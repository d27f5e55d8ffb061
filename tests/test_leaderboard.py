"""Leaderboard: EMA maths, recycled uids, pruning, tiered weights, persistence."""

import math

import numpy as np
import pytest

from scoring.constants import EMA_ALPHA, TOP_TIER_SHARE, TOP_TIER_SIZE
from tuneforge.validator.leaderboard import Leaderboard


def board_with(emas: dict[int, float]) -> Leaderboard:
    return Leaderboard.from_dict(
        {"alpha": EMA_ALPHA, "miners": [{"uid": u, "hotkey": f"hk{u}", "ema": e, "rounds": 1} for u, e in emas.items()]}
    )


def test_ema_sequence_exact_values() -> None:
    board = Leaderboard()
    assert EMA_ALPHA == 0.2
    emas = [board.update(3, "hkA", s, block=b).ema for b, s in enumerate([1.0, 0.5, 0.0, 1.0])]
    # starts from 0: 0.2; 0.2*0.5 + 0.8*0.2 = 0.26; 0.8*0.26 = 0.208; 0.2 + 0.8*0.208 = 0.3664
    assert emas == pytest.approx([0.2, 0.26, 0.208, 0.3664], abs=1e-12)
    record = board.get(3)
    assert record.rounds == 4 and record.last_score == 1.0 and record.last_block == 3 and record.hotkey == "hkA"


def test_recycled_uid_starts_fresh() -> None:
    board = Leaderboard()
    for _ in range(5):
        board.update(0, "old", 1.0)
    record = board.update(0, "new", 0.5)
    assert record.hotkey == "new" and record.rounds == 1
    assert record.ema == pytest.approx(0.1)
    assert [r.hotkey for r in board.records()] == ["new"]


def test_sync_prunes_departed_and_recycled_uids() -> None:
    board = Leaderboard()
    for uid, hk in enumerate(["a", "b", "c", "d"]):
        board.update(uid, hk, 0.5)
    dropped = board.sync(["a", "x", "c"])  # uid 1 now belongs to x; uid 3 left the metagraph
    assert dropped == [1, 3]
    assert [(r.uid, r.hotkey) for r in board.records()] == [(0, "a"), (2, "c")]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.01, 1.01])
def test_bad_scores_are_refused_and_lose_nothing(bad: float) -> None:
    board = Leaderboard()
    board.update(1, "hk", 0.5)
    with pytest.raises(ValueError, match="score"):
        board.update(1, "hk", bad)
    record = board.get(1)
    assert record.rounds == 1 and record.ema == pytest.approx(0.1)


def test_bad_uid_or_hotkey_refused() -> None:
    board = Leaderboard()
    with pytest.raises(ValueError, match="uid"):
        board.update(-1, "hk", 0.5)
    with pytest.raises(ValueError, match="hotkey"):
        board.update(0, "", 0.5)
    assert len(board) == 0


def test_tier_weights_exact_small_case() -> None:
    # twelve miners: uids 0-9 at EMA 0.5 (top tier), uid 10 at 0.4 and uid 11 at 0.2 (second tier)
    emas = {u: 0.5 for u in range(10)} | {10: 0.4, 11: 0.2}
    w = board_with(emas).weights(12)
    expected = np.array([0.08] * 10 + [0.2 * 0.16 / 0.20, 0.2 * 0.04 / 0.20])
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    assert w.sum() == pytest.approx(1.0)
    assert w[:TOP_TIER_SIZE].sum() == pytest.approx(TOP_TIER_SHARE)


def test_tier_weights_proportional_to_ema_squared_with_unequal_top() -> None:
    emas = {u: 0.05 * (u + 1) for u in range(11)}  # uid 0 is the one miner in the second tier
    w = board_with(emas).weights(11)
    top = [0.05 * (u + 1) for u in range(1, 11)]
    mass = sum(e * e for e in top)
    for u in range(1, 11):
        assert w[u] == pytest.approx(TOP_TIER_SHARE * (0.05 * (u + 1)) ** 2 / mass)
    assert w[0] == pytest.approx(1 - TOP_TIER_SHARE)


def test_without_a_second_tier_the_top_tier_takes_everything() -> None:
    w = board_with({0: 0.1, 1: 0.2, 2: 0.3}).weights(5)
    np.testing.assert_allclose(w, [0.01 / 0.14, 0.04 / 0.14, 0.09 / 0.14, 0.0, 0.0], rtol=1e-12)
    assert w.sum() == pytest.approx(1.0)


def test_zero_emas_give_zero_weights() -> None:
    assert not board_with({0: 0.0, 1: 0.0}).weights(2).any()
    assert Leaderboard().weights(4).tolist() == [0.0] * 4
    # zero-EMA miners take no share when others have one
    w = board_with({0: 0.0, 1: 0.3}).weights(2)
    assert w.tolist() == [0.0, 1.0]


def test_ties_are_broken_by_lower_uid() -> None:
    emas = {u: 0.4 for u in range(12)}
    w = board_with(emas).weights(12)
    np.testing.assert_allclose(w[:10], 0.08)
    np.testing.assert_allclose(w[10:], 0.1)
    ranking = [r.uid for r in board_with(emas).ranking()]
    assert ranking == list(range(12))


def test_weights_respect_n_and_metagraph_hotkeys() -> None:
    board = board_with({0: 0.5, 1: 0.5, 5: 0.5})
    w = board.weights(3)  # uid 5 is beyond the metagraph
    assert w.tolist() == [0.5, 0.5, 0.0]
    w = board.weights(3, hotkeys=["hk0", "someone-else", "hk2"])  # uid 1 recycled on chain
    assert w.tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        board.weights(-1)


def test_snapshot_rows_best_first() -> None:
    board = Leaderboard()
    board.update(2, "b", 1.0, block=7)
    board.update(0, "a", 0.5, block=7)
    rows = board.snapshot()
    assert [r["uid"] for r in rows] == [2, 0]
    assert set(rows[0]) == {"uid", "hotkey", "ema", "weight", "rounds", "last_score", "last_block"}
    assert math.isclose(sum(r["weight"] for r in rows), 1.0)
    assert rows[0]["weight"] == pytest.approx(0.04 / 0.05) and rows[0]["last_block"] == 7


def test_dict_round_trip_and_malformed_data() -> None:
    board = Leaderboard()
    board.update(0, "a", 0.9, block=3)
    board.update(4, "e", 0.1)
    again = Leaderboard.from_dict(board.to_dict())
    assert again.to_dict() == board.to_dict()
    np.testing.assert_array_equal(again.weights(5), board.weights(5))
    for bad in (
        {"miners": "nope"},
        {"miners": [{"uid": 0, "hotkey": "a"}]},
        {"miners": [{"uid": 0, "hotkey": "a", "ema": 2.0, "rounds": 1}]},
        {"miners": [{"uid": 0, "hotkey": "a", "ema": float("nan"), "rounds": 1}]},
        {"miners": [{"uid": 0, "hotkey": "a", "ema": 0.1, "rounds": 1}] * 2},
    ):
        with pytest.raises(ValueError):
            Leaderboard.from_dict(bad)
