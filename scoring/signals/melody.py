"""The `melody` signal: is there a clear, singable line, in key, moving mostly by step, with motifs?

Reads the predominant pitch track (harmonic summation on the HPSS harmonic part, see
``Features.pitch_hz``) through its own voicing gate (:func:`melody_track`: looser than
``Features.voiced``, because a lead buried in a dense rock mix peaks at a salience ratio of only
~1.6-1.9) and a median filter against octave errors. Notes are runs of ≥ ``MELODY_MIN_NOTE_FRAMES``
frames on one semitone. Parts: note coverage; clarity (median salience ratio of voiced frames:
how far the line stands out, which added noise lowers); step share (pitch-class distance 0-2
semitones, octave-folded because the track makes octave errors) and few tritones;
duration-weighted in-key share of notes (key from the chroma); motif repetition
(beat-synchronous pitch sequence equal to itself shifted by 2, 4, 8 or 16 beats).

With basic-pitch installed the value blends in the transcribed notes (:mod:`scoring.note_stats`,
``MELODY_NOTES_SHARE`` of it, :func:`notes_score`): how much of the time notes sound, how many
different pitches there are and how often the sounding pitch set changes, how much note lengths
vary, and how often the top line moves by step. Without it the DSP value stands alone. The
breakdown's ``sources`` names basic-pitch when the notes were heard.
"""

from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import median_filter

from scoring import constants as C
from scoring.curves import ramp
from scoring.models.extras import set_source
from scoring.note_stats import NoteStats, note_stats
from scoring.signals.base import SignalContext, Unavailable

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "melody"


def melody_track(f: "Features") -> np.ndarray:
    """The melody's pitch track: MIDI floats per frame of ``analysis_excerpt``, NaN where unvoiced.

    Looser voicing than ``Features.voiced`` (salience ratio ≥ ``MELODY_VOICING_RATIO``: in a dense
    rock mix the lead peaks at a ratio of only ~1.6-1.9), then a ``MELODY_SMOOTH_FRAMES`` median
    filter over the raw track, which removes the one- and two-frame octave and harmonic errors of
    harmonic summation. Noise passes the looser gate too, but its track jumps, so it forms few notes.
    ``(frames_excerpt,)`` float64.
    """
    raw = f.pitch_midi_all
    if raw.size == 0:
        return np.zeros(0)
    smooth = median_filter(raw, size=C.MELODY_SMOOTH_FRAMES, mode="nearest")
    voiced = f.pitch_salience_ratio >= C.MELODY_VOICING_RATIO
    return np.where(voiced, smooth, np.nan)


def notes(midi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Notes of a :func:`melody_track` ``midi``: runs of ≥ ``MELODY_MIN_NOTE_FRAMES`` frames on one semitone.

    Returns ``(pitches, starts, lengths)``: MIDI ints, start frames within the excerpt, lengths in frames.
    """
    q = np.where(np.isnan(midi), -1, np.round(np.nan_to_num(midi, nan=-1.0))).astype(int)
    if q.size == 0:
        empty = np.zeros(0, dtype=int)
        return empty, empty, empty
    change = np.flatnonzero(np.diff(q)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [q.size]])
    keep = (q[starts] >= 0) & ((ends - starts) >= C.MELODY_MIN_NOTE_FRAMES)
    return q[starts][keep], starts[keep], (ends - starts)[keep]


def measure(f: "Features") -> dict[str, float]:
    midi = melody_track(f)
    voiced = ~np.isnan(midi)
    pitches, _, lengths = notes(midi)
    n = max(midi.size, 1)
    out = {
        "voiced_share": float(voiced.mean()) if voiced.size else 0.0,
        "note_coverage": float(lengths.sum()) / n,
        "n_notes": float(pitches.size),
        # how far the melody stands out of the mix: median salience peak-to-mean ratio of voiced frames
        "clarity": float(np.median(f.pitch_salience_ratio[voiced])) if voiced.any() else 0.0,
    }
    if pitches.size >= 4:
        # intervals folded to pitch-class distance (0-6): the predominant-pitch track makes octave
        # errors, which must not read as leaps; repeated notes (0) count as stepwise motion
        d = np.abs(np.diff(pitches)) % 12
        iv = np.minimum(d, 12 - d)
        out["step_share"] = float(np.mean(iv <= 2))
        out["tritone_share"] = float(np.mean(iv == 6))
        scale = np.zeros(12, dtype=bool)
        scale[list(f.key.scale())] = True
        out["in_key"] = float(np.sum(lengths * scale[pitches % 12]) / lengths.sum())
    both = voiced[1:] & voiced[:-1]
    if both.sum() >= 10:
        out["continuity"] = float(np.mean(np.abs(np.diff(midi)[both]) < 1.0))
    out["motif"] = _motif_repetition(f, midi)
    return out


def _motif_repetition(f: "Features", midi: np.ndarray) -> float:
    """Best share of beats whose median pitch equals the one 2/4/8/16 beats later."""
    exc = f.analysis_excerpt
    beats = f.beats[(f.beats >= exc.start) & (f.beats < exc.stop)] - exc.start
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
    """Weighted parts (weights sum to 1); a part that cannot be measured (too few notes) earns 0.

    Curve ranges measured on the real-music corpus. Contour continuity is measured but not scored:
    the smoothed track of music buried in noise is as continuous as the clean one. Clarity is what
    noise lowers (clean mixes ~1.6-2.9; noise at 10 dB SNR takes 0.05-0.9 off); it counts only
    once notes cover a few percent of the excerpt, so a held tone's few voiced frames earn nothing.
    """
    parts = [
        0.15 * ramp(m["note_coverage"], 0.03, 0.4),
        0.35 * ramp(m["clarity"], 1.45, 1.95) * ramp(m["note_coverage"], 0.02, 0.15),
        0.15 * ramp(m["motif"], 0.05, 0.3),
    ]
    if "step_share" in m:
        parts.append(0.175 * ramp(m["step_share"], 0.3, 0.55) * ramp(m["tritone_share"], 0.25, 0.08))
        parts.append(0.175 * ramp(m["in_key"], 0.5, 0.8))
    # concave read-out: the parts are evidence of a melody, and a real line that is weak on one
    # part (a riff that leaps, a modal tune off the K-S key) is still a melody; measured on the
    # corpus, the square root keeps clean-vs-degraded ordering and the cross-clip ROC AUC
    return float(np.sqrt(sum(parts)))


def notes_score(s: NoteStats) -> float:
    """Melody credit from transcribed notes, in [0, 1]: weighted parts (weights sum to 1; a part
    that cannot be measured earns 0), concave read-out as :func:`score`, gated by note changes
    and coverage (a held chord's notes cover the clip but never move; noise's few spurious notes
    cover little). Curve ranges measured on the real-music corpus (docs/scoring.md "Note
    evidence": corpus coverage ≥ 0.42, changes ≥ 0.7 per second, length variety ≥ 0.42)."""
    parts = [
        0.25 * ramp(s.coverage, 0.25, 0.6),
        0.2 * ramp(s.distinct_pitches, 3.0, 8.0),
        0.2 * ramp(s.changes_per_s, 0.3, 1.2),
        0.2 * (ramp(s.length_variety, 0.3, 0.55) if s.length_variety is not None else 0.0),
        0.15 * (ramp(s.step_share, 0.1, 0.3) if s.step_share is not None else 0.0),
    ]
    gate = ramp(s.changes_per_s, 0.1, 0.5) * ramp(s.coverage, 0.1, 0.3)
    return float(np.sqrt(sum(parts)) * gate)


def compute(ctx: SignalContext) -> float:
    f = ctx.features
    if f.pitch_midi.size < 8:
        raise Unavailable("clip too short for a pitch track")
    value = score(measure(f))
    stats = note_stats(f)
    set_source(ctx, NAME, None)
    if stats is None:
        return value
    from scoring.listeners import NOTES_SOURCE

    set_source(ctx, NAME, NOTES_SOURCE)
    return (1.0 - C.MELODY_NOTES_SHARE) * value + C.MELODY_NOTES_SHARE * notes_score(stats)
