"""The generation engine: one worker thread per device, a bounded queue, deadlines.

Each device has its own backend and its own worker thread, so a device renders one clip at a
time. Jobs wait in one shared bounded queue; when it is full a request is refused at once
instead of waiting for its timeout. Every job carries a deadline (a ``time.monotonic`` instant
by which generation must finish, leaving the caller time to encode and send). A backend call
cannot be interrupted, so the engine estimates instead: each device keeps a running average of
generation seconds per second of audio, and a job whose expected generation time exceeds the
time left is refused at submission, or dropped when a worker picks it up, rather than answered
late. Jobs whose deadline passed in the queue, or whose caller gave up, are dropped unrun.

The estimate keeps learning from every real generation (an exponential moving average), and the
warm-up only seeds it: the first real generation replaces a warm-up figure outright, so a
warm-up measured under load cannot linger. A miner whose estimate refuses everything would
never measure again, so after ``trial_after`` refusals in a row made while every device was
idle, the next such request is admitted as a trial and run whatever the estimate says; its
measured time corrects the estimate (a slow device simply stays slow). Every refusal says which
estimate it used.

Batching: a backend with ``max_batch > 1`` (a :class:`~tuneforge.generation.base.BatchingBackend`)
is handed, with the job its worker took, the waiting jobs whose ``batch_key`` equals that job's, in
queue order, up to ``max_batch`` together; jobs that cannot join keep their place. The speed
estimate of a batching device is per job (a batch's wall time over the longest clip in it), the
figure a deadline needs: a job that waits for a batch waits for the whole batch.
"""

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuneforge.generation.base import GeneratedAudio, GenerationBackend
from tuneforge.miner.health import MinerStats
from tuneforge.spec import MusicSpec

__all__ = [
    "GenerationEngine",
    "GenerationResult",
    "SpeedEstimate",
    "EngineRefused",
    "QueueFull",
    "WouldFinishLate",
    "EngineStopped",
    "GenerationFailed",
    "backend_max_batch",
]

logger = logging.getLogger(__name__)


class EngineRefused(RuntimeError):
    """The job was not (or will not be) generated; ``str(exc)`` says why."""


class QueueFull(EngineRefused):
    """Every device is busy and the queue is full."""


class WouldFinishLate(EngineRefused):
    """The job's deadline passed, or its expected generation time exceeds the time left."""


class EngineStopped(EngineRefused):
    """The engine is not running."""


class GenerationFailed(RuntimeError):
    """The backend raised or returned unusable audio."""


@dataclass(frozen=True)
class GenerationResult:
    """A rendered clip: ``audio.samples`` float32 ``(channels, frames)``; times in seconds.

    ``batch_size``: requests rendered in the same backend call (1 unless the backend batches);
    ``generation_time_s`` is that call's wall time.
    """

    audio: GeneratedAudio
    generation_time_s: float
    device: str
    batch_size: int = 1


class SpeedEstimate:
    """Running average of generation seconds per second of audio on one device (thread-safe).

    An exponential moving average (weight ``alpha`` on the newest observation) follows a
    device whose speed drifts (thermal throttling, another tenant) without forgetting at once.
    A warm-up observation (``warmup=True``) is provisional: the first real generation replaces
    it instead of being averaged with it.
    """

    def __init__(self, *, alpha: float = 0.3) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self._alpha = float(alpha)
        self._lock = threading.Lock()
        self._rate: float | None = None
        self._provisional = False
        self._generations = 0

    @property
    def seconds_per_audio_second(self) -> float | None:
        """None until the device completed one generation (or the warm-up)."""
        with self._lock:
            return self._rate

    @property
    def provisional(self) -> bool:
        """True while the estimate rests on the warm-up alone."""
        with self._lock:
            return self._provisional

    @property
    def generations(self) -> int:
        """Real generations observed."""
        with self._lock:
            return self._generations

    def observe(self, *, audio_seconds: float, elapsed_s: float, warmup: bool = False) -> None:
        if audio_seconds <= 0:
            return
        rate = max(0.0, elapsed_s) / audio_seconds
        with self._lock:
            if warmup:
                if self._rate is None or self._provisional:
                    self._rate, self._provisional = rate, True
                return  # a warm-up never moves an estimate learnt from real generations
            if self._rate is None or self._provisional:
                self._rate = rate
            else:
                self._rate = self._alpha * rate + (1 - self._alpha) * self._rate
            self._provisional = False
            self._generations += 1

    def describe(self) -> str:
        """The estimate in words, for logs and refusals: ``"2.05 s per audio second (warm-up)"``."""
        with self._lock:
            rate, provisional, n = self._rate, self._provisional, self._generations
        if rate is None:
            return "no estimate yet"
        source = "warm-up" if provisional else f"average of {n} generation{'s' if n != 1 else ''}"
        return f"{rate:.2f} s per audio second ({source})"

    def expected_seconds(self, audio_seconds: float) -> float:
        """Expected generation time for ``audio_seconds`` of audio; 0 before any observation."""
        rate = self.seconds_per_audio_second
        return 0.0 if rate is None else rate * audio_seconds


@dataclass
class _Job:
    spec: MusicSpec
    deadline: float  # monotonic seconds by which generation must finish
    future: concurrent.futures.Future
    trial: bool = False  # admitted against the estimate to measure the device again


_STOP = object()


class _JobQueue:
    """The FIFO the device workers share, from which a worker can also take the waiting jobs that
    can join its batch (the rest keep their order). Holds :class:`_Job` items and ``_STOP``."""

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._cond = threading.Condition()

    def put(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    put_nowait = put

    def get(self) -> Any:
        with self._cond:
            while not self._items:
                self._cond.wait()
            return self._items.popleft()

    def get_nowait(self) -> Any:
        with self._cond:
            if not self._items:
                raise queue.Empty
            return self._items.popleft()

    def qsize(self) -> int:
        with self._cond:
            return len(self._items)

    def take_matching(self, matches: Callable[["_Job"], bool], limit: int) -> list["_Job"]:
        """Remove and return, in queue order, up to ``limit`` waiting jobs for which ``matches`` is true."""
        if limit <= 0:
            return []
        with self._cond:
            taken = []
            kept: deque[Any] = deque()
            while self._items:
                item = self._items.popleft()
                if len(taken) < limit and item is not _STOP and matches(item):
                    taken.append(item)
                else:
                    kept.append(item)
            self._items = kept
            return taken


def _conform(audio: GeneratedAudio, spec: MusicSpec) -> GeneratedAudio:
    """Check a backend's output: ``(channels, frames)`` finite float32 of the exact requested length.

    A length off by a few frames is trimmed or zero-padded (with a warning) so the clip honours
    the request; non-finite samples or a wrong shape raise :class:`GenerationFailed`.
    """
    samples = np.asarray(audio.samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None, :]
    if samples.ndim != 2 or samples.shape[0] not in (1, 2):
        raise GenerationFailed(f"backend returned samples of shape {samples.shape}, expected (1|2, frames)")
    if not np.all(np.isfinite(samples)):
        raise GenerationFailed("backend returned non-finite samples")
    expected = int(round(spec.duration_seconds * audio.sample_rate))
    frames = samples.shape[1]
    if frames != expected:
        logger.warning("backend returned %d frames for %.3f s (expected %d); fixing length", frames, spec.duration_seconds, expected)
        if frames > expected:
            samples = samples[:, :expected]
        else:
            samples = np.pad(samples, ((0, 0), (0, expected - frames)))
    return GeneratedAudio(samples=np.ascontiguousarray(samples), sample_rate=int(audio.sample_rate), model_id=audio.model_id)


def backend_max_batch(backend: GenerationBackend) -> int:
    """Requests ``backend`` renders in one call: its ``max_batch`` when it batches, else 1."""
    limit = int(getattr(backend, "max_batch", 1) or 1)
    if limit > 1 and callable(getattr(backend, "generate_batch", None)) and callable(getattr(backend, "batch_key", None)):
        return limit
    return 1


class _DeviceWorker:
    """Takes jobs from the shared queue and renders them on one backend, one call at a time.

    A batching backend gets the taken job together with the waiting jobs that share its batch key.
    """

    def __init__(self, engine: "GenerationEngine", backend: GenerationBackend, speed: SpeedEstimate) -> None:
        self.engine = engine
        self.backend = backend
        self.speed = speed
        self.device = str(getattr(backend, "device", "cpu"))
        self.thread = threading.Thread(target=self._loop, name=f"generation-{self.device}", daemon=True)

    def _loop(self) -> None:
        while True:
            item = self.engine._queue.get()
            if item is _STOP:
                return
            jobs = [item, *self._batch_mates(item)]
            try:
                self._run(jobs)
            finally:
                for _ in jobs:
                    self.engine._release_slot()

    def _batch_mates(self, job: _Job) -> list[_Job]:
        """Waiting jobs that can share ``job``'s backend call (none for a backend that does not batch)."""
        limit = backend_max_batch(self.backend)
        if limit <= 1:
            return []
        key_of: Callable[[MusicSpec], Hashable] = self.backend.batch_key  # type: ignore[attr-defined]
        key = key_of(job.spec)
        return self.engine._queue.take_matching(lambda other: key_of(other.spec) == key, limit - 1)

    def _admit(self, job: _Job, expected: float) -> bool:
        """Whether ``job`` is still wanted and can finish in time; settles its future when not."""
        self.engine._dequeued(job)
        if not job.future.set_running_or_notify_cancel():
            logger.debug("dropping a job its caller abandoned")
            return False
        left = job.deadline - self.engine._clock()
        if left <= 0:
            job.future.set_exception(WouldFinishLate(f"deadline passed {-left:.2f} s before the job started"))
            return False
        if expected > left and not job.trial:
            job.future.set_exception(
                WouldFinishLate(f"{job.spec.duration_seconds:g} s clip expected to take {expected:.2f} s on {self.device} "
                                f"at {self.speed.describe()}, {left:.2f} s left")
            )
            return False
        return True

    def _run(self, jobs: list[_Job]) -> None:
        clock = self.engine._clock
        longest = max(job.spec.duration_seconds for job in jobs)
        expected = self.speed.expected_seconds(longest)
        live = [job for job in jobs if self._admit(job, expected)]
        if not live:
            return
        started = clock()
        try:
            if len(live) == 1:
                rendered = [self.backend.generate(live[0].spec)]
            else:
                rendered = list(self.backend.generate_batch([job.spec for job in live]))  # type: ignore[attr-defined]
                if len(rendered) != len(live):
                    raise GenerationFailed(f"backend returned {len(rendered)} clips for a batch of {len(live)}")
            audios = [_conform(audio, job.spec) for audio, job in zip(rendered, live, strict=True)]
        except Exception as exc:  # any backend failure becomes one counted, logged error per request
            logger.exception("generation failed on %s (batch of %d)", self.device, len(live))
            for job in live:
                self.engine.stats.record_error()
                job.future.set_exception(GenerationFailed(f"{type(exc).__name__}: {exc}"))
            return
        elapsed = clock() - started
        self.speed.observe(audio_seconds=max(job.spec.duration_seconds for job in live), elapsed_s=elapsed)
        if any(job.trial for job in live):
            logger.info("trial generation on %s: %.1f s of audio in %.2f s; estimate now %s",
                        self.device, longest, elapsed, self.speed.describe())
        if len(live) > 1:
            logger.info("batch of %d on %s: %.2f s", len(live), self.device, elapsed)
        for job, audio in zip(live, audios, strict=True):
            self.engine.stats.record_generation(elapsed_s=elapsed)
            job.future.set_result(
                GenerationResult(audio=audio, generation_time_s=elapsed, device=self.device, batch_size=len(live))
            )


class GenerationEngine:
    """Runs generation jobs on one worker thread per backend (one backend per device).

    ``queue_size`` jobs may wait behind the running ones. ``clock`` returns monotonic seconds
    (injectable for tests); deadlines passed to :meth:`submit` are on that clock.
    ``trial_after``: refusals on the estimate in a row, made while every device was idle, after
    which the next such request is run anyway to measure the device again.
    """

    def __init__(
        self,
        backends: Sequence[GenerationBackend],
        *,
        queue_size: int,
        stats: MinerStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        trial_after: int = 3,
    ) -> None:
        if not backends:
            raise ValueError("the engine needs at least one backend")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if trial_after < 1:
            raise ValueError(f"trial_after must be >= 1, got {trial_after}")
        self.trial_after = int(trial_after)
        self._refused_idle = 0  # refusals on the estimate in a row while idle
        self.trials = 0
        self._clock = clock
        # Admission is counted, not left to the queue's maxsize: a job sits in the queue for a
        # moment before an idle worker takes it, and a burst must not be refused in that moment.
        self._queue = _JobQueue()
        self.queue_size = int(queue_size)
        self.stats = stats or MinerStats(clock=clock)
        self._workers = [_DeviceWorker(self, b, SpeedEstimate()) for b in backends]
        self._capacity = len(self._workers) + self.queue_size
        self._in_flight = 0  # admitted jobs not yet finished (running + waiting)
        self._queued_audio_s = 0.0  # seconds of audio waiting for a device
        self._running = False
        self._lock = threading.Lock()

    # -- what the backends offer -----------------------------------------------------------
    @property
    def backends(self) -> list[GenerationBackend]:
        return [w.backend for w in self._workers]

    @property
    def worker_count(self) -> int:
        """Generations the engine runs at once (one per device)."""
        return len(self._workers)

    @property
    def max_duration_seconds(self) -> float:
        return float(min(b.max_duration_seconds for b in self.backends))

    @property
    def model_id(self) -> str:
        return str(self._workers[0].backend.model_id)

    def supported_genres(self) -> list[str]:
        return list(self._workers[0].backend.supported_genres())

    def speed(self, device_index: int = 0) -> SpeedEstimate:
        """The speed estimate of worker ``device_index``."""
        return self._workers[device_index].speed

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def warm_up(self, spec: MusicSpec) -> None:
        """Render ``spec`` once on every device, in the calling thread, to load caches and time it.

        A batching backend then also renders a full batch (``max_batch`` copies of ``spec`` with
        consecutive seeds): that allocates the memory serving will need, lets a backend that runs
        out of it lower its batch limit before the first request, and seeds the estimate with
        the batch's time (a job may wait for a whole batch). Call before :meth:`start`. A failure
        raises :class:`GenerationFailed`: a miner whose backend cannot render a short clip
        should not start serving.
        """
        for worker in self._workers:
            started = self._clock()
            try:
                _conform(worker.backend.generate(spec), spec)
            except Exception as exc:
                raise GenerationFailed(f"warm-up on {worker.device} failed: {type(exc).__name__}: {exc}") from exc
            elapsed = self._clock() - started
            batch = backend_max_batch(worker.backend)
            if batch > 1:
                specs = [spec.with_seed(spec.seed + i) for i in range(batch)]
                started = self._clock()
                try:
                    clips = worker.backend.generate_batch(specs)  # type: ignore[attr-defined]
                    for clip, one in zip(clips, specs, strict=True):
                        _conform(clip, one)
                except Exception as exc:
                    raise GenerationFailed(
                        f"batched warm-up ({batch}) on {worker.device} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                elapsed = max(elapsed, self._clock() - started)
                logger.info("warm-up batch of %d on %s: batch limit now %d",
                            batch, worker.device, backend_max_batch(worker.backend))
            worker.speed.observe(audio_seconds=spec.duration_seconds, elapsed_s=elapsed, warmup=True)
            logger.info("warm-up on %s: %.3f s for %.1f s of audio (%s; real generations replace it)",
                        worker.device, elapsed, spec.duration_seconds, worker.speed.describe())

    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            for worker in self._workers:
                worker.thread.start()
            self._running = True

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """Refuse new jobs, fail the queued ones, and wait up to ``timeout_s`` for running ones."""
        with self._lock:
            if not self._running:
                return
            self._running = False
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:
                continue
            self._dequeued(job)
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(EngineStopped("miner is shutting down"))
            self._release_slot()
        for _ in self._workers:
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
            if worker.thread.is_alive():
                logger.warning("generation worker on %s still busy at shutdown", worker.device)

    # -- jobs -------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a device (not counting the running ones)."""
        return self._queue.qsize()

    @property
    def in_flight(self) -> int:
        """Admitted jobs not finished yet: running plus waiting."""
        with self._lock:
            return self._in_flight

    @property
    def is_accepting(self) -> bool:
        """Whether a new job would be admitted now (running, and a device or queue slot is free)."""
        with self._lock:
            return self._running and self._in_flight < self._capacity

    def _release_slot(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _dequeued(self, job: _Job) -> None:
        with self._lock:
            self._queued_audio_s = max(0.0, self._queued_audio_s - job.spec.duration_seconds)

    def expected_wait_seconds(self) -> float:
        """Optimistic wait before a new job starts: queued audio spread over all devices at the fastest rate.

        Ignores what the running jobs still need, so it never refuses a job that could make it.
        """
        rate = min((w.speed.seconds_per_audio_second or 0.0) for w in self._workers)
        with self._lock:
            return rate * self._queued_audio_s / len(self._workers)

    def fastest_expected_seconds(self, audio_seconds: float) -> float:
        """Expected generation time on the fastest device (0 before any observation)."""
        return min(w.speed.expected_seconds(audio_seconds) for w in self._workers)

    def submit(self, spec: MusicSpec, *, deadline: float) -> concurrent.futures.Future:
        """Queue ``spec``; the future yields a :class:`GenerationResult` or raises.

        Raises at once (never blocks): :class:`EngineStopped`, :class:`WouldFinishLate` when
        even the fastest device, after the queued work ahead, is expected to miss ``deadline``,
        :class:`QueueFull`. The
        future may later raise :class:`WouldFinishLate` or :class:`GenerationFailed`.
        """
        left = deadline - self._clock()
        expected = self.fastest_expected_seconds(spec.duration_seconds)
        wait = self.expected_wait_seconds()
        trial = False
        if left <= 0:
            raise WouldFinishLate(f"deadline passed {-left:.2f} s before the request arrived")
        if wait + expected > left:
            with self._lock:
                idle = self._running and self._in_flight == 0
                if idle and self._refused_idle >= self.trial_after:
                    trial = True  # the estimate is stale or wrong: measure instead of refusing again
                else:
                    if idle:
                        self._refused_idle += 1
                    refused = self._refused_idle
            if not trial:
                message = (f"{spec.duration_seconds:g} s clip expected to take {expected:.2f} s after {wait:.2f} s "
                           f"in the queue at {self._fastest_speed().describe()}, {left:.2f} s left")
                logger.info("refused: %s (%d refused in a row while idle; after %d the next is run as a trial)",
                            message, refused, self.trial_after)
                raise WouldFinishLate(message)
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:  # stop() flips _running under this lock, so no job slips in behind it
            if not self._running:
                raise EngineStopped("generation engine is not running")
            if self._in_flight >= self._capacity:
                raise QueueFull(f"all {self.worker_count} device(s) busy and {self.queue_size} job(s) queued")
            self._in_flight += 1
            self._queued_audio_s += spec.duration_seconds
            self._refused_idle = 0
            if trial:
                self.trials += 1
            self._queue.put_nowait(_Job(spec=spec, deadline=deadline, future=future, trial=trial))
        if trial:
            logger.info("admitting a %g s clip as a trial although %s predicts %.2f s for %.2f s left: "
                        "re-measuring after %d refusals while idle", spec.duration_seconds,
                        self._fastest_speed().describe(), expected, left, self.trial_after)
        return future

    def _fastest_speed(self) -> SpeedEstimate:
        return min(self._workers, key=lambda w: w.speed.seconds_per_audio_second or 0.0).speed

    async def generate(self, spec: MusicSpec, *, deadline: float) -> GenerationResult:
        """Submit and await ``spec`` without blocking the event loop.

        Gives up at ``deadline`` (raising :class:`WouldFinishLate`); a queued job is then
        cancelled, a running one finishes in the background and its result is discarded.
        """
        future = self.submit(spec, deadline=deadline)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=max(0.0, deadline - self._clock()))
        except TimeoutError:
            raise WouldFinishLate("generation did not finish before the deadline") from None
