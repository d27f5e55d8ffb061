"""The generation engine: bounded queue, per-device workers, deadlines and the speed estimate.

A fake clock drives deadlines and a gated sine backend controls when generations finish, so
every case is decided by event order, not by how fast this machine is.
"""

import threading
import time

import numpy as np
import pytest
from test_miner_doubles import SineBackend

from tuneforge.generation.base import GeneratedAudio
from tuneforge.miner.engine import (
    EngineStopped,
    GenerationEngine,
    GenerationFailed,
    QueueFull,
    SpeedEstimate,
    WouldFinishLate,
)
from tuneforge.spec import MusicSpec


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _spec(seconds: float = 1.0, seed: int = 0) -> MusicSpec:
    return MusicSpec(duration_seconds=seconds, seed=seed)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def gated():
    backend = SineBackend()
    backend.gate = threading.Event()
    yield backend
    backend.gate.set()


def _engine(backends, clock, queue_size=1):
    engine = GenerationEngine(backends if isinstance(backends, list) else [backends], queue_size=queue_size, clock=clock)
    engine.start()
    return engine


def test_generates_exact_length(clock):
    engine = _engine(SineBackend(), clock)
    try:
        result = engine.submit(_spec(2.25), deadline=clock() + 60).result(timeout=10)
    finally:
        engine.stop()
    assert result.audio.samples.shape == (2, int(2.25 * 16_000))
    assert result.audio.samples.dtype == np.float32
    assert result.device == "cpu"
    assert engine.stats.snapshot().generations_completed == 1


def test_full_queue_refuses_immediately(clock, gated):
    engine = _engine(gated, clock, queue_size=1)
    try:
        running = engine.submit(_spec(), deadline=clock() + 60)
        assert gated.started.wait(5)
        queued = engine.submit(_spec(), deadline=clock() + 60)
        assert not engine.is_accepting
        with pytest.raises(QueueFull):
            engine.submit(_spec(), deadline=clock() + 60)
        gated.gate.set()
        assert running.result(timeout=10).audio is not None
        assert queued.result(timeout=10).audio is not None
        assert engine.is_accepting
    finally:
        engine.stop()


def test_job_whose_deadline_passed_in_queue_is_dropped_unrun(clock, gated):
    engine = _engine(gated, clock)
    try:
        engine.submit(_spec(), deadline=clock() + 60)
        assert gated.started.wait(5)
        late = engine.submit(_spec(seed=9), deadline=clock() + 5)
        clock.t += 10  # the deadline passes while the device is busy
        gated.gate.set()
        with pytest.raises(WouldFinishLate, match="deadline passed"):
            late.result(timeout=10)
    finally:
        engine.stop()
    assert [s.seed for s in gated.calls] == [0]


def test_expected_time_over_budget_is_refused_at_submit(clock):
    engine = _engine(SineBackend(), clock)
    try:
        engine.speed(0).observe(audio_seconds=1.0, elapsed_s=2.0)  # 2 s per second of audio
        with pytest.raises(WouldFinishLate, match="expected to take 10.00 s after 0.00 s in the queue"):
            engine.submit(_spec(5.0), deadline=clock() + 8)
        assert engine.submit(_spec(5.0), deadline=clock() + 12).result(timeout=10).audio is not None
    finally:
        engine.stop()


def test_expected_time_over_remaining_budget_is_skipped_at_pickup(clock, gated):
    engine = _engine(gated, clock)
    try:
        engine.speed(0).observe(audio_seconds=1.0, elapsed_s=2.0)
        engine.submit(_spec(1.0), deadline=clock() + 60)
        assert gated.started.wait(5)
        job = engine.submit(_spec(5.0, seed=5), deadline=clock() + 12)  # 10 s expected, 12 s left: accepted
        clock.t += 5  # now only 7 s are left when the device frees up
        gated.gate.set()
        with pytest.raises(WouldFinishLate, match="expected to take"):
            job.result(timeout=10)
    finally:
        engine.stop()
    assert [s.seed for s in gated.calls] == [0]


def test_abandoned_job_is_not_generated(clock, gated):
    engine = _engine(gated, clock)
    try:
        first = engine.submit(_spec(), deadline=clock() + 60)
        assert gated.started.wait(5)
        abandoned = engine.submit(_spec(seed=3), deadline=clock() + 60)
        assert abandoned.cancel()
        gated.gate.set()
        first.result(timeout=10)
        follow_up = engine.submit(_spec(seed=4), deadline=clock() + 60)
        follow_up.result(timeout=10)
    finally:
        engine.stop()
    assert [s.seed for s in gated.calls] == [0, 4]


def test_backend_failure_is_counted_and_reported(clock):
    backend = SineBackend()
    backend.fail = True
    engine = _engine(backend, clock)
    try:
        with pytest.raises(GenerationFailed, match="synth exploded"):
            engine.submit(_spec(), deadline=clock() + 60).result(timeout=10)
    finally:
        engine.stop()
    snap = engine.stats.snapshot()
    assert snap.errors_last_hour == 1
    assert snap.generations_completed == 0


class _BadLengthBackend(SineBackend):
    def __init__(self, frames_delta: int = 0, poison: bool = False) -> None:
        super().__init__()
        self.frames_delta = frames_delta
        self.poison = poison

    def generate(self, spec):
        audio = super().generate(spec)
        samples = audio.samples
        if self.frames_delta > 0:
            samples = np.pad(samples, ((0, 0), (0, self.frames_delta)))
        elif self.frames_delta < 0:
            samples = samples[:, : self.frames_delta]
        if self.poison:
            samples = samples.copy()
            samples[0, 10] = np.nan
        return GeneratedAudio(samples=samples, sample_rate=audio.sample_rate, model_id=audio.model_id)


@pytest.mark.parametrize("delta", [-7, 11])
def test_output_length_is_made_exact(clock, delta):
    engine = _engine(_BadLengthBackend(frames_delta=delta), clock)
    try:
        result = engine.submit(_spec(1.5), deadline=clock() + 60).result(timeout=10)
    finally:
        engine.stop()
    assert result.audio.samples.shape[1] == int(1.5 * 16_000)


def test_non_finite_output_is_a_failure(clock):
    engine = _engine(_BadLengthBackend(poison=True), clock)
    try:
        with pytest.raises(GenerationFailed, match="non-finite"):
            engine.submit(_spec(), deadline=clock() + 60).result(timeout=10)
    finally:
        engine.stop()
    assert engine.stats.snapshot().errors_last_hour == 1


async def test_generate_gives_up_at_the_deadline(gated):
    import time

    engine = GenerationEngine([gated], queue_size=1)
    engine.start()
    try:
        with pytest.raises(WouldFinishLate, match="did not finish before the deadline"):
            await engine.generate(_spec(), deadline=time.monotonic() + 0.2)
    finally:
        gated.gate.set()
        engine.stop()


def test_stop_fails_queued_jobs_and_refuses_new_ones(clock, gated):
    engine = _engine(gated, clock)
    engine.submit(_spec(), deadline=clock() + 60)
    assert gated.started.wait(5)
    queued = engine.submit(_spec(seed=2), deadline=clock() + 60)
    gated.gate.set()
    engine.stop()
    with pytest.raises(EngineStopped):
        engine.submit(_spec(), deadline=clock() + 60)
    # The queued job either ran before stop drained the queue or was failed by it; never lost.
    outcome = queued.exception(timeout=5)
    assert outcome is None or isinstance(outcome, EngineStopped)


def test_one_worker_per_device_runs_concurrently(clock):
    gate = threading.Event()
    backends = [SineBackend(device="cuda:0"), SineBackend(device="cuda:1")]
    for b in backends:
        b.gate = gate
    engine = _engine(backends, clock, queue_size=1)
    try:
        futures = [engine.submit(_spec(seed=i), deadline=clock() + 60) for i in range(2)]
        # Both devices are busy at once: neither job waits for the other.
        assert all(b.started.wait(5) for b in backends)
        assert engine.worker_count == 2
        gate.set()
        devices = sorted(f.result(timeout=10).device for f in futures)
    finally:
        gate.set()
        engine.stop()
    assert devices == ["cuda:0", "cuda:1"]


def test_warm_up_seeds_the_speed_estimate(clock):
    backend = SineBackend()
    engine = GenerationEngine([backend], queue_size=1, clock=clock)
    assert engine.speed(0).seconds_per_audio_second is None
    engine.warm_up(_spec(1.0))
    assert engine.speed(0).seconds_per_audio_second == 0.0  # the fake clock did not move
    assert len(backend.calls) == 1


def test_warm_up_failure_is_raised():
    backend = SineBackend()
    backend.fail = True
    engine = GenerationEngine([backend], queue_size=1)
    with pytest.raises(GenerationFailed, match="warm-up on cpu failed"):
        engine.warm_up(_spec(1.0))


def test_speed_estimate_is_a_moving_average():
    speed = SpeedEstimate(alpha=0.5)
    assert speed.expected_seconds(10.0) == 0.0
    speed.observe(audio_seconds=2.0, elapsed_s=4.0)  # 2.0 s/s
    assert speed.expected_seconds(3.0) == pytest.approx(6.0)
    speed.observe(audio_seconds=1.0, elapsed_s=1.0)  # 1.0 s/s -> average 1.5
    assert speed.seconds_per_audio_second == pytest.approx(1.5)


@pytest.mark.parametrize("kwargs", [{"queue_size": 0}, {"queue_size": -1}])
def test_bad_engine_arguments(kwargs):
    with pytest.raises(ValueError):
        GenerationEngine([SineBackend()], **kwargs)
    with pytest.raises(ValueError):
        GenerationEngine([], queue_size=1)


def test_queued_work_ahead_counts_against_the_budget(clock, gated):
    engine = _engine(gated, clock, queue_size=3)
    try:
        engine.speed(0).observe(audio_seconds=1.0, elapsed_s=1.0)  # 1 s per second of audio
        engine.submit(_spec(1.0), deadline=clock() + 60)
        assert gated.started.wait(5)
        engine.submit(_spec(4.0, seed=1), deadline=clock() + 60)  # 4 s of work now waits
        assert engine.expected_wait_seconds() == pytest.approx(4.0)
        with pytest.raises(WouldFinishLate, match="after 4.00 s in the queue"):
            engine.submit(_spec(2.0, seed=2), deadline=clock() + 5)  # 4 + 2 > 5
        assert engine.submit(_spec(2.0, seed=3), deadline=clock() + 7).cancel()
        gated.gate.set()
    finally:
        engine.stop()


class PacedBackend(SineBackend):
    """A backend whose speed the test sets: each call advances the fake clock by
    ``seconds_per_audio_second`` × the requested duration (no real waiting)."""

    def __init__(self, clock, seconds_per_audio_second: float) -> None:
        super().__init__()
        self.clock = clock
        self.seconds_per_audio_second = seconds_per_audio_second

    def generate(self, spec):
        self.clock.t += self.seconds_per_audio_second * spec.duration_seconds
        return super().generate(spec)


def test_first_real_generation_replaces_a_slow_warm_up(clock):
    backend = PacedBackend(clock, 2.05)  # warm-up measured while the machine was loaded
    engine = GenerationEngine([backend], queue_size=1, clock=clock)
    engine.warm_up(_spec(1.0))
    assert engine.speed(0).seconds_per_audio_second == pytest.approx(2.05) and engine.speed(0).provisional
    engine.start()
    try:
        backend.seconds_per_audio_second = 0.25  # the load is gone
        engine.submit(_spec(4.0), deadline=clock() + 60).result(timeout=10)
        assert engine.speed(0).seconds_per_audio_second == pytest.approx(0.25)  # replaced, not averaged
        assert not engine.speed(0).provisional
        engine.submit(_spec(27.0), deadline=clock() + 30).result(timeout=10)  # 6.75 s expected: admitted
    finally:
        engine.stop()


def test_estimate_keeps_learning_and_a_slow_outlier_decays(clock):
    backend = PacedBackend(clock, 0.3)
    engine = _engine(backend, clock)
    rates = []
    try:
        for rate in (0.3, 3.0, 0.3, 0.3, 0.3, 0.3):
            backend.seconds_per_audio_second = rate
            engine.submit(_spec(2.0), deadline=clock() + 600).result(timeout=10)
            rates.append(engine.speed(0).seconds_per_audio_second)
    finally:
        engine.stop()
    assert rates[0] == pytest.approx(0.3)
    assert rates[1] == pytest.approx(0.3 * 3.0 + 0.7 * 0.3)  # EMA, alpha 0.3
    excess = [r - 0.3 for r in rates[1:]]
    assert all(b == pytest.approx(0.7 * a) for a, b in zip(excess, excess[1:]))  # decays by 0.7 per generation
    assert engine.speed(0).generations == 6


def test_a_miner_that_refuses_everything_after_a_slow_warm_up_recovers(clock, caplog):
    """Issue 8: a warm-up under load (2.05 s per audio second) made a miner refuse every request
    ("27 s clip expected to take 55.35 s") and it never measured again."""
    import logging

    backend = PacedBackend(clock, 2.05)
    engine = GenerationEngine([backend], queue_size=1, clock=clock, trial_after=3)
    engine.warm_up(_spec(1.0))
    engine.start()
    backend.seconds_per_audio_second = 0.3
    try:
        with caplog.at_level(logging.INFO, logger="tuneforge.miner.engine"):
            for _ in range(3):
                with pytest.raises(WouldFinishLate, match=r"expected to take 55\.35 s .*at 2\.05 s per audio second \(warm-up\)"):
                    engine.submit(_spec(27.0), deadline=clock() + 30)
        refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused:")]
        assert len(refusals) == 3 and all("2.05 s per audio second (warm-up)" in m for m in refusals)
        assert "3 refused in a row while idle" in refusals[-1]
        trial = engine.submit(_spec(27.0), deadline=clock() + 30)  # the 4th, while idle: run as a trial
        assert trial.result(timeout=10).audio.samples.shape[1] == 27 * 16_000
        assert engine.trials == 1
        assert engine.speed(0).seconds_per_audio_second == pytest.approx(0.3)
        for seed in range(3):  # learnt: served from now on without further trials
            engine.submit(_spec(27.0, seed=seed), deadline=clock() + 30).result(timeout=10)
        assert engine.trials == 1 and engine.speed(0).generations == 4
    finally:
        engine.stop()


def test_a_truly_slow_device_stays_refusing_after_its_trial(clock):
    backend = PacedBackend(clock, 2.05)
    engine = GenerationEngine([backend], queue_size=1, clock=clock, trial_after=2)
    engine.warm_up(_spec(1.0))
    engine.start()
    try:
        for _ in range(2):
            with pytest.raises(WouldFinishLate):
                engine.submit(_spec(27.0), deadline=clock() + 30)
        engine.submit(_spec(27.0), deadline=clock() + 30).result(timeout=10)  # trial: late, but measured
        assert engine.speed(0).seconds_per_audio_second == pytest.approx(2.05) and not engine.speed(0).provisional
        for _ in range(2):  # the counter starts again: a trial only every `trial_after` refusals
            with pytest.raises(WouldFinishLate, match=r"average of 1 generation\)"):
                engine.submit(_spec(27.0), deadline=clock() + 30)
        assert engine.trials == 1
    finally:
        engine.stop()


def test_refusals_while_busy_do_not_earn_a_trial(clock, gated):
    engine = GenerationEngine([gated], queue_size=2, clock=clock, trial_after=1)
    engine.speed(0).observe(audio_seconds=1.0, elapsed_s=2.0)
    engine.start()
    try:
        engine.submit(_spec(1.0), deadline=clock() + 60)
        assert gated.started.wait(5)
        for _ in range(3):  # the device is busy: a refusal is fair and no reason to re-measure
            with pytest.raises(WouldFinishLate):
                engine.submit(_spec(10.0), deadline=clock() + 5)
        assert engine.trials == 0
    finally:
        gated.gate.set()
        engine.stop()


def test_speed_estimate_describes_itself():
    speed = SpeedEstimate()
    assert speed.describe() == "no estimate yet"
    speed.observe(audio_seconds=1.0, elapsed_s=2.05, warmup=True)
    assert speed.describe() == "2.05 s per audio second (warm-up)"
    speed.observe(audio_seconds=2.0, elapsed_s=1.0)
    assert speed.describe() == "0.50 s per audio second (average of 1 generation)"
    speed.observe(audio_seconds=1.0, elapsed_s=9.0, warmup=True)  # a later warm-up never moves it
    assert speed.seconds_per_audio_second == pytest.approx(0.5)
    with pytest.raises(ValueError):
        SpeedEstimate(alpha=0.0)


# ---------------------------------------------------------------------------------------------
# batching


class BatchingSine(SineBackend):
    """A sine backend that batches up to ``max_batch`` requests of equal duration; records each call."""

    def __init__(self, *, max_batch: int = 3, **kw) -> None:
        super().__init__(**kw)
        self.max_batch = max_batch
        self.batches: list[list[MusicSpec]] = []
        self.short_by = 0  # return this many fewer clips than asked (a broken backend)

    def batch_key(self, spec: MusicSpec) -> float:
        return spec.duration_seconds

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        self.batches.append([spec])
        return super().generate(spec)

    def generate_batch(self, specs):
        self.batches.append(list(specs))
        clips = [SineBackend.generate(self, s) for s in specs]
        return clips[: len(clips) - self.short_by]


def _wait_queued(engine, n: int) -> None:
    deadline = time.monotonic() + 5
    while engine.queue_depth < n and time.monotonic() < deadline:
        time.sleep(0.005)
    assert engine.queue_depth == n


def test_waiting_jobs_with_the_same_key_share_one_call_and_the_rest_keep_their_place(clock):
    backend = BatchingSine(max_batch=3)
    backend.gate = threading.Event()
    engine = _engine(backend, clock, queue_size=8)
    try:
        first = engine.submit(_spec(1.0, seed=0), deadline=clock() + 60)
        assert backend.started.wait(5)
        later = [engine.submit(_spec(d, seed=i), deadline=clock() + 60)
                 for i, d in enumerate([2.0, 1.0, 1.0, 2.0, 1.0, 1.0], start=1)]
        _wait_queued(engine, 6)
        backend.gate.set()
        results = [f.result(timeout=10) for f in [first, *later]]
    finally:
        backend.gate.set()
        engine.stop()
    seeds = [[s.seed for s in batch] for batch in backend.batches]
    # seed 1 (2 s) is taken first and joined by seed 4 (2 s); then seed 2 (1 s) with 3, 5 (limit 3); then 6.
    assert seeds == [[0], [1, 4], [2, 3, 5], [6]]
    assert [r.batch_size for r in results] == [1, 2, 3, 3, 2, 3, 1]
    assert all(r.audio.samples.shape[1] == int(round(s * 16_000))
               for r, s in zip(results, [1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0], strict=True))
    assert engine.stats.snapshot().generations_completed == 7


def test_a_backend_without_batching_is_called_one_job_at_a_time(clock, gated):
    engine = _engine(gated, clock, queue_size=4)
    try:
        engine.submit(_spec(seed=0), deadline=clock() + 60)
        assert gated.started.wait(5)
        futures = [engine.submit(_spec(seed=i), deadline=clock() + 60) for i in (1, 2, 3)]
        gated.gate.set()
        assert [f.result(timeout=10).batch_size for f in futures] == [1, 1, 1]
    finally:
        gated.gate.set()
        engine.stop()
    assert [s.seed for s in gated.calls] == [0, 1, 2, 3]


def test_a_batch_mate_that_would_finish_late_is_dropped_and_the_rest_run(clock):
    backend = BatchingSine(max_batch=4)
    backend.gate = threading.Event()
    engine = _engine(backend, clock, queue_size=4)
    try:
        engine.speed(0).observe(audio_seconds=1.0, elapsed_s=2.0)  # 2 s per audio second
        engine.submit(_spec(1.0, seed=0), deadline=clock() + 60)
        assert backend.started.wait(5)
        keep = engine.submit(_spec(1.0, seed=1), deadline=clock() + 60)
        late = engine.submit(_spec(1.0, seed=2), deadline=clock() + 30)
        _wait_queued(engine, 2)
        clock.t += 29.0  # 1 s left for `late`; a 1 s clip is expected to take >= 2 s
        backend.gate.set()
        assert keep.result(timeout=10).batch_size == 1
        with pytest.raises(WouldFinishLate, match=r"expected to take .* 1\.00 s left"):
            late.result(timeout=10)
    finally:
        backend.gate.set()
        engine.stop()


def test_a_batch_with_the_wrong_number_of_clips_fails_every_job_in_it(clock):
    backend = BatchingSine(max_batch=2)
    backend.gate = threading.Event()
    engine = _engine(backend, clock, queue_size=4)
    try:
        engine.submit(_spec(1.0, seed=0), deadline=clock() + 60)
        assert backend.started.wait(5)
        backend.short_by = 1
        pair = [engine.submit(_spec(1.0, seed=i), deadline=clock() + 60) for i in (1, 2)]
        _wait_queued(engine, 2)
        backend.gate.set()
        for f in pair:
            with pytest.raises(GenerationFailed, match="1 clips for a batch of 2"):
                f.result(timeout=10)
    finally:
        backend.gate.set()
        engine.stop()
    assert engine.stats.snapshot().errors_last_hour == 2


def test_warm_up_of_a_batching_backend_renders_a_full_batch(clock):
    backend = BatchingSine(max_batch=3)
    engine = GenerationEngine([backend], queue_size=1, clock=clock)
    engine.warm_up(_spec(1.0, seed=10))
    assert [[s.seed for s in b] for b in backend.batches] == [[10], [10, 11, 12]]
    assert engine.speed(0).provisional
