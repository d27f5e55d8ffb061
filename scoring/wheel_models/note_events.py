"""Note events from basic-pitch posteriorgrams: a port of ``basic_pitch.note_creation``.

Turns the model's per-frame note and onset activations into note events exactly as
``basic_pitch.note_creation.model_output_to_notes`` does with ``basic_pitch.inference.predict``'s
defaults: onsets are the model's onset activations maxed with onsets inferred from rises of the
note activation; every local maximum over time ≥ the onset threshold starts a note (latest onset
first), which lasts until the note activation stays below the frame threshold for
``energy_tolerance`` frames; notes of ``min_note_frames`` frames or fewer are dropped; each note
clears its own and the neighbouring semitones' remaining energy; then the "melodia trick" grows
notes from the strongest remaining activation forwards and backwards until none is above the frame
threshold. Frame indices become seconds through basic-pitch's own ``model_frames_to_time``
(including its per-window drift correction). Pitch bends and the MIDI file are left out.

The one change from the original is speed, not results: the melodia trick's "argmax of all
remaining energy" is served from a per-frame maximum that is refreshed only for the frames a
note just cleared (row-major first occurrence, so the same cell is picked), instead of scanning
the whole (frames, 88) matrix for every note.

Ported from basic-pitch 0.4.0 (https://github.com/spotify/basic-pitch), ``note_creation.py``:
Copyright 2022 Spotify AB. Licensed under the Apache License, Version 2.0 (the "License"); you
may not use this file except in compliance with the License. You may obtain a copy of the
License at http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or
agreed to in writing, software distributed under the License is distributed on an "AS IS"
BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License
for the specific language governing permissions and limitations under the License. Changes:
pitch bends and MIDI output removed, the melodia loop's global argmax served from a row-maximum
cache, NumPy-only (no librosa).
"""

from typing import NamedTuple

import numpy as np
from scipy.signal import argrelmax

__all__ = [
    "FrameNote",
    "MIDI_OFFSET",
    "ONSET_THRESHOLD",
    "FRAME_THRESHOLD",
    "MIN_NOTE_FRAMES",
    "ENERGY_TOLERANCE",
    "model_frames_to_time",
    "frame_notes",
]

#: MIDI number of the posteriorgrams' first pitch bin (A0, 27.5 Hz); bins are semitones up to C8.
MIDI_OFFSET = 21
_MAX_FREQ_IDX = 87
#: ``basic_pitch.inference.predict`` defaults.
ONSET_THRESHOLD = 0.5
FRAME_THRESHOLD = 0.3
#: ``int(round(127.70 ms * 22050 / 256 / 1000))`` = 11 frames: notes must be longer than this.
MIN_NOTE_FRAMES = 11
#: Frames a note may stay below the frame threshold before it ends.
ENERGY_TOLERANCE = 11

_SAMPLE_RATE = 22050
_FFT_HOP = 256
_ANNOT_N_FRAMES = 172  # basic-pitch's ANNOT_N_FRAMES: ANNOTATIONS_FPS (86) * 2 s
_AUDIO_N_SAMPLES = 43844  # basic-pitch's AUDIO_N_SAMPLES: 22050 * 2 - 256


class FrameNote(NamedTuple):
    """One note in frames: ``[start_frame, end_frame)`` on ``midi_pitch``; ``amplitude`` is the mean
    note activation over those frames (in [0, 1], float32 as the original computes it)."""

    start_frame: int
    end_frame: int
    midi_pitch: int
    amplitude: float


def model_frames_to_time(n_frames: int) -> np.ndarray:
    """Seconds of each posteriorgram frame, as basic-pitch maps them: ``(n_frames,)`` float64.

    ``frame * 256 / 22050`` minus a drift correction of ≈10.3 ms per 172 frames (the unwrapped
    windows advance 36164 samples per 142 frames, not 256 per frame; basic-pitch corrects in
    172-frame steps with its own "magic number").
    """
    frames = np.arange(n_frames)
    original_times = (frames * _FFT_HOP).astype(int) / float(_SAMPLE_RATE)
    window_numbers = np.floor(frames / _ANNOT_N_FRAMES)
    window_offset = (_FFT_HOP / _SAMPLE_RATE) * (_ANNOT_N_FRAMES - (_AUDIO_N_SAMPLES / _FFT_HOP)) + 0.0018
    return original_times - (window_offset * window_numbers)


def _hz_to_midi(hz: float) -> float:
    return float(12 * (np.log2(hz) - np.log2(440.0)) + 69)


def _inferred_onsets(onsets: np.ndarray, frames: np.ndarray, n_diff: int = 2) -> np.ndarray | None:
    """Onsets maxed with rises of the note activation (basic-pitch ``get_infered_onsets``).

    ``None`` where the original produces all-NaN onsets (no rise anywhere: 0/0), which yields no
    onset peaks at all.
    """
    diffs = []
    for n in range(1, n_diff + 1):
        frames_appended = np.concatenate([np.zeros((n, frames.shape[1])), frames])
        diffs.append(frames_appended[n:, :] - frames_appended[:-n, :])
    frame_diff = np.min(diffs, axis=0)
    frame_diff[frame_diff < 0] = 0
    frame_diff[:n_diff, :] = 0
    top = np.max(frame_diff)
    if not top > 0:
        return None
    frame_diff = np.max(onsets) * frame_diff / top  # rescale to have the same max as onsets
    return np.max([onsets, frame_diff], axis=0)


def _melodia(
    remaining: np.ndarray,
    frames: np.ndarray,
    *,
    frame_threshold: float,
    min_note_frames: int,
    energy_tolerance: int,
) -> list[FrameNote]:
    """basic-pitch's melodia trick on ``remaining`` (modified in place), with a row-maximum cache."""
    n_frames = remaining.shape[0]
    row_max = remaining.max(axis=1)
    notes: list[FrameNote] = []
    while True:
        i_mid = int(np.argmax(row_max))  # first row holding the global maximum ...
        if not row_max[i_mid] > frame_threshold:
            break
        freq_idx = int(np.argmax(remaining[i_mid]))  # ... and its first column: np.argmax's C-order pick
        remaining[i_mid, freq_idx] = 0
        lo_f = max(freq_idx - 1, 0)
        hi_f = min(freq_idx + 1, _MAX_FREQ_IDX) + 1

        # forward pass
        i = i_mid + 1
        k = 0
        while i < n_frames - 1 and k < energy_tolerance:
            if remaining[i, freq_idx] < frame_threshold:
                k += 1
            else:
                k = 0
            remaining[i, lo_f:hi_f] = 0
            i += 1
        touched_hi = i  # rows [i_mid, i) were cleared
        i_end = i - 1 - k

        # backward pass
        i = i_mid - 1
        k = 0
        while i > 0 and k < energy_tolerance:
            if remaining[i, freq_idx] < frame_threshold:
                k += 1
            else:
                k = 0
            remaining[i, lo_f:hi_f] = 0
            i -= 1
        touched_lo = i + 1  # rows (i, i_mid] were cleared
        i_start = i + 1 + k

        row_max[touched_lo:touched_hi] = remaining[touched_lo:touched_hi].max(axis=1)

        if i_end - i_start <= min_note_frames:
            continue
        amplitude = np.mean(frames[i_start:i_end, freq_idx])
        notes.append(FrameNote(i_start, i_end, freq_idx + MIDI_OFFSET, float(amplitude)))
    return notes


def frame_notes(
    *,
    note: np.ndarray,
    onset: np.ndarray,
    onset_threshold: float = ONSET_THRESHOLD,
    frame_threshold: float = FRAME_THRESHOLD,
    min_note_frames: int = MIN_NOTE_FRAMES,
    energy_tolerance: int = ENERGY_TOLERANCE,
    infer_onsets: bool = True,
    melodia_trick: bool = True,
    min_freq_hz: float | None = None,
    max_freq_hz: float | None = None,
) -> list[FrameNote]:
    """Note events in frames from the note and onset posteriorgrams (basic-pitch
    ``output_to_notes_polyphonic``; inputs are not modified).

    ``note``, ``onset``: ``(frames, 88)`` activations in [0, 1], bin 0 = MIDI 21. Returns the notes
    in basic-pitch's order: onset-started notes latest first, then melodia notes strongest first.
    """
    if note.shape != onset.shape or note.ndim != 2 or note.shape[1] != 88:
        raise ValueError(f"note and onset must both be (frames, 88), got {note.shape} and {onset.shape}")
    frames = np.array(note, copy=True)
    onsets = np.array(onset, copy=True)
    n_frames = frames.shape[0]
    if n_frames < 3:
        return []

    if max_freq_hz is not None:
        idx = int(np.round(_hz_to_midi(max_freq_hz) - MIDI_OFFSET))
        onsets[:, idx:] = 0
        frames[:, idx:] = 0
    if min_freq_hz is not None:
        idx = int(np.round(_hz_to_midi(min_freq_hz) - MIDI_OFFSET))
        onsets[:, :idx] = 0
        frames[:, :idx] = 0

    peaks_from: np.ndarray | None = onsets
    if infer_onsets:
        peaks_from = _inferred_onsets(onsets, frames)

    remaining = frames.astype(np.float64)  # the original copies into a float64 matrix
    notes: list[FrameNote] = []
    peak_thresh_mat = np.zeros(frames.shape)
    if peaks_from is not None:  # all-NaN onsets have no peaks: the matrix stays zero
        peaks = argrelmax(peaks_from, axis=0)
        peak_thresh_mat[peaks] = peaks_from[peaks]
    onset_idx = np.where(peak_thresh_mat >= onset_threshold)
    for note_start_idx, freq_idx in zip(onset_idx[0][::-1], onset_idx[1][::-1], strict=True):
        note_start_idx = int(note_start_idx)
        freq_idx = int(freq_idx)
        if note_start_idx >= n_frames - 1:
            continue
        i = note_start_idx + 1
        k = 0
        column = remaining[:, freq_idx]
        while i < n_frames - 1 and k < energy_tolerance:
            if column[i] < frame_threshold:
                k += 1
            else:
                k = 0
            i += 1
        i -= k
        if i - note_start_idx <= min_note_frames:
            continue
        remaining[note_start_idx:i, max(freq_idx - 1, 0) : min(freq_idx + 1, _MAX_FREQ_IDX) + 1] = 0
        amplitude = np.mean(frames[note_start_idx:i, freq_idx])
        notes.append(FrameNote(note_start_idx, i, freq_idx + MIDI_OFFSET, float(amplitude)))

    if melodia_trick:
        notes.extend(
            _melodia(
                remaining,
                frames,
                frame_threshold=frame_threshold,
                min_note_frames=min_note_frames,
                energy_tolerance=energy_tolerance,
            )
        )
    return notes
