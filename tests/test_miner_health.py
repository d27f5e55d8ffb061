"""Health counters and resource probes."""

import pytest

from tuneforge.miner import health
from tuneforge.miner.health import MinerStats, SystemProbe


class FakeClock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


def test_counters_and_average():
    clock = FakeClock()
    stats = MinerStats(clock=clock)
    empty = stats.snapshot()
    assert empty.generations_completed == 0
    assert empty.average_generation_time_ms is None
    stats.record_generation(elapsed_s=0.1)
    stats.record_generation(elapsed_s=0.3)
    stats.record_refused_busy()
    stats.record_gave_up()
    stats.record_gave_up()
    clock.t += 12.5
    snap = stats.snapshot()
    assert snap.generations_completed == 2
    assert snap.average_generation_time_ms == pytest.approx(200.0)
    assert snap.uptime_seconds == pytest.approx(12.5)
    assert (snap.refused_busy, snap.gave_up) == (1, 2)


def test_errors_fall_out_of_the_last_hour():
    clock = FakeClock()
    stats = MinerStats(clock=clock)
    stats.record_error()
    clock.t += 1800
    stats.record_error()
    assert stats.snapshot().errors_last_hour == 2
    clock.t += 1801  # the first error is now 3601 s old
    assert stats.snapshot().errors_last_hour == 1
    clock.t += 3600
    assert stats.snapshot().errors_last_hour == 0


def test_cpu_probe_reports_gpu_fields_none():
    probe = SystemProbe(probe_gpu=False)
    usage = probe.sample()
    assert usage.gpu_utilization is None and usage.gpu_memory_used_mb is None
    assert probe.gpu_model() is None
    assert usage.memory_percent is not None and 0.0 < usage.memory_percent <= 100.0
    assert usage.cpu_percent is None or 0.0 <= usage.cpu_percent <= 100.0


def test_proc_fallback_measures_cpu_between_samples(monkeypatch):
    readings = iter([(100, 1000), (160, 1100), (160, 1100)])
    monkeypatch.setattr(health, "_read_proc_stat", lambda: next(readings))
    monkeypatch.setattr(health, "_import_optional", lambda name: None)  # as if psutil were absent
    probe = SystemProbe(probe_gpu=False)
    assert probe.cpu_percent() == pytest.approx(60.0)  # 60 busy of 100 jiffies
    assert probe.cpu_percent() is None  # no time passed: nothing to report, not a made-up 0


def test_proc_readers_parse_this_machine():
    busy_total = health._read_proc_stat()
    assert busy_total is not None and 0 <= busy_total[0] <= busy_total[1]
    assert 0.0 < health._read_proc_memory_percent() <= 100.0


def test_gpu_probe_without_torch_is_none(monkeypatch):
    monkeypatch.setattr(health, "_import_optional", lambda name: None)
    probe = SystemProbe(probe_gpu=True)
    assert probe.gpu_model() is None
    assert probe.gpu_usage() == (None, None)
