"""The scorer: clips and the requests they answer in, one :class:`ScoreBreakdown` per clip out.

``score_round`` runs a round in a fixed order, and every step that touches one clip runs under
that clip's own guard, so nothing one clip contains can stop the round or change what another
clip's own signals measure:

1. **Intake**, per clip: build its :class:`Features`, check silence, and compute the analyses
   other clips (and the history) read from it (:data:`ROUND_FEATURES`), checking they are
   finite. A clip that is missing, malformed or silent, or whose analyses raise or come out
   non-finite, is a hard zero with the reason in ``ScoreBreakdown.error``.
2. **Models**, one batch for all clips that passed (``models.prepare``). When the batch raises,
   or the models record a failure on the clips, each clip is prepared again on its own: a clip
   whose own prepare raises, or on which a model fails while it works on other clips, is a hard
   zero; a model that fails on every clip is the model's fault, and its signals are unavailable
   for all (weights renormalised).
3. **Signals and penalties**, per clip, with the other live clips of the round as context. An
   ``Unavailable`` is a signal left out; anything else a signal or penalty raises, or a
   non-finite value, makes that clip a hard zero (otherwise a clip could drop the measures it
   fails from its own composite), unless the measure fails on every clip of the round: then
   the measure is broken, not the clips, and it is left out for all. A clip that fails leaves
   the round context, and the signals of the other clips that read the round are computed
   again without it; a peer whose analysis fails only when another clip reads it is failed
   the same way. So does a clip that a penalty not reading the round already zeroes (a wrong
   length, audio destroyed by clipping): it scores 0 whatever the round holds, so it cannot
   move another clip's score (a truncated render delivered first cannot take the fingerprint
   penalty's "first deliverer keeps its score" from the full clip it resembles).
4. **History**: the scored clips are added to the miners' history last, so a clip is never
   compared with itself.

Progress goes to the ``scoring.progress`` logger at INFO: "scoring 4 clips …", one line per clip
when its analysis is done and one when its signals are, then the total. The first clips of a fresh
process are the slow ones (kernels and listeners load then), so a person watching sees the work
move; ``logging.getLogger("scoring.progress").setLevel(logging.WARNING)`` quiets it.
"""

import dataclasses
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
from scoring.signals.base import ScoringError, SignalContext, Unavailable

__all__ = ["Scorer", "RoundEntry", "ROUND_FEATURES", "history_embedding"]

logger = logging.getLogger(__name__)
#: "scoring N clips …" and one line per clip and step (see the module docstring).
progress = logging.getLogger("scoring.progress")

#: ``Features`` analyses that other clips' signals (diversity, fingerprint) and the history read
#: from a clip. They are computed during that clip's intake, under its own guard, so a failure
#: there is the clip's own hard zero and never surfaces inside another clip's signal. A signal
#: or penalty module that reads further analyses of the *other* clips lists them in a
#: module-level ``ROUND_FEATURES`` tuple; the scorer adds those too.
ROUND_FEATURES: tuple[str, ...] = ("mono", "dsp_embedding", "musicnn_embedding", "fingerprint")

_Measure = Callable[[SignalContext], float]


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


class _ClipFailed(Exception):
    """This clip is a hard zero; ``reason`` goes into its breakdown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _PeerFailed(Exception):
    """Another clip's analysis failed while this clip's signal read it."""

    def __init__(self, key: str, attribute: str, exc: BaseException) -> None:
        super().__init__(f"{key}.{attribute}: {type(exc).__name__}: {exc}")
        self.key = key
        self.reason = f"analysis {attribute} failed: {type(exc).__name__}: {exc}"


class _PeerView:
    """Another clip's :class:`Features` as a signal sees it in the round context: reads pass
    through, and a read that raises is reported as that clip's failure (:class:`_PeerFailed`)."""

    __slots__ = ("_features", "_key")

    def __init__(self, features: Features, key: str) -> None:
        self._features = features
        self._key = key

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self._features, name)
        except Exception as exc:  # noqa: BLE001 - re-raised as the peer's failure
            raise _PeerFailed(self._key, name, exc) from exc


class _RoundView:
    """The ``RoundContext`` a signal gets (``entries``: key → the other clips' features); it
    records whether the signal read it, so the scorer knows which measures depend on the round."""

    def __init__(self, entries: dict[str, _PeerView]) -> None:
        self._entries = entries
        self.read = False

    @property
    def entries(self) -> dict[str, _PeerView]:
        self.read = True
        return self._entries


@dataclass
class _Clip:
    """A clip of the round past intake, and what has been measured on it so far."""

    index: int
    key: str
    entry: RoundEntry
    features: Features
    values: dict[str, float | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    round_reads: set[str] = field(default_factory=set)
    failure: str | None = None


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
        try:
            weight = float(self.models.preference_weight())
        except Exception:  # noqa: BLE001 - a broken head must not stop the round: no preference weight
            logger.exception("preference_weight failed; the preference signal gets no weight")
            return 0.0
        return min(C.PREFERENCE_WEIGHT_MAX, max(0.0, weight)) if math.isfinite(weight) else 0.0

    def score_round(self, entries: list[RoundEntry]) -> list[ScoreBreakdown]:
        """Score every entry of a round; one breakdown per entry, in the order of ``entries``."""
        results: list[ScoreBreakdown | None] = [None] * len(entries)
        clips: list[_Clip] = []
        used: set[str] = set()
        started = time.perf_counter()
        total = len(entries)
        progress.info("scoring %d clip%s …", total, "" if total == 1 else "s")
        for i, entry in enumerate(entries):
            key = entry.hotkey or f"clip{i}"
            if key in used:  # two answers under one hotkey: keep both in the round, apart
                key = f"{key}#{i}"
            used.add(key)
            step = time.perf_counter()
            try:
                features = self._intake(entry)
            except _ClipFailed as exc:
                results[i] = self._failed(key, exc.reason)
                continue
            progress.info("clip %d/%d%s analysed in %.1f s", i + 1, total, _label(entry),
                          time.perf_counter() - step)
            clips.append(_Clip(index=i, key=key, entry=entry, features=features))

        self._prepare(clips)
        for clip in clips:
            if clip.failure is None:
                clip.failure = _guard(lambda c=clip: _check_history_items(c.features))
        self._measure_round([c for c in clips if c.failure is None], total=total)

        pref = self.preference_weight()
        for clip in clips:
            if clip.failure is None:
                try:
                    results[clip.index] = _compose(clip, preference_weight=pref)
                except Exception as exc:  # noqa: BLE001 - this clip's zero, logged
                    logger.exception("composite of %s failed", clip.key)
                    clip.failure = f"composite failed: {type(exc).__name__}: {exc}"
            if clip.failure is not None:
                results[clip.index] = self._failed(clip.key, clip.failure)

        if self.history is not None:
            for clip in clips:
                if clip.failure is None and clip.entry.hotkey:
                    self._add_to_history(clip, results)
        assert all(r is not None for r in results)
        progress.info("scored %d clip%s in %.1f s", total, "" if total == 1 else "s", time.perf_counter() - started)
        return [r for r in results if r is not None]

    # -- step 1: intake ---------------------------------------------------------------------
    def _intake(self, entry: RoundEntry) -> Features:
        """The clip's features with its round-facing analyses computed; :class:`_ClipFailed` otherwise."""
        if entry.samples is None or entry.sample_rate is None:
            raise _ClipFailed(entry.error or "no audio delivered")
        try:
            features = Features.from_audio(samples=entry.samples, sample_rate=entry.sample_rate)
        except ScoringError as exc:
            raise _ClipFailed(f"invalid audio: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - malformed input is the clip's zero
            raise _ClipFailed(f"invalid audio: {type(exc).__name__}: {exc}") from exc
        try:
            silent = silence_reason(features)
        except Exception as exc:  # noqa: BLE001
            raise _ClipFailed(f"silence check failed: {type(exc).__name__}: {exc}") from exc
        if silent:
            raise _ClipFailed(silent)
        for name in round_features():
            try:
                value = getattr(features, name)
            except Exception as exc:  # noqa: BLE001 - e.g. librosa's "Input must be finite"
                logger.debug("analysis %s failed", name, exc_info=True)
                raise _ClipFailed(f"invalid audio: analysis {name} failed: {type(exc).__name__}: {exc}") from exc
            if not _finite(value):
                raise _ClipFailed(f"invalid audio: analysis {name} is not finite")
        features.set_extra(DELIVERY_EXTRA, entry.generation_seconds)
        return features

    # -- step 2: models ---------------------------------------------------------------------
    def _prepare(self, clips: list[_Clip]) -> None:
        """``models.prepare`` on all clips at once; clip by clip when the batch fails."""
        models = self.models
        if models is None or not hasattr(models, "prepare") or not clips:
            return
        batch_error: Exception | None = None
        try:
            models.prepare([c.features for c in clips], [c.entry.request for c in clips])
        except Exception as exc:  # noqa: BLE001 - retried clip by clip below
            batch_error = exc
            logger.warning("models.prepare failed on a batch of %d clips (%s: %s); retrying clip by clip",
                           len(clips), type(exc).__name__, exc)
        names = _model_names(models)
        recorded = [c for c in clips if _model_failures(models, c.features, names)]
        if batch_error is None and (not recorded or len(clips) == 1):
            return  # nothing failed, or one clip alone: a recorded failure cannot be told from the model's own
        solo_failed: dict[str, set[str]] = {}
        for clip in clips:
            _reset_prepared(clip.features, names)
            try:
                models.prepare([clip.features], [clip.entry.request])
            except Exception as exc:  # noqa: BLE001 - this clip's zero
                clip.failure = f"model prepare failed: {type(exc).__name__}: {exc}"
                continue
            for name, why in _model_failures(models, clip.features, names).items():
                solo_failed.setdefault(name, set()).add(clip.key)
                clip.reasons.setdefault(f"model:{name}", why)
        prepared = [c for c in clips if c.failure is None]
        for name, keys in solo_failed.items():
            if len(keys) == len(prepared):
                logger.error("model %s failed on every clip of the round; its signals are unavailable", name)
                continue
            for clip in prepared:
                if clip.key in keys and clip.failure is None:
                    clip.failure = f"model {name} failed on this clip: {clip.reasons[f'model:{name}']}"
        for clip in clips:
            for k in [k for k in clip.reasons if k.startswith("model:")]:
                del clip.reasons[k]

    # -- step 3: signals and penalties ------------------------------------------------------
    def _measure_round(self, clips: list[_Clip], *, total: int) -> None:
        """Every signal and penalty of every live clip, then again for the round-reading ones
        while the round context shrinks (each further pass has at least one clip fewer in it).

        A measure that raises (or gives a non-finite value) on some clips fails those clips; one
        that fails on every clip it ran on is broken, not the clips: it is logged and left out
        for all of them, as an unavailable signal (or no penalty) with the error as its reason.
        A clip that fails, or that a penalty not reading the round zeroes on its own merits (a
        wrong length, destroyed audio), leaves the context: it scores 0 whatever the round holds,
        so it must not move another clip's score either (e.g. take a fingerprint penalty off a
        clip it resembles by being a truncated render of the same prompt). ``total``: clips in
        the round (for the progress lines of the first pass)."""
        measures = _measures()
        context = list(clips)
        todo: dict[int, list[str]] = {id(c): list(measures) for c in context}
        first_pass = True
        while context:
            errors: dict[str, dict[int, str]] = {}
            for clip in context:
                step = time.perf_counter()
                for name in todo[id(clip)]:
                    if clip.failure is not None:
                        break  # failed as another clip's peer: nothing more to measure
                    error = self._measure(clip, name, measures[name], context)
                    if error is not None:
                        errors.setdefault(name, {})[id(clip)] = error
                if first_pass:
                    progress.info("clip %d/%d%s measured in %.1f s", clip.index + 1, total, _label(clip.entry),
                                  time.perf_counter() - step)
            first_pass = False
            for name, failed in errors.items():
                ran = [c for c in context if name in todo[id(c)] and (c.failure is None or id(c) in failed)]
                if len(failed) == len(ran):
                    logger.error("%s failed on every clip of the round (%d); left out: %s",
                                 name, len(ran), next(iter(failed.values())))
                    for clip in ran:
                        clip.values[name] = None
                        clip.reasons[name] = f"error: {failed[id(clip)]}"
                    continue
                for clip in ran:
                    if id(clip) in failed and clip.failure is None:
                        clip.failure = f"{name} failed: {failed[id(clip)]}"
            leaving = [c for c in context if c.failure is not None or _zero_on_its_own(c)]
            if not leaving:
                return
            context = [c for c in context if not any(c is x for x in leaving)]
            todo = {id(c): [n for n in measures if n in c.round_reads] for c in context}

    def _measure(self, clip: _Clip, name: str, fn: _Measure, context: list[_Clip]) -> str | None:
        """One signal or penalty of ``clip``, with the other clips of ``context`` as its round:
        stores its value (or why it is unavailable) and returns None, or returns what went wrong
        (an exception, a non-finite value)."""
        while True:
            view = _RoundView({p.key: _PeerView(p.features, p.key) for p in context
                               if p is not clip and p.failure is None})
            ctx = SignalContext(
                features=clip.features, request=clip.entry.request, models=self.models, history=self.history,
                round=view, hotkey=clip.entry.hotkey or clip.key,  # type: ignore[arg-type]  # duck-typed RoundContext
                generation_seconds=clip.entry.generation_seconds,
            )
            reason = None
            try:
                value: float | None = float(fn(ctx))
            except Unavailable as exc:
                value, reason = None, exc.reason
            except _PeerFailed as exc:
                peer = next(p for p in context if p.key == exc.key)
                if peer.failure is None:
                    peer.failure = exc.reason
                    logger.warning("clip %s failed while %s's %s read it: %s", exc.key, clip.key, name, exc.reason)
                continue  # measure again without that clip
            except Exception as exc:  # noqa: BLE001 - the clip's zero (or the measure's fault), logged
                logger.warning("%s failed on %s", name, clip.key, exc_info=True)
                return f"{type(exc).__name__}: {exc}"
            if value is not None and not math.isfinite(value):
                return f"non-finite value {value}"
            if view.read:
                clip.round_reads.add(name)
            clip.values[name] = None if value is None else min(1.0, max(0.0, value))
            clip.reasons.pop(name, None)
            if reason is not None:
                clip.reasons[name] = reason
            return None

    # -- step 4: history --------------------------------------------------------------------
    def _add_to_history(self, clip: _Clip, results: list[ScoreBreakdown | None]) -> None:
        assert self.history is not None
        try:
            self.history.add(clip.entry.hotkey, embedding=history_embedding(clip.features),
                             fingerprint=clip.features.fingerprint)
        except Exception as exc:  # noqa: BLE001 - this clip's zero, logged
            logger.exception("adding %s's clip to the history failed", clip.key)
            results[clip.index] = self._failed(clip.key, f"history add failed: {type(exc).__name__}: {exc}")

    @staticmethod
    def _failed(key: str, reason: str) -> ScoreBreakdown:
        logger.info("clip %s scores 0: %s", key, reason)
        return ScoreBreakdown.failed(reason)


def _label(entry: RoundEntry) -> str:
    """`` (HOTKEY)`` for a progress line, shortened; empty for an entry without one."""
    hotkey = entry.hotkey
    return f" ({hotkey[:16]}{'…' if len(hotkey) > 16 else ''})" if hotkey else ""


def _guard(step: Callable[[], None]) -> str | None:
    """Run one per-clip step; the failure reason, or None."""
    try:
        step()
    except _ClipFailed as exc:
        return exc.reason
    except Exception as exc:  # noqa: BLE001 - the clip's zero
        return f"{type(exc).__name__}: {exc}"
    return None


def _zero_on_its_own(clip: _Clip) -> bool:
    """Whether a penalty that does not read the round already makes the clip's score 0."""
    return any(clip.values.get(name) == 0.0 for name in PENALTIES if name not in clip.round_reads)


def _check_history_items(features: Features) -> None:
    """What the history and the other clips read (the CLAP embedding when the models made one)
    must be finite; raises :class:`_ClipFailed` otherwise."""
    if not _finite(history_embedding(features)):
        raise _ClipFailed("invalid audio: embedding is not finite")


def _compose(clip: _Clip, *, preference_weight: float) -> ScoreBreakdown:
    signals = {name: clip.values.get(name) for name in SIGNALS}
    unavailable = {name: clip.reasons[name] for name in SIGNALS if name in clip.reasons}
    penalties = {name: (1.0 if clip.values.get(name) is None else float(clip.values[name])) for name in PENALTIES}
    notes = {name: clip.reasons[name] for name in PENALTIES if name in clip.reasons}
    available = {n for n, v in signals.items() if v is not None}
    weights = effective_weights(request=clip.entry.request, available=available, preference_weight=preference_weight)
    composite = composite_score(signals=signals, weights=weights)
    final = composite * float(np.prod(list(penalties.values())))
    return ScoreBreakdown(
        signals=signals, unavailable=unavailable, penalties=penalties, penalty_notes=notes,
        weights=weights, composite=composite, final_score=min(1.0, max(0.0, final)),
        sources=_signal_sources(clip.features, signals),
    )


def _signal_sources(features: Features, signals: dict[str, float | None]) -> dict[str, str]:
    """signal → the model a signal recorded as its value's source (``extras.set_source``)."""
    from scoring.models import extras  # late: scoring.models imports the signal registry

    out = {}
    for name, value in signals.items():
        source = features.get_extra(extras.SOURCE_PREFIX + name) if value is not None else None
        if source:
            out[name] = str(source)
    return out


def _measures() -> dict[str, _Measure]:
    """Signals then penalties, by published name."""
    out: dict[str, _Measure] = dict(SIGNALS)
    out.update(PENALTIES)
    return out


def round_features() -> tuple[str, ...]:
    """:data:`ROUND_FEATURES` plus what signal and penalty modules declare in their own ``ROUND_FEATURES``."""
    names = list(ROUND_FEATURES)
    for fn in _measures().values():
        module = sys.modules.get(getattr(fn, "__module__", ""), None)
        for name in getattr(module, "ROUND_FEATURES", ()):
            if name not in names:
                names.append(name)
    return tuple(names)


def _finite(value: Any) -> bool:
    """Whether a numeric analysis (scalar or array) is free of NaN/Inf; other values pass."""
    if isinstance(value, (float, int, np.floating, np.integer)):
        return math.isfinite(float(value))
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        return bool(np.all(np.isfinite(value)))
    return True


def _model_names(models: Any) -> list[str]:
    """Names under which a model bundle records per-clip failures (its dataclass fields)."""
    if dataclasses.is_dataclass(models):
        return [f.name for f in dataclasses.fields(models) if f.name not in ("directory", "missing")]
    return ["clap", "encoder", "whisper"]


def _model_failures(models: Any, features: Features, names: list[str]) -> dict[str, str]:
    """model name → why it failed on this clip, as the bundle recorded it."""
    failure = getattr(models, "failure", None)
    if failure is None:
        return {}
    out = {}
    for name in names:
        why = failure(features, name)
        if why:
            out[name] = str(why)
    return out


def _reset_prepared(features: Features, names: list[str]) -> None:
    """Forget a batch's prepare on this clip so it is prepared again on its own."""
    from scoring.models import extras  # late: scoring.models imports the signal registry

    features.set_extra(extras.PREPARED, False)
    for name in names:
        features.set_extra(extras.ERROR_PREFIX + name, None)


def history_embedding(features: Features) -> np.ndarray:
    """The embedding stored in history: CLAP's when the models computed one, else the trained
    musicnn taggers' (``Features.musicnn_embedding``), else the DSP embedding."""
    clap = features.get_extra("clap_audio_embedding")
    if clap is not None:
        return np.asarray(clap, dtype=np.float32)
    music = features.musicnn_embedding
    return music if music is not None else features.dsp_embedding
