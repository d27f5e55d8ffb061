"""The `melody` signal: is there a singable line, in key, moving mostly by step, with motifs?

Reads the predominant pitch track (harmonic summation on the HPSS harmonic part, see
``Features.pitch_midi``). Notes are runs of ≥ 3 frames (~70 ms) on one semitone. Parts: voiced
share; step share (pitch-class distance 1-2 semitones, octave-folded because the track makes
octave errors) and few tritones; in-key share of note
pitch classes (key from the chroma); contour continuity (frame-to-frame pitch moves under a
semitone inside voiced runs); motif repetition (beat-synchronous pitch sequence equal to itself
shifted by 2, 4, 8 or 16 beats).
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring.curves import ramp
from scoring.signals.base import SignalContext, Unavailable

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "melody"


def notes(f: "Features") -> tuple[np.ndarray, np.ndarray]:
    """Note pitches (MIDI ints) and their start frames (within the excerpt) from the pitch track."""
    midi = f.pitch_midi
    q = np.where(np.isnan(midi), -1, np.round(np.nan_to_num(midi, nan=-1.0))).astype(int)
    if q.size == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    change = np.flatnonzero(np.diff(q)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [q.size]])
    keep = (q[starts] >= 0) & ((ends - starts) >= 3)
    return q[starts][keep], starts[keep]


def measure(f: "Features") -> dict[str, float]:
    midi = f.pitch_midi
    voiced = ~np.isnan(midi)
    pitches, _ = notes(f)
    out = {"voiced_share": float(voiced.mean()) if voiced.size else 0.0, "n_notes": float(pitches.size)}
    if pitches.size >= 4:
        # intervals folded to pitch-class distance (0-6): the predominant-pitch track makes octave
        # errors, which must not read as leaps
        d = np.abs(np.diff(pitches)) % 12
        iv = np.minimum(d, 12 - d)
        out["step_share"] = float(np.mean((iv >= 1) & (iv <= 2)))
        out["tritone_share"] = float(np.mean(iv == 6))
        scale = set(f.key.scale())
        out["in_key"] = float(np.mean([p % 12 in scale for p in pitches]))
    both = voiced[1:] & voiced[:-1]
    if both.sum() >= 10:
        out["continuity"] = float(np.mean(np.abs(np.diff(midi)[both]) < 1.0))
    out["motif"] = _motif_repetition(f)
    return out


def _motif_repetition(f: "Features") -> float:
    """Best share of beats whose median pitch equals the one 2/4/8/16 beats later."""
    exc = f.analysis_excerpt
    beats = f.beats[(f.beats >= exc.start) & (f.beats < exc.stop)] - exc.start
    midi = f.pitch_midi
    if beats.size < 8:
        return 0.0
    bounds = np.concatenate([beats, [midi.size]])
    seq = np.full(beats.size, np.nan)
    for i in range(beats.size):
        seg = midi[bounds[i] : bounds[i + 1]]
        seg = seg[~np.isnan(seg)]
        if seg.size >= 2:
            seq[i] = np.round(np.median(seg))
    best = 0.0
    for lag in (2, 4, 8, 16):
        if seq.size <= lag + 3:
            continue
        a, b = seq[:-lag], seq[lag:]
        ok = ~np.isnan(a) & ~np.isnan(b)
        if ok.sum() >= 4:
            best = max(best, float(np.mean(a[ok] == b[ok])) * float(ok.mean()))
    return best


def score(m: dict[str, float]) -> float:
    """Weighted parts (weights sum to 1); a part that cannot be measured (too few notes) earns 0."""
    parts = [0.2 * ramp(m["voiced_share"], 0.05, 0.5), 0.15 * ramp(m["motif"], 0.05, 0.4)]
    if "step_share" in m:
        parts.append(0.2 * ramp(m["step_share"], 0.1, 0.35) * ramp(m["tritone_share"], 0.25, 0.08))
        parts.append(0.25 * ramp(m["in_key"], 0.6, 0.9))
    if "continuity" in m:
        parts.append(0.2 * ramp(m["continuity"], 0.5, 0.9))
    return float(sum(parts))


def compute(ctx: SignalContext) -> float:
    f = ctx.features
    if f.pitch_midi.size < 8:
        raise Unavailable("clip too short for a pitch track")
    return score(measure(f))
