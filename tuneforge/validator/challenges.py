"""Challenges: what a validator asks its miners to compose, and the store grading reads them back from.

A :class:`ChallengeGenerator` turns ``(secret, round id)`` into one :class:`Challenge`, drawn from
the catalogue (``tuneforge.catalog``): a genre, a mood, one of the 24 keys (mode biased by the
genre), a time signature the genre uses, a tempo in the genre's range, 1-4 instruments from its
pool, a whole-second duration of 5-30 s and, for genres that suit it, vocals in a catalogue style
with a few generated lines of lyrics. The prompt is written from the same draw through one of
several templates, so text and fields agree: key, meter and tempo are in the text exactly as in
the fields, and an instrumental request says "instrumental" and carries no vocal words. Every
miner of a round gets the same challenge with its own seed (:meth:`Challenge.seed_for`, a hash
of the challenge id and the hotkey). Challenge ids are 32 hex digits in UUID-4 form, for rounds
(derived from the secret and the round id) and organic requests (random) alike, so a miner
cannot tell the two apart. :class:`ChallengeStore` keeps the last issued challenges by id; the
round grades every clip against the stored challenge, never the fields a miner echoes back.
"""

import hashlib
import json
import logging
import math
import os
import random
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoring.music_theory import KEY_NAMES
from scoring.request import ScoringRequest
from tuneforge.catalog import GENRES, MOODS, VOCAL_STYLES, GenreInfo
from tuneforge.fsutil import atomic_write_bytes
from tuneforge.protocol import DURATION_MAX, DURATION_MIN, TEMPO_MAX, TEMPO_MIN, MusicGenerationSynapse

__all__ = [
    "Challenge",
    "ChallengeGenerator",
    "ChallengeStore",
    "DURATION_RANGE",
    "MAX_INSTRUMENTS",
    "new_challenge_id",
    "organic_challenge_id",
    "is_challenge_id",
    "space_size",
    "vocal_styles_for",
    "instrument_pool",
]

log = logging.getLogger(__name__)

#: Whole-second durations a round challenge asks for (inclusive). At most 30 s, as the network's
#: validators ask, because its reference miner caps generation at 30 s by default: a longer
#: challenge would zero a default network miner's clip by the duration penalty and set our weights
#: apart from the other validators' (consensus). Longer clips (up to 180 s) stay possible for
#: organic requests, which never move the EMA (docs/decisions.md, "Validation clips <= 30 s").
DURATION_RANGE = (5, 30)
#: Most instruments one challenge names.
MAX_INSTRUMENTS = 4
#: Fewest instruments one challenge names (fewer only when the genre's pool is smaller).
MIN_INSTRUMENTS = 2
#: Chance that a challenge for a genre with vocal styles asks for vocals.
VOCAL_CHANCE = 0.3
#: Instruments that are voices: never named in an instrumental request.
_VOICE_INSTRUMENTS = frozenset({"choir"})
#: Genres whose prompts never ask for vocals.
_INSTRUMENTAL_ONLY = frozenset({"piano solo"})
_CHALLENGE_ID_RE = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")


# --------------------------------------------------------------------------------------------
# Identifiers and seeds
# --------------------------------------------------------------------------------------------


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()


def new_challenge_id(*parts: object) -> str:
    """A 32-hex-digit id in UUID-4 layout, derived from ``parts`` by SHA-256."""
    raw = bytearray(_digest("challenge-id", *parts)[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return bytes(raw).hex()


def organic_challenge_id() -> str:
    """A fresh id for an organic request: same layout as a round's, from 16 random bytes."""
    return new_challenge_id("organic", os.urandom(16).hex())


def is_challenge_id(text: str) -> bool:
    """Whether ``text`` has the challenge-id layout (32 lower-case hex digits, UUID-4 bits)."""
    return bool(_CHALLENGE_ID_RE.match(text or ""))


def _seed(*parts: object) -> int:
    """A 32-bit seed (what generators accept) from ``parts``."""
    return int.from_bytes(_digest("seed", *parts)[:4], "little")


# --------------------------------------------------------------------------------------------
# The challenge
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """One request, as issued. ``tempo_bpm`` counts quarter notes per minute; ``duration_seconds``
    is the requested length; ``round_id`` is None for organic requests."""

    challenge_id: str
    prompt: str
    genre: str
    mood: str
    tempo_bpm: int
    key_signature: str | None
    time_signature: str
    instruments: tuple[str, ...]
    duration_seconds: float
    vocals_requested: bool = False
    vocal_style: str | None = None
    lyrics: str | None = None
    is_organic: bool = False
    round_id: str | None = None
    #: Set when the requester fixed a seed (organic only); every miner's seed still differs.
    base_seed: int | None = None
    template: int = field(default=-1, compare=False)
    #: Private per-round key (hex) from the validator's secret, mixed into every miner's seed.
    #: Never sent and left out of :meth:`to_dict` unless ``private=True`` (the validator's own store).
    seed_key: str | None = field(default=None, compare=False, repr=False)

    def seed_for(self, hotkey: str) -> int:
        """The seed this challenge sends to ``hotkey``: stable, different for every hotkey.

        Round challenges mix in :attr:`seed_key`, so the seed cannot be computed from what miners
        receive (the challenge id and their own hotkey); organic challenges (no key) hash the
        challenge id, the hotkey and the requester's seed, as documented in docs/validator.md.
        """
        base = "" if self.base_seed is None else self.base_seed
        if self.seed_key:
            return _seed(self.challenge_id, hotkey, base, self.seed_key)
        return _seed(self.challenge_id, hotkey, base)

    def to_synapse(self, hotkey: str) -> MusicGenerationSynapse:
        """The request sent to ``hotkey`` (always with a seed and a time signature)."""
        return MusicGenerationSynapse(
            prompt=self.prompt,
            genre=self.genre,
            mood=self.mood,
            tempo_bpm=int(self.tempo_bpm),
            duration_seconds=float(self.duration_seconds),
            key_signature=self.key_signature,
            time_signature=self.time_signature,
            instruments=list(self.instruments) or None,
            seed=self.seed_for(hotkey),
            challenge_id=self.challenge_id,
            lyrics=self.lyrics if self.vocals_requested else None,
            vocals_requested=self.vocals_requested,
            is_organic=self.is_organic,
        )

    def scoring_request(self, hotkey: str) -> ScoringRequest:
        """What ``hotkey``'s clip is graded against: this challenge with that miner's seed."""
        return ScoringRequest(
            prompt=self.prompt,
            duration_seconds=float(self.duration_seconds),
            genre=self.genre,
            mood=self.mood,
            tempo_bpm=float(self.tempo_bpm),
            key_signature=self.key_signature,
            time_signature=self.time_signature,
            instruments=tuple(self.instruments),
            vocals_requested=self.vocals_requested,
            lyrics=self.lyrics if self.vocals_requested else None,
            seed=self.seed_for(hotkey),
            challenge_id=self.challenge_id,
        )

    def to_dict(self, *, private: bool = False) -> dict[str, Any]:
        """JSON-safe fields. ``private=True`` adds :attr:`seed_key` (only for the validator's own
        state: the store, the API and round files get the public form)."""
        out = {
            "challenge_id": self.challenge_id, "prompt": self.prompt, "genre": self.genre, "mood": self.mood,
            "tempo_bpm": self.tempo_bpm, "key_signature": self.key_signature, "time_signature": self.time_signature,
            "instruments": list(self.instruments), "duration_seconds": self.duration_seconds,
            "vocals_requested": self.vocals_requested, "vocal_style": self.vocal_style, "lyrics": self.lyrics,
            "is_organic": self.is_organic, "round_id": self.round_id, "base_seed": self.base_seed,
            "template": self.template,
        }
        if private:
            out["seed_key"] = self.seed_key
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Challenge":
        """Inverse of :meth:`to_dict`. Raises ValueError on a malformed dict."""
        try:
            challenge = cls(
                challenge_id=str(data["challenge_id"]), prompt=str(data["prompt"]), genre=str(data.get("genre") or ""),
                mood=str(data.get("mood") or ""), tempo_bpm=int(data["tempo_bpm"]),
                key_signature=data.get("key_signature"), time_signature=str(data["time_signature"]),
                instruments=tuple(str(i) for i in data.get("instruments") or ()),
                duration_seconds=float(data["duration_seconds"]),
                vocals_requested=bool(data.get("vocals_requested", False)), vocal_style=data.get("vocal_style"),
                lyrics=data.get("lyrics"), is_organic=bool(data.get("is_organic", False)),
                round_id=None if data.get("round_id") is None else str(data["round_id"]),
                base_seed=None if data.get("base_seed") is None else int(data["base_seed"]),
                template=int(data.get("template", -1)),
                seed_key=None if data.get("seed_key") is None else str(data["seed_key"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed challenge {data!r}: {exc}") from exc
        if not challenge.challenge_id:
            raise ValueError("challenge without an id")
        return challenge

    @classmethod
    def from_request(cls, request: ScoringRequest, *, challenge_id: str | None = None) -> "Challenge":
        """An organic challenge for a user's ``request`` (prompt and fields as the user gave them).

        Fields the wire always carries but the user left out are read from the prompt text
        (tempo, meter), then from the genre (its first meter, its mid tempo), then 4/4 and 120
        BPM. The stored challenge, which grading reads, holds exactly what was sent.
        """
        from tuneforge.spec import spec_from_fields  # parses free text; not needed for round challenges

        if not math.isfinite(request.duration_seconds) or not DURATION_MIN <= request.duration_seconds <= DURATION_MAX:
            raise ValueError(
                f"duration_seconds must be within {DURATION_MIN:g}-{DURATION_MAX:g} s, got {request.duration_seconds}"
            )
        spec = spec_from_fields(
            prompt=request.prompt, genre=request.genre or None, mood=request.mood or None,
            tempo_bpm=request.tempo_bpm, key_signature=request.key_signature, time_signature=request.time_signature,
            duration_seconds=request.duration_seconds,
        )
        meter = request.time_signature or spec.meter.name
        tempo = int(round(min(max(spec.tempo_bpm, TEMPO_MIN), TEMPO_MAX)))
        return cls(
            challenge_id=challenge_id or organic_challenge_id(),
            prompt=request.prompt,
            genre=request.genre,
            mood=request.mood,
            tempo_bpm=tempo,
            key_signature=request.key_signature,
            time_signature=meter,
            instruments=tuple(request.instruments),
            duration_seconds=float(request.duration_seconds),
            vocals_requested=bool(request.vocals_requested),
            lyrics=request.lyrics,
            is_organic=True,
            base_seed=request.seed,
        )


# --------------------------------------------------------------------------------------------
# What the catalogue allows
# --------------------------------------------------------------------------------------------


def vocal_styles_for(genre: str) -> tuple[str, ...]:
    """Vocal styles a challenge for ``genre`` may ask for; empty for instrumental-only genres.

    Rap belongs to the urban family; everything else may take any other catalogue style.
    """
    if genre in _INSTRUMENTAL_ONLY:
        return ()
    info = GENRES[genre]
    return tuple(s for s in VOCAL_STYLES if s != "rap vocals" or info.family == "urban")


def instrument_pool(genre: str, *, vocals: bool) -> tuple[str, ...]:
    """The genre's instrument pool; voices (choir) only when the request has vocals."""
    pool = GENRES[genre].instruments
    return pool if vocals else tuple(i for i in pool if i not in _VOICE_INSTRUMENTS)


def _instrument_counts(pool_size: int) -> range:
    return range(min(MIN_INSTRUMENTS, pool_size), min(MAX_INSTRUMENTS, pool_size) + 1)


def space_size() -> int:
    """Number of distinct structured challenges the generator can issue (prompt wording not counted).

    Sum over genres of: moods × 24 keys × the genre's meters × its tempi × durations ×
    (instrumental instrument sets + for each vocal style, vocal instrument sets).
    """
    n_durations = DURATION_RANGE[1] - DURATION_RANGE[0] + 1
    total = 0
    for name, info in GENRES.items():
        lo, hi = info.tempo
        base = len(MOODS) * len(KEY_NAMES) * len(info.meters) * (hi - lo + 1) * n_durations
        inst = sum(math.comb(len(instrument_pool(name, vocals=False)), k)
                   for k in _instrument_counts(len(instrument_pool(name, vocals=False))))
        vocal_sets = sum(math.comb(len(instrument_pool(name, vocals=True)), k)
                         for k in _instrument_counts(len(instrument_pool(name, vocals=True))))
        total += base * (inst + len(vocal_styles_for(name)) * vocal_sets)
    return total


# --------------------------------------------------------------------------------------------
# Prompt writing
# --------------------------------------------------------------------------------------------

#: Prompt templates. Fields: {mood} {a_mood} {genre} {key} {meter} {tempo} {instruments} {voice} {duration}
#: ({voice} is "instrumental" or "with <style>"). Fixed words avoid every catalogue name, tempo
#: word and vocal word, so the only facts in the text are the drawn ones.
_TEMPLATES = (
    "{mood_cap} {genre} track in {key}, {meter} time, {tempo} BPM, featuring {instruments}, {voice}",
    "{a_mood_cap} {genre} piece at {tempo} BPM in {key} ({meter}) with {instruments}; {voice}",
    "{genre_cap} in {key} and {meter}, {tempo} BPM: {instruments}, a {mood} feel, {voice}",
    "Compose {a_mood} {genre} cue of {duration} seconds in the key of {key}, {meter} meter, {tempo} BPM, "
    "built on {instruments}, {voice}",
    "{tempo} BPM {genre} in {meter}, key of {key}. Mood: {mood}. Lineup: {instruments}. {voice_cap}",
    "{genre_cap} sketch lasting {duration} seconds, {mood} and {voice}, in {key} at {tempo} BPM, "
    "{meter} time, led by {instruments}",
    "Write {mood} {genre} music for {instruments} in {key}, {meter} time at {tempo} BPM, {voice}",
    "{mood_cap} {genre} with {instruments}, {tempo} BPM, {meter}, in {key}, {voice}",
)

_LYRIC_WORDS = {
    "bright": (
        ("the morning light", "an open road", "the summer sky", "the river", "the city glow"),
        ("is calling me home", "keeps me alive", "is all that we need", "lifts me up again", "will carry us on"),
    ),
    "dark": (
        ("the empty room", "a fading star", "the winter rain", "this silent street", "the last goodbye"),
        ("still echoes in me", "won't let me go", "is falling apart", "remembers your name", "turns into grey"),
    ),
}


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _join_instruments(names: tuple[str, ...]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _lyrics(rng: random.Random, mood: str) -> str:
    """Two to four short lines, bright or dark by the mood's valence."""
    subjects, predicates = _LYRIC_WORDS["bright" if MOODS[mood].valence >= 0 else "dark"]
    lines = [f"{rng.choice(subjects).capitalize()} {rng.choice(predicates)}" for _ in range(rng.randint(2, 4))]
    return "\n".join(lines)


def _pick_key(rng: random.Random, info: GenreInfo) -> str:
    mode = "minor" if rng.random() < info.minor_bias else "major"
    return rng.choice([k for k in KEY_NAMES if k.endswith(mode)])


class ChallengeGenerator:
    """Deterministic challenges: the same ``secret`` and round id always give the same challenge.

    Args:
        secret: this validator's private salt (bytes or text); other validators and miners cannot
            predict its challenges without it.
        durations: inclusive range of whole-second durations to draw from (default
            :data:`DURATION_RANGE`; the local network narrows it to keep CPU rounds short).
    """

    def __init__(self, secret: bytes | str, *, durations: tuple[int, int] = DURATION_RANGE) -> None:
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not secret:
            raise ValueError("the challenge secret must not be empty")
        lo, hi = (int(durations[0]), int(durations[1]))
        if not DURATION_MIN <= lo <= hi <= DURATION_MAX:
            raise ValueError(f"durations must satisfy {DURATION_MIN:g} <= low <= high <= {DURATION_MAX:g}, got {durations}")
        self.durations = (lo, hi)
        self._secret = hashlib.sha256(b"tuneforge-challenge-secret" + secret).hexdigest()

    def challenge_id(self, round_id: str | int) -> str:
        """The id of round ``round_id``'s challenge."""
        return new_challenge_id(self._secret, "round", round_id)

    def seed_key(self, round_id: str | int) -> str:
        """Round ``round_id``'s private seed key (hex): what makes miners' seeds unpredictable."""
        return _digest(self._secret, "seed-key", round_id).hex()

    def generate(self, round_id: str | int) -> Challenge:
        """The challenge of round ``round_id``."""
        rng = random.Random(int.from_bytes(_digest(self._secret, "draw", round_id), "big"))
        genre = rng.choice(sorted(GENRES))
        info = GENRES[genre]
        mood = rng.choice(sorted(MOODS))
        key = _pick_key(rng, info)
        meter = rng.choice(info.meters)
        tempo = rng.randint(*info.tempo)
        duration = rng.randint(*self.durations)
        styles = vocal_styles_for(genre)
        vocals = bool(styles) and rng.random() < VOCAL_CHANCE
        style = rng.choice(styles) if vocals else None
        pool = instrument_pool(genre, vocals=vocals)
        count = rng.choice(list(_instrument_counts(len(pool))))
        instruments = tuple(rng.sample(pool, count))
        lyrics = _lyrics(rng, mood) if vocals else None
        template = rng.randrange(len(_TEMPLATES))
        voice = f"with {style}" if vocals else "instrumental"
        prompt = _TEMPLATES[template].format(
            mood=mood, mood_cap=mood.capitalize(), a_mood=f"{_article(mood)} {mood}", genre=genre, genre_cap=genre.capitalize(), key=key, meter=meter,
            tempo=tempo, instruments=_join_instruments(instruments), voice=voice, voice_cap=voice.capitalize(),
            duration=duration, a_mood_cap=f"{_article(mood).capitalize()} {mood}",
        )
        return Challenge(
            challenge_id=self.challenge_id(round_id),
            prompt=prompt,
            genre=genre,
            mood=mood,
            tempo_bpm=tempo,
            key_signature=key,
            time_signature=meter,
            instruments=instruments,
            duration_seconds=float(duration),
            vocals_requested=vocals,
            vocal_style=style,
            lyrics=lyrics,
            round_id=str(round_id),
            template=template,
            seed_key=self.seed_key(round_id),
        )


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class ChallengeStore:
    """The last ``capacity`` issued challenges by id (oldest evicted first). Thread-safe.

    ``path``, when given, is where :meth:`save` writes and the constructor reads (best effort: a
    missing file is an empty store; an unreadable one is logged and moved aside, never fatal).
    """

    def __init__(self, *, capacity: int = 10_000, path: str | os.PathLike[str] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.path = None if path is None else Path(path)
        self._items: OrderedDict[str, Challenge] = OrderedDict()
        self._lock = threading.Lock()
        if self.path is not None:
            self._load()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, challenge_id: object) -> bool:
        with self._lock:
            return challenge_id in self._items

    def put(self, challenge: Challenge) -> None:
        """Keep ``challenge`` (replacing one with the same id), evicting the oldest when full."""
        with self._lock:
            self._items.pop(challenge.challenge_id, None)
            self._items[challenge.challenge_id] = challenge
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, challenge_id: str) -> Challenge | None:
        with self._lock:
            return self._items.get(challenge_id)

    def require(self, challenge_id: str) -> Challenge:
        """The stored challenge; KeyError naming the id when it was never issued or was evicted."""
        found = self.get(challenge_id)
        if found is None:
            raise KeyError(f"challenge {challenge_id!r} was not issued by this validator (or was evicted)")
        return found

    def discard(self, challenge_id: str) -> None:
        """Forget a challenge (one that was never sent)."""
        with self._lock:
            self._items.pop(challenge_id, None)

    def to_bytes(self) -> bytes:
        """The store as ``{"format": 1, "challenges": [...]}`` JSON (private form: with seed keys)."""
        with self._lock:
            rows = [c.to_dict(private=True) for c in self._items.values()]
        return json.dumps({"format": 1, "challenges": rows}).encode("utf-8")

    def restore(self, data: bytes) -> int:
        """Replace the contents with what :meth:`to_bytes` wrote; the number of challenges loaded.

        Raises:
            ValueError: not a challenge store.
        """
        try:
            parsed = json.loads(data.decode("utf-8"))
            if not isinstance(parsed, dict) or parsed.get("format") != 1 or not isinstance(parsed.get("challenges"), list):
                raise ValueError("not a challenge store (format 1)")
            loaded = [Challenge.from_dict(row) for row in parsed["challenges"]]
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a challenge store: {exc}") from exc
        with self._lock:
            self._items.clear()
            for challenge in loaded[-self.capacity:]:
                self._items[challenge.challenge_id] = challenge
            return len(self._items)

    def save(self) -> bool:
        """Write the store to ``path`` atomically and durably; False (logged) when it could not be written."""
        if self.path is None:
            return False
        try:
            atomic_write_bytes(self.path, self.to_bytes())
        except OSError as exc:
            log.warning("could not save the challenge store: %s", exc)
            return False
        return True

    def _load(self) -> None:
        assert self.path is not None
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("could not read challenge store %s: %s; starting empty", self.path, exc)
            return
        try:
            self.restore(raw.encode("utf-8"))
        except ValueError as exc:
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            log.warning("challenge store %s is unreadable (%s); moved to %s, starting empty", self.path, exc, aside)
            return
        log.info("loaded %d challenges from %s", len(self._items), self.path)

