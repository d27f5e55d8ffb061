"""What ACE-Step 1.5 reads: a :class:`MusicSpec` as a caption of tags, lyrics and metadata.

ACE-Step's DiT is conditioned on three things, each in the form it was trained on:

* a **caption**: comma-separated style tags ("jazz, melancholic, piano, upright bass,
  instrumental") followed by the request's free text;
* **lyrics** with section tags (``[Verse]``, ``[Chorus]``) and a language code, or the literal
  ``[Instrumental]`` the ACE-Step authors use for music without vocals;
* **metadata** rendered by the pipeline into its "# Metas" block: ``bpm`` (30-300),
  ``keyscale`` ("F# minor"), ``timesignature`` (the beats per bar ACE-Step knows: 2, 3, 4 or 6)
  and the duration.

Tempo, key and meter go into both the metadata and the caption tags: the metadata is what the
model was trained to follow, the tags cost nothing and carry meters ACE-Step's metadata cannot
express (5/4, 7/8). ACE-Step was trained on clips of 10 s and more, so shorter requests are
rendered at :data:`MIN_RENDER_SECONDS` and cut (the backend fades the cut).
"""

import math
import re
import unicodedata
from dataclasses import dataclass

from tuneforge.spec import MusicSpec

__all__ = [
    "AceStepPrompt",
    "INSTRUMENTAL_LYRICS",
    "MIN_RENDER_SECONDS",
    "ace_step_prompt",
    "caption_for",
    "lyrics_for",
    "vocal_language",
    "render_seconds",
]

#: The lyrics ACE-Step's authors give for instrumental music.
INSTRUMENTAL_LYRICS = "[Instrumental]"
#: ACE-Step 1.5's shortest trained duration (its ``DURATION_MIN``); shorter requests render this long.
MIN_RENDER_SECONDS = 10.0
#: The beats-per-bar values ACE-Step's metadata accepts (its ``VALID_TIME_SIGNATURES``).
_ACE_TIME_SIGNATURES = (2, 3, 4, 6)
_BPM_MIN, _BPM_MAX = 30, 300
_SECTION_TAG = re.compile(r"^\s*\[[^\]\n]{1,40}\]\s*$", re.M)
#: Most characters of lyrics passed on (ACE-Step documents < 4096; the tokenizer truncates at 2048 tokens).
MAX_LYRICS_CHARS = 4000


@dataclass(frozen=True)
class AceStepPrompt:
    """Everything one ACE-Step call needs for one request.

    ``bpm``: whole beats per minute in 30-300; ``keyscale``: e.g. "Eb minor"; ``timesignature``:
    "2" | "3" | "4" | "6" or None (the model then estimates it); ``render_seconds``: the length
    rendered (≥ :data:`MIN_RENDER_SECONDS`), of which the first ``duration_seconds`` are kept.
    """

    caption: str
    lyrics: str
    language: str
    bpm: int
    keyscale: str
    timesignature: str | None
    duration_seconds: float
    render_seconds: float

    @property
    def instrumental(self) -> bool:
        return self.lyrics == INSTRUMENTAL_LYRICS


def _ace_bpm(tempo: float) -> int:
    """Tempo in ACE-Step's 30-300 range: a pulse under 30 BPM is given at double time (the same grid)."""
    bpm = float(tempo)
    while bpm < _BPM_MIN:
        bpm *= 2.0
    return int(min(_BPM_MAX, max(_BPM_MIN, round(bpm))))


def _ace_timesignature(spec: MusicSpec) -> str | None:
    beats = int(spec.meter.beats_per_bar)
    return str(beats) if beats in _ACE_TIME_SIGNATURES else None


def render_seconds(duration_seconds: float) -> float:
    """Seconds rendered for a request of ``duration_seconds``: whole seconds, at least 10.

    Whole seconds make requests of nearby lengths share one render length (and so one batch).
    """
    return float(max(MIN_RENDER_SECONDS, math.ceil(float(duration_seconds) - 1e-9)))


def caption_for(spec: MusicSpec) -> str:
    """Style tags then the free text, e.g. ``"jazz, melancholic, piano, upright bass, instrumental,
    92 bpm, Eb minor, 3/4 time. <prompt>"``."""
    tags: list[str] = []
    for word in (spec.genre, spec.mood, *spec.instruments):
        word = (word or "").strip()
        if word and word.lower() not in (t.lower() for t in tags):
            tags.append(word)
    tags.append("vocals" if spec.vocals else "instrumental")
    tags += [f"{_ace_bpm(spec.tempo_bpm)} bpm", spec.key.name, f"{spec.meter.name} time"]
    caption = ", ".join(tags)
    prompt = " ".join((spec.prompt or "").split())
    return f"{caption}. {prompt}" if prompt else caption


def lyrics_for(spec: MusicSpec) -> str:
    """The lyrics block: the request's lyrics (a ``[Verse]`` tag added when they carry no section
    tag), ``[Instrumental]`` when no vocals are asked for, and an empty verse (the model sings
    wordless vocals) when vocals are asked for without words."""
    if not spec.vocals:
        return INSTRUMENTAL_LYRICS
    text = (spec.lyrics or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    text = text[:MAX_LYRICS_CHARS].strip()
    if not text or text.lower() in ("[instrumental]", "[inst]"):
        return "[Verse]\n"
    if not _SECTION_TAG.search(text):
        text = "[Verse]\n" + text
    return text


#: (Unicode script test, ACE-Step language code), first match wins; Latin script reads as English.
_SCRIPTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\u3040-\u30ff]"), "ja"),  # kana before CJK ideographs: Japanese mixes both
    (re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"), "ko"),
    (re.compile(r"[\u4e00-\u9fff]"), "zh"),
    (re.compile(r"[\u0400-\u04ff]"), "ru"),
    (re.compile(r"[\u0600-\u06ff]"), "ar"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0900-\u097f]"), "hi"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u0370-\u03ff]"), "el"),
)


def vocal_language(lyrics: str | None) -> str:
    """ACE-Step language code of ``lyrics`` from its script ("en" for Latin script or none)."""
    text = lyrics or ""
    for pattern, code in _SCRIPTS:
        if pattern.search(text):
            return code
    return "en"


def ace_step_prompt(spec: MusicSpec) -> AceStepPrompt:
    """The caption, lyrics, language and metadata ACE-Step gets for ``spec``."""
    lyrics = lyrics_for(spec)
    return AceStepPrompt(
        caption=caption_for(spec),
        lyrics=lyrics,
        language="en" if lyrics == INSTRUMENTAL_LYRICS else vocal_language(spec.lyrics),
        bpm=_ace_bpm(spec.tempo_bpm),
        keyscale=spec.key.name,
        timesignature=_ace_timesignature(spec),
        duration_seconds=float(spec.duration_seconds),
        render_seconds=render_seconds(spec.duration_seconds),
    )
