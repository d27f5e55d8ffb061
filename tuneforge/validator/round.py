"""One validation round, top to bottom: challenge, query, score, leaderboard, store, result.

:class:`RoundRunner.run` builds the round's challenge and keeps it in the
:class:`~tuneforge.validator.challenges.ChallengeStore`, samples miners, queries them (see
:mod:`tuneforge.validator.query`), grades every delivered clip against the STORED challenge
with ``Scorer.score_round`` (so the clips of a round see each other: the fingerprint penalty
needs that), folds every sampled miner's score into the leaderboard (0 for a miner that sent
nothing usable), records every clip with its breakdown through the store when there is one,
and returns a :class:`RoundResult`.

Scoring runs in :class:`ScoringPool`, a bounded ``ThreadPoolExecutor`` shared by rounds and
organic requests, under a time budget: the event loop never blocks on it, and when the budget
runs out the clips not scored get 0 with the error ``"scoring budget exceeded"``. A round is
scored as one job (its clips must be compared with each other), so the budget applies to the
round as a whole; the pool's workers let rounds and organic requests score side by side. A
worker cannot be interrupted: a job past its budget finishes in the background and its result
is discarded.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from scoring.breakdown import ScoreBreakdown
from scoring.scorer import RoundEntry
from tuneforge.validator.challenges import Challenge, ChallengeGenerator, ChallengeStore
from tuneforge.validator.leaderboard import Leaderboard
from tuneforge.validator.query import MinerResponse, query_miners, query_timeout, sample_miners

__all__ = ["BUDGET_EXCEEDED", "MinerResult", "RoundResult", "RoundRunner", "ScoringPool"]

log = logging.getLogger(__name__)

BUDGET_EXCEEDED = "scoring budget exceeded"


class ScoringPool:
    """Runs ``scorer.score_round`` off the event loop on at most ``workers`` threads, under ``budget_s`` seconds."""

    def __init__(self, *, workers: int, budget_s: float) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if not budget_s > 0:
            raise ValueError(f"budget_s must be > 0, got {budget_s}")
        self.workers = int(workers)
        self.budget_s = float(budget_s)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="scoring")
        self.budget_overruns = 0

    async def score(self, scorer: Any, entries: list[RoundEntry], *, budget_s: float | None = None) -> list[ScoreBreakdown]:
        """One breakdown per entry, in order; all failed with :data:`BUDGET_EXCEEDED` when time runs out.

        An exception from the scorer propagates (a scorer bug must be seen, not turned into zeros).
        """
        if not entries:
            return []
        budget = self.budget_s if budget_s is None else float(budget_s)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, scorer.score_round, list(entries))
        try:
            results = await asyncio.wait_for(asyncio.shield(future), timeout=budget)
        except TimeoutError:
            self.budget_overruns += 1
            future.add_done_callback(_log_late_job)
            log.warning("scoring %d clips took longer than the %.1f s budget: they score 0", len(entries), budget)
            return [ScoreBreakdown.failed(BUDGET_EXCEEDED) for _ in entries]
        if len(results) != len(entries):
            raise RuntimeError(f"scorer returned {len(results)} breakdowns for {len(entries)} clips")
        return list(results)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _log_late_job(future: "asyncio.Future[Any]") -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        log.error("a scoring job that ran past its budget failed: %s: %s", type(exc).__name__, exc)
    else:
        log.info("a scoring job that ran past its budget finished; its result was discarded")


@dataclass
class MinerResult:
    """One sampled miner's outcome in a round. ``final_score`` in [0, 1]; ``breakdown`` is
    ``ScoreBreakdown.to_dict()``; ``rtt_seconds`` validator-measured; ``audio_bytes`` the clip
    file as received (None when nothing usable came back)."""

    uid: int
    hotkey: str
    seed: int
    final_score: float
    breakdown: dict[str, Any]
    error: str | None
    rtt_seconds: float | None
    audio_bytes: bytes | None = field(default=None, repr=False)
    audio_format: str | None = None
    model_id: str | None = None
    reject_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (without the audio bytes)."""
        return {
            "uid": self.uid, "hotkey": self.hotkey, "seed": self.seed, "final_score": self.final_score,
            "breakdown": self.breakdown, "error": self.error, "rtt_seconds": self.rtt_seconds,
            "audio_format": self.audio_format, "audio_bytes": None if self.audio_bytes is None else len(self.audio_bytes),
            "model_id": self.model_id, "reject_reason": self.reject_reason,
        }


@dataclass
class RoundResult:
    """Everything one round produced. ``started_at``/``finished_at`` are Unix times in seconds."""

    round_id: str
    challenge: Challenge
    miners: list[MinerResult]
    started_at: float
    finished_at: float
    block: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "round_id": self.round_id, "challenge": self.challenge.to_dict(), "started_at": self.started_at,
            "finished_at": self.finished_at, "block": self.block, "miners": [m.to_dict() for m in self.miners],
        }


class RoundRunner:
    """Runs rounds for one validator; every dependency is passed in (the neuron wires them).

    Args:
        generator: issues the round's challenge.
        challenges: where issued challenges are kept and read back for grading.
        leaderboard: receives every sampled miner's round score.
        pool: scoring threads and budget.
        scorer_fn: returns the scorer to use now (``Scorer`` or a test double).
        store: ``tuneforge.store.Store`` or None.
        sample_size, timeout_s: ``--neuron.sample_size``, ``--neuron.timeout``.
        deadline_grace_s: seconds added to the per-request timeout for the hard deadline of the fan-out.
    """

    def __init__(
        self,
        *,
        generator: ChallengeGenerator,
        challenges: ChallengeStore,
        leaderboard: Leaderboard,
        pool: ScoringPool,
        scorer_fn: Callable[[], Any],
        store: Any = None,
        sample_size: int,
        timeout_s: float,
        deadline_grace_s: float = 5.0,
    ) -> None:
        self.generator = generator
        self.challenges = challenges
        self.leaderboard = leaderboard
        self.pool = pool
        self.scorer_fn = scorer_fn
        self.store = store
        self.sample_size = int(sample_size)
        self.timeout_s = float(timeout_s)
        self.deadline_grace_s = float(deadline_grace_s)

    def issue(self, round_id: str) -> Challenge:
        """Round ``round_id``'s challenge, kept in the challenge store (not sent yet)."""
        challenge = self.generator.generate(round_id)
        self.challenges.put(challenge)
        return challenge

    async def run(self, *, round_id: str, dendrite: Any, metagraph: Any, own_hotkey: str, block: int | None = None,
                  challenge: Challenge | None = None) -> RoundResult:
        """Query, grade and record one round. ``challenge``: the one :meth:`issue` made for
        ``round_id`` (and the caller recorded as issued); issued here when None."""
        started = time.time()
        if challenge is None:
            challenge = self.issue(round_id)
        targets = sample_miners(metagraph, own_hotkey=own_hotkey, sample_size=self.sample_size,
                                round_seed=challenge.challenge_id)
        if not targets:
            log.warning("round %s: no serving miners on the metagraph; nothing to query", round_id)
            return RoundResult(round_id, challenge, [], started, time.time(), block)
        timeout = query_timeout(self.timeout_s, challenge.duration_seconds)
        log.info("round %s: %s | %d miners, timeout %.1f s", round_id, challenge.prompt, len(targets), timeout)
        responses = await query_miners(dendrite, targets, challenge, timeout=timeout,
                                       deadline=timeout + self.deadline_grace_s)
        stored = self.challenges.require(challenge.challenge_id)
        breakdowns = await self.grade(stored, responses)
        miners = []
        for response, breakdown in zip(responses, breakdowns, strict=True):
            score = float(breakdown.final_score)
            self.leaderboard.update(response.uid, response.hotkey, score, block=block)
            miners.append(MinerResult(
                uid=response.uid, hotkey=response.hotkey, seed=response.seed, final_score=score,
                breakdown=breakdown.to_dict(), error=response.error or breakdown.error,
                rtt_seconds=response.rtt_seconds, audio_bytes=response.audio_bytes,
                audio_format=response.audio_format, model_id=response.model_id, reject_reason=response.reject_reason,
            ))
        result = RoundResult(round_id, challenge, miners, started, time.time(), block)
        if self.store is not None:
            await asyncio.to_thread(self._record, result)
        log.info("round %s done in %.1f s: %s", round_id, result.finished_at - started,
                 ", ".join(f"uid {m.uid}={m.final_score:.3f}" for m in miners))
        return result

    async def grade(self, challenge: Challenge, responses: list[MinerResponse]) -> list[ScoreBreakdown]:
        """Breakdowns in ``responses`` order: delivered clips scored together against ``challenge``
        (the stored one, with each miner's own seed), the rest failed with their error."""
        live = [r for r in responses if r.delivered]
        entries = [
            RoundEntry(hotkey=r.hotkey, samples=r.audio.samples, sample_rate=r.audio.sample_rate,
                       request=challenge.scoring_request(r.hotkey), generation_seconds=r.rtt_seconds)
            for r in live
        ]
        scored = iter(await self.pool.score(self.scorer_fn(), entries))
        return [next(scored) if r.delivered else ScoreBreakdown.failed(r.error or "no audio delivered") for r in responses]

    def _record(self, result: RoundResult) -> None:
        """Write the round and each clip to the store; a failure is logged and counted, the round stands."""
        challenge = result.challenge.to_dict()
        for m in result.miners:
            try:
                self.store.record_scored_clip(
                    round_id=result.round_id, challenge=challenge, uid=m.uid, hotkey=m.hotkey,
                    audio_bytes=m.audio_bytes, audio_format=m.audio_format, breakdown=m.breakdown,
                    final_score=m.final_score, is_organic=False, rtt_seconds=m.rtt_seconds, model_id=m.model_id,
                )
            except Exception as exc:  # storage trouble must not lose the round's scores
                log.error("could not store uid %d's clip of round %s: %s: %s", m.uid, result.round_id,
                          type(exc).__name__, exc)
        try:
            self.store.record_round(round_id=result.round_id, challenge=challenge, started_at=result.started_at,
                                    finished_at=result.finished_at, num_miners=len(result.miners))
        except Exception as exc:
            log.error("could not store round %s: %s: %s", result.round_id, type(exc).__name__, exc)
