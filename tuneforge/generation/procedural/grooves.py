"""Drum grooves: the catalogue's groove names turned into kit hits on a meter's grid.

In 4/4 each groove is a hand-written sixteen-step pattern (one string per kit piece; ``X``
accent, ``x`` normal, ``o`` ghost). In every other meter the groove's character (which piece
keeps time, what marks the backbeat, swing or half-time) is laid over the meter's felt
pulses: kick on the bar's first pulse and group starts, backbeat on the pulses between, time
keeping on every eighth. Swung grooves move off-beat eighths to the triplet position.
"""

from dataclasses import dataclass, replace

import numpy as np

from tuneforge.generation.procedural.score import BarGrid, DrumHit

__all__ = ["GrooveStyle", "GROOVES", "drum_bar", "humanize", "swing_position"]

_VEL = {"X": 1.0, "x": 0.75, "o": 0.4}
# Time keepers played evenly ("x") lean on the beat: full on the quarter, softer on the off-beat
# eighth, softest on sixteenths, as a drummer's hand does.
_TIMEKEEPERS = ("closed_hat", "ride", "shaker")
_METRIC_LEAN = {0: 1.0, 2: 0.82, 1: 0.68, 3: 0.68}
# Grooves that are programmed on a grid in the music they come from keep machine timing.
_QUANTISED = ("four_on_floor", "trap", "halftime", "breakbeat")
_JITTER_S = 0.004  # standard deviation of a played hit's timing
_JITTER_MAX_S = 0.010
_VELOCITY_SPREAD = 0.07


@dataclass(frozen=True)
class GrooveStyle:
    """A groove's character. ``patterns``: 4/4 sixteen-step strings per kit piece (or empty)."""

    timekeeper: str  # "closed_hat" | "ride" | "shaker"
    backbeat: str  # "snare" | "clap" | "rim"
    swing: bool
    halftime: bool
    patterns: dict[str, str]


GROOVES: dict[str, GrooveStyle] = {
    "backbeat": GrooveStyle(
        "closed_hat",
        "snare",
        False,
        False,
        {"kick": "X.......X.x.....", "snare": "....X.......X...", "closed_hat": "x.x.x.x.x.x.x.x."},
    ),
    "rock": GrooveStyle(
        "closed_hat",
        "snare",
        False,
        False,
        {"kick": "X.....x.X.x.....", "snare": "....X.......X...", "closed_hat": "X.x.X.x.X.x.X.x."},
    ),
    "metal": GrooveStyle(
        "ride",
        "snare",
        False,
        False,
        {"kick": "XxxxXxxxXxxxXxxx", "snare": "....X.......X...", "ride": "X.x.X.x.X.x.X.x."},
    ),
    "swing": GrooveStyle(
        "ride",
        "snare",
        True,
        False,
        {
            "kick": "o...o...o...o...",
            "ride": "X...x.x.X...x.x.",
            "closed_hat": "....x.......x...",
            "snare": "..........o.....",
        },
    ),
    "shuffle": GrooveStyle(
        "closed_hat",
        "snare",
        True,
        False,
        {"kick": "X.......X.......", "snare": "....X.......X...", "closed_hat": "x.x.x.x.x.x.x.x."},
    ),
    "funk": GrooveStyle(
        "closed_hat",
        "snare",
        False,
        False,
        {"kick": "X.......X.o.....", "snare": "....X..o.o..X..o", "closed_hat": "xoxoxoxoxoxoxoxo"},
    ),
    "rnb": GrooveStyle(
        "closed_hat",
        "snare",
        False,
        False,
        {"kick": "X......x..X.....", "snare": "....X.......X...", "closed_hat": "x.x.x.x.x.xxx.x."},
    ),
    "hiphop": GrooveStyle(
        "closed_hat",
        "snare",
        False,
        False,
        {"kick": "X......x..X.....", "snare": "....X.......X...", "closed_hat": "x.x.x.x.x.x.x.x."},
    ),
    "trap": GrooveStyle(
        "closed_hat",
        "clap",
        False,
        True,
        {
            "kick": "X......x..X.....",
            "clap": "........X.......",
            "closed_hat": "x.x.xxx.x.x.x.xx",
            "snare": "....o.......o...",
        },
    ),
    "four_on_floor": GrooveStyle(
        "closed_hat",
        "clap",
        False,
        False,
        {
            "kick": "X...X...X...X...",
            "clap": "....X.......X...",
            "open_hat": "..x...x...x...x.",
            "closed_hat": "o.o.o.o.o.o.o.o.",
        },
    ),
    "breakbeat": GrooveStyle(
        "closed_hat",
        "snare",
        False,
        False,
        {"kick": "X.x.......X.....", "snare": "....X..o.o..X..o", "closed_hat": "x.x.x.x.x.x.x.x."},
    ),
    "halftime": GrooveStyle(
        "closed_hat",
        "snare",
        False,
        True,
        {
            "kick": "X.........x.....",
            "snare": "........X.......",
            "closed_hat": "x.x.x.x.x.x.x.x.",
            "rim": "....o.......o...",
        },
    ),
    "cinematic": GrooveStyle(
        "shaker",
        "tom_low",
        False,
        False,
        {
            "kick": "X.......X.......",
            "tom_low": "X.....x.X...x.x.",
            "shaker": "x.x.x.x.x.x.x.x.",
            "snare": "....o.......o...",
        },
    ),
    "folk": GrooveStyle(
        "shaker",
        "rim",
        False,
        False,
        {"kick": "X.......X.......", "rim": "....x.......x...", "shaker": "x.x.x.x.x.x.x.x."},
    ),
    "country": GrooveStyle(
        "closed_hat",
        "snare",
        False,
        False,
        {"kick": "X.......X.......", "snare": "o.o.X.o.o.o.X.o.", "closed_hat": "x.x.x.x.x.x.x.x."},
    ),
    "reggae": GrooveStyle(
        "closed_hat",
        "rim",
        False,
        False,
        {
            "kick": "X.......X.......",
            "rim": "........X.......",
            "closed_hat": "x.x.x.x.x.x.x.x.",
            "snare": "....o.......o...",
        },
    ),
    "latin": GrooveStyle(
        "shaker",
        "rim",
        False,
        False,
        {
            "kick": "X.....x.X.....x.",
            "rim": "X..x..x...x.x...",
            "conga": "..x.X.x...x.X.x.",
            "cowbell": "X...x...X...x...",
            "shaker": "x.x.x.x.x.x.x.x.",
        },
    ),
    "bossa": GrooveStyle(
        "shaker",
        "rim",
        False,
        False,
        {
            "kick": "X..oX..oX..oX..o",
            "rim": "o..o..o...o..o..",
            "shaker": "xxxxxxxxxxxxxxxx",
            "closed_hat": "x.x.x.x.x.x.x.x.",
        },
    ),
    "afro": GrooveStyle(
        "shaker",
        "snare",
        False,
        False,
        {
            "kick": "X.....x...X.....",
            "snare": "....x.......x...",
            "open_hat": "..x...x...x...x.",
            "shaker": "xxxxxxxxxxxxxxxx",
            "cowbell": "X.x.x.xx.x.x.x.x",
        },
    ),
    "none": GrooveStyle("shaker", "rim", False, False, {}),
}


def swing_position(pos_q: float) -> float:
    """Move an off-beat eighth (x.5 quarters) to the swung triplet position (x.667)."""
    whole = int(pos_q)
    frac = pos_q - whole
    if abs(frac - 0.5) < 1e-6:
        return whole + 2.0 / 3.0
    if abs(frac - 0.25) < 1e-6:
        return whole + 1.0 / 3.0
    if abs(frac - 0.75) < 1e-6:
        return whole + 5.0 / 6.0
    return pos_q


def _pattern_hits(style: GrooveStyle, bar_start_q: float, energy: float) -> list[DrumHit]:
    hits = []
    for piece, pattern in style.patterns.items():
        for step, ch in enumerate(pattern):
            if ch not in _VEL:
                continue
            vel = _VEL[ch]
            if ch == "x" and piece in _TIMEKEEPERS:
                vel *= _METRIC_LEAN[step % 4]
            if energy < 0.3 and piece in ("snare", "clap", "tom_low") and ch != "X":
                continue
            pos = step * 0.25
            if style.swing:
                pos = swing_position(pos)
            hits.append(DrumHit(bar_start_q + pos, piece, vel))
    return hits


def _meter_hits(style: GrooveStyle, grid: BarGrid, bar_start_q: float, energy: float) -> list[DrumHit]:
    """Lay a groove's character over a non-4/4 meter's pulses.

    Compound and irregular meters (pulses longer than a quarter) keep an even eighth stream
    with light accents: the eighth is the unit shared by the quarter-note tempo and the
    dotted-quarter pulse, and heavy pulse accents would make a beat tracker hear only the
    dotted quarter (2/3 of the tempo).
    """
    hits: list[DrumHit] = []
    starts = grid.pulse_starts
    n = len(starts)
    even = any(length > 1.0 for _, length in grid.pulses)
    soft = 0.6 if even else 1.0
    for i, (pos, acc) in enumerate(zip(starts, grid.accents, strict=True)):
        if i == 0:
            hits.append(DrumHit(bar_start_q + pos, "kick", 1.0 * soft))
        elif n == 3 and not grid.compound:  # waltz: oom-pah-pah
            hits.append(DrumHit(bar_start_q + pos, style.backbeat, 0.55))
        elif style.halftime:
            if i == n // 2:
                hits.append(DrumHit(bar_start_q + pos, style.backbeat, 0.9 * soft))
        elif acc >= 0.8 and n > 2 and i % 2 == 0:
            hits.append(DrumHit(bar_start_q + pos, "kick", 0.8 * soft))
        else:
            hits.append(DrumHit(bar_start_q + pos, style.backbeat, (0.85 if i % 2 else 0.7) * soft))
    pos = 0.0
    while pos < grid.bar_q - 1e-9:
        on_pulse = any(abs(pos - s) < 1e-9 for s in starts)
        p = swing_position(pos) if (style.swing and not grid.compound) else pos
        vel = (0.85 if on_pulse else 0.8) if even else (0.8 if on_pulse else 0.5)
        hits.append(DrumHit(bar_start_q + p, style.timekeeper, vel))
        pos += 0.5
    return hits


def drum_bar(
    *, groove: str, grid: BarGrid, bar_start_q: float, energy: float, four_four: bool
) -> list[DrumHit]:
    """Kit hits for one bar of ``groove`` starting at ``bar_start_q`` (quarter notes).

    ``energy`` 0-1 thins the pattern (below 0.3 only accents of the backbeat remain).
    Raises ValueError for an unknown groove name.
    """
    try:
        style = GROOVES[groove]
    except KeyError as exc:
        raise ValueError(f"unknown groove {groove!r}") from exc
    if four_four and style.patterns:
        return _pattern_hits(style, bar_start_q, energy)
    return _meter_hits(style, grid, bar_start_q, energy)


def humanize(hits: list[DrumHit], *, groove: str, seconds_per_quarter: float, seed: int) -> list[DrumHit]:
    """``hits`` as a player performs them: seeded velocity spread and, in played grooves, timing.

    Every hit's velocity is scaled by a factor drawn around 1 (sd 7 %). In grooves that are
    played rather than programmed, hits other than the kick move by a few milliseconds (sd 4 ms,
    at most 10 ms; never before the start). Kicks stay on the grid: they carry the downbeat the
    rest of the band locks to. The random stream is keyed by ``seed`` alone, so the same request
    performs the same way in every process.
    """
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0xD4])
    spread = np.clip(1.0 + _VELOCITY_SPREAD * rng.standard_normal(len(hits)), 0.75, 1.2)
    jitter = (
        np.clip(_JITTER_S * rng.standard_normal(len(hits)), -_JITTER_MAX_S, _JITTER_MAX_S)
        / seconds_per_quarter
    )
    played = groove not in _QUANTISED
    out = []
    for hit, s, j in zip(hits, spread, jitter, strict=True):
        start = hit.start_q
        if played and hit.piece != "kick":
            start = max(0.0, start + float(j))
        out.append(replace(hit, start_q=start, velocity=float(min(1.0, hit.velocity * s))))
    return out
