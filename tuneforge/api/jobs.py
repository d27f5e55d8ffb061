"""Generation jobs: claimed from the store, sent through the validator's organic gateway, stored.

A :class:`JobRunner` claims the oldest pending job, asks the gateway for each variation (its own
seed) in parallel and keeps, per variation, the candidate with the highest score of its own.
Tracks are stored as organic clips (they never move the leaderboard). A job with no track at all
fails and is refunded in full; a job missing some variations completes with the rest and is
refunded for the missing ones. On start, jobs a dead process left ``processing`` are requeued
(or failed and refunded after ``job_max_attempts``); a retried job keeps variations already stored.
"""

import asyncio
import json
import logging
from typing import Any

from scoring.request import ScoringRequest
from tuneforge.api.context import ApiContext
from tuneforge.api.credits import variation_cost
from tuneforge.api.views import job_status

__all__ = ["JobRunner", "scoring_request"]

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def scoring_request(params: dict[str, Any], *, seed: int) -> ScoringRequest:
    """The request one variation sends to miners (vocals only when lyrics come and not instrumental)."""
    lyrics = params.get("lyrics")
    vocals = bool(lyrics) and params.get("instrumental") is not True
    return ScoringRequest(
        prompt=params["prompt"], duration_seconds=float(params["duration_seconds"]),
        genre=params.get("genre") or "", mood=params.get("mood") or "",
        tempo_bpm=None if params.get("tempo_bpm") is None else float(params["tempo_bpm"]),
        key_signature=params.get("key_signature"), time_signature=params.get("time_signature"),
        instruments=tuple(params.get("instruments") or ()), vocals_requested=vocals,
        lyrics=lyrics if vocals else None, seed=seed,
    )


class JobRunner:
    """Processes generation jobs for one API (its store, its gateway)."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.completed = 0
        self.failed = 0

    def recover(self) -> tuple[list[str], list[str]]:
        """Requeue or fail (with refund) jobs interrupted by a previous process; log what happened."""
        requeued, failed = self.ctx.store.recover_jobs(max_attempts=self.ctx.settings.job_max_attempts)
        if requeued or failed:
            log.warning("recovered interrupted jobs: %d requeued, %d failed and refunded", len(requeued), len(failed))
        for job_id in failed:
            self._enqueue_webhook(self.ctx.store.get_job(job_id))
        return requeued, failed

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, *, name: str = "jobs") -> None:
        """Process jobs until ``stop`` is set; when idle, waits for ``wake`` or a poll interval."""
        while not stop.is_set():
            try:
                worked = await self.process_next()
            except Exception:
                log.exception("%s: processing a job failed unexpectedly", name)
                worked = False
            if worked:
                continue
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), timeout=POLL_SECONDS)
            except TimeoutError:
                pass

    async def process_next(self) -> bool:
        """Claim and process one pending job; False when none was waiting."""
        job = await asyncio.to_thread(self.ctx.store.claim_job)
        if job is None:
            return False
        await self.process(job)
        return True

    async def process(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one claimed job to completion or failure; returns the final job."""
        store, params = self.ctx.store, job["params"]
        seeds: list[int] = list(params["seeds"])
        done = {t["variation"] for t in job.get("tracks", [])}
        todo = [i for i in range(len(seeds)) if i not in done]
        if self.ctx.gateway is None:
            outcomes: list[tuple[str | None, str | None]] = [(None, "no generation gateway is configured")] * len(todo)
        else:
            outcomes = await asyncio.gather(*(self._variation(job, i, seeds[i]) for i in todo))
        produced = len(done) + sum(1 for track_id, _ in outcomes if track_id)
        errors = sorted({err for _, err in outcomes if err})
        if produced == 0:
            final = await asyncio.to_thread(store.fail_job, job["id"], "; ".join(errors) or "no track was produced")
            self.failed += 1
        else:
            missing = len(seeds) - produced
            refund = missing * variation_cost(duration_seconds=float(params["duration_seconds"]))
            error = f"{missing} of {len(seeds)} variations failed: {'; '.join(errors)}" if missing else None
            final = await asyncio.to_thread(store.finish_job, job["id"], refund=refund, error=error)
            self.completed += 1
        log.info("job %s %s: %d/%d tracks", job["id"], final["status"], produced, len(seeds))
        await asyncio.to_thread(self._enqueue_webhook, final)
        return final

    async def _variation(self, job: dict[str, Any], index: int, seed: int) -> tuple[str | None, str | None]:
        """``(track_id, None)`` or ``(None, reason)`` for one variation."""
        request = scoring_request(job["params"], seed=seed)
        settings = self.ctx.settings
        try:
            candidates = await self.ctx.gateway.generate(
                request, num_candidates=settings.num_candidates, timeout=settings.job_timeout_s)
        except Exception as exc:  # a gateway failure fails this variation, never the worker
            log.error("job %s variation %d: gateway error %s: %s", job["id"], index, type(exc).__name__, exc)
            return None, f"generation failed: {type(exc).__name__}: {exc}"
        usable = [c for c in candidates if getattr(c, "audio_bytes", None)]
        if not usable:
            return None, "no miner delivered a usable clip"
        best = max(usable, key=lambda c: (float(c.breakdown.final_score), -int(c.uid)))
        challenge = request.to_dict()
        challenge["challenge_id"] = getattr(best, "challenge_id", "") or ""
        challenge["seed"] = getattr(best, "seed", None) if getattr(best, "seed", None) is not None else seed
        try:
            track_id = await asyncio.to_thread(
                self.ctx.store.record_scored_clip, round_id=None, challenge=challenge, uid=best.uid,
                hotkey=best.hotkey, audio_bytes=best.audio_bytes, audio_format=best.audio_format,
                breakdown=best.breakdown, final_score=float(best.breakdown.final_score), is_organic=True,
                rtt_seconds=best.rtt_seconds, model_id=best.model_id, job_id=job["id"], variation=index,
            )
        except Exception as exc:
            log.error("job %s variation %d: storing the clip failed: %s: %s", job["id"], index, type(exc).__name__, exc)
            return None, f"storing the track failed: {exc}"
        return track_id, None

    def _enqueue_webhook(self, job: dict[str, Any]) -> None:
        if not job.get("webhook_url"):
            return
        payload = json.dumps(job_status(job), separators=(",", ":"), sort_keys=True)
        self.ctx.store.enqueue_webhook(job_id=job["id"], account_id=job["account_id"], url=job["webhook_url"],
                                       payload=payload)
        self.ctx.wake_webhooks.set()
