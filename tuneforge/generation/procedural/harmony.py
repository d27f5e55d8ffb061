"""Harmony: chord progressions chosen by genre family and mood, and smooth chord voicings.

Chords are written as Roman numerals relative to the key's tonic (``"V7"``, ``"bVII"``,
``"iv"``). Progressions start on the tonic and phrase-final bars cadence (V → I) so a
Krumhansl–Schmuckler key estimate lands on the requested key. In minor keys the dominant is
major (harmonic minor), which puts the leading tone in the chroma.
"""

import numpy as np

from scoring.music_theory import Key

__all__ = ["QUALITIES", "NUMERALS", "chord_pitch_classes", "choose_progressions", "voice_chord", "CADENCE"]

#: Chord quality → semitone intervals above the root.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "sus4": (0, 5, 7),
    "dom7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
}

#: Roman numeral → (semitones above the tonic, quality).
NUMERALS: dict[str, tuple[int, str]] = {
    "I": (0, "maj"), "Imaj7": (0, "maj7"), "Isus4": (0, "sus4"),
    "ii": (2, "min"), "ii7": (2, "min7"), "iio": (2, "dim"), "iiø7": (2, "m7b5"),
    "iii": (4, "min"), "iii7": (4, "min7"), "bIII": (3, "maj"),
    "IV": (5, "maj"), "IVmaj7": (5, "maj7"), "IV7": (5, "dom7"),
    "V": (7, "maj"), "V7": (7, "dom7"), "Vsus4": (7, "sus4"),
    "vi": (9, "min"), "vi7": (9, "min7"), "bVI": (8, "maj"),
    "bVII": (10, "maj"),
    "i": (0, "min"), "i7": (0, "min7"),
    "III": (3, "maj"), "IIImaj7": (3, "maj7"),
    "iv": (5, "min"), "iv7": (5, "min7"),
    "v": (7, "min"),
    "VI": (8, "maj"), "VImaj7": (8, "maj7"),
    "VII": (10, "maj"),
}

#: Phrase-final cadence (the last two bars of a closing phrase).
CADENCE = {"major": ("V", "I"), "minor": ("V", "i")}

# (family, mode) → candidate 4-bar progressions for the A and B sections; each tuple starts on
# the tonic (or reaches it by bar 3) so the tonic dominates the chroma.
_MAJOR_A = {
    "pop": [("I", "V", "vi", "IV"), ("I", "vi", "IV", "V"), ("I", "IV", "vi", "V")],
    "rock": [("I", "bVII", "IV", "I"), ("I", "IV", "V", "IV"), ("I", "V", "IV", "V")],
    "jazz": [("Imaj7", "vi7", "ii7", "V7"), ("Imaj7", "IVmaj7", "iii7", "V7"), ("ii7", "V7", "Imaj7", "Imaj7")],
    "rnb": [("Imaj7", "vi7", "ii7", "V7"), ("Imaj7", "iii7", "IVmaj7", "V7"), ("I", "vi7", "IV", "V")],
    "urban": [("I", "vi", "IV", "V"), ("Imaj7", "IVmaj7", "vi7", "V")],
    "electronic": [("I", "V", "vi", "IV"), ("I", "IV", "vi", "V"), ("I", "iii", "IV", "V")],
    "ambient": [("I", "IV", "I", "V"), ("Imaj7", "IVmaj7", "vi", "V"), ("I", "iii", "IV", "I")],
    "classical": [("I", "IV", "V", "I"), ("I", "vi", "ii", "V"), ("I", "ii", "V", "I")],
    "folk": [("I", "IV", "I", "V"), ("I", "V", "IV", "I"), ("I", "vi", "IV", "V")],
    "world": [("I", "IV", "V", "IV"), ("I", "bVII", "IV", "I"), ("I", "IV", "I", "V")],
}
_MAJOR_B = {
    "pop": [("IV", "I", "V", "vi"), ("vi", "IV", "I", "V")],
    "rock": [("IV", "IV", "I", "V"), ("vi", "IV", "I", "V")],
    "jazz": [("iii7", "vi7", "ii7", "V7"), ("IVmaj7", "iii7", "ii7", "V7")],
    "rnb": [("IVmaj7", "iii7", "ii7", "V7"), ("vi7", "ii7", "IVmaj7", "V7")],
    "urban": [("IV", "V", "vi", "V"), ("vi", "IV", "I", "V")],
    "electronic": [("vi", "IV", "I", "V"), ("IV", "V", "vi", "V")],
    "ambient": [("vi", "IV", "I", "V"), ("IV", "I", "ii", "V")],
    "classical": [("vi", "ii", "V", "I"), ("IV", "ii", "V", "V")],
    "folk": [("IV", "I", "V", "I"), ("vi", "IV", "V", "V")],
    "world": [("IV", "I", "V", "I"), ("bVII", "IV", "I", "V")],
}
_MINOR_A = {
    "pop": [("i", "VI", "III", "VII"), ("i", "iv", "VI", "V"), ("i", "VII", "VI", "V")],
    "rock": [("i", "VII", "VI", "VII"), ("i", "VI", "VII", "i"), ("i", "iv", "VII", "V")],
    "jazz": [("i7", "iv7", "iiø7", "V7"), ("i7", "VImaj7", "iiø7", "V7")],
    "rnb": [("i7", "iv7", "VImaj7", "V7"), ("i7", "VImaj7", "iv7", "V7")],
    "urban": [("i", "VI", "iv", "V"), ("i", "iv", "VI", "V"), ("i", "VII", "VI", "V")],
    "electronic": [("i", "VI", "III", "VII"), ("i", "iv", "VI", "V"), ("i", "VII", "VI", "VII")],
    "ambient": [("i", "VI", "iv", "i"), ("i", "III", "VI", "V"), ("i", "iv", "i", "V")],
    "classical": [("i", "iv", "V", "i"), ("i", "VI", "iiø7", "V"), ("i", "iv", "VII", "III")],
    "folk": [("i", "VII", "i", "V"), ("i", "iv", "i", "V"), ("i", "VI", "VII", "i")],
    "world": [("i", "VII", "VI", "V"), ("i", "iv", "V", "i"), ("i", "VII", "i", "V")],
}
_MINOR_B = {
    "pop": [("VI", "VII", "i", "V"), ("iv", "VI", "VII", "V")],
    "rock": [("VI", "VII", "i", "V"), ("iv", "VI", "VII", "VII")],
    "jazz": [("iv7", "VII", "IIImaj7", "V7"), ("VImaj7", "iiø7", "V7", "i7")],
    "rnb": [("VImaj7", "V7", "i7", "iv7"), ("iv7", "V7", "i7", "V7")],
    "urban": [("VI", "VII", "i", "V"), ("iv", "V", "i", "V")],
    "electronic": [("VI", "VII", "i", "V"), ("iv", "VI", "VII", "V")],
    "ambient": [("VI", "iv", "i", "V"), ("III", "VI", "iv", "V")],
    "classical": [("VI", "iv", "V", "i"), ("III", "iv", "V", "V")],
    "folk": [("VI", "VII", "i", "V"), ("iv", "i", "V", "i")],
    "world": [("VI", "V", "i", "V"), ("iv", "V", "i", "V")],
}


def chord_pitch_classes(key: Key, numeral: str) -> tuple[int, tuple[int, ...]]:
    """Root pitch class and chord pitch classes (root first) of ``numeral`` in ``key``."""
    try:
        offset, quality = NUMERALS[numeral]
    except KeyError as exc:
        raise ValueError(f"unknown chord numeral {numeral!r}") from exc
    root = (key.tonic + offset) % 12
    return root, tuple((root + iv) % 12 for iv in QUALITIES[quality])


def choose_progressions(
    *, family: str, mode: str, valence: float, energy: float, rng: np.random.Generator
) -> dict[str, tuple[str, ...]]:
    """Pick the A- and B-section progressions (four numerals each) for a genre family and mood.

    ``valence``/``energy`` in -1..1: bright moods favour the first (most diatonic, tonic-heavy)
    candidates, dark or tense moods the later ones.
    """
    table_a, table_b = (_MAJOR_A, _MAJOR_B) if mode == "major" else (_MINOR_A, _MINOR_B)
    cands_a = table_a.get(family, table_a["pop"])
    cands_b = table_b.get(family, table_b["pop"])
    # Mood tilts the draw: high valence → first candidates, low valence → later ones.
    tilt = -float(valence) * 0.8
    def pick(cands: list[tuple[str, ...]]) -> tuple[str, ...]:
        idx = np.arange(len(cands), dtype=float)
        w = np.exp(tilt * (idx - idx.mean()))
        return cands[int(rng.choice(len(cands), p=w / w.sum()))]
    return {"A": pick(cands_a), "B": pick(cands_b)}


def voice_chord(pcs: tuple[int, ...], previous: tuple[int, ...] | None, *, low: int = 52, high: int = 74) -> tuple[int, ...]:
    """MIDI voicing of pitch classes ``pcs`` within [low, high] moving least from ``previous``.

    Every inversion (close position) whose notes fit the range is a candidate; the one with the
    smallest summed distance to ``previous`` (or nearest to the middle of the range) wins.
    """
    centre = (low + high) / 2.0
    best: tuple[int, ...] | None = None
    best_cost = float("inf")
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base_oct in range(low // 12 - 1, high // 12 + 1):
            notes = []
            cur = base_oct * 12 + order[0]
            for pc in order:
                while cur % 12 != pc:
                    cur += 1
                notes.append(cur)
                cur += 1
            if notes[0] < low or notes[-1] > high:
                continue
            if previous:
                cost = sum(min(abs(n - p) for p in previous) for n in notes) + 0.1 * abs(np.mean(notes) - centre)
            else:
                cost = abs(float(np.mean(notes)) - centre)
            if cost < best_cost:
                best, best_cost = tuple(notes), cost
    if best is None:
        raise ValueError(f"no voicing of {pcs} fits MIDI {low}-{high}")
    return best
