"""Test doubles for the API: an organic gateway that returns real, deterministic WAV clips.

:class:`FakeGateway` stands in for ``tuneforge.validator.organic.OrganicGateway`` in the API's
tests, its benchmark and demos without miners: each candidate is a short sine chord (a pitch
derived from the request's seed and the candidate's uid), encoded as WAV PCM16 at 16 kHz, with a
:class:`~scoring.breakdown.ScoreBreakdown` whose ``final_score`` comes from ``scores``.

``python -m tuneforge.api.testing`` (:func:`run_worker`) is a stand-in validator for the queue's
kill -9 test and benchmark: job workers on a :class:`FakeGateway`, each finished job logged.
"""

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from scoring import constants as C
from scoring.breakdown import ScoreBreakdown
from scoring.request import ScoringRequest
from tuneforge.audio.intake import encode_audio
from tuneforge.validator.organic import OrganicCandidate

__all__ = ["FakeGateway", "RecordingJobRunner", "tone_wav", "fake_breakdown", "run_worker"]

SAMPLE_RATE = 16_000


def tone_wav(*, seconds: float, frequency_hz: float, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A WAV PCM16 mono file: ``seconds`` of a sine at ``frequency_hz`` plus its fifth, amplitude 0.3."""
    t = np.arange(int(round(seconds * sample_rate)), dtype=np.float64) / sample_rate
    wave = 0.2 * np.sin(2 * np.pi * frequency_hz * t) + 0.1 * np.sin(2 * np.pi * 1.5 * frequency_hz * t)
    return encode_audio(wave.astype(np.float32), sample_rate, "wav")


def fake_breakdown(final_score: float) -> ScoreBreakdown:
    """A breakdown whose every signal and ``composite`` equal ``final_score`` (no penalties)."""
    return ScoreBreakdown(
        signals={name: final_score for name in C.SIGNAL_WEIGHTS},
        penalties={name: 1.0 for name in C.PENALTIES},
        weights=dict(C.SIGNAL_WEIGHTS), composite=final_score, final_score=final_score,
    )


class FakeGateway:
    """An organic gateway double.

    Args:
        scores: ``final_score`` of each candidate in the order returned (uid = index + 1);
            deliberately not sorted, so callers must pick the best themselves.
        fail: raise ``RuntimeError`` from ``generate`` (a broken validator).
        empty: return no candidates (no miner available).
        delay_s: seconds each call waits before answering.
    """

    def __init__(self, *, scores: Sequence[float] = (0.4, 0.8, 0.6), fail: bool = False, empty: bool = False,
                 delay_s: float = 0.0) -> None:
        self.scores = list(scores)
        self.fail = fail
        self.empty = empty
        self.delay_s = delay_s
        self.requests: list[ScoringRequest] = []

    async def generate(self, request: ScoringRequest, *, num_candidates: int = 3,
                       timeout: float | None = None) -> list[OrganicCandidate]:
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("validator is not serving")
        if self.empty:
            return []
        out = []
        seed = request.seed or 0
        for i, score in enumerate(self.scores[:num_candidates]):
            uid = i + 1
            freq = 220.0 + 10.0 * ((seed + 7 * uid) % 40)
            data = tone_wav(seconds=request.duration_seconds, frequency_hz=freq)
            out.append(OrganicCandidate(
                uid=uid, hotkey=f"5FakeMinerHotkey{uid:02d}", audio_bytes=data, audio_format="wav", samples=None,
                sample_rate=SAMPLE_RATE, model_id=f"fake-model-{uid}", breakdown=fake_breakdown(score),
                rtt_seconds=0.01 * uid, challenge_id=f"{seed:032x}"[-32:], seed=seed,
            ))
        return out


class RecordingJobRunner:
    """Builds a :class:`~tuneforge.api.jobs.JobRunner` that appends ``"<job_id> <status>\\n"`` to
    ``log_path`` (one ``write`` on an ``O_APPEND`` file) after each job it finished in the store:
    what the queue benchmark and the kill -9 test count to prove no job completed twice."""

    @staticmethod
    def create(ctx: Any, log_path: str) -> Any:
        from tuneforge.api.jobs import JobRunner

        class _Recording(JobRunner):
            async def _process(self, job: dict[str, Any], worker: str) -> dict[str, Any]:
                final = await super()._process(job, worker)
                fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, f"{final['id']} {final['status']}\n".encode())
                finally:
                    os.close(fd)
                return final

        return _Recording(ctx)


def run_worker(argv: list[str] | None = None) -> int:
    """``python -m tuneforge.api.testing --database-url URL [--redis-url URL] --log FILE``: a stand-in
    validator that works the job queue through a :class:`FakeGateway` until SIGTERM (or kill -9)."""
    import argparse
    import signal

    from tuneforge.api.backends import build_backends
    from tuneforge.api.context import ApiContext
    from tuneforge.api.settings import ApiSettings
    from tuneforge.store import Store

    parser = argparse.ArgumentParser(description=run_worker.__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--audio-dir", required=True)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--log", required=True, help="completion log (job id and final status per line)")
    parser.add_argument("--lease-s", type=float, default=2.0)
    parser.add_argument("--delay-s", type=float, default=0.2, help="seconds the fake miners take per variation")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = ApiSettings(database_url=args.database_url, audio_dir=args.audio_dir, redis_url=args.redis_url,
                           job_lease_s=args.lease_s, job_workers=args.workers, num_candidates=2)
    store = Store(settings.database_url, settings.audio_dir)
    backends = build_backends(settings, store)
    ctx = ApiContext(store=store, settings=settings, gateway=FakeGateway(scores=(0.5, 0.7), delay_s=args.delay_s),
                     wake_jobs=backends.wake_jobs, wake_webhooks=backends.wake_webhooks)
    runner = RecordingJobRunner.create(ctx, args.log)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        wake = ctx.wake_jobs.bind()
        tasks = [asyncio.create_task(r.relay(stop)) for r in backends.relays()]
        tasks += [asyncio.create_task(runner.run(stop, wake, name=f"w{i}")) for i in range(args.workers)]
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_worker())
