"""Form: intro, phrase sections (A, B, A', ...) and outro laid over the bars a duration needs.

Sections are built from four-bar phrases. Short requests (a few bars) get a single closing
phrase with no intro; long ones alternate A and B material and always close on A' with a
cadence to the tonic, followed by a short outro.
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Section", "plan_form", "PHRASE_BARS"]

PHRASE_BARS = 4

#: Phrase label sequences by phrase count; longer pieces repeat the middle of the last one.
_PATTERNS = {
    1: ("A'",),
    2: ("A", "A'"),
    3: ("A", "B", "A'"),
    4: ("A", "A", "B", "A'"),
    5: ("A", "B", "A", "B", "A'"),
    6: ("A", "A", "B", "A", "B", "A'"),
}


@dataclass(frozen=True)
class Section:
    """One section. ``label``: "intro" | "A" | "B" | "A'" | "outro"; bars counted from 0.

    ``energy`` 0-1 sets the arrangement density; ``closing`` marks the phrase that cadences
    to the tonic.
    """

    label: str
    start_bar: int
    bars: int
    energy: float
    closing: bool = False


def plan_form(*, total_bars: int, base_energy: float, rng: np.random.Generator) -> list[Section]:
    """Sections covering exactly ``total_bars`` bars. ``base_energy`` 0-1 from the mood."""
    if total_bars < 1:
        raise ValueError(f"total_bars must be >= 1, got {total_bars}")
    if total_bars <= 5:
        intro, outro = 0, 0
    elif total_bars < 14:
        intro, outro = 1, 1
    elif total_bars < 40:
        intro, outro = 2, 1
    else:
        intro, outro = 4, 2
    body = total_bars - intro - outro
    phrases = max(1, math.ceil(body / PHRASE_BARS))
    if phrases in _PATTERNS:
        labels = list(_PATTERNS[phrases])
    else:
        labels = ["A", "A", "B"]
        while len(labels) < phrases - 1:
            labels += ["A", "B"] if rng.random() < 0.6 else ["B", "A"]
        labels = labels[: phrases - 1] + ["A'"]
    sections: list[Section] = []
    bar = 0
    if intro:
        sections.append(Section("intro", 0, intro, 0.35 * base_energy + 0.15))
        bar = intro
    remaining = body
    for i, label in enumerate(labels):
        # The last phrase absorbs the remainder so the body is covered exactly.
        bars = remaining if i == len(labels) - 1 else min(PHRASE_BARS, remaining)
        energy = base_energy if label != "B" else min(1.0, base_energy + 0.2)
        sections.append(Section(label, bar, bars, energy, closing=(i == len(labels) - 1)))
        bar += bars
        remaining -= bars
    if outro:
        sections.append(Section("outro", bar, outro, 0.3 * base_energy + 0.1))
    return sections
