"""Miner self-check: render one clip per available backend and measure what came out.

For each backend (procedural always; MusicGen and ACE-Step only when their model is on this
machine) the check
builds the backend exactly as the miner would, renders one request, and measures the clip's
tempo, key and duration with the scoring package's per-clip features, so an operator sees
requested and measured values side by side before going live. A backend that cannot run here
is reported as skipped with the reason; one that raises is reported as failed.
"""

import importlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scoring.music_theory import Key, key_relation
from tuneforge.generation.base import (
    BACKENDS,
    BackendUnavailable,
    GenerationBackend,
    GenerationSettings,
    build_backend,
)
from tuneforge.spec import MusicSpec

__all__ = [
    "BACKEND_NAMES",
    "Measurement",
    "SelfCheckRow",
    "musicgen_model_present",
    "measure_clip",
    "check_backend",
    "run_self_check",
    "format_table",
]

logger = logging.getLogger(__name__)

BACKEND_NAMES = BACKENDS
#: Tempo agreement tolerance (fraction); octave errors (x2, x0.5) are reported as such.
TEMPO_TOLERANCE = 0.04


@dataclass(frozen=True)
class Measurement:
    """What the scoring features read from a clip (``None`` where they could not)."""

    tempo_bpm: float | None
    key: Key | None
    duration_seconds: float
    note: str = ""  # why something is missing


@dataclass(frozen=True)
class SelfCheckRow:
    """One backend's outcome: status ``ok`` | ``skipped`` | ``failed``."""

    backend: str
    status: str
    reason: str
    requested: MusicSpec
    model_id: str | None = None
    generation_time_s: float | None = None
    measured: Measurement | None = None


def musicgen_model_present(model: str) -> tuple[bool, str]:
    """Whether MusicGen ``model`` (a local directory or a hub id) is on this machine, and where or why not.

    Looks only at the disk (the directory, then the Hugging Face cache); never downloads.
    """
    if os.path.isdir(model):
        if os.path.isfile(os.path.join(model, "config.json")):
            return True, model
        return False, f"{model} has no config.json"
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False, "huggingface_hub is not installed"
    cached = try_to_load_from_cache(repo_id=model, filename="config.json")
    if isinstance(cached, str):
        return True, os.path.dirname(cached)
    return False, f"{model} is not in the local Hugging Face cache (run scripts/download_models.sh)"


def measure_clip(*, samples: Any, sample_rate: int) -> Measurement:
    """Tempo, key and duration of ``samples`` (float32 ``(channels, frames)``) via ``scoring.features``."""
    duration = float(samples.shape[-1]) / float(sample_rate)
    try:
        features_module = importlib.import_module("scoring.features")
    except ImportError as exc:
        return Measurement(None, None, duration, note=f"scoring.features unavailable ({exc})")
    features = features_module.Features.from_audio(samples=samples, sample_rate=int(sample_rate))
    tempo = float(features.tempo_bpm)
    return Measurement(
        tempo_bpm=tempo if tempo > 0 else None,  # the beat tracker reports 0.0 when it found no beat
        key=features.key,
        duration_seconds=float(features.duration_seconds),
        note="" if tempo > 0 else "no beat found",
    )


def check_backend(
    name: str,
    settings: GenerationSettings,
    spec: MusicSpec,
    *,
    builder: Callable[[GenerationSettings], GenerationBackend] | None = None,
) -> SelfCheckRow:
    """Build backend ``name`` like the miner does (``builder`` defaults to ``build_backend``), render ``spec`` once, measure."""
    backend_settings = GenerationSettings(
        backend=name,
        model=settings.model,
        device=settings.device,
        precision=settings.precision,
        sample_rate=settings.sample_rate,
        soundfont=settings.soundfont,
        max_batch=settings.max_batch,
        max_vram_gb=settings.max_vram_gb,
        extra=dict(settings.extra),
    )
    if name == "musicgen":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a self-check never downloads
        present, where = musicgen_model_present(backend_settings.model_name())
        if not present:
            return SelfCheckRow(name, "skipped", where, spec)
    if name == "ace_step":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from tuneforge.generation.ace_step_loading import resolve_ace_step_dir

        try:
            resolve_ace_step_dir(backend_settings.model_name())  # looks at the disk only
        except BackendUnavailable as exc:
            return SelfCheckRow(name, "skipped", str(exc), spec)
    try:
        backend = (builder or build_backend)(backend_settings)
    except BackendUnavailable as exc:
        return SelfCheckRow(name, "skipped", str(exc), spec)
    except ImportError as exc:
        return SelfCheckRow(name, "skipped", f"backend not installed ({exc})", spec)
    started = time.perf_counter()
    try:
        audio = backend.generate(spec)
    except Exception as exc:  # reported in the table and by the exit status, never hidden
        logger.exception("self-check generation with %s failed", name)
        return SelfCheckRow(name, "failed", f"{type(exc).__name__}: {exc}", spec, model_id=backend.model_id)
    elapsed = time.perf_counter() - started
    measured = measure_clip(samples=audio.samples, sample_rate=audio.sample_rate)
    return SelfCheckRow(
        name, "ok", measured.note, spec, model_id=audio.model_id, generation_time_s=elapsed, measured=measured
    )


def run_self_check(
    settings: GenerationSettings,
    spec: MusicSpec,
    *,
    backends: Sequence[str] = BACKEND_NAMES,
    builder: Callable[[GenerationSettings], GenerationBackend] | None = None,
) -> list[SelfCheckRow]:
    """One :class:`SelfCheckRow` per name in ``backends``, in order."""
    return [check_backend(name, settings, spec, builder=builder) for name in backends]


def _tempo_verdict(requested: float, measured: float | None) -> str:
    if measured is None:
        return "n/a"
    for factor, label in ((1.0, "ok"), (2.0, "ok (double-time)"), (0.5, "ok (half-time)")):
        if abs(measured - requested * factor) <= TEMPO_TOLERANCE * requested * factor:
            return label
    return "off"


def _key_verdict(requested: Key, measured: Key | None) -> str:
    return "n/a" if measured is None else key_relation(requested, measured)


def format_table(rows: Sequence[SelfCheckRow]) -> str:
    """A plain-text table: requested vs measured tempo, key and duration per backend."""
    header = ("backend", "status", "time s", "tempo req/meas", "key req/meas", "length req/meas s", "note")
    lines = [header]
    for row in rows:
        spec = row.requested
        m = row.measured
        if m is None:
            note = "see below" if row.status == "skipped" else row.reason
            lines.append((row.backend, row.status, "-", "-", "-", "-", note))
            continue
        tempo = "n/a" if m.tempo_bpm is None else f"{m.tempo_bpm:.1f}"
        key = "n/a" if m.key is None else m.key.name
        lines.append(
            (
                row.backend,
                row.status,
                f"{row.generation_time_s:.2f}",
                f"{spec.tempo_bpm:g} / {tempo} ({_tempo_verdict(spec.tempo_bpm, m.tempo_bpm)})",
                f"{spec.key.name} / {key} ({_key_verdict(spec.key, m.key)})",
                f"{spec.duration_seconds:g} / {m.duration_seconds:.3f}",
                row.reason or (row.model_id or ""),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(str(cell).ljust(widths[j]) for j, cell in enumerate(line)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
