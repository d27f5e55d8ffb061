"""Generation jobs: claimed from the durable queue in the store, sent through the validator's
organic gateway, stored.

A :class:`JobRunner` claims the oldest pending job under a lease (``--api.job_lease_s``), asks the
gateway for each variation (its own seed) in parallel and keeps, per variation, the candidate with
the highest score of its own. While it works it renews the lease every third of its length; a
runner that dies (killed -9, its host gone) stops renewing, and when the lease runs out any runner
puts the job back in the queue (or fails and refunds it after ``job_max_attempts`` claims). Only the
lease holder may store a job's tracks or finish it, so a job completes once even when a worker that
lost its lease (hung past it) wakes up again: its writes are refused and it drops the job. A
retried job keeps variations already stored. Tracks are stored as organic clips (they never move
the leaderboard). A job with no track at all fails and is refunded in full; a job missing some
variations completes with the rest and is refunded for the missing ones.

Runners in any number of processes (the validator's, or several validators over one PostgreSQL
database) share the queue; a new job wakes them through ``ctx.wake_jobs`` (Redis across processes),
else they find it at their next poll.
"""

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from typing import Any

from scoring.request import ScoringRequest
from tuneforge.api.context import ApiContext
from tuneforge.api.credits import variation_cost
from tuneforge.api.views import job_status
from tuneforge.store import JobLeaseLost
from tuneforge.validator.loops import MORE, Loop

__all__ = ["JobRunner", "scoring_request"]

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
#: Seconds one job may take before its worker gives up on it (its lease then runs out and it is retried).
JOB_DEADLINE_S = 900.0


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
    """Processes generation jobs from the store's queue through one gateway.

    Each worker task (:meth:`run`) claims under its own lease owner name,
    ``<host>:<pid>:<random>/<task name>``, so two tasks never mistake each other's jobs for theirs.
    """

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.worker_id = f"{socket.gethostname()[:24]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.completed = 0
        self.failed = 0
        self.lost = 0  # jobs dropped because this runner's lease on them ran out
        self.loops: dict[str, Loop] = {}  # one per worker task, by name (their status: steps, failures)
        self._expired_at = 0.0

    def recover(self) -> tuple[list[str], list[str]]:
        """Requeue or fail (with refund and webhook) jobs whose worker's lease ran out; log what happened."""
        requeued, failed = self.ctx.store.expire_leases(max_attempts=self.ctx.settings.job_max_attempts)
        self._expired_at = time.monotonic()
        if requeued or failed:
            log.warning("jobs whose worker stopped: %d requeued, %d failed and refunded", len(requeued), len(failed))
            self.ctx.wake_jobs.set()
        for job_id in failed:
            self._enqueue_webhook(self.ctx.store.get_job(job_id))
        return requeued, failed

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, *, name: str = "jobs") -> None:
        """Process jobs until ``stop`` is set, one per step of a :class:`~tuneforge.validator.loops.Loop`
        named ``name`` (in ``self.loops``); when idle, waits for ``wake`` or a poll interval."""
        worker = f"{self.worker_id}/{name}"

        async def step() -> str | None:
            return MORE if await self.process_next(worker=worker) else None

        self.loops[name] = Loop(name, step, interval_s=POLL_SECONDS, deadline_s=JOB_DEADLINE_S)
        await self.loops[name].run_forever(stop, wake=wake)

    async def process_next(self, *, worker: str | None = None) -> bool:
        """Claim and process one pending job; False when none was waiting. Leases that ran out are
        expired first (at most every quarter lease)."""
        lease_s = self.ctx.settings.job_lease_s
        if time.monotonic() - self._expired_at >= lease_s / 4:
            await asyncio.to_thread(self.recover)
        worker = worker or f"{self.worker_id}/direct"
        job = await asyncio.to_thread(self.ctx.store.claim_job, worker=worker, lease_s=lease_s)
        if job is None:
            return False
        await self.process(job, worker=worker)
        return True

    async def process(self, job: dict[str, Any], *, worker: str | None = None) -> dict[str, Any] | None:
        """Run one claimed job to completion or failure under ``worker``'s lease, renewed meanwhile;
        returns the final job, or None when the lease was lost (another worker owns the job now)."""
        worker = worker or job.get("lease_owner") or f"{self.worker_id}/direct"
        lost = asyncio.Event()
        work = asyncio.create_task(self._process(job, worker))
        beat = asyncio.create_task(self._heartbeat(job["id"], worker, work, lost))
        try:
            return await work
        except JobLeaseLost as exc:
            reason = str(exc)
        except asyncio.CancelledError:
            if not lost.is_set():
                raise  # cancelled from outside (shutdown): the lease runs out and the job is re-claimed
            reason = "the store refused to renew the lease"
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
        self.lost += 1
        log.warning("job %s dropped by %s, whose lease on it is gone: %s", job["id"], worker, reason)
        return None

    async def _heartbeat(self, job_id: str, worker: str, work: asyncio.Task, lost: asyncio.Event) -> None:
        """Renew the lease every third of it; set ``lost`` and cancel ``work`` when the store says it is gone."""
        lease_s = self.ctx.settings.job_lease_s
        while not work.done():
            await asyncio.sleep(lease_s / 3)
            try:
                held = await asyncio.to_thread(self.ctx.store.renew_lease, job_id, worker=worker, lease_s=lease_s)
            except Exception as exc:  # the database is away: keep working; the final write decides
                log.warning("renewing the lease on job %s failed: %s: %s", job_id, type(exc).__name__, exc)
                continue
            if not held:
                lost.set()
                work.cancel()
                return

    async def _process(self, job: dict[str, Any], worker: str) -> dict[str, Any]:
        store, params = self.ctx.store, job["params"]
        seeds: list[int] = list(params["seeds"])
        done = {t["variation"] for t in job.get("tracks", [])}
        todo = [i for i in range(len(seeds)) if i not in done]
        if self.ctx.gateway is None:
            outcomes: list[tuple[str | None, str | None]] = [(None, "no generation gateway is configured")] * len(todo)
        else:
            outcomes = await asyncio.gather(*(self._variation(job, i, seeds[i], worker) for i in todo))
        produced = len(done) + sum(1 for track_id, _ in outcomes if track_id)
        errors = sorted({err for _, err in outcomes if err})
        if produced == 0:
            final = await asyncio.to_thread(store.fail_job, job["id"], "; ".join(errors) or "no track was produced",
                                            worker=worker)
            self.failed += 1
        else:
            missing = len(seeds) - produced
            refund = missing * variation_cost(duration_seconds=float(params["duration_seconds"]))
            error = f"{missing} of {len(seeds)} variations failed: {'; '.join(errors)}" if missing else None
            final = await asyncio.to_thread(store.finish_job, job["id"], refund=refund, error=error, worker=worker)
            self.completed += 1
        log.info("job %s %s: %d/%d tracks", job["id"], final["status"], produced, len(seeds))
        await asyncio.to_thread(self._enqueue_webhook, final)
        return final

    async def _variation(self, job: dict[str, Any], index: int, seed: int,
                         worker: str) -> tuple[str | None, str | None]:
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
        challenge = getattr(best, "challenge", None)  # what was sent to that miner and graded
        if not challenge:  # a gateway that does not say: the request, with the ids it reported
            challenge = request.to_dict()
            challenge["challenge_id"] = getattr(best, "challenge_id", "") or ""
            challenge["seed"] = getattr(best, "seed", None) if getattr(best, "seed", None) is not None else seed
        try:
            track_id = await asyncio.to_thread(
                self.ctx.store.record_scored_clip, round_id=None, challenge=challenge, uid=best.uid,
                hotkey=best.hotkey, audio_bytes=best.audio_bytes, audio_format=best.audio_format,
                breakdown=best.breakdown, final_score=float(best.breakdown.final_score), is_organic=True,
                rtt_seconds=best.rtt_seconds, model_id=best.model_id, job_id=job["id"], variation=index,
                worker=worker,
            )
        except JobLeaseLost:
            raise  # the job is someone else's now: drop all of it
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
