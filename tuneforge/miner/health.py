"""The miner's health figures: generation counters and the machine's resource use.

:class:`MinerStats` counts what the generation engine did (generations completed, their mean
time, failures in the last hour, requests given up) and is safe to update from worker threads.
:class:`SystemProbe` reads CPU and memory use through ``psutil`` when it is installed and from
``/proc`` otherwise, and GPU figures through ``torch.cuda`` only when torch imports and CUDA is
available; anything it cannot measure is reported as ``None``, never guessed.
"""

import importlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["MinerStats", "StatsSnapshot", "SystemProbe", "SystemUsage", "gpu_model_name"]

logger = logging.getLogger(__name__)

_HOUR_S = 3600.0


@dataclass(frozen=True)
class StatsSnapshot:
    """Counters at one moment. Times in milliseconds / seconds as named."""

    generations_completed: int
    average_generation_time_ms: float | None  # None until a generation completed
    errors_last_hour: int
    uptime_seconds: float
    refused_busy: int  # requests refused because the queue was full
    gave_up: int  # requests answered empty because they could not finish in time


class MinerStats:
    """Thread-safe counters fed by the generation engine and the request handlers."""

    def __init__(self, *, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._completed = 0
        self._total_generation_s = 0.0
        self._errors: deque[float] = deque()
        self._refused_busy = 0
        self._gave_up = 0

    def record_generation(self, *, elapsed_s: float) -> None:
        """A backend call finished successfully after ``elapsed_s`` seconds."""
        with self._lock:
            self._completed += 1
            self._total_generation_s += float(elapsed_s)

    def record_error(self) -> None:
        """A backend call raised or returned unusable audio."""
        with self._lock:
            self._errors.append(self._clock())

    def record_refused_busy(self) -> None:
        with self._lock:
            self._refused_busy += 1

    def record_gave_up(self) -> None:
        with self._lock:
            self._gave_up += 1

    def snapshot(self) -> StatsSnapshot:
        now = self._clock()
        with self._lock:
            while self._errors and now - self._errors[0] > _HOUR_S:
                self._errors.popleft()
            avg_ms = (1000.0 * self._total_generation_s / self._completed) if self._completed else None
            return StatsSnapshot(
                generations_completed=self._completed,
                average_generation_time_ms=avg_ms,
                errors_last_hour=len(self._errors),
                uptime_seconds=max(0.0, now - self._started),
                refused_busy=self._refused_busy,
                gave_up=self._gave_up,
            )


@dataclass(frozen=True)
class SystemUsage:
    """Resource use in percent (0-100) and MiB; ``None`` where it cannot be measured here."""

    cpu_percent: float | None
    memory_percent: float | None
    gpu_utilization: float | None
    gpu_memory_used_mb: float | None


def _read_proc_stat() -> tuple[int, int] | None:
    """(busy, total) jiffies summed over all CPUs from /proc/stat, or None where absent."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user/nice
    return total - idle, total


def _read_proc_memory_percent() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) for line in fh if line.strip()}
    except OSError:
        return None
    total = info.get("MemTotal")
    available = info.get("MemAvailable")
    if not total or available is None:
        return None
    return 100.0 * (total - available) / total


def _clamp_percent(value: float | None) -> float | None:
    return None if value is None else min(100.0, max(0.0, float(value)))


def _import_optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _cuda_module() -> Any:
    """``torch.cuda`` when torch imports and CUDA is available, else None."""
    torch = _import_optional("torch")
    if torch is None:
        return None
    try:
        return torch.cuda if torch.cuda.is_available() else None
    except RuntimeError as exc:  # a broken driver raises here
        logger.warning("CUDA unusable: %s", exc)
        return None


def gpu_model_name() -> str | None:
    """Name of CUDA device 0, or None when torch is missing or CUDA is unavailable."""
    cuda = _cuda_module()
    if cuda is None:
        return None
    return str(cuda.get_device_name(0))


class SystemProbe:
    """Samples CPU, memory and (when present) GPU use.

    CPU percent is the share of busy time across all cores since the previous sample (the first
    sample compares against the probe's construction), so a read never sleeps.
    """

    def __init__(self, *, probe_gpu: bool = True) -> None:
        """``probe_gpu=False`` skips importing torch (a miner whose backends all run on CPU)."""
        self._psutil = _import_optional("psutil")
        self._cuda = _cuda_module() if probe_gpu else None
        self._cpu_lock = threading.Lock()
        self._last_cpu = _read_proc_stat() if self._psutil is None else None
        if self._psutil is not None:
            self._psutil.cpu_percent(interval=None)  # primes psutil's own "since last call"

    @property
    def has_gpu(self) -> bool:
        return self._cuda is not None

    def gpu_model(self) -> str | None:
        """Name of CUDA device 0, or None without CUDA (or when GPU probing is off)."""
        return str(self._cuda.get_device_name(0)) if self._cuda is not None else None

    def cpu_percent(self) -> float | None:
        if self._psutil is not None:
            return _clamp_percent(self._psutil.cpu_percent(interval=None))
        with self._cpu_lock:
            now = _read_proc_stat()
            last, self._last_cpu = self._last_cpu, now
        if now is None or last is None:
            return None
        busy, total = now[0] - last[0], now[1] - last[1]
        if total <= 0:
            return None  # no time elapsed between samples: nothing to report
        return _clamp_percent(100.0 * busy / total)

    def memory_percent(self) -> float | None:
        if self._psutil is not None:
            return _clamp_percent(self._psutil.virtual_memory().percent)
        return _clamp_percent(_read_proc_memory_percent())

    def gpu_usage(self) -> tuple[float | None, float | None]:
        """(utilisation percent, memory used MiB) of CUDA device 0; (None, None) without CUDA."""
        if self._cuda is None:
            return None, None
        utilization: float | None
        try:
            utilization = _clamp_percent(self._cuda.utilization(0))
        except (RuntimeError, ModuleNotFoundError) as exc:  # needs pynvml / NVML
            logger.debug("GPU utilisation unavailable: %s", exc)
            utilization = None
        try:
            free, total = self._cuda.mem_get_info(0)
            memory_mb: float | None = max(0.0, (total - free) / (1024.0 * 1024.0))
        except RuntimeError as exc:
            logger.debug("GPU memory unavailable: %s", exc)
            memory_mb = None
        return utilization, memory_mb

    def sample(self) -> SystemUsage:
        gpu_util, gpu_mem = self.gpu_usage()
        return SystemUsage(
            cpu_percent=self.cpu_percent(),
            memory_percent=self.memory_percent(),
            gpu_utilization=gpu_util,
            gpu_memory_used_mb=gpu_mem,
        )
