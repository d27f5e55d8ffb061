"""Melody: one-bar motifs (a rhythm plus a scale-degree contour), their variations, and
their realisation over a chord.

A phrase states a motif, repeats it over the next chord (transposed so strong beats land on
chord tones), answers with a second motif and closes with a cadence figure that falls to the
tonic (closing phrases) or rests on the dominant (open phrases). Pitches are scale degrees of
the key until the last step; in minor the leading tone is raised over a major dominant.
"""

from dataclasses import dataclass

import numpy as np

from scoring.music_theory import Key
from tuneforge.generation.procedural.score import BarGrid, NoteEvent

__all__ = ["Motif", "make_motif", "vary_motif", "realise_motif", "cadence_figure", "degree_to_midi", "snap_to_chord"]

_STEPS = np.array([-3, -2, -1, 0, 1, 2, 3, 4])
_STEP_P = np.array([0.05, 0.14, 0.27, 0.08, 0.27, 0.12, 0.05, 0.02])


@dataclass(frozen=True)
class Motif:
    """``rhythm``: (onset_q within the bar, length_q) per note; ``contour``: degree offsets from the first note."""

    rhythm: tuple[tuple[float, float], ...]
    contour: tuple[int, ...]


def make_motif(*, grid: BarGrid, density: float, step_q: float, rng: np.random.Generator) -> Motif:
    """A new one-bar motif. ``density`` 0-1 sets how many grid steps get a note."""
    positions = np.arange(0.0, grid.bar_q - 1e-9, step_q)
    onsets = []
    starts = grid.pulse_starts
    for pos in positions:
        on_pulse = any(abs(pos - s) < 1e-9 for s in starts)
        p = 0.8 if on_pulse else 0.15 + 0.5 * density
        if pos == 0.0 or rng.random() < p:
            onsets.append(float(pos))
    rhythm = []
    for i, on in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else grid.bar_q
        length = nxt - on
        if rng.random() < 0.2 and length > step_q:
            length *= 0.5  # a breath before the next note
        rhythm.append((on, float(length)))
    contour = [0]
    for _ in range(len(rhythm) - 1):
        contour.append(int(np.clip(contour[-1] + rng.choice(_STEPS, p=_STEP_P), -5, 7)))
    return Motif(tuple(rhythm), tuple(contour))


def vary_motif(motif: Motif, rng: np.random.Generator) -> Motif:
    """A recognisable variation: change the last interval, invert the contour, or split a long note."""
    choice = int(rng.integers(0, 3))
    rhythm, contour = list(motif.rhythm), list(motif.contour)
    if choice == 0 and len(contour) > 1:
        contour[-1] += int(rng.choice([-2, -1, 1, 2]))
    elif choice == 1:
        contour = [-c for c in contour]
    else:
        idx = int(np.argmax([r[1] for r in rhythm]))
        on, length = rhythm[idx]
        if length >= 1.0:
            rhythm[idx: idx + 1] = [(on, length / 2), (on + length / 2, length / 2)]
            contour.insert(idx + 1, contour[idx] + int(rng.choice([-1, 1])))
    return Motif(tuple(rhythm), tuple(contour))


def degree_to_midi(key: Key, degree: int, *, tonic_midi: int, chord_pcs: tuple[int, ...] = ()) -> int:
    """MIDI pitch of scale ``degree`` (0 = tonic at ``tonic_midi``, 7 = an octave up)."""
    scale = key.scale()
    octave, step = divmod(degree, 7)
    pitch = tonic_midi + 12 * octave + (scale[step] - key.tonic) % 12
    if key.mode == "minor" and step == 6 and (scale[6] + 1) % 12 in chord_pcs:
        pitch += 1  # harmonic minor over the major dominant
    return pitch


def snap_to_chord(key: Key, degree: int, chord_pcs: tuple[int, ...]) -> int:
    """The scale degree nearest ``degree`` (ties upward) whose pitch class is in the chord."""
    scale = key.scale()
    for delta in (0, 1, -1, 2, -2, 3, -3):
        d = degree + delta
        pc = scale[d % 7]
        if pc in chord_pcs or (key.mode == "minor" and d % 7 == 6 and (pc + 1) % 12 in chord_pcs):
            return d
    return degree


def realise_motif(
    motif: Motif,
    *,
    key: Key,
    start_degree: int,
    chord_pcs: tuple[int, ...],
    grid: BarGrid,
    bar_start_q: float,
    tonic_midi: int,
    velocity: float,
    low: int = -3,
    high: int = 10,
) -> tuple[list[NoteEvent], int]:
    """Notes of ``motif`` starting on ``start_degree`` (snapped to the chord); returns (notes, last degree).

    Notes on the bar's pulses are moved to the nearest chord tone; degrees stay within [low, high].
    """
    notes = []
    first = snap_to_chord(key, start_degree, chord_pcs)
    degree = first
    starts = grid.pulse_starts
    for (on, length), offset in zip(motif.rhythm, motif.contour, strict=True):
        degree = int(np.clip(first + offset, low, high))
        on_pulse = any(abs(on - s) < 1e-9 for s in starts)
        if on_pulse:
            degree = snap_to_chord(key, degree, chord_pcs)
        accent = 1.0 if on == 0.0 else (0.85 if on_pulse else 0.7)
        pitch = degree_to_midi(key, degree, tonic_midi=tonic_midi, chord_pcs=chord_pcs)
        notes.append(NoteEvent(bar_start_q + on, length * 0.95, pitch, velocity * accent))
    return notes, degree


def cadence_figure(
    *, key: Key, from_degree: int, closing: bool, chord_pcs: tuple[int, ...], grid: BarGrid,
    bar_start_q: float, tonic_midi: int, velocity: float,
) -> list[NoteEvent]:
    """Phrase-ending bar: step to the tonic (``closing``) or the supertonic (a half cadence), held to the bar's end."""
    target = 0 if closing else 1
    if from_degree > 5:
        target += 7
    target = snap_to_chord(key, target, chord_pcs) if not closing else target
    approach = target + (1 if from_degree >= target else -1)
    pulses = grid.pulses
    notes = []
    if len(pulses) >= 2:
        first_len = pulses[0][1]
        notes.append(NoteEvent(bar_start_q, first_len * 0.95,
                               degree_to_midi(key, approach, tonic_midi=tonic_midi, chord_pcs=chord_pcs), velocity))
        notes.append(NoteEvent(bar_start_q + first_len, (grid.bar_q - first_len) * 0.95,
                               degree_to_midi(key, target, tonic_midi=tonic_midi, chord_pcs=chord_pcs), velocity))
    else:
        notes.append(NoteEvent(bar_start_q, grid.bar_q * 0.95,
                               degree_to_midi(key, target, tonic_midi=tonic_midi, chord_pcs=chord_pcs), velocity))
    return notes
