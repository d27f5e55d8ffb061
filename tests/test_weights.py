"""WeightSetter: rate-limit skip, retries with backoff, result checking, and a run on the LocalChain."""

from types import SimpleNamespace

import numpy as np
import pytest
from bittensor.core.types import ExtrinsicResponse

from tuneforge import SPEC_VERSION
from tuneforge.chain import LocalChain
from tuneforge.validator.leaderboard import Leaderboard
from tuneforge.validator.weights import WeightSetter

HOTKEYS = ["V", "M1", "M2", "M3"]


def wallet(hotkey: str = "V") -> SimpleNamespace:
    return SimpleNamespace(hotkey=SimpleNamespace(ss58_address=hotkey))


class FlakySubtensor:
    """Answers set_weights from a script: an Exception is raised, anything else returned."""

    def __init__(self, script: list, *, since: int | None = 500, limit: int | None = 100, block: int = 1234) -> None:
        self.script = list(script)
        self.calls: list[dict] = []
        self.since, self.limit, self.block = since, limit, block

    def blocks_since_last_update(self, netuid: int, uid: int) -> int | None:
        return self.since

    def weights_rate_limit(self, netuid: int) -> int | None:
        return self.limit

    def get_current_block(self) -> int:
        return self.block

    def set_weights(self, **kwargs):
        self.calls.append(kwargs)
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def board() -> Leaderboard:
    b = Leaderboard()
    b.update(1, "M1", 1.0)
    b.update(2, "M2", 0.5)
    b.update(3, "M3", 0.0)  # scored, zero EMA: gets no weight
    return b


def metagraph(hotkeys=HOTKEYS) -> SimpleNamespace:
    return SimpleNamespace(hotkeys=list(hotkeys))


def test_fails_twice_then_succeeds_with_exponential_backoff(board: Leaderboard) -> None:
    sub = FlakySubtensor([
        TimeoutError("websocket closed"),
        ExtrinsicResponse(False, "Transaction is outdated"),
        ExtrinsicResponse(True, "Successfully set weights."),
    ])
    sleeps: list[float] = []
    setter = WeightSetter(sub, wallet(), 7, max_retries=3, backoff_seconds=2.0, sleep=sleeps.append)
    result = setter.set(board, metagraph())
    assert result.success and not result.skipped and result.attempts == 3
    assert sleeps == [2.0, 4.0]
    assert result.block == 1234 and setter.last_weight_block == 1234
    assert (setter.successes, setter.failed_attempts, setter.failures) == (1, 2, 0)
    assert "Transaction is outdated" in setter.last_error
    assert result.uids == (1, 2)
    assert sum(result.weights) == pytest.approx(1.0)
    assert result.weights == pytest.approx((0.04 / 0.05, 0.01 / 0.05))
    call = sub.calls[-1]
    assert call["netuid"] == 7 and call["version_key"] == SPEC_VERSION
    assert call["wait_for_inclusion"] is True and call["wait_for_finalization"] is False
    assert call["uids"].tolist() == [1, 2]
    assert setter.status()["last_outcome"] == "set"


def test_gives_up_after_all_retries_and_counts(board: Leaderboard) -> None:
    sub = FlakySubtensor([ExtrinsicResponse(False, None)] + [RuntimeError("boom")] * 3)
    sleeps: list[float] = []
    setter = WeightSetter(sub, wallet(), 7, max_retries=3, backoff_seconds=0.5, sleep=sleeps.append)
    result = setter.set(board, metagraph())
    assert not result.success and not result.skipped and result.attempts == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert (setter.successes, setter.failed_attempts, setter.failures) == (0, 4, 1)
    assert "RuntimeError: boom" in setter.last_error and setter.last_weight_block is None
    assert setter.status()["last_outcome"] == "failed"


def test_a_refusal_without_message_is_not_success(board: Leaderboard) -> None:
    sub = FlakySubtensor([(False, None)])
    result = WeightSetter(sub, wallet(), 7, max_retries=0, sleep=lambda s: None).set(board, metagraph())
    assert not result.success and "no message" in result.reason


def test_rate_limit_skips_without_calling(board: Leaderboard) -> None:
    sub = FlakySubtensor([], since=100, limit=100)
    setter = WeightSetter(sub, wallet(), 7, sleep=lambda s: None)
    result = setter.set(board, metagraph())
    assert result.skipped and not result.success and "rate limited" in result.reason
    assert sub.calls == [] and setter.skips == 1 and setter.failures == 0


def test_skips_when_validator_absent_or_no_positive_ema(board: Leaderboard) -> None:
    sub = FlakySubtensor([])
    result = WeightSetter(sub, wallet("stranger"), 7, sleep=lambda s: None).set(board, metagraph())
    assert result.skipped and "not on the metagraph" in result.reason
    empty = Leaderboard()
    empty.update(1, "M1", 0.0)
    result = WeightSetter(sub, wallet(), 7, sleep=lambda s: None).set(empty, metagraph())
    assert result.skipped and "positive EMA" in result.reason
    assert sub.calls == []


def test_only_uids_still_owned_by_their_hotkey_are_weighted(board: Leaderboard) -> None:
    sub = FlakySubtensor([ExtrinsicResponse(True, "ok")])
    result = WeightSetter(sub, wallet(), 7, sleep=lambda s: None).set(board, metagraph(["V", "M1", "NEW", "M3"]))
    assert result.success and result.uids == (1,) and result.weights == (1.0,)


def test_rate_limit_query_failure_is_a_counted_failure(board: Leaderboard) -> None:
    class Broken(FlakySubtensor):
        def blocks_since_last_update(self, netuid, uid):
            raise ConnectionError("chain unreachable")

    setter = WeightSetter(Broken([]), wallet(), 7, sleep=lambda s: None)
    result = setter.set(board, metagraph())
    assert not result.success and not result.skipped and setter.failures == 1
    assert "chain unreachable" in setter.last_error


def test_on_the_local_chain(board: Leaderboard) -> None:
    chain = LocalChain(weights_rate_limit=5)
    chain.create_subnet(2, weights_version=SPEC_VERSION)
    for hk in HOTKEYS:
        chain.register_neuron(2, hk, "cold", stake=100.0 if hk == "V" else 0.0)
    setter = WeightSetter(chain, wallet(), 2, sleep=lambda s: None)
    mg = chain.metagraph(2)
    assert setter.set(board, mg).skipped  # registered at block 0: rate limit not yet passed
    chain.step_block(6)
    result = setter.set(board, mg)
    assert result.success and result.block == 6
    # EMA 0.2 and 0.1 → weights 0.8 and 0.2 → max-upscaled u16
    assert chain.weights(2) == [(0, [(1, 65535), (2, 16384)])]
    chain.step_block(1)
    again = setter.set(board, mg)
    assert again.skipped and "rate limited" in again.reason
    assert setter.status()["successes"] == 1 and setter.status()["skips"] == 2
    # a validator without a permit is refused by the chain, retried, and counted
    chain.set_validator_permit(2, "V", False)
    chain.step_block(10)
    refused = setter.set(board, chain.metagraph(2))
    assert not refused.success and "NeuronNoValidatorPermit" in refused.reason and setter.failures == 1
    assert refused.attempts == 1  # a permanent refusal is not retried
    np.testing.assert_array_equal(chain.metagraph(2).validator_permit, [False] * 4)
