"""Statistics of a clip's transcribed notes (basic-pitch), computed once per clip.

``Features.transcription`` holds basic-pitch's notes for at most ``NOTES_MAX_SECONDS`` of the
clip (evenly spaced excerpts). :func:`note_stats` reduces them to the numbers the `melody` and
`musicality` signals and the artifact penalty read: how many notes there are and how much of
the time they cover, how many sound together, which pitches and pitch classes they use and how
clearly those point to one key, how the top line moves (stepwise share), how the onsets sit on
the beat grid, how much note lengths vary, and how often the set of sounding pitch classes
changes (a held chord never does). The result is cached in the clip's extras, so every reader
shares one computation; None when basic-pitch is not installed (readers then fall back to their
DSP measures).

Times are seconds of the input clip; every statistic is measured inside the analysed excerpts
only (never across the gap between two excerpts).
"""

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C

if TYPE_CHECKING:
    from scoring.features import Features

__all__ = ["NoteStats", "note_stats", "from_transcription", "EXTRA_NOTE_STATS"]

#: Extras key of the cached :class:`NoteStats` (or None when there is no transcription).
EXTRA_NOTE_STATS = "note_stats"
_MISSING = object()
#: Krumhansl–Kessler key profiles (tonic first), as ``Features.key_correlations`` uses them.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_GRID_HZ = 100.0  # time grid of the coverage and polyphony counts


@dataclass(frozen=True)
class NoteStats:
    """What the notes of one clip say. Shares are in [0, 1]; None where too few notes to tell.

    - ``analysed_s``: seconds of audio transcribed; ``n_notes``: notes found there.
    - ``density``: notes per second; ``onset_rate``: distinct onsets per second (onsets closer
      than ``NOTE_ONSET_MERGE_SECONDS`` are one: a chord struck together is one onset).
    - ``coverage``: share of the analysed time with at least one note sounding;
      ``polyphony``: mean number of notes sounding where any note sounds.
    - ``distinct_pitches``; ``pitch_range``: semitones between the 5th and 95th percentile pitch.
    - ``pitch_classes``: duration-weighted share of each pitch class, ``(12,)`` (C first; zeros
      when there are no notes); ``pitch_class_variety``: exp of its entropy (1 = one pitch class,
      12 = all equally); ``key_clarity``: Krumhansl–Schmuckler correlation of ``pitch_classes``
      with the best of the 24 keys (−1..1).
    - ``step_share``: share of top-line intervals of at most 2 semitones (repeats included).
    - ``length_variety``: standard deviation of log2 note lengths (octaves of duration).
    - ``changes_per_s``: changes of the set of sounding pitch classes between consecutive
      ``NOTE_CHANGE_WINDOW_SECONDS`` windows, per second (a held chord: ~0).
    - ``grid_alignment``: how consistently onsets sit at one phase of the beat grid (or of its
      halves or quarters): 1 = all at one phase, ~1/√n for n random onsets.
    """

    analysed_s: float
    n_notes: int
    density: float
    onset_rate: float
    coverage: float
    polyphony: float
    distinct_pitches: int
    pitch_range: float
    pitch_classes: np.ndarray
    pitch_class_variety: float
    key_clarity: float | None
    step_share: float | None
    length_variety: float | None
    changes_per_s: float
    grid_alignment: float | None

    def as_dict(self) -> dict[str, float]:
        """The scalar statistics (None ones left out), for breakdown notes and probes."""
        out: dict[str, float] = {}
        for name in (
            "analysed_s",
            "n_notes",
            "density",
            "onset_rate",
            "coverage",
            "polyphony",
            "distinct_pitches",
            "pitch_range",
            "pitch_class_variety",
            "key_clarity",
            "step_share",
            "length_variety",
            "changes_per_s",
            "grid_alignment",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = float(value)
        return out


def note_stats(features: "Features") -> NoteStats | None:
    """The clip's :class:`NoteStats`, computed on first use and cached in its extras; None when
    basic-pitch is not installed (``Features.transcription`` is None)."""
    cached = features.get_extra(EXTRA_NOTE_STATS, _MISSING)
    if cached is not _MISSING:
        return cached
    transcription = features.transcription
    stats = (
        None if transcription is None else from_transcription(transcription, beat_times=features.beat_times)
    )
    features.set_extra(EXTRA_NOTE_STATS, stats)
    return stats


def from_transcription(transcription, *, beat_times: np.ndarray) -> NoteStats:
    """:class:`NoteStats` of a ``scoring.wheel_models.basic_pitch.Transcription``.

    ``beat_times``: the clip's beat positions in seconds, ``(n_beats,)`` (for ``grid_alignment``).
    """
    excerpts = [(float(a), float(b)) for a, b in transcription.excerpts if b > a]
    analysed = float(sum(b - a for a, b in excerpts))
    notes = transcription.notes
    starts = np.array([n.start_s for n in notes], dtype=np.float64)
    ends = np.array([n.end_s for n in notes], dtype=np.float64)
    pitches = np.array([n.midi_pitch for n in notes], dtype=np.int64)
    lengths = np.maximum(ends - starts, 1e-3)
    per_s = 1.0 / analysed if analysed > 0 else 0.0

    coverage, polyphony = _coverage(starts, ends, excerpts)
    onsets = _merged_onsets(starts)
    pcs = np.bincount(pitches % 12, weights=lengths, minlength=12) if pitches.size else np.zeros(12)
    pcs = pcs / pcs.sum() if pcs.sum() > 0 else pcs
    return NoteStats(
        analysed_s=analysed,
        n_notes=int(pitches.size),
        density=pitches.size * per_s,
        onset_rate=onsets.size * per_s,
        coverage=coverage,
        polyphony=polyphony,
        distinct_pitches=int(np.unique(pitches).size),
        pitch_range=float(np.percentile(pitches, 95) - np.percentile(pitches, 5)) if pitches.size else 0.0,
        pitch_classes=pcs.astype(np.float64),
        pitch_class_variety=_variety(pcs),
        key_clarity=_key_clarity(pcs) if pitches.size >= C.NOTE_MIN_NOTES else None,
        step_share=_step_share(starts, pitches, excerpts),
        length_variety=float(np.std(np.log2(lengths))) if pitches.size >= C.NOTE_MIN_NOTES else None,
        changes_per_s=_changes(starts, ends, pitches, excerpts) * per_s,
        grid_alignment=_grid_alignment(onsets, np.asarray(beat_times, dtype=np.float64)),
    )


def _coverage(
    starts: np.ndarray, ends: np.ndarray, excerpts: list[tuple[float, float]]
) -> tuple[float, float]:
    """(share of excerpt time with a note sounding, mean notes sounding where any sounds)."""
    total = covered = sounding = 0
    for a, b in excerpts:
        n = max(1, int(round((b - a) * _GRID_HZ)))
        inside = (ends > a) & (starts < b)
        count = np.zeros(n + 1)
        lo = np.clip(np.round((starts[inside] - a) * _GRID_HZ).astype(np.int64), 0, n)
        hi = np.clip(np.round((ends[inside] - a) * _GRID_HZ).astype(np.int64), 0, n)
        np.add.at(count, lo, 1.0)
        np.add.at(count, hi, -1.0)
        active = np.cumsum(count)[:n]
        total += n
        covered += int(np.sum(active > 0))
        sounding += float(np.sum(active))
    if total == 0:
        return 0.0, 0.0
    return covered / total, (sounding / covered if covered else 0.0)


def _merged_onsets(starts: np.ndarray) -> np.ndarray:
    """Onset times with onsets closer than ``NOTE_ONSET_MERGE_SECONDS`` merged (first kept)."""
    if starts.size == 0:
        return starts
    s = np.sort(starts)
    keep = np.concatenate([[True], np.diff(s) > C.NOTE_ONSET_MERGE_SECONDS])
    return s[keep]


def _variety(pcs: np.ndarray) -> float:
    p = pcs[pcs > 0]
    return float(np.exp(-np.sum(p * np.log(p)))) if p.size else 0.0


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-10)


def _key_clarity(pcs: np.ndarray) -> float:
    if np.ptp(pcs) <= 0:
        return 0.0
    z = _zscore(pcs)
    best = -1.0
    for profile in (_MAJOR, _MINOR):
        zp = _zscore(profile)
        for tonic in range(12):
            best = max(best, float(np.mean(z * np.roll(zp, tonic))))
    return best


def _step_share(starts: np.ndarray, pitches: np.ndarray, excerpts: list[tuple[float, float]]) -> float | None:
    """Share of top-line intervals ≤ 2 semitones; the top line is the highest pitch of each onset
    group (notes starting within ``NOTE_ONSET_MERGE_SECONDS``). None with too few top notes."""
    intervals: list[np.ndarray] = []
    for a, b in excerpts:
        inside = (starts >= a) & (starts < b)
        if not inside.any():
            continue
        order = np.argsort(starts[inside], kind="stable")
        s, p = starts[inside][order], pitches[inside][order]
        group = np.concatenate([[0], np.cumsum(np.diff(s) > C.NOTE_ONSET_MERGE_SECONDS)])
        top = np.full(int(group[-1]) + 1, -1, dtype=np.int64)
        np.maximum.at(top, group, p)
        if top.size >= 2:
            intervals.append(np.abs(np.diff(top)))
    iv = np.concatenate(intervals) if intervals else np.zeros(0)
    if iv.size < C.NOTE_MIN_NOTES - 1:
        return None
    return float(np.mean(iv <= 2))


def _changes(
    starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray, excerpts: list[tuple[float, float]]
) -> float:
    """Number of changes of the sounding pitch-class set between consecutive windows."""
    win = C.NOTE_CHANGE_WINDOW_SECONDS
    changes = 0
    for a, b in excerpts:
        n = int(math.floor((b - a) / win))
        if n < 2:
            continue
        masks = np.zeros(n, dtype=np.int64)
        inside = (ends > a) & (starts < b)
        for s, e, p in zip(starts[inside], ends[inside], pitches[inside], strict=True):
            # a note marks the windows it sounds in for at least half a window
            first = int(math.floor((s - a) / win + 0.5))
            last = int(math.ceil((e - a) / win - 0.5))
            if last > first:
                masks[max(0, first) : min(n, last)] |= 1 << int(p % 12)
        changes += int(np.sum(masks[1:] != masks[:-1]))
    return float(changes)


def _grid_alignment(onsets: np.ndarray, beats: np.ndarray) -> float | None:
    """How consistently onsets sit at one place of the beat grid: for the beat and its halves and
    quarters (``NOTE_GRID_DIVISIONS``), the mean resultant length of the onsets' phases in that
    grid (1 = every onset at the same phase, ~1/√n for random onsets), the largest of them.
    Phase concentration rather than distance to the beat, so a constant offset between the
    transcriber's onset times and the beat tracker's beats changes nothing. Only onsets between
    the first and last beat count; None with fewer than 4 beats or ``NOTE_MIN_NOTES`` onsets."""
    if beats.size < 4:
        return None
    inside = onsets[(onsets >= beats[0]) & (onsets < beats[-1])]
    if inside.size < C.NOTE_MIN_NOTES:
        return None
    i = np.clip(np.searchsorted(beats, inside, side="right") - 1, 0, beats.size - 2)
    phase = (inside - beats[i]) / np.maximum(beats[i + 1] - beats[i], 1e-6)  # 0..1 of a beat
    best = 0.0
    for division in C.NOTE_GRID_DIVISIONS:
        angle = 2.0 * np.pi * division * phase
        best = max(best, float(np.hypot(np.mean(np.cos(angle)), np.mean(np.sin(angle)))))
    return best
