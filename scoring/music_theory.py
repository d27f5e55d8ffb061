"""Music-theory vocabulary shared by the scorer, the generators and the challenge builder.

Pitch classes are integers 0-11 with C = 0. A key is ``(tonic_pc, mode)`` with mode
``"major"`` or ``"minor"``. A meter is ``(beats_per_bar, beat_unit)``.
"""

import re
from dataclasses import dataclass

__all__ = [
    "PITCH_CLASS_NAMES",
    "Key",
    "Meter",
    "parse_key",
    "parse_meter",
    "pitch_class",
    "key_relation",
    "KEY_NAMES",
]

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
#: Conventional spelling of each tonic per mode (Db major but C# minor, Ab major but G# minor).
_TONIC_NAMES = {
    "major": ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"),
    "minor": ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"),
}
_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*(#|♯|b|♭|sharp|flat|-sharp|-flat)?\s*"
    r"(major|minor|maj|min|m|dur|moll)?\s*$",
    re.IGNORECASE,
)


def pitch_class(name: str) -> int:
    """Pitch class of a note name such as ``"F#"``, ``"Bb"``, ``"c"``. Raises ValueError."""
    m = re.match(r"^\s*([A-Ga-g])\s*(#|♯|b|♭|sharp|flat)?\s*$", name)
    if not m:
        raise ValueError(f"not a note name: {name!r}")
    pc = _NATURALS[m.group(1).upper()]
    acc = (m.group(2) or "").lower()
    if acc in ("#", "♯", "sharp"):
        pc += 1
    elif acc in ("b", "♭", "flat"):
        pc -= 1
    return pc % 12


@dataclass(frozen=True)
class Key:
    """A key: tonic pitch class (0-11, C = 0) and mode (``"major"`` | ``"minor"``)."""

    tonic: int
    mode: str

    @property
    def name(self) -> str:
        return f"{_TONIC_NAMES[self.mode][self.tonic]} {self.mode}"

    @property
    def relative(self) -> "Key":
        if self.mode == "major":
            return Key((self.tonic + 9) % 12, "minor")
        return Key((self.tonic + 3) % 12, "major")

    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the major or natural-minor scale, tonic first."""
        steps = (0, 2, 4, 5, 7, 9, 11) if self.mode == "major" else (0, 2, 3, 5, 7, 8, 10)
        return tuple((self.tonic + s) % 12 for s in steps)

    def __str__(self) -> str:
        return self.name


#: The 24 keys by conventional name, majors first.
KEY_NAMES = tuple(f"{n} {m}" for m in ("major", "minor") for n in _TONIC_NAMES[m])


def parse_key(text: str | None) -> Key | None:
    """Parse ``"Eb minor"``, ``"F# major"``, ``"Am"``, ``"C"`` (major) → :class:`Key`; None if unparsable."""
    if not text:
        return None
    m = _KEY_RE.match(text.replace("-", " ").strip())
    if not m:
        return None
    letter, acc, raw_mode = m.group(1), (m.group(2) or "").strip(), m.group(3) or ""
    # Chord-symbol convention: "CM" is C major, "Cm" C minor (only the bare letter is case-sensitive).
    mode = "major" if raw_mode == "M" else raw_mode.lower()
    # "Bb" style: a lowercase 'b' after the letter is a flat, "Am"/"Amin" minor.
    tonic = pitch_class(letter + acc)
    if mode in ("minor", "min", "m", "moll"):
        return Key(tonic, "minor")
    return Key(tonic, "major")


@dataclass(frozen=True)
class Meter:
    """A time signature: ``beats_per_bar`` over ``beat_unit`` (e.g. 6/8 → (6, 8))."""

    beats_per_bar: int
    beat_unit: int

    @property
    def name(self) -> str:
        return f"{self.beats_per_bar}/{self.beat_unit}"

    @property
    def is_compound(self) -> bool:
        """6/8, 9/8, 12/8: felt in dotted-quarter pulses of three eighths."""
        return self.beat_unit == 8 and self.beats_per_bar % 3 == 0 and self.beats_per_bar > 3

    @property
    def pulses_per_bar(self) -> int:
        """Felt beats per bar (6/8 → 2, 7/8 → 7 eighths grouped by the composer, 3/4 → 3)."""
        return self.beats_per_bar // 3 if self.is_compound else self.beats_per_bar

    def __str__(self) -> str:
        return self.name


_METER_RE = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")


def parse_meter(text: str | None) -> Meter | None:
    """Parse ``"6/8"`` → :class:`Meter`; None if unparsable or implausible."""
    if not text:
        return None
    m = _METER_RE.match(text)
    if not m:
        return None
    num, den = int(m.group(1)), int(m.group(2))
    if not 1 <= num <= 16 or den not in (2, 4, 8, 16):
        return None
    return Meter(num, den)


def key_relation(requested: Key, detected: Key) -> str:
    """Relation of a detected key to the requested one.

    Returns one of ``"exact"``, ``"relative"`` (same key signature), ``"parallel"`` (same tonic),
    ``"fifth"`` (tonic a fifth away, same mode), ``"other"``.
    """
    if requested == detected:
        return "exact"
    if requested.relative == detected:
        return "relative"
    if requested.tonic == detected.tonic:
        return "parallel"
    if requested.mode == detected.mode and (detected.tonic - requested.tonic) % 12 in (5, 7):
        return "fifth"
    return "other"
