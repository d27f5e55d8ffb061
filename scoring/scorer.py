"""The scorer: clips and the requests they answer in, one :class:`ScoreBreakdown` per clip out.

``score_round`` runs a round in a fixed order: build every clip's :class:`Features` (a clip
that is missing, malformed or silent is a hard zero), let the neural models embed all clips in
one batch (``models.prepare``), compute every signal with the other clips of the round in
context, take the weighted composite over the available signals, apply the penalty multipliers,
and only then add the clips to the miners' history (so a clip is never compared with itself).
"""

import logging
import math
from dataclasses import dataclass

import numpy as np

from scoring import constants as C
from scoring.breakdown import ScoreBreakdown
from scoring.composite import composite_score, effective_weights
from scoring.features import Features
from scoring.history import MinerHistory
from scoring.penalties import PENALTIES
from scoring.penalties.fingerprint import DELIVERY_EXTRA
from scoring.penalties.silence import silence_reason
from scoring.request import ScoringRequest
from scoring.signals import SIGNALS
from scoring.signals.base import RoundContext, ScoringError, SignalContext, Unavailable

__all__ = ["Scorer", "RoundEntry"]

logger = logging.getLogger(__name__)


@dataclass
class RoundEntry:
    """One miner's answer in a round. ``samples``: float ``(channels, frames)`` or ``(frames,)``,
    None when the miner delivered nothing usable (then ``error`` says why)."""

    hotkey: str
    samples: np.ndarray | None
    sample_rate: int | None
    request: ScoringRequest
    generation_seconds: float | None
    error: str | None = None


class Scorer:
    """Scores clips against requests. ``models``: a loaded neural model bundle or None
    (weight-free scoring); ``history``: the miners' recent clips, updated after each round."""

    def __init__(self, *, models=None, history: MinerHistory | None = None) -> None:
        self.models = models
        self.history = history

    def score(
        self,
        *,
        samples: np.ndarray,
        sample_rate: int,
        request: ScoringRequest,
        generation_seconds: float | None = None,
        hotkey: str | None = None,
    ) -> ScoreBreakdown:
        """Score one clip (a round of one)."""
        entry = RoundEntry(
            hotkey=hotkey or "", samples=samples, sample_rate=sample_rate,
            request=request, generation_seconds=generation_seconds,
        )
        return self.score_round([entry])[0]

    def preference_weight(self) -> float:
        if self.models is None or not hasattr(self.models, "preference_weight"):
            return 0.0
        weight = float(self.models.preference_weight())
        return min(C.PREFERENCE_WEIGHT_MAX, max(0.0, weight)) if math.isfinite(weight) else 0.0

    def score_round(self, entries: list[RoundEntry]) -> list[ScoreBreakdown]:
        """Score every entry of a round; the result is in the same order as ``entries``."""
        results: list[ScoreBreakdown | None] = [None] * len(entries)
        live: list[tuple[int, Features]] = []
        for i, entry in enumerate(entries):
            failure, features = self._intake(entry)
            if failure is not None:
                results[i] = failure
            else:
                live.append((i, features))

        if self.models is not None and live and hasattr(self.models, "prepare"):
            self.models.prepare([f for _, f in live], [entries[i].request for i, _ in live])

        keys = {i: (entries[i].hotkey or f"clip{i}") for i, _ in live}
        all_features = {keys[i]: f for i, f in live}
        pref = self.preference_weight()
        for i, features in live:
            entry = entries[i]
            others = {k: f for k, f in all_features.items() if k != keys[i]}
            ctx = SignalContext(
                features=features, request=entry.request, models=self.models, history=self.history,
                round=RoundContext(entries=others), hotkey=keys[i], generation_seconds=entry.generation_seconds,
            )
            results[i] = self._score_clip(ctx, preference_weight=pref)

        if self.history is not None:
            for i, features in live:
                if entries[i].hotkey:
                    self.history.add(entries[i].hotkey, embedding=history_embedding(features), fingerprint=features.fingerprint)
        return [r for r in results if r is not None]

    def _intake(self, entry: RoundEntry) -> tuple[ScoreBreakdown | None, Features | None]:
        if entry.samples is None or entry.sample_rate is None:
            return ScoreBreakdown.failed(entry.error or "no audio delivered"), None
        try:
            features = Features.from_audio(samples=entry.samples, sample_rate=entry.sample_rate)
        except ScoringError as exc:
            return ScoreBreakdown.failed(f"invalid audio: {exc}"), None
        silent = silence_reason(features)
        if silent:
            return ScoreBreakdown.failed(silent), None
        features.set_extra(DELIVERY_EXTRA, entry.generation_seconds)
        return None, features

    def _score_clip(self, ctx: SignalContext, *, preference_weight: float) -> ScoreBreakdown:
        signals: dict[str, float | None] = {}
        unavailable: dict[str, str] = {}
        for name, fn in SIGNALS.items():
            value, reason = _run(name, fn, ctx)
            signals[name] = value
            if reason is not None:
                unavailable[name] = reason
        penalties: dict[str, float] = {}
        notes: dict[str, str] = {}
        for name, fn in PENALTIES.items():
            value, reason = _run(name, fn, ctx)
            penalties[name] = 1.0 if value is None else value
            if reason is not None:
                notes[name] = reason
        available = {n for n, v in signals.items() if v is not None}
        weights = effective_weights(request=ctx.request, available=available, preference_weight=preference_weight)
        composite = composite_score(signals=signals, weights=weights)
        final = composite * float(np.prod(list(penalties.values())))
        return ScoreBreakdown(
            signals=signals, unavailable=unavailable, penalties=penalties, penalty_notes=notes,
            weights=weights, composite=composite, final_score=min(1.0, max(0.0, final)),
        )


def _run(name: str, fn, ctx: SignalContext) -> tuple[float | None, str | None]:
    """Run one signal or penalty: (value in [0, 1], None) or (None, reason it is unavailable).

    A signal raising anything but ``Unavailable`` is a bug: it is logged with its traceback and
    recorded as unavailable with the error, so one faulty measure cannot sink a round."""
    try:
        value = float(fn(ctx))
    except Unavailable as exc:
        return None, exc.reason
    except Exception as exc:  # noqa: BLE001 - recorded in the breakdown and logged, never hidden
        logger.exception("%s failed", name)
        return None, f"error: {type(exc).__name__}: {exc}"
    if not math.isfinite(value):
        return None, "error: non-finite value"
    return min(1.0, max(0.0, value)), None


def history_embedding(features: Features) -> np.ndarray:
    """The embedding stored in history: CLAP's when the models computed one, else the DSP embedding."""
    clap = features.get_extra("clap_audio_embedding")
    return np.asarray(clap, dtype=np.float32) if clap is not None else features.dsp_embedding
