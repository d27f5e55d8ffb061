"""The `musicality` signal: harmonic clarity and rhythmic regularity.

Harmonic clarity: key strength (Krumhansl correlation of the mean chroma), chroma peakiness
(how far frames are from a flat, noise-like chroma), pitch-class variety (a single held
pitch is not harmony) and whether chord changes line up with the
beats (chroma flux at beats over flux between beats). Rhythmic regularity: beat strength (onset
strength on the beats over its mean), inter-beat-interval regularity and pulse clarity (the
highest onset-envelope autocorrelation at beat-like lags, 0.25-2 s), gated by the mean
onset strength (a clip without note onsets has no rhythm however periodic its residue). A beatless piece with clear
harmony still scores well: the two halves combine as ``0.6·max + 0.4·mean``.

With basic-pitch installed the harmonic half blends in the transcribed notes
(:mod:`scoring.note_stats`, :func:`notes_harmonic`, ``MUSICALITY_NOTES_HARMONIC_SHARE`` of it):
the notes' key clarity, pitch-class variety and how often the sounding pitch-class set changes.
The notes' onset alignment with the beat grid is measured (``NoteStats.grid_alignment``) but
not scored: on the corpus it rewards mechanical timing, not music (10 s excerpts: real
recordings 0.46 on average, procedural renders 0.61, random beeps 0.53, a sine arpeggio 0.89). Without basic-pitch the DSP halves
stand alone; the breakdown's ``sources`` names basic-pitch when the notes were heard.
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C
from scoring.curves import ramp
from scoring.models.extras import set_source
from scoring.note_stats import NoteStats, note_stats
from scoring.signals.base import SignalContext

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "musicality"


def measure(f: "Features") -> dict[str, float]:
    """Raw measures: key strength, mean chroma level, beat-aligned chroma flux ratio, beat
    strength, IOI coefficient of variation, pulse clarity."""
    chroma = f.chroma
    flux = 1.0 - np.sum(chroma[:, 1:] * chroma[:, :-1], axis=0) / (
        np.linalg.norm(chroma[:, 1:], axis=0) * np.linalg.norm(chroma[:, :-1], axis=0) + 1e-10
    )
    env = f.onset_envelope
    beats = f.beats[(f.beats > 1) & (f.beats < env.size - 2)]
    near = np.zeros(env.size, dtype=bool)
    for d in (-1, 0, 1):
        near[np.clip(beats + d, 0, env.size - 1)] = True
    near_flux = near[1:]
    if beats.size >= 4 and near_flux.any() and (~near_flux).any():
        change_ratio = float(flux[near_flux].mean() / (flux[~near_flux].mean() + 1e-10))
        beat_strength = float(env[beats].mean() / (env.mean() + 1e-10))
        ioi = np.diff(beats).astype(float)
        ioi_cv = float(ioi.std() / (ioi.mean() + 1e-10))
    else:
        change_ratio, beat_strength, ioi_cv = 1.0, 1.0, 1.0
    ac = f.onset_autocorrelation
    lo, hi = int(0.25 * f.frame_rate), int(2.0 * f.frame_rate)
    pulse = float(ac[lo : hi + 1].max()) if ac.size > lo + 1 else 0.0
    mean_chroma = chroma.mean(axis=1)
    pc = mean_chroma / (mean_chroma.sum() + 1e-10)
    return {
        "key_strength": f.key_strength,
        "pitch_class_variety": float(np.exp(-np.sum(pc * np.log(pc + 1e-12)))),
        "onset_mean": float(env.mean()),
        "chroma_mean": float(chroma.mean()),
        "change_ratio": change_ratio,
        "beat_strength": beat_strength,
        "ioi_cv": ioi_cv,
        "pulse_clarity": pulse,
    }


def score_parts(m: dict[str, float]) -> tuple[float, float]:
    """(harmonic clarity, rhythmic regularity), each in [0, 1]."""
    harmonic = (
        0.45 * ramp(m["key_strength"], 0.3, 0.75)
        + 0.35 * ramp(m["chroma_mean"], 0.75, 0.4)
        + 0.20 * ramp(m["change_ratio"], 1.0, 1.5)
    ) * ramp(m["pitch_class_variety"], 2.0, 5.0)  # one held pitch is not harmony
    rhythmic = (
        0.35 * ramp(m["beat_strength"], 1.3, 4.0)
        + 0.25 * ramp(m["ioi_cv"], 0.2, 0.03)
        + 0.40 * ramp(m["pulse_clarity"], 0.05, 0.45)
    ) * ramp(m["onset_mean"], 0.05, 0.3)  # no onsets, no rhythm
    return harmonic, rhythmic


def notes_harmonic(s: NoteStats) -> float | None:
    """Harmonic credit from transcribed notes in [0, 1], or None when the notes are too few to
    tell: key clarity, pitch-class variety and pitch-class-set changes, gated by coverage. Curve
    ranges measured on the real-music corpus (key clarity 0.46-0.87, variety 1.2-8.6, changes
    0.7-3.6 per second)."""
    if s.key_clarity is None:
        return None
    credit = (
        0.4 * ramp(s.key_clarity, 0.45, 0.75)
        + 0.3 * ramp(s.pitch_class_variety, 1.5, 4.0)
        + 0.3 * ramp(s.changes_per_s, 0.3, 1.2)
    )
    return credit * ramp(s.coverage, 0.1, 0.3)


def compute(ctx: SignalContext) -> float:
    h, r = score_parts(measure(ctx.features))
    stats = note_stats(ctx.features)
    set_source(ctx, NAME, None)
    if stats is not None:
        from scoring.listeners import NOTES_SOURCE

        set_source(ctx, NAME, NOTES_SOURCE)
        notes = notes_harmonic(stats)
        if notes is not None:
            share = C.MUSICALITY_NOTES_HARMONIC_SHARE
            h = (1.0 - share) * h + share * notes
    return 0.6 * max(h, r) + 0.4 * (h + r) / 2
