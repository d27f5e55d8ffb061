"""The warm-up workload: run every librosa kernel the scoring path uses once, on a synthetic clip.

It compiles (in the warm-up child, into the staging directory) or loads (in a process warming
itself at start) each numba kernel with the argument types real scoring passes: every analysis of
:class:`scoring.features.Features`, a weight-free ``Scorer.score`` on the same clip, and the few
librosa calls other TuneForge code makes (onset detection, time stretching). Importing this module
is cheap; the heavy imports happen inside :func:`run_warmup`.
"""

import functools
import logging
import time

__all__ = ["WARMUP_VERSION", "WARMUP_SECONDS", "WARMUP_SAMPLE_RATE", "warmup_clip", "run_warmup"]

logger = logging.getLogger(__name__)

#: Bump when the workload changes what it compiles: the cache key changes and the cache is rebuilt.
WARMUP_VERSION = 1
#: The synthetic clip: 6 s of stereo music at 32 kHz (the rate most miners deliver).
WARMUP_SECONDS = 6.0
WARMUP_SAMPLE_RATE = 32_000


def warmup_clip():
    """The warm-up clip: float32 ``(2, 192000)``, an A-minor piece with drums at 112 BPM (deterministic)."""
    from scoring.music_theory import Key
    from scoring.synth import render_piece

    return render_piece(
        key=Key(9, "minor"), tempo_bpm=112, seconds=WARMUP_SECONDS, sample_rate=WARMUP_SAMPLE_RATE, seed=7
    )


def run_warmup() -> dict[str, float]:
    """Run the workload; returns the seconds each step took. A step that raises is logged and the
    rest still run (a bug in one analysis must not leave the other kernels cold)."""
    import librosa
    import numpy as np

    from scoring import constants as C
    from scoring.features import Features
    from scoring.request import ScoringRequest
    from scoring.scorer import Scorer

    timings: dict[str, float] = {}
    clip = warmup_clip()
    features = Features(samples=clip, sample_rate=WARMUP_SAMPLE_RATE)
    names = [name for name, attr in vars(Features).items() if isinstance(attr, functools.cached_property)]

    def step(name: str, fn) -> None:
        t0 = time.monotonic()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - keep warming the other kernels; the failure is logged
            logger.warning("JIT warm-up step %s failed: %s: %s", name, type(exc).__name__, exc)
        timings[name] = time.monotonic() - t0

    for name in names:
        step(f"features.{name}", functools.partial(getattr, features, name))
    request = ScoringRequest(
        prompt="warm-up: a minor-key piece with drums",
        duration_seconds=WARMUP_SECONDS,
        tempo_bpm=112.0,
        key_signature="A minor",
        time_signature="4/4",
    )
    step(
        "scorer.score",
        lambda: Scorer(models=None).score(samples=clip, sample_rate=WARMUP_SAMPLE_RATE, request=request),
    )
    mono = np.ascontiguousarray(clip.mean(axis=0), dtype=np.float32)
    step("librosa.onset_detect", lambda: librosa.onset.onset_detect(y=mono, sr=WARMUP_SAMPLE_RATE))
    step(
        "librosa.time_stretch",
        lambda: librosa.effects.time_stretch(mono[: 2 * C.ANALYSIS_SAMPLE_RATE], rate=1.03),
    )
    return timings
