"""The trained listeners that ship inside pip wheels: musicnn's taggers and basic-pitch's notes.

Every validator (GPU or not, CI included) runs them; nothing is fetched at run time. This module
is the one place the scorer reaches them:

- :func:`status` says which listeners this process can run (and why not), once per process;
- :func:`musicnn_outputs` tags one clip with both musicnn taggers (MagnaTagATune and Million Song
  Dataset: genres, moods, instruments, vocals, tempo words) on at most ``MUSICNN_MAX_PATCHES``
  evenly spaced 3 s patches;
- :func:`transcribe` transcribes at most ``NOTES_MAX_SECONDS`` of one clip into notes
  (basic-pitch; evenly spaced 4.75 s excerpts).

Both return None when their listener is not installed (the signals that use them fall back to
their DSP measures and the breakdown's ``sources`` says which listener was heard). A listener
that is installed but fails on a clip raises (the scorer turns it into that signal's
``unavailable`` reason). Results are cached on the clip's :class:`~scoring.features.Features`
(``Features.musicnn``, ``Features.transcription``), so every signal shares one analysis.

Determinism: both run in NumPy / onnxruntime on one thread with fixed inputs, so the same clip
gives bit-identical outputs in every process on one machine.
"""

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import soxr

from scoring import constants as C

if TYPE_CHECKING:
    from scoring.features import Features
    from scoring.wheel_models.basic_pitch import Transcription
    from scoring.wheel_models.musicnn import MusicnnOutput

__all__ = [
    "ListenerStatus",
    "MUSICNN_SOURCE",
    "NOTES_SOURCE",
    "musicnn_embedding",
    "musicnn_outputs",
    "musicnn_reference",
    "musicnn_typicality",
    "status",
    "transcribe",
]

logger = logging.getLogger(__name__)

MUSICNN_SOURCE = "musicnn 0.1.0 (MTT_musicnn + MSD_musicnn)"
NOTES_SOURCE = "basic-pitch 0.4.0 (nmp.onnx)"


@dataclass(frozen=True)
class ListenerStatus:
    """Which wheel listeners this process can run. ``musicnn`` / ``notes``: usable; the
    ``*_reason`` fields say why not (empty when usable)."""

    musicnn: bool
    notes: bool
    musicnn_reason: str = ""
    notes_reason: str = ""

    @property
    def complete(self) -> bool:
        return self.musicnn and self.notes

    def describe(self) -> str:
        """One line for logs and the CLI."""
        parts = [
            f"musicnn: {'ok' if self.musicnn else 'missing (' + self.musicnn_reason + ')'}",
            f"basic-pitch: {'ok' if self.notes else 'missing (' + self.notes_reason + ')'}",
        ]
        return "; ".join(parts)


@functools.cache
def status() -> ListenerStatus:
    """Load both listeners once per process and say which are usable (cached)."""
    from scoring.wheel_models.basic_pitch import BasicPitchError
    from scoring.wheel_models.musicnn import TAGGERS, MusicnnError, MusicnnTagger

    musicnn_ok, musicnn_reason = True, ""
    try:
        for name in TAGGERS:
            MusicnnTagger.load(name)
    except (MusicnnError, OSError, ValueError) as exc:
        musicnn_ok, musicnn_reason = False, f"{type(exc).__name__}: {exc}"
    notes_ok, notes_reason = True, ""
    try:
        _transcriber()
    except (BasicPitchError, OSError, ImportError) as exc:
        notes_ok, notes_reason = False, f"{type(exc).__name__}: {exc}"
    result = ListenerStatus(
        musicnn=musicnn_ok, notes=notes_ok, musicnn_reason=musicnn_reason, notes_reason=notes_reason
    )
    if not result.complete:
        logger.warning("wheel listeners: %s", result.describe())
    return result


@functools.cache
def _transcriber():  # -> NoteTranscriber
    from scoring.wheel_models.basic_pitch import NoteTranscriber

    return NoteTranscriber.load(threads=1)


def musicnn_outputs(features: "Features") -> "dict[str, MusicnnOutput] | None":
    """Both musicnn taggers' readings of the clip (tagger name → output), or None when musicnn is
    not installed. Input: the clip's channel mean resampled once to 16 kHz (soxr, from the
    analysis-rate mono); at most ``MUSICNN_MAX_PATCHES`` evenly spaced 3 s patches."""
    if not status().musicnn:
        return None
    from scoring.wheel_models.musicnn import SAMPLE_RATE, TAGGERS, analyse_all

    mono_16k = soxr.resample(features.mono, features.analysis_rate, SAMPLE_RATE).astype(np.float32)
    return analyse_all(mono_16k, taggers=TAGGERS, max_patches=C.MUSICNN_MAX_PATCHES)


def musicnn_embedding(outputs: "dict[str, MusicnnOutput]") -> np.ndarray:
    """The clip's music embedding: both taggers' 200-d penultimate features, averaged over the
    analysed patches, concatenated in tagger order. float32 ``(400,)``."""
    from scoring.wheel_models.musicnn import TAGGERS

    return np.concatenate([outputs[name].embedding for name in TAGGERS]).astype(np.float32)


def transcribe(features: "Features") -> "Transcription | None":
    """basic-pitch's notes for at most ``NOTES_MAX_SECONDS`` of the clip (evenly spaced 4.75 s
    excerpts; the clip's channel mean at 22 050 Hz, which is the analysis rate), or None when
    basic-pitch is not installed."""
    if not status().notes:
        return None
    from scoring.wheel_models.basic_pitch import SAMPLE_RATE

    mono = features.mono
    if features.analysis_rate != SAMPLE_RATE:
        mono = soxr.resample(mono, features.analysis_rate, SAMPLE_RATE).astype(np.float32)
    return _transcriber().transcribe(mono, max_seconds=C.NOTES_MAX_SECONDS)


@functools.cache
def musicnn_reference():  # -> scoring.fad.FadReference | None
    """The shipped real-music reference in musicnn's embedding space
    (:mod:`scoring.listener_reference`), loaded once; None when musicnn is not usable or the file
    is missing or was built by another musicnn (logged)."""
    from scoring.fad import FadReference
    from scoring.listener_reference import REFERENCE_PATH
    from scoring.signals.base import ScoringError

    if not status().musicnn:
        return None
    try:
        ref = FadReference.load(REFERENCE_PATH)
    except ScoringError as exc:
        logger.warning("musicnn reference unusable: %s", exc)
        return None
    if ref.model_identity != MUSICNN_SOURCE or ref.encoder is None:
        logger.warning(
            "musicnn reference %s was built by %r, not %r: not used",
            REFERENCE_PATH,
            ref.model_identity,
            MUSICNN_SOURCE,
        )
        return None
    return ref


@functools.cache
def musicnn_typicality():  # -> scoring.listener_reference.Typicality | None
    """The shipped typicality statistics (``neural_quality``'s weight-free route), loaded once;
    None when musicnn is not usable or the file is missing or from another musicnn (logged)."""
    from scoring.listener_reference import TYPICALITY_PATH, Typicality
    from scoring.signals.base import ScoringError

    if not status().musicnn:
        return None
    try:
        typical = Typicality.load(TYPICALITY_PATH)
    except ScoringError as exc:
        logger.warning("musicnn typicality unusable: %s", exc)
        return None
    if typical.identity != MUSICNN_SOURCE:
        logger.warning("musicnn typicality %s was built by %r: not used", TYPICALITY_PATH, typical.identity)
        return None
    return typical
