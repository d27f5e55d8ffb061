"""The composed score: note events, drum hits and parts, plus the bar grid of a meter.

Everything the composer decides is written here in musical time (quarter notes from the start
of the piece, ``tempo_bpm`` quarter notes per minute in every meter); the mixer turns it into
samples. The bar grid says where a meter's felt pulses fall: quarters in simple meters, dotted
quarters in compound ones (6/8, 12/8), and groups of two and three eighths in irregular ones
(7/8 as 2+2+3, 5/8 as 2+3).
"""

from dataclasses import dataclass, field

from scoring.music_theory import Key, Meter

__all__ = ["NoteEvent", "DrumHit", "Part", "Score", "BarGrid", "bar_grid"]


@dataclass(frozen=True)
class NoteEvent:
    """One pitched note. ``start_q``/``length_q`` in quarter notes, ``pitch`` MIDI, ``velocity`` 0-1."""

    start_q: float
    length_q: float
    pitch: int
    velocity: float


@dataclass(frozen=True)
class DrumHit:
    """One drum-kit hit: ``start_q`` in quarter notes, ``piece`` a kit piece name, ``velocity`` 0-1."""

    start_q: float
    piece: str
    velocity: float


@dataclass
class Part:
    """A pitched part played by one timbre.

    ``role``: "melody" | "chords" | "pad" | "bass" | "arp" | "vocal"; ``gain`` linear;
    ``pan`` -1 (left) .. 1 (right); ``reverb_send`` linear share sent to the reverb bus.
    """

    role: str
    timbre: str
    gain: float
    pan: float
    reverb_send: float
    notes: list[NoteEvent] = field(default_factory=list)


@dataclass
class Score:
    """A whole piece in musical time. ``total_q`` is the piece length in quarter notes."""

    tempo_bpm: float
    meter: Meter
    key: Key
    total_q: float
    parts: list[Part]
    drums: list[DrumHit]
    drum_gain: float
    reverb_seconds: float
    sections: list[tuple[str, int, int]]  # (label, start_bar, bars)

    @property
    def seconds_per_quarter(self) -> float:
        return 60.0 / self.tempo_bpm


@dataclass(frozen=True)
class BarGrid:
    """Where the felt pulses of one bar fall.

    ``bar_q``: bar length in quarter notes; ``pulses``: (start_q, length_q) of each felt pulse;
    ``accents``: 0-1 weight of each pulse (downbeat 1.0, group starts 0.8, others 0.6);
    ``compound``: pulses are dotted quarters; ``step_q``: the subdivision the kit ticks in.
    """

    bar_q: float
    pulses: tuple[tuple[float, float], ...]
    accents: tuple[float, ...]
    compound: bool
    step_q: float

    @property
    def pulse_starts(self) -> tuple[float, ...]:
        return tuple(p[0] for p in self.pulses)


def _eighth_groups(count: int) -> tuple[int, ...]:
    """Group ``count`` beat units into pulses of three (compound) or twos closed by a three."""
    if count <= 3:
        return (count,)
    if count % 3 == 0:
        return (3,) * (count // 3)
    twos = (count - 3) // 2 if count % 2 else count // 2
    return (2,) * twos + ((3,) if count % 2 else ())


def bar_grid(meter: Meter) -> BarGrid:
    """The pulse grid of ``meter`` (4/4 → four quarters, 6/8 → two dotted quarters, 7/8 → 2+2+3 eighths)."""
    unit_q = 4.0 / meter.beat_unit
    n = meter.beats_per_bar
    bar_q = n * unit_q
    if meter.beat_unit >= 8:
        groups = _eighth_groups(n)
        pulses = []
        pos = 0.0
        for g in groups:
            pulses.append((pos, g * unit_q))
            pos += g * unit_q
        compound = all(g == 3 for g in groups) and len(groups) > 1
        accents = tuple(1.0 if i == 0 else 0.8 for i in range(len(groups)))
        return BarGrid(bar_q, tuple(pulses), accents, compound, unit_q if meter.beat_unit == 8 else 0.5)
    pulses = tuple((i * unit_q, unit_q) for i in range(n))
    # Secondary accents: 4/4 on 3, 5/4 as 3+2, 6/4 as 3+3, 7/4 as 2+2+3.
    strong = {0}
    if n == 4:
        strong.add(2)
    elif n >= 5:
        pos = 0
        for g in _eighth_groups(n)[:-1]:
            pos += g
            strong.add(pos)
    accents = tuple(1.0 if i == 0 else (0.8 if i in strong else 0.6) for i in range(n))
    return BarGrid(bar_q, pulses, accents, False, 0.5 if unit_q >= 1.0 else unit_q)
