"""The `attribute` signal: does the clip have the tempo, key, meter and length that were asked for?

Each requested attribute that can be measured contributes one part, and the signal is their
weighted mean (``ATTRIBUTE_PART_WEIGHTS``: mood weighs half, every other part 1). Tempo: the beat tracker's BPM against the request, full credit within
``TEMPO_FULL_CREDIT``, octave readings (×½, ×2) with ``TEMPO_OCTAVE_CREDIT`` and, for compound
meters, ×⅔/×3⁄2 readings with ``TEMPO_COMPOUND_CREDIT``. Key: Krumhansl–Schmuckler key against the
request via ``music_theory.key_relation`` (exact, relative, parallel, fifth), blended with
``KEY_UNSURE_CREDIT`` by the key-strength confidence. Meter: periodicity (2, 3, 4, 5, 7 beats) of
the accents on the beat grid against the requested bar measured in tracked beats (a 6/8 bar is
3 beats to a tracker on the quarter-note tempo, 2 to one on the dotted quarter), blended by its
confidence.
Duration: 1 within 5 %, 0 at 50 % off.

Genre, mood, instruments and vocals (:mod:`scoring.prompt_tags`): what the musicnn taggers hear
against the catalogue terms the request names in its fields and its prompt, each judged against
how the tags read on real music (docs/scoring.md, "attribute: genre, mood, instruments,
vocals"); absent when musicnn is not installed (``Features.musicnn`` is None) or the request names
nothing the tags can hear. When CLAP's zero-shot classifier stored ``instrument_match``, the
instruments part is the mean of CLAP's credit and the taggers' (CLAP's alone when the taggers hear
none of the requested instruments, e.g. brass or organ). The breakdown's ``sources`` names musicnn
when a tagger part was used.
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C
from scoring import prompt_tags
from scoring.curves import clamp01, ramp
from scoring.listeners import MUSICNN_SOURCE
from scoring.music_theory import Meter, key_relation, parse_key, parse_meter
from scoring.signals.base import SignalContext, Unavailable


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "attribute"


def tempo_credit(*, detected_bpm: float, requested_bpm: float, compound: bool = False) -> float:
    """Credit for a detected tempo; octave errors and (compound meters) 3:2 readings earn partial credit."""
    if detected_bpm <= 0 or requested_bpm <= 0:
        return 0.0
    readings = [(1.0, 1.0), (0.5, C.TEMPO_OCTAVE_CREDIT), (2.0, C.TEMPO_OCTAVE_CREDIT)]
    if compound:
        readings += [(2.0 / 3.0, C.TEMPO_COMPOUND_CREDIT), (1.5, C.TEMPO_COMPOUND_CREDIT)]
    best = 0.0
    for factor, credit in readings:
        err = abs(detected_bpm / (requested_bpm * factor) - 1.0)
        best = max(best, credit * ramp(err, C.TEMPO_ZERO_CREDIT, C.TEMPO_FULL_CREDIT))
    return best


def key_confidence(strength: float) -> float:
    """Key-strength correlation mapped onto a confidence in [0, 1]."""
    lo, hi = C.KEY_STRENGTH_RANGE
    return ramp(strength, lo, hi)


def key_credit(*, features: "Features", requested: str) -> float | None:
    key = parse_key(requested)
    if key is None:
        return None
    relation = key_relation(key, features.key)
    conf = key_confidence(features.key_strength)
    return conf * C.KEY_RELATION_CREDIT[relation] + (1.0 - conf) * C.KEY_UNSURE_CREDIT


def meter_periodicity(features: "Features") -> tuple[int, float] | None:
    """Best accent period (beats per bar among ``METER_PERIODS``) and its confidence in [0, 1],
    from the autocorrelation of the onset strength sampled on the beats; None with too few beats."""
    beats = features.beats
    if beats.size < C.METER_MIN_BEATS:
        return None
    env = features.onset_envelope
    lo = np.clip(beats - 2, 0, env.size - 1)
    hi = np.clip(beats + 3, 1, env.size)
    accents = np.array([env[a:b].max() for a, b in zip(lo, hi)], dtype=np.float64)
    accents = accents - accents.mean()
    denom = float(np.sum(accents**2))
    if denom <= 0:
        return None
    scores = {}
    for p in C.METER_PERIODS:
        if accents.size <= 2 * p:
            continue
        scores[p] = float(np.sum(accents[:-p] * accents[p:]) / denom * accents.size / (accents.size - p))
    if not scores:
        return None
    best = max(scores, key=lambda p: (scores[p], -p))
    return best, clamp01(scores[best] / 0.5)


def _pulse_periods(meter: Meter) -> tuple[set[int], set[int]]:
    """(exact, related) accent periods for a requested meter counted in its felt pulses."""
    pulses = meter.pulses_per_bar
    if meter.is_compound:  # 6/8 felt in 2, tracked in eighths shows 3
        return {pulses}, {3, 2 * pulses} if pulses != 3 else {3}
    if pulses in (2, 4):
        return {pulses}, {2, 4} - {pulses}
    return {pulses}, set()


def tracked_beats_per_bar(*, meter: Meter, detected_bpm: float, requested_bpm: float) -> float | None:
    """How many tracked beats one requested bar spans, or None when the tracker's tempo is not a
    recognised reading of the requested one (×1, ×½, ×2, and for compound meters ×⅔, ×3⁄2).

    ``requested_bpm`` counts quarter notes (a 6/8 bar is 3 quarters), so a tracker locked on the
    requested tempo sees 3 beats per 6/8 bar, one locked on the dotted quarter (×⅔) sees 2.
    """
    if detected_bpm <= 0 or requested_bpm <= 0:
        return None
    factors = [1.0, 0.5, 2.0] + ([2.0 / 3.0, 1.5] if meter.is_compound else [])
    factor = min(factors, key=lambda k: abs(detected_bpm / (requested_bpm * k) - 1.0))
    if abs(detected_bpm / (requested_bpm * factor) - 1.0) > C.METER_TEMPO_MATCH:
        return None
    quarters = meter.beats_per_bar * 4.0 / meter.beat_unit
    return quarters * factor


def compatible_periods(meter: Meter, beats_per_bar: float | None = None) -> tuple[set[int], set[int]]:
    """(exact, related) accent periods, in tracked beats, for a requested meter.

    With ``beats_per_bar`` (from :func:`tracked_beats_per_bar`) the bar's length on the tracked beat
    grid is exact when it is a whole number of beats, and its divisors and multiples among
    ``METER_PERIODS`` are related (the pulse-counted periods assume a tracker on the felt pulse,
    which the tempo reading has ruled out). Without it (tempo not requested or
    not recognised, or a bar that is not a whole number of tracked beats, like 7/8 tracked in
    quarters) the meter's felt pulses decide alone.
    """
    exact, related = _pulse_periods(meter)
    if beats_per_bar is None or abs(beats_per_bar - round(beats_per_bar)) > 0.1 or round(beats_per_bar) < 2:
        return exact, related
    bar = int(round(beats_per_bar))
    periods = set(C.METER_PERIODS)
    tracked_exact = {bar} & periods
    tracked_related = {p for p in periods if p != bar and (bar % p == 0 or p % bar == 0)}
    # e.g. 12/8 in quarters: 6 beats per bar is not a tested period, only its divisors are
    return tracked_exact, tracked_related


def meter_credit(*, features: "Features", requested: str, requested_bpm: float | None = None) -> float | None:
    """Credit for the accent periodicity against the requested meter, blended by its confidence.

    ``requested_bpm`` (quarter notes per minute) lets the bar be measured on the beat grid the
    tracker actually followed; see :func:`compatible_periods`.
    """
    meter = parse_meter(requested)
    measured = meter_periodicity(features)
    if meter is None or measured is None:
        return None
    period, conf = measured
    bpb = None
    if requested_bpm:
        bpb = tracked_beats_per_bar(meter=meter, detected_bpm=features.tempo_bpm, requested_bpm=requested_bpm)
    exact, related = compatible_periods(meter, bpb)
    credit = 1.0 if period in exact else 0.7 if period in related else 0.2
    return conf * credit + (1.0 - conf) * 0.5


def duration_credit(*, actual: float, requested: float) -> float:
    dev = abs(actual - requested) / max(requested, 1e-6)
    return ramp(dev, 0.5, 0.05)


def parts(ctx: SignalContext) -> dict[str, float]:
    """Each measurable part's credit in [0, 1], by name."""
    f, req = ctx.features, ctx.request
    meter = parse_meter(req.time_signature)
    out: dict[str, float] = {}
    if req.tempo_bpm:
        out["tempo"] = tempo_credit(
            detected_bpm=f.tempo_bpm, requested_bpm=float(req.tempo_bpm), compound=bool(meter and meter.is_compound)
        )
    if req.key_signature:
        k = key_credit(features=f, requested=req.key_signature)
        if k is not None:
            out["key"] = k
    if req.time_signature:
        m = meter_credit(features=f, requested=req.time_signature,
                         requested_bpm=float(req.tempo_bpm) if req.tempo_bpm else None)
        if m is not None:
            out["meter"] = m
    out["duration"] = duration_credit(actual=f.duration_seconds, requested=req.duration_seconds)
    heard = tag_parts(ctx)
    clap_instruments = f.get_extra(_extras().EXTRA_INSTRUMENT_MATCH)
    if clap_instruments is not None:
        clap_credit = clamp01(float(clap_instruments))
        tagged = heard.get("instruments")
        heard["instruments"] = clap_credit if tagged is None else 0.5 * (clap_credit + tagged)
    out.update(heard)
    return out


def tag_parts(ctx: SignalContext) -> dict[str, float]:
    """The genre / mood / instruments / vocals parts the musicnn taggers can judge for this request
    (:func:`scoring.prompt_tags.prompt_parts`); empty when musicnn is not installed. Records musicnn
    as the signal's source when any part is returned."""
    outputs = ctx.features.musicnn
    if outputs is None:
        return {}
    heard = prompt_tags.prompt_parts(outputs, ctx.request)
    if heard:
        _extras().set_source(ctx, NAME, MUSICNN_SOURCE)
    return heard


def compute(ctx: SignalContext) -> float:
    """Weighted mean of :func:`parts` (``ATTRIBUTE_PART_WEIGHTS``; a part not listed weighs 1)."""
    p = parts(ctx)
    if not p:
        raise Unavailable("no measurable attribute requested")
    weights = {name: C.ATTRIBUTE_PART_WEIGHTS.get(name, 1.0) for name in p}
    return float(sum(weights[name] * value for name, value in p.items()) / sum(weights.values()))
