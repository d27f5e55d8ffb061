"""Polyphonic note transcription with Spotify's basic-pitch model, run by our own code.

The model is the ICASSP 2022 "NMP" network (``saved_models/icassp_2022/nmp.onnx``, 230 KB) that
ships inside the ``basic-pitch`` 0.4.0 wheel (installed with ``--no-deps``: its TensorFlow pins are
not needed). The package is never imported (its ``__init__`` probes for TensorFlow, CoreML and
TFLite); the file is found with ``importlib.util.find_spec`` and run with ``onnxruntime``, one
session per process with fixed thread counts and sequential execution.

Input preparation and output unwrapping are those of ``basic_pitch.inference.run_inference``:
mono 22 050 Hz float32; 3840 zeros (half the 30-frame overlap) prepended; windows of
``WINDOW_SAMPLES`` = 43 844 samples every ``HOP_SAMPLES`` = 36 164 samples, the last zero-padded;
each window gives 172 frames of which the first and last 15 are dropped; the rest are concatenated
and cut to ``floor(samples * 86 / 22050)`` frames. Note events are basic-pitch's
``model_output_to_notes`` with ``predict``'s defaults (:mod:`scoring.wheel_models.note_events`).
``tests/test_basic_pitch.py`` holds both to the original's outputs on fixed clips
(``scripts/basic_pitch_reference.py`` ran ``basic_pitch.inference.predict``).

Long clips: ``max_seconds`` bounds the work with **evenly spaced excerpts** of ``EXCERPT_WINDOWS``
model windows (4.75 s each), ``floor(max_seconds / 4.75)`` of them (at least one), each centred in
its share of the clip (one excerpt = the centred excerpt). Each excerpt is transcribed on its own
exactly as a whole clip would be; note times are in seconds of the input clip. Clips no longer
than the excerpts together are transcribed whole.

Derived from basic-pitch 0.4.0 (https://github.com/spotify/basic-pitch), ``inference.py`` and
``constants.py``: Copyright 2022 Spotify AB. Licensed under the Apache License, Version 2.0 (the
"License"); you may not use this file except in compliance with the License. You may obtain a
copy of the License at http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable
law or agreed to in writing, software distributed under the License is distributed on an "AS IS"
BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License
for the specific language governing permissions and limitations under the License. Changes:
audio arrives as an array (no file loading), windows are built in NumPy, excerpts for long clips.
"""

import functools
import hashlib
import importlib.util
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scoring.signals.base import ScoringError
from scoring.wheel_models.note_events import (
    FRAME_THRESHOLD,
    MIN_NOTE_FRAMES,
    ONSET_THRESHOLD,
    frame_notes,
    model_frames_to_time,
)

__all__ = [
    "BasicPitchError",
    "BasicPitchMissing",
    "Note",
    "Transcription",
    "NoteTranscriber",
    "model_path",
    "SAMPLE_RATE",
    "FRAME_RATE_HZ",
    "EXCERPT_WINDOWS",
    "EXCERPT_SAMPLES",
]

logger = logging.getLogger(__name__)

#: Hz of the audio the model takes (basic-pitch ``AUDIO_SAMPLE_RATE``).
SAMPLE_RATE = 22050
_FFT_HOP = 256
#: Samples per model window (basic-pitch ``AUDIO_N_SAMPLES`` = 22050 * 2 - 256).
WINDOW_SAMPLES = 43844
_OVERLAP_FRAMES = 30
_OVERLAP_SAMPLES = _OVERLAP_FRAMES * _FFT_HOP  # 7680
#: Samples between window starts (36 164: 1.64 s).
HOP_SAMPLES = WINDOW_SAMPLES - _OVERLAP_SAMPLES
_ANNOTATIONS_FPS = SAMPLE_RATE // _FFT_HOP  # 86, integer as in basic-pitch
#: Nominal posteriorgram frame rate (22050 / 256 ≈ 86.13 Hz); ``Transcription.frame_times_s`` is exact.
FRAME_RATE_HZ = SAMPLE_RATE / _FFT_HOP
_N_PITCHES = 88
_N_CONTOUR_BINS = 264
#: Model windows per excerpt when ``max_seconds`` bounds the work.
EXCERPT_WINDOWS = 3
#: Samples per excerpt: exactly ``EXCERPT_WINDOWS`` windows after the 3840-sample front padding (4.746 s).
EXCERPT_SAMPLES = EXCERPT_WINDOWS * HOP_SAMPLES - _OVERLAP_SAMPLES // 2

_MODEL_FILE = ("saved_models", "icassp_2022", "nmp.onnx")
#: SHA-256 of basic-pitch 0.4.0's nmp.onnx: every validator must run the same network.
MODEL_SHA256 = "2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec"
_INPUT = "serving_default_input_2:0"
#: ONNX output names in the order note, onset, contour (as basic-pitch's ``Model.predict`` maps them).
_OUTPUTS = ["StatefulPartitionedCall:1", "StatefulPartitionedCall:2", "StatefulPartitionedCall:0"]


class BasicPitchError(ScoringError):
    """The basic-pitch transcriber cannot run on this input or with this installation."""


class BasicPitchMissing(BasicPitchError):
    """The ``basic-pitch`` wheel (and so its model file) is not installed, or is another version."""


@dataclass(frozen=True)
class Note:
    """One transcribed note: ``[start_s, end_s)`` in seconds of the input clip, ``midi_pitch`` 21-108,
    ``amplitude`` the mean note activation over the note (0-1; basic-pitch's velocity / 127)."""

    start_s: float
    end_s: float
    midi_pitch: int
    amplitude: float


@dataclass(frozen=True, eq=False)
class Transcription:
    """basic-pitch's reading of one clip.

    ``notes``: sorted by start, then pitch. The posteriorgrams cover the analysed audio (the whole
    clip, or the excerpts one after another): ``note_posteriorgram`` and ``onset_posteriorgram``
    ``(frames, 88)`` float32 in [0, 1], bin ``b`` = MIDI ``21 + b``; ``contour_posteriorgram``
    ``(frames, 264)`` float32, three bins per semitone from 27.5 Hz; ``frame_times_s`` ``(frames,)``
    float64, each frame's time in seconds of the input clip (basic-pitch's own mapping).
    ``excerpts``: ``(start_s, end_s)`` of each analysed stretch; ``duration_s`` of the input clip.
    """

    notes: tuple[Note, ...]
    note_posteriorgram: np.ndarray
    onset_posteriorgram: np.ndarray
    contour_posteriorgram: np.ndarray
    frame_times_s: np.ndarray
    excerpts: tuple[tuple[float, float], ...]
    duration_s: float
    frame_rate_hz: float = FRAME_RATE_HZ
    analysed_s: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "analysed_s", float(sum(end - start for start, end in self.excerpts)))


def model_path() -> Path:
    """Path of ``nmp.onnx`` inside the installed ``basic-pitch`` package (the package is not imported).

    Raises :class:`BasicPitchMissing` when the package or its model file is absent.
    """
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        raise BasicPitchMissing("basic-pitch is not installed (pip install --no-deps basic-pitch==0.4.0)")
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*_MODEL_FILE)
        if candidate.is_file():
            return candidate
    raise BasicPitchMissing(
        f"basic-pitch is installed without {'/'.join(_MODEL_FILE)} (pip install --no-deps basic-pitch==0.4.0)"
    )


def _check_identity(path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise BasicPitchMissing(
            f"{path} is not basic-pitch 0.4.0's model (sha256 {digest[:12]}…, expected {MODEL_SHA256[:12]}…); "
            "install basic-pitch==0.4.0"
        )


def _windows(audio: np.ndarray) -> np.ndarray:
    """basic-pitch's input windows of ``audio`` ``(samples,)`` float32: ``(n_windows, WINDOW_SAMPLES, 1)``."""
    padded = np.concatenate([np.zeros(_OVERLAP_SAMPLES // 2, dtype=np.float32), audio])
    starts = range(0, padded.shape[0], HOP_SAMPLES)
    out = np.zeros((len(starts), WINDOW_SAMPLES, 1), dtype=np.float32)
    for row, start in enumerate(starts):
        chunk = padded[start : start + WINDOW_SAMPLES]
        out[row, : chunk.shape[0], 0] = chunk
    return out


def _unwrap(windows_out: np.ndarray, n_samples: int) -> np.ndarray:
    """basic-pitch ``unwrap_output``: ``(n_windows, 172, bins)`` → ``(frames, bins)``."""
    n_olap = _OVERLAP_FRAMES // 2
    trimmed = windows_out[:, n_olap:-n_olap, :]
    n_frames = int(np.floor(n_samples * (_ANNOTATIONS_FPS / SAMPLE_RATE)))
    return trimmed.reshape(-1, trimmed.shape[2])[:n_frames, :]


def _excerpt_starts(n_samples: int, max_seconds: float | None) -> list[tuple[int, int]]:
    """``(start, stop)`` sample ranges to analyse: the whole clip, or evenly spaced excerpts."""
    if max_seconds is None:
        return [(0, n_samples)]
    if not max_seconds > 0:
        raise BasicPitchError(f"max_seconds must be positive, got {max_seconds}")
    n_excerpts = max(1, int(math.floor(max_seconds * SAMPLE_RATE / EXCERPT_SAMPLES)))
    if n_excerpts * EXCERPT_SAMPLES >= n_samples:
        return [(0, n_samples)]
    share = n_samples / n_excerpts
    ranges = []
    for k in range(n_excerpts):
        start = int(round((k + 0.5) * share - EXCERPT_SAMPLES / 2))
        ranges.append((start, start + EXCERPT_SAMPLES))
    return ranges


@functools.lru_cache(maxsize=4)
def _session(path: str, threads: int):  # -> onnxruntime.InferenceSession
    import onnxruntime as ort

    _check_identity(Path(path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    logger.info("basic-pitch model loaded from %s (%d thread(s))", path, threads)
    return session


class NoteTranscriber:
    """basic-pitch's note transcriber; build it with :meth:`load` (one ONNX session per process)."""

    def __init__(self, session, *, batch_windows: int = 1) -> None:
        self._session = session
        self._batch = max(1, int(batch_windows))

    @classmethod
    def load(cls, *, threads: int = 1, batch_windows: int = 1) -> "NoteTranscriber":
        """The process's transcriber: the session is created once per ``threads`` and reused.

        ``threads``: onnxruntime intra- and inter-op threads (fixed, so every process computes the
        same numbers). ``batch_windows``: model windows per ``run`` call (1, as basic-pitch runs them;
        larger batches were measured no faster on one thread, see ``bench/bench_wheel_models.py``).
        Raises :class:`BasicPitchMissing` when the wheel is absent or holds another model.
        """
        return cls(_session(str(model_path()), int(threads)), batch_windows=batch_windows)

    def posteriorgrams(self, *, mono_22050: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's ``(note, onset, contour)`` posteriorgrams of a whole clip, as basic-pitch's
        ``run_inference`` computes them: ``(frames, 88)``, ``(frames, 88)``, ``(frames, 264)`` float32,
        ``frames = floor(samples * 86 / 22050)``.

        ``mono_22050``: ``(samples,)`` mono audio at 22 050 Hz, nominally in [-1, 1] (cast to float32).
        """
        audio = _check_audio(mono_22050)
        windows = _windows(audio)
        parts: list[list[np.ndarray]] = [[], [], []]
        for first in range(0, windows.shape[0], self._batch):
            outputs = self._session.run(_OUTPUTS, {_INPUT: windows[first : first + self._batch]})
            for part, value in zip(parts, outputs, strict=True):
                part.append(value)
        note, onset, contour = (_unwrap(np.concatenate(p), audio.shape[0]) for p in parts)
        return (
            np.ascontiguousarray(note, dtype=np.float32),
            np.ascontiguousarray(onset, dtype=np.float32),
            np.ascontiguousarray(contour, dtype=np.float32),
        )

    def transcribe(
        self,
        mono_22050: np.ndarray,
        *,
        max_seconds: float | None = None,
        onset_threshold: float = ONSET_THRESHOLD,
        frame_threshold: float = FRAME_THRESHOLD,
        min_note_frames: int = MIN_NOTE_FRAMES,
        melodia_trick: bool = True,
    ) -> Transcription:
        """Notes and posteriorgrams of ``mono_22050`` ``(samples,)`` (22 050 Hz mono, cast to float32).

        ``max_seconds``: None = the whole clip (exactly basic-pitch's ``predict``); otherwise at most
        ``floor(max_seconds / 4.75)`` evenly spaced 4.75 s excerpts (at least one) are analysed, each
        on its own. Thresholds default to ``basic_pitch.inference.predict``'s (onset 0.5, frame 0.3,
        notes longer than 11 frames ≈ 128 ms, melodia trick on).
        """
        audio = _check_audio(mono_22050)
        ranges = _excerpt_starts(audio.shape[0], max_seconds)
        notes: list[Note] = []
        grams: list[list[np.ndarray]] = [[], [], [], []]
        for start, stop in ranges:
            note, onset, contour = self.posteriorgrams(mono_22050=audio[start:stop])
            offset_s = start / SAMPLE_RATE
            times = model_frames_to_time(note.shape[0])
            for ev in frame_notes(
                note=note,
                onset=onset,
                onset_threshold=onset_threshold,
                frame_threshold=frame_threshold,
                min_note_frames=min_note_frames,
                melodia_trick=melodia_trick,
            ):
                notes.append(
                    Note(
                        start_s=float(times[ev.start_frame]) + offset_s,
                        end_s=float(times[ev.end_frame]) + offset_s,
                        midi_pitch=int(ev.midi_pitch),
                        amplitude=float(ev.amplitude),
                    )
                )
            for gram, value in zip(grams, (note, onset, contour, times + offset_s), strict=True):
                gram.append(value)
        notes.sort(key=lambda n: (n.start_s, n.midi_pitch, n.end_s))
        note_g, onset_g, contour_g, times_g = (np.concatenate(g) for g in grams)
        return Transcription(
            notes=tuple(notes),
            note_posteriorgram=note_g,
            onset_posteriorgram=onset_g,
            contour_posteriorgram=contour_g,
            frame_times_s=times_g,
            excerpts=tuple((start / SAMPLE_RATE, stop / SAMPLE_RATE) for start, stop in ranges),
            duration_s=audio.shape[0] / SAMPLE_RATE,
        )


def _check_audio(mono_22050: np.ndarray) -> np.ndarray:
    audio = np.asarray(mono_22050)
    if audio.ndim != 1:
        raise BasicPitchError(f"basic-pitch takes mono audio (samples,), got shape {audio.shape}")
    if audio.shape[0] == 0:
        raise BasicPitchError("basic-pitch got an empty clip")
    if not np.issubdtype(audio.dtype, np.floating):
        raise BasicPitchError(f"basic-pitch takes float audio in [-1, 1], got {audio.dtype}")
    audio = audio.astype(np.float32, copy=False)
    if not np.isfinite(audio).all():
        raise BasicPitchError("basic-pitch got non-finite samples")
    return audio
