"""Prompt understanding: a request's structured fields and free text merged into a ``MusicSpec``.

Structured fields win over what the text says. The synapse's ``tempo_bpm`` has a default of
120 that cannot be told apart from an explicit 120, so a tempo stated in the text wins over a
structured value equal to that default; every other structured field wins whenever it is set.
"""

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any

from scoring.music_theory import Key, Meter, parse_key, parse_meter
from tuneforge.catalog import GENRES, INSTRUMENTS, MOODS, timbre_for

__all__ = ["MusicSpec", "parse_prompt", "spec_from_synapse", "spec_from_fields", "DEFAULT_TEMPO"]

DEFAULT_TEMPO = 120
DEFAULT_DURATION = 10.0

_TEMPO_RE = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute|beats/min)\b", re.I)
_TEMPO_RE2 = re.compile(r"\btempo(?: of)?\s*(\d{2,3})\b", re.I)
_KEY_RE = re.compile(
    r"\b(?:in(?: the key of)?|key(?: of)?:?)\s+([A-G](?:#|b|♯|♭| sharp| flat)?)\s*(major|minor|maj|min|m)?\b",
)
#: "in a minor", "key of f# major": a lower-case tonic is accepted only with an explicit mode.
_KEY_RE_LOWER = re.compile(
    r"\b(?:in(?: the key of)?|key(?: of)?:?)\s+([a-g](?:#|b|♯|♭| sharp| flat)?)\s+(major|minor)\b", re.I
)
_METER_RE = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b(?:\s*time)?")
_DURATION_RE = re.compile(r"\b(\d{1,3}(?:\.\d+)?)(\s*)(?:-\s*)?(seconds?|secs?|s|minutes?|mins?)\b", re.I)
#: "80s", "'90s": decades (20s-90s written with an attached "s"), not durations.
_DECADES = {"20", "30", "40", "50", "60", "70", "80", "90"}
_SEED_RE = re.compile(r"\bseed\s*[:=]?\s*(\d+)\b", re.I)
_TEMPO_WORDS = (
    (re.compile(r"\b(very slow|largo|grave)\b", re.I), 55),
    (re.compile(r"\b(slow|adagio|downtempo|laid[- ]back)\b", re.I), 72),
    (re.compile(r"\b(moderate|andante|mid[- ]tempo|medium tempo)\b", re.I), 100),
    (re.compile(r"\b(upbeat|allegro|driving)\b", re.I), 128),
    (re.compile(r"\b(fast|presto|uptempo|up-tempo|frantic)\b", re.I), 150),
)
_VOCAL_RE = re.compile(
    r"\b(vocals?|singing|singer|sung|lyrics|choir vocals|rap(?:ping)?|vocalist|voice)\b", re.I
)
_INSTRUMENTAL_RE = re.compile(r"\b(instrumental|no vocals|without vocals|no singing)\b", re.I)
_WALTZ_RE = re.compile(r"\bwaltz\b", re.I)


@dataclass(frozen=True)
class MusicSpec:
    """Everything a generator needs to know about one request.

    ``tempo_bpm`` in beats per minute (quarter-note beats for x/4, eighth-note grouping is the
    composer's business for x/8); ``duration_seconds`` is the exact output length; ``seed`` is
    always set (derived from the request when the caller gave none).
    """

    prompt: str = ""
    genre: str = ""
    mood: str = ""
    tempo_bpm: float = float(DEFAULT_TEMPO)
    key: Key = field(default_factory=lambda: Key(0, "major"))
    meter: Meter = field(default_factory=lambda: Meter(4, 4))
    instruments: tuple[str, ...] = ()
    duration_seconds: float = DEFAULT_DURATION
    vocals: bool = False
    lyrics: str | None = None
    seed: int = 0
    #: Base64 audio file the caller gave as a style reference (MusicGen-Melody conditions on it).
    reference_audio: str | None = field(default=None, repr=False)

    @property
    def timbres(self) -> tuple[str, ...]:
        """Synth timbres of the requested instruments, de-duplicated in order."""
        out: list[str] = []
        for inst in self.instruments:
            t = timbre_for(inst)
            if t and t not in out:
                out.append(t)
        return tuple(out)

    def with_seed(self, seed: int) -> "MusicSpec":
        return replace(self, seed=int(seed))


def _find_vocab(text: str, vocab: dict[str, Any], *, skip: dict[str, Any] | None = None) -> list[str]:
    """Vocabulary entries found in ``text`` as whole words, longest names first, in text order.

    Words inside a match of ``skip`` (e.g. "bass" in the genre "drum and bass") are not counted.
    """
    lowered = text.lower()
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for name in skip or {}:
        for m in re.finditer(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", lowered):
            taken.append((m.start(), m.end()))
    for name in sorted(vocab, key=len, reverse=True):
        for m in re.finditer(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", lowered):
            span = (m.start(), m.end())
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue
            taken.append(span)
            hits.append((m.start(), name))
    return [name for _, name in sorted(hits)]


#: Genre names whose words are not an instrument request ("bass" in "drum and bass"); "piano solo"
#: does ask for a piano, so genres whose name contains one of their own instruments are kept.
_GENRES_NAMING_NO_INSTRUMENT = {
    g: None for g, info in GENRES.items() if not any(inst in g for inst in info.instruments)
}


@dataclass(frozen=True)
class _TextFacts:
    genre: str | None
    mood: str | None
    tempo: float | None
    key: Key | None
    meter: Meter | None
    instruments: tuple[str, ...]
    duration: float | None
    vocals: bool | None
    seed: int | None


def _parse_text(prompt: str) -> _TextFacts:
    text = prompt or ""
    genres = _find_vocab(text, GENRES)
    moods = _find_vocab(text, MOODS)
    instruments = _find_vocab(text, INSTRUMENTS, skip=_GENRES_NAMING_NO_INSTRUMENT)
    tempo: float | None = None
    m = _TEMPO_RE.search(text) or _TEMPO_RE2.search(text)
    if m:
        tempo = float(m.group(1))
    else:
        for pattern, bpm in _TEMPO_WORDS:
            if pattern.search(text):
                tempo = float(bpm)
                break
    key = None
    km = _KEY_RE.search(text) or _KEY_RE_LOWER.search(text)
    if km:
        key = parse_key(f"{km.group(1)} {km.group(2) or 'major'}")
    meter = None
    for mm in _METER_RE.finditer(text):
        meter = parse_meter(f"{mm.group(1)}/{mm.group(2)}")
        if meter:
            break
    if meter is None and _WALTZ_RE.search(text):
        meter = Meter(3, 4)
    duration = None
    for dm in _DURATION_RE.finditer(text):
        number, gap, unit = dm.group(1), dm.group(2), dm.group(3).lower()
        if unit == "s" and not gap and number in _DECADES:
            continue
        value = float(number)
        duration = value * 60.0 if unit.startswith("m") else value
        break
    vocals: bool | None = None
    if _INSTRUMENTAL_RE.search(text):
        vocals = False
    elif _VOCAL_RE.search(text):
        vocals = True
    sm = _SEED_RE.search(text)
    return _TextFacts(
        genre=genres[0] if genres else None,
        mood=moods[0] if moods else None,
        tempo=tempo,
        key=key,
        meter=meter,
        instruments=tuple(i for i in instruments if i not in ("voice",)),
        duration=duration,
        vocals=vocals,
        seed=int(sm.group(1)) if sm else None,
    )


def _derived_seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def spec_from_fields(
    *,
    prompt: str = "",
    genre: str | None = None,
    mood: str | None = None,
    tempo_bpm: float | None = None,
    key_signature: str | None = None,
    time_signature: str | None = None,
    instruments: list[str] | tuple[str, ...] | None = None,
    duration_seconds: float | None = None,
    vocals_requested: bool | None = None,
    lyrics: str | None = None,
    seed: int | None = None,
    reference_audio: str | None = None,
) -> MusicSpec:
    """Merge structured fields (win when set) with facts read from ``prompt``.

    ``tempo_bpm`` equal to the wire default 120 counts as unset when the text states a tempo.
    Durations are clamped to the protocol's 1-180 s and tempi to 20-300 BPM.
    """
    facts = _parse_text(prompt)
    g = (genre or "").strip().lower() or (facts.genre or "")
    mo = (mood or "").strip().lower() or (facts.mood or "")
    if tempo_bpm is not None and not (tempo_bpm == DEFAULT_TEMPO and facts.tempo is not None):
        tempo = float(tempo_bpm)
    elif facts.tempo is not None:
        tempo = facts.tempo
    elif g in GENRES:
        lo, hi = GENRES[g].tempo
        tempo = float(round((lo + hi) / 2))
    else:
        tempo = float(DEFAULT_TEMPO)
    tempo = min(max(tempo, 20.0), 300.0)
    key = parse_key(key_signature) or facts.key
    if key is None:
        minor = g in GENRES and GENRES[g].minor_bias > 0.5
        if mo in MOODS:
            minor = MOODS[mo].valence < 0
        key = Key(9, "minor") if minor else Key(0, "major")
    meter = parse_meter(time_signature) or facts.meter
    if meter is None:
        meter = parse_meter(GENRES[g].meters[0]) if g in GENRES else Meter(4, 4)
    if instruments:
        insts = tuple(i.strip().lower() for i in instruments if i and i.strip())
    else:
        insts = facts.instruments
    duration = float(duration_seconds) if duration_seconds is not None else (facts.duration or DEFAULT_DURATION)
    duration = min(max(duration, 1.0), 180.0)
    vocals = bool(vocals_requested) if vocals_requested else bool(facts.vocals) or bool(lyrics)
    if vocals_requested is False and facts.vocals is None and not lyrics:
        vocals = False
    if seed is None:
        seed = facts.seed if facts.seed is not None else _derived_seed(prompt, g, mo, tempo, key, meter, duration)
    return MusicSpec(
        prompt=prompt or "",
        genre=g,
        mood=mo,
        tempo_bpm=tempo,
        key=key,
        meter=meter,
        instruments=insts,
        duration_seconds=duration,
        vocals=vocals,
        lyrics=lyrics,
        seed=int(seed) & 0xFFFFFFFF,
        reference_audio=reference_audio or None,
    )


def parse_prompt(prompt: str) -> MusicSpec:
    """A spec from free text alone."""
    return spec_from_fields(prompt=prompt)


def spec_from_synapse(synapse: Any) -> MusicSpec:
    """A spec from a ``MusicGenerationSynapse`` (or anything with its field names)."""
    return spec_from_fields(
        prompt=getattr(synapse, "prompt", "") or "",
        genre=getattr(synapse, "genre", None),
        mood=getattr(synapse, "mood", None),
        tempo_bpm=getattr(synapse, "tempo_bpm", None),
        key_signature=getattr(synapse, "key_signature", None),
        time_signature=getattr(synapse, "time_signature", None),
        instruments=getattr(synapse, "instruments", None),
        duration_seconds=getattr(synapse, "duration_seconds", None),
        vocals_requested=getattr(synapse, "vocals_requested", None),
        lyrics=getattr(synapse, "lyrics", None),
        seed=getattr(synapse, "seed", None),
        reference_audio=getattr(synapse, "reference_audio", None),
    )
