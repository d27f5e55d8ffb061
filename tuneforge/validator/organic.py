"""Organic requests: a user's prompt routed to the best miners and their clips ranked by score.

:meth:`OrganicGateway.generate` turns a :class:`~scoring.request.ScoringRequest` into an organic
challenge (same id layout as a round's, always a seed per miner and a time signature on the
wire, ``is_organic=True``), keeps it in the challenge store, pings the serving miners in order of
their leaderboard EMA and sends the request to the first ``num_candidates`` that say they are
available, in parallel. Each delivered clip is scored against the stored challenge with the
validator's models, and the candidates come back best first. Organic results never touch the
leaderboard, and they are scored with a read-only view of the miners' history, so they do not
add to it either (the API records the clip it keeps).
"""

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring.breakdown import ScoreBreakdown
from scoring.request import ScoringRequest
from tuneforge.validator.challenges import Challenge
from tuneforge.validator.query import MinerTarget, ping_miners, query_miners, query_timeout, serving_targets

__all__ = ["OrganicCandidate", "OrganicGateway", "ReadOnlyHistory", "organic_scorer"]

log = logging.getLogger(__name__)

#: Seconds a miner gets to answer the availability ping.
PING_TIMEOUT_S = 5.0


@dataclass
class OrganicCandidate:
    """One miner's clip for an organic request. ``samples`` float32 ``(channels, frames)`` at
    ``sample_rate`` Hz; ``audio_bytes`` the file as received; ``rtt_seconds`` validator-measured;
    ``challenge`` the challenge exactly as sent to this miner and graded (the stored challenge's
    public fields, tempo and meter as filled in, with this miner's ``seed``)."""

    uid: int
    hotkey: str
    audio_bytes: bytes = field(repr=False)
    audio_format: str
    samples: np.ndarray = field(repr=False)
    sample_rate: int
    model_id: str | None
    breakdown: ScoreBreakdown
    rtt_seconds: float | None
    challenge_id: str = ""
    seed: int | None = None
    challenge: dict[str, Any] | None = None

    @property
    def final_score(self) -> float:
        return float(self.breakdown.final_score)


class ReadOnlyHistory:
    """A ``MinerHistory`` that signals may read but organic scoring cannot extend.

    ``add`` is deliberately a no-op: the scorer adds every clip it scores to the history, and an
    organic clip must not count as a miner's own past clip in later rounds.
    """

    def __init__(self, history: Any) -> None:
        self._history = history

    def add(self, hotkey: str, *, embedding: Any = None, fingerprint: Any = None) -> None:
        log.debug("organic clip of %s not added to the miner history", hotkey)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._history, name)


def organic_scorer(scorer: Any) -> Any:
    """A scorer with ``scorer``'s models and a read-only view of its history.

    Only ``scoring.scorer.Scorer`` instances are rebuilt; another object (a test double) is
    returned as it is.
    """
    from scoring.scorer import Scorer

    if not isinstance(scorer, Scorer):
        return scorer
    history = None if scorer.history is None else ReadOnlyHistory(scorer.history)
    return Scorer(models=scorer.models, history=history)


class OrganicGateway:
    """Routes organic requests through a validator (its metagraph, dendrite, leaderboard, scorer)."""

    def __init__(self, validator: Any) -> None:
        self.validator = validator
        self.requests = 0
        self.failures = 0

    def _ranked_targets(self) -> list[MinerTarget]:
        v = self.validator
        targets = serving_targets(v.metagraph, own_hotkey=v.hotkey)
        ema = {r["uid"]: (r["hotkey"], r["ema"]) for r in v.leaderboard.snapshot()}

        def key(t: MinerTarget) -> tuple[float, int]:
            hotkey, value = ema.get(t.uid, (None, 0.0))
            return (-(value if hotkey == t.hotkey else 0.0), t.uid)

        return sorted(targets, key=key)

    async def generate(
        self, request: ScoringRequest, *, num_candidates: int = 3, timeout: float | None = None
    ) -> list[OrganicCandidate]:
        """Clips for ``request`` from up to ``num_candidates`` available miners, best score first.

        ``timeout``: seconds each miner gets (default: ``--neuron.timeout`` scaled by duration).
        Returns an empty list when no miner is available or none delivered a usable clip.

        Raises:
            ValueError: ``num_candidates`` < 1 or a request the wire cannot carry.
        """
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
        challenge = Challenge.from_request(request)
        return await self.validator.on_loop(self._generate(challenge, num_candidates, timeout))

    async def _generate(self, challenge: Challenge, num_candidates: int, timeout: float | None) -> list[OrganicCandidate]:
        v = self.validator
        self.requests += 1
        v.challenges.put(challenge)
        ranked = self._ranked_targets()[: max(3 * num_candidates, 8)]
        if not ranked:
            log.warning("organic %s: no serving miners", challenge.challenge_id)
            return []
        available = await ping_miners(v.dendrite, ranked, timeout=PING_TIMEOUT_S)
        chosen = [t for t in ranked if available.get(t.uid)][:num_candidates]
        if not chosen:
            log.warning("organic %s: none of %d top miners is available", challenge.challenge_id, len(ranked))
            return []
        per_request = float(timeout) if timeout is not None else query_timeout(v.config.timeout_s, challenge.duration_seconds)
        responses = await query_miners(v.dendrite, chosen, challenge, timeout=per_request, deadline=per_request + 5.0)
        stored = v.challenges.require(challenge.challenge_id)
        delivered = [r for r in responses if r.delivered]
        if not delivered:
            self.failures += 1
            log.warning("organic %s: no usable clip from uids %s (%s)", challenge.challenge_id,
                        [r.uid for r in responses], "; ".join(str(r.error) for r in responses))
            return []
        from scoring.scorer import RoundEntry

        entries = [
            RoundEntry(hotkey=r.hotkey, samples=r.audio.samples, sample_rate=r.audio.sample_rate,
                       request=stored.scoring_request(r.hotkey), generation_seconds=r.rtt_seconds)
            for r in delivered
        ]
        breakdowns = await v.scoring_pool.score(organic_scorer(v.scorer), entries)
        candidates = [
            OrganicCandidate(
                uid=r.uid, hotkey=r.hotkey, audio_bytes=r.audio_bytes, audio_format=r.audio_format,
                samples=r.audio.samples, sample_rate=r.audio.sample_rate, model_id=r.model_id, breakdown=b,
                rtt_seconds=r.rtt_seconds, challenge_id=stored.challenge_id, seed=r.seed,
                challenge=stored.to_dict() | {"seed": stored.seed_for(r.hotkey)},
            )
            for r, b in zip(delivered, breakdowns, strict=True)
        ]
        candidates.sort(key=lambda c: (-c.final_score, c.uid))
        log.info("organic %s: %s", challenge.challenge_id,
                 ", ".join(f"uid {c.uid}={c.final_score:.3f}" for c in candidates))
        return candidates
