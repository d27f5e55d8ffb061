"""What ACE-Step 1.5 is told for a request: caption tags, lyrics block, language, metadata, render length."""

import pytest

from tuneforge.generation.ace_step_prompt import (
    INSTRUMENTAL_LYRICS,
    MAX_LYRICS_CHARS,
    ace_step_prompt,
    caption_for,
    lyrics_for,
    render_seconds,
    vocal_language,
)
from tuneforge.spec import MusicSpec, spec_from_fields


def _spec(**kw):
    kw.setdefault("prompt", "")
    kw.setdefault("duration_seconds", 12.0)
    kw.setdefault("seed", 1)
    return spec_from_fields(**kw)


def test_caption_is_style_tags_then_the_request_text():
    spec = _spec(prompt="  late night   jazz club ", genre="jazz", mood="melancholic", tempo_bpm=92,
                 key_signature="Eb minor", time_signature="3/4", instruments=["piano", "upright bass", "Piano"])  # fmt: skip
    assert caption_for(spec) == (
        "jazz, melancholic, piano, upright bass, instrumental, 92 bpm, Eb minor, 3/4 time. late night jazz club"
    )
    assert caption_for(_spec(vocals_requested=True, lyrics="la")).split(", ")[0] == "vocals"


def test_metadata_in_ace_steps_ranges():
    slow = ace_step_prompt(_spec(tempo_bpm=24, time_signature="6/8", key_signature="F# major"))
    # 24 BPM is given at double time (the same beat grid)
    assert (slow.bpm, slow.timesignature, slow.keyscale) == (48, "6", "F# major")
    odd = ace_step_prompt(_spec(tempo_bpm=300, time_signature="7/8"))
    assert (odd.bpm, odd.timesignature) == (300, None)  # ACE-Step's metadata knows 2, 3, 4, 6 beats per bar
    assert "7/8 time" in odd.caption


@pytest.mark.parametrize(
    "vocals, lyrics, expected",
    [
        (False, "ignored words", INSTRUMENTAL_LYRICS),
        (True, None, "[Verse]\n"),
        (True, "[Instrumental]", "[Verse]\n"),
        (True, "hold on\r\nhold on", "[Verse]\nhold on\nhold on"),
        (True, "[Chorus]\nhold on", "[Chorus]\nhold on"),
        (True, "bell\x07 ring\x00s", "[Verse]\nbell rings"),
    ],
)
def test_lyrics_block(vocals, lyrics, expected):
    assert lyrics_for(MusicSpec(vocals=vocals, lyrics=lyrics)) == expected


def test_instrumental_flag_and_long_lyrics_are_cut():
    assert ace_step_prompt(_spec()).instrumental
    sung = ace_step_prompt(_spec(vocals_requested=True, lyrics="x" * (MAX_LYRICS_CHARS + 500)))
    assert not sung.instrumental and len(sung.lyrics) == len("[Verse]\n") + MAX_LYRICS_CHARS


@pytest.mark.parametrize(
    "text, code",
    [("hello there", "en"), ("Städte leuchten", "en"), ("夜の街で歌う", "ja"), ("夜晚的城市", "zh"), ("밤의 도시", "ko"),
     ("ночной город", "ru"), (None, "en")],
)  # fmt: skip
def test_language_from_script(text, code):
    assert vocal_language(text) == code


def test_language_of_an_instrumental_is_english_whatever_the_words():
    assert ace_step_prompt(MusicSpec(lyrics="ночной город", vocals=False)).language == "en"
    assert ace_step_prompt(MusicSpec(lyrics="ночной город", vocals=True)).language == "ru"


@pytest.mark.parametrize(
    "seconds, rendered", [(1.0, 10.0), (9.99, 10.0), (10.0, 10.0), (10.2, 11.0), (30.0, 30.0)]
)
def test_render_length_whole_seconds_at_least_ten(seconds, rendered):
    assert render_seconds(seconds) == rendered
    prompt = ace_step_prompt(_spec(duration_seconds=seconds))
    assert (prompt.duration_seconds, prompt.render_seconds) == (seconds, rendered)
