"""General-MIDI soundfont voices for the procedural mixer: timbre names → GM presets, kit → GM drums.

:class:`SoundFontVoices` wraps a loaded SF2 file (:mod:`.sf2`) and renders notes through
:func:`.sf2_voice.render_note` with the same contract as :func:`.timbres.synthesize_note`
(one waveform per (pitch, length), starting and ending at 0, peak about 1), except that notes are
stereo, shape (2, frames), so the font's stereo samples and zone pans survive. Each procedural
timbre maps to a list of GM programs in bank 0 (the first the font has wins); a timbre with none
(or only silent ones) is reported by :meth:`SoundFontVoices.has_timbre` as absent, and the mixer
renders that part with the built-in synth. Kit pieces map to GM percussion keys in bank 128,
preset 0.

Levels: a timbre's notes are scaled so that a reference note (MIDI 40 for bass, 60 otherwise,
half a second, velocity :data:`VELOCITY`) peaks at 1, which keeps the composer's part balance
whatever the font's own levels are; kit pieces are normalised to peak 1 like the built-in kit.
Rendering is deterministic (no randomness), so the mixer's seed only matters for the fallbacks.
"""

import logging
import os

import numpy as np

from tuneforge.generation.procedural.drumkit import KIT_PIECES
from tuneforge.generation.procedural.sf2 import SoundFont, SoundFontError, Zone, load_soundfont
from tuneforge.generation.procedural.sf2_voice import render_note
from tuneforge.generation.procedural.timbres import PITCHED_TIMBRES

__all__ = ["AUTO", "STANDARD_PATHS", "GM_PROGRAMS", "GM_DRUM_KEYS", "VELOCITY", "SoundFontVoices",
           "resolve_soundfont_path"]

log = logging.getLogger(__name__)

#: ``--generation.soundfont auto``: use the first of :data:`STANDARD_PATHS` that exists.
AUTO = "auto"
#: Where Debian's ``timgm6mb-soundfont`` and ``fluid-soundfont-gm`` packages install their fonts.
STANDARD_PATHS = ("/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2")

#: GM programs (0-based) per procedural timbre, best first.
GM_PROGRAMS: dict[str, tuple[int, ...]] = {
    "piano": (0, 1),                   # Acoustic Grand, Bright Acoustic
    "electric_piano": (4, 5),          # Electric Piano 1 (Rhodes), 2 (DX)
    "strings": (48, 49, 40),           # String Ensemble 1, 2, Violin
    "pad": (89, 88, 90, 48),           # Pad 2 (warm), 1 (new age), 3 (polysynth), strings
    "guitar": (25, 24, 26),            # Steel, Nylon, Jazz guitar
    "bass": (33, 32, 34, 38),          # Finger, Acoustic, Pick, Synth Bass 1
    "synth_lead": (81, 80),            # Lead 2 (sawtooth), 1 (square)
    "bell": (14, 9, 11, 8),            # Tubular Bells, Glockenspiel, Vibraphone, Celesta
    "organ": (16, 17, 18),             # Drawbar, Percussive, Rock organ
    "flute": (73, 72, 74),             # Flute, Piccolo, Recorder
    "brass": (61, 56, 57),             # Brass Section, Trumpet, Trombone
    "pluck": (46, 45, 25),             # Harp, Pizzicato Strings, Steel guitar
    "vocal": (53, 52, 54),             # Voice Oohs, Choir Aahs, Synth Voice
}
#: GM percussion keys (bank 128) per kit piece, best first.
GM_DRUM_KEYS: dict[str, tuple[int, ...]] = {
    "kick": (36, 35), "snare": (38, 40), "clap": (39,), "closed_hat": (42, 44), "open_hat": (46,),
    "ride": (51, 59), "crash": (49, 57), "tom_low": (45, 43, 41), "tom_mid": (48, 47), "shaker": (70, 82),
    "rim": (37,), "conga": (63, 62, 64), "cowbell": (56,),
}
#: MIDI velocity every note is rendered at (the mixer scales by the score's velocity afterwards).
VELOCITY = 100
_DRUM_BANK = 128
_REFERENCE_S = 0.5
_DRUM_HOLD_S = 2.0
_LOOPED_DRUM_HOLD_S = 0.6


def resolve_soundfont_path(value: str | None, *, standard_paths: tuple[str, ...] | None = None) -> str | None:
    """The SF2 file to load for ``--generation.soundfont`` ``value``, or None for the built-in synth.

    None or "" → None; "auto" → the first existing file in ``standard_paths`` (default
    :data:`STANDARD_PATHS`; None if none exists); anything else is a path that must exist
    (raises :class:`SoundFontError` otherwise).
    """
    if not value:
        return None
    if value == AUTO:
        standard_paths = STANDARD_PATHS if standard_paths is None else standard_paths
        for path in standard_paths:
            if os.path.isfile(path):
                return path
        log.info("soundfont auto: none of %s exists; using the built-in synth", ", ".join(standard_paths))
        return None
    if not os.path.isfile(value):
        raise SoundFontError(f"{value}: no such file")
    return value


def _nearest(zones: tuple[Zone, ...], key: int, velocity: int) -> tuple[Zone, ...]:
    """Zones that play ``key`` at ``velocity``; if none, those of the key range nearest ``key``."""
    hit = tuple(z for z in zones if z.matches(key, velocity))
    if hit or not zones:
        return hit
    dist = [max(z.key_lo - key, key - z.key_hi, 0) for z in zones]
    best = min(dist)
    near = tuple(z for z, d in zip(zones, dist, strict=True) if d == best)
    return tuple(z for z in near if z.vel_lo <= velocity <= z.vel_hi) or near


class SoundFontVoices:
    """Timbre notes and kit pieces rendered through ``font`` at ``sample_rate`` Hz.

    Built once (per backend) and read-only afterwards: the preset choice, the per-timbre level
    and the kit are all settled in the constructor, so requests only render notes.
    """

    def __init__(self, font: SoundFont, sample_rate: int) -> None:
        self.font = font
        self.sample_rate = int(sample_rate)
        self._data_cache: dict[tuple[int, int], np.ndarray] = {}
        self.programs: dict[str, tuple[int, int]] = {}  # timbre -> (bank, program) it renders with
        self._zones: dict[str, tuple[Zone, ...]] = {}
        self._gain: dict[str, float] = {}
        for timbre in PITCHED_TIMBRES:
            for program in GM_PROGRAMS.get(timbre, ()):
                zones = font.zones(0, program)
                gain = self._reference_gain(timbre, zones) if zones else 0.0
                if gain > 0.0:
                    self.programs[timbre], self._zones[timbre], self._gain[timbre] = (0, program), zones, gain
                    break
        self.drum_preset: tuple[int, int] | None = None
        drum_zones: tuple[Zone, ...] = ()
        for bank, program in [(_DRUM_BANK, 0)] + sorted(k for k in font.presets if k[0] == _DRUM_BANK):
            drum_zones = font.zones(bank, program)
            if drum_zones:
                self.drum_preset = (bank, program)
                break
        self.kit = self._build_kit(drum_zones)
        missing = [t for t in PITCHED_TIMBRES if t not in self._zones]
        missing_kit = [p for p in KIT_PIECES if p not in self.kit]
        log.info("soundfont %s: %d/%d timbres from GM presets%s; kit from %s%s", font.name, len(self._zones),
                 len(PITCHED_TIMBRES), f" (built-in synth for {', '.join(missing)})" if missing else "",
                 f"bank {self.drum_preset[0]} preset {self.drum_preset[1]}" if self.drum_preset else "the built-in kit",
                 f" (built-in {', '.join(missing_kit)})" if self.drum_preset and missing_kit else "")

    @classmethod
    def from_path(cls, path: str, sample_rate: int) -> "SoundFontVoices":
        """Load the SF2 file at ``path``; raises :class:`SoundFontError` if it is missing or unusable."""
        return cls(load_soundfont(path), sample_rate)

    def has_timbre(self, timbre: str) -> bool:
        """Whether ``timbre`` renders through the font (False → the mixer uses the built-in synth)."""
        return timbre in self._zones

    def _render(self, zones: tuple[Zone, ...], pitch: int, sustain_frames: int) -> np.ndarray:
        return render_note(self.font, _nearest(zones, pitch, VELOCITY), key=pitch, velocity=VELOCITY,
                           sustain_frames=sustain_frames, sample_rate=self.sample_rate, cache=self._data_cache)

    def _reference_gain(self, timbre: str, zones: tuple[Zone, ...]) -> float:
        """1 / peak of the timbre's reference note, or 0 if that note is silent."""
        ref = self._render(zones, 40 if timbre == "bass" else 60, int(_REFERENCE_S * self.sample_rate))
        peak = float(np.max(np.abs(ref)))
        return 1.0 / peak if peak > 1e-6 else 0.0

    def synthesize_note(self, timbre: str, *, pitch: int, sustain_frames: int) -> np.ndarray:
        """One note at :attr:`sample_rate`: float32 (2, sustain_frames + release frames), starts/ends at 0.

        Peak about 1 (the timbre's reference note peaks at exactly 1). Raises KeyError if
        :meth:`has_timbre` is False for ``timbre``, ValueError if ``sustain_frames`` < 1.
        """
        if timbre not in self._zones:
            raise KeyError(f"soundfont {self.font.name} has no usable preset for timbre {timbre!r}")
        return self._render(self._zones[timbre], pitch, sustain_frames) * np.float32(self._gain[timbre])

    def _build_kit(self, drum_zones: tuple[Zone, ...]) -> dict[str, np.ndarray]:
        """The kit pieces the percussion preset has: float32 mono, peak 1, keyed by kit piece name.

        Pieces without a matching GM key are left out (the mixer takes them from the built-in kit).
        """
        kit: dict[str, np.ndarray] = {}
        for piece in KIT_PIECES:
            for drum_key in GM_DRUM_KEYS[piece]:
                zones = tuple(z for z in drum_zones if z.matches(drum_key, VELOCITY))
                sound = self._drum(zones, drum_key) if zones else None
                if sound is not None:
                    kit[piece] = sound
                    break
        return kit

    def _drum(self, zones: tuple[Zone, ...], key: int) -> np.ndarray | None:
        """One hit held for its one-shot sample's natural length (at most 2 s), folded to mono, peak 1."""
        sr = self.sample_rate
        hold = 0
        for z in zones:
            if z.loop_mode:
                hold = max(hold, int(_LOOPED_DRUM_HOLD_S * sr))
            else:
                semis = ((z.fixed_key if z.fixed_key >= 0 else key) - z.root_key) * z.scale_tuning / 100.0
                ratio = 2.0 ** ((semis + z.tune_cents / 100.0) / 12.0) * z.sample_rate / sr
                hold = max(hold, int((z.end - z.start) / ratio))
        hold = min(max(hold, int(0.01 * sr)), int(_DRUM_HOLD_S * sr))
        wave = render_note(self.font, zones, key=key, velocity=VELOCITY, sustain_frames=hold, sample_rate=sr,
                           cache=self._data_cache).mean(axis=0)
        peak = float(np.max(np.abs(wave)))
        if peak <= 1e-6:
            return None
        return (wave / peak).astype(np.float32)
