"""The procedural generation backend: compose, synthesise, mix and master a MusicSpec on the CPU.

Weight-free and deterministic: all randomness comes from a ``numpy.random.Generator``
seeded with ``spec.seed`` (and the seed alone), so the same spec gives the same bytes in any
process, and a different seed gives different music. Output is stereo float32 of exactly
``round(spec.duration_seconds * sample_rate)`` frames, mastered to -14 LUFS with true peak at
most -1 dBTP.

With a General-MIDI soundfont (``soundfont=PATH``, or ``"auto"`` for Debian's standard fonts)
the parts and kit pieces the font covers render through it (:mod:`.soundfont`); the font is
loaded once, here, and the built-in synth covers whatever it lacks.
"""

import logging
import math
import os

import numpy as np

from tuneforge.catalog import GENRES
from tuneforge.generation.base import BackendUnavailable, GeneratedAudio
from tuneforge.generation.procedural.composer import compose
from tuneforge.generation.procedural.mastering import CEILING_DBTP, TARGET_LUFS, master
from tuneforge.generation.procedural.mixer import render_score
from tuneforge.generation.procedural.sf2 import SoundFontError
from tuneforge.generation.procedural.soundfont import SoundFontVoices, resolve_soundfont_path
from tuneforge.spec import MusicSpec

__all__ = ["ProceduralBackend"]

log = logging.getLogger(__name__)

_FADE_IN_S = 0.005
_MAX_FADE_OUT_S = 0.6


class ProceduralBackend:
    """Procedural composer + synth. ``sample_rate`` in Hz (8-96 kHz).

    ``soundfont``: None (default) renders with the built-in synth; a path to an SF2 file renders
    through that General-MIDI font; ``"auto"`` uses the first of Debian's standard fonts
    (``/usr/share/sounds/sf2/TimGM6mb.sf2``, ``FluidR3_GM.sf2``) that is installed, else the
    built-in synth. A missing or unusable explicit path raises :class:`BackendUnavailable`.
    """

    name = "procedural"
    model_id = "tuneforge-procedural-v1"
    device = "cpu"
    max_duration_seconds = 180.0

    def __init__(self, sample_rate: int = 44_100, soundfont: str | None = None) -> None:
        if not 8_000 <= int(sample_rate) <= 96_000:
            raise BackendUnavailable(f"procedural sample_rate must be 8000-96000 Hz, got {sample_rate}")
        self.sample_rate = int(sample_rate)
        self.soundfont = soundfont
        self.voices: SoundFontVoices | None = None
        try:
            path = resolve_soundfont_path(soundfont)
            if path is not None:
                self.voices = SoundFontVoices.from_path(path, self.sample_rate)
        except SoundFontError as exc:
            raise BackendUnavailable(f"soundfont unusable: {exc}") from exc
        if self.voices is not None:
            stem = os.path.splitext(os.path.basename(self.voices.font.path))[0]
            self.model_id = f"{ProceduralBackend.model_id}+sf2:{stem}"

    def supported_genres(self) -> list[str]:
        """The catalogue's genres (each has a progression family, groove and instrument pool)."""
        return list(GENRES)

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        """Render ``spec`` to stereo float32 of shape (2, round(duration * sample_rate)).

        Raises ValueError for a duration outside (0, 180] s or a tempo outside [20, 300] BPM.
        """
        duration = float(spec.duration_seconds)
        if not (math.isfinite(duration) and 0.0 < duration <= self.max_duration_seconds):
            raise ValueError(f"duration_seconds must be in (0, {self.max_duration_seconds}], got {duration}")
        if not (math.isfinite(spec.tempo_bpm) and 20.0 <= spec.tempo_bpm <= 300.0):
            raise ValueError(f"tempo_bpm must be in [20, 300], got {spec.tempo_bpm}")
        sr = self.sample_rate
        n_frames = int(round(duration * sr))
        rng = np.random.default_rng(int(spec.seed) & 0xFFFFFFFF)
        score = compose(spec, rng)
        mix = render_score(score, sample_rate=sr, n_frames=max(n_frames, int(0.4 * sr)), seed=int(spec.seed),
                           voices=self.voices)
        fade_in = max(2, int(_FADE_IN_S * sr))
        mix[:, :fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
        fade_out = max(2, int(min(_MAX_FADE_OUT_S, 0.1 * duration) * sr))
        mix[:, n_frames - fade_out: n_frames] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)
        mastered, report = master(mix, sample_rate=sr, target_lufs=TARGET_LUFS, ceiling_dbtp=CEILING_DBTP)
        mastered = np.ascontiguousarray(mastered[:, :n_frames], dtype=np.float32)
        log.info(
            "procedural: %s %s %s %.0f BPM %.2f s seed %d → %.1f LUFS, %.2f dBTP",
            spec.genre or "-", spec.key.name, spec.meter.name, spec.tempo_bpm, duration, spec.seed,
            report.loudness_out_lufs, report.true_peak_dbtp,
        )
        return GeneratedAudio(samples=mastered, sample_rate=sr, model_id=self.model_id)
