"""Prompt understanding: free text and structured fields merged into a MusicSpec.

A table of prompts pins what is read from text (genre, mood, tempo, key, meter, instruments,
duration, vocals, seed); further tests pin that structured fields win, including the rule for
the wire's tempo default of 120, and the synapse entry point.
"""

import pytest

from scoring.music_theory import Key, Meter
from tuneforge.protocol import MusicGenerationSynapse
from tuneforge.spec import DEFAULT_TEMPO, MusicSpec, parse_prompt, spec_from_fields, spec_from_synapse

# prompt → genre, mood, tempo, key, meter, instruments, duration, vocals, seed (None: derived)
TABLE = [
    ("lo-fi hip hop beat with electric piano and upright bass, 80 bpm, in A minor",
     "lo-fi hip hop", "", 80.0, "A minor", "4/4", ("electric piano", "upright bass"), 10.0, False, None),
    ("happy pop song with piano and drums in C major, 30 seconds",
     "pop", "happy", 112.0, "C major", "4/4", ("piano", "drums"), 30.0, False, None),
    ("dark techno at 132 BPM in F minor, seed 42",
     "techno", "dark", 132.0, "F minor", "4/4", (), 10.0, False, 42),
    ("tense cinematic score in the key of F# minor, 6/8 time, 45 seconds, seed 99",
     "cinematic", "tense", 100.0, "F# minor", "6/8", (), 45.0, False, 99),
    ("rock song in Bb with male vocals, 2 minutes",
     "rock", "", 125.0, "Bb major", "4/4", (), 120.0, True, None),
    ("a waltz for strings and harp",
     "", "", 120.0, "C major", "3/4", ("strings", "harp"), 10.0, False, None),
    ("melancholic jazz with saxophone in Eb minor, 3/4, tempo 92",
     "jazz", "melancholic", 92.0, "Eb minor", "3/4", ("saxophone",), 10.0, False, None),
    ("an 80s synthwave track with lead synth",  # "80s" is a decade, not a duration
     "synthwave", "", 102.0, "A minor", "4/4", ("lead synth",), 10.0, False, None),
    ("upbeat 90s hip hop beat, 30 seconds",
     "hip hop", "", 128.0, "A minor", "4/4", (), 30.0, False, None),
    ("drum and bass with piano, 174 bpm",  # "bass" belongs to the genre name
     "drum and bass", "", 174.0, "A minor", "4/4", ("piano",), 10.0, False, None),
    ("happy piano ballad in a minor",  # lower-case tonic with an explicit mode
     "", "happy", 120.0, "A minor", "4/4", ("piano",), 10.0, False, None),
    ("slow ambient soundscape with synth pad and bells, 7/8",
     "ambient", "", 72.0, "C major", "7/8", ("synth pad", "bells"), 10.0, False, None),
    ("peaceful instrumental folk, acoustic guitar and mandolin, 1.5 minutes",
     "folk", "peaceful", 105.0, "C major", "4/4", ("acoustic guitar", "mandolin"), 90.0, False, None),
    ("energetic trap with 808 and female vocals, 140bpm, 20 sec",
     "trap", "energetic", 140.0, "C major", "4/4", ("808",), 20.0, True, None),
    ("sad song, no vocals, cello and piano, in D minor, 12/8",
     "", "sad", 120.0, "D minor", "12/8", ("cello", "piano"), 10.0, False, None),
    ("bossa nova with nylon guitar and flute in G major, 5/4 time",
     "bossa nova", "", 125.0, "G major", "5/4", ("nylon guitar", "flute"), 10.0, False, None),
    ("very slow meditative new age piece",
     "new age", "meditative", 55.0, "C major", "4/4", (), 10.0, False, None),
    ("fast bluegrass with banjo, 2/4",
     "bluegrass", "", 150.0, "C major", "2/4", ("banjo",), 10.0, False, None),
    ("", "", "", 120.0, "C major", "4/4", (), 10.0, False, None),
]


@pytest.mark.parametrize(
    ("prompt", "genre", "mood", "tempo", "key", "meter", "instruments", "duration", "vocals", "seed"), TABLE
)
def test_prompt_table(prompt, genre, mood, tempo, key, meter, instruments, duration, vocals, seed):
    spec = parse_prompt(prompt)
    assert spec.genre == genre
    assert spec.mood == mood
    assert spec.tempo_bpm == tempo
    assert spec.key.name == key
    assert spec.meter.name == meter
    assert spec.instruments == instruments
    assert spec.duration_seconds == duration
    assert spec.vocals is vocals
    if seed is not None:
        assert spec.seed == seed
    assert 0 <= spec.seed <= 0xFFFFFFFF


def test_table_is_large_enough():
    assert len(TABLE) >= 15


def test_derived_seed_is_stable_and_prompt_dependent():
    a, b = parse_prompt("calm piano"), parse_prompt("calm piano")
    assert a.seed == b.seed
    assert parse_prompt("calm piano, 20 seconds").seed != a.seed


def test_structured_fields_win_over_text():
    spec = spec_from_fields(
        prompt="sad jazz in D minor, 3/4, 90 bpm, with piano, 30 seconds, seed 5",
        genre="Techno",
        mood="Happy",
        tempo_bpm=128,
        key_signature="F# major",
        time_signature="7/8",
        instruments=[" Synth ", "drum machine", ""],
        duration_seconds=12.5,
        seed=77,
    )
    assert (spec.genre, spec.mood, spec.tempo_bpm) == ("techno", "happy", 128.0)
    assert spec.key == Key(6, "major") and spec.meter == Meter(7, 8)
    assert spec.instruments == ("synth", "drum machine")
    assert spec.duration_seconds == 12.5 and spec.seed == 77


def test_default_tempo_yields_to_text_tempo():
    """120 is the wire default and cannot be told from an explicit 120: a tempo in the text wins."""
    assert spec_from_fields(prompt="house at 124 bpm", tempo_bpm=DEFAULT_TEMPO).tempo_bpm == 124.0
    assert spec_from_fields(prompt="fast punk", tempo_bpm=DEFAULT_TEMPO).tempo_bpm == 150.0  # tempo word
    # With no tempo in the text, 120 stands (even where the genre's range would say otherwise).
    assert spec_from_fields(prompt="ambient", tempo_bpm=DEFAULT_TEMPO).tempo_bpm == 120.0
    # Any other structured tempo wins over the text.
    assert spec_from_fields(prompt="house at 124 bpm", tempo_bpm=121).tempo_bpm == 121.0
    # No structured tempo at all: the genre's mid tempo.
    assert spec_from_fields(prompt="ambient").tempo_bpm == 75.0


def test_unparsable_structured_key_and_meter_fall_back_to_text():
    spec = spec_from_fields(prompt="in E minor, 6/8", key_signature="H dur??", time_signature="seven/eight")
    assert spec.key == Key(4, "minor") and spec.meter == Meter(6, 8)


def test_vocals_from_flag_text_and_lyrics():
    assert spec_from_fields(prompt="pop", vocals_requested=True).vocals is True
    assert spec_from_fields(prompt="pop with female vocals", vocals_requested=False).vocals is True
    assert spec_from_fields(prompt="pop", lyrics="la la la").vocals is True
    assert spec_from_fields(prompt="instrumental pop, no vocals", vocals_requested=False).vocals is False


def test_clamping():
    spec = spec_from_fields(prompt="999 bpm", duration_seconds=500.0)
    assert spec.tempo_bpm == 300.0 and spec.duration_seconds == 180.0
    assert spec_from_fields(prompt="x", duration_seconds=0.1).duration_seconds == 1.0


def test_spec_from_synapse():
    syn = MusicGenerationSynapse(
        prompt="dreamy synthwave with arpeggiator",
        genre="synthwave",
        mood="dreamy",
        tempo_bpm=96,
        duration_seconds=15.0,
        key_signature="Eb minor",
        time_signature="4/4",
        instruments=["synth", "synth bass"],
        seed=1234,
        lyrics=None,
        vocals_requested=False,
        reference_audio="UklGRg==",
    )
    spec = spec_from_synapse(syn)
    assert spec == MusicSpec(
        prompt="dreamy synthwave with arpeggiator",
        genre="synthwave",
        mood="dreamy",
        tempo_bpm=96.0,
        key=Key(3, "minor"),
        meter=Meter(4, 4),
        instruments=("synth", "synth bass"),
        duration_seconds=15.0,
        vocals=False,
        lyrics=None,
        seed=1234,
        reference_audio="UklGRg==",
    )


def test_spec_from_default_synapse():
    spec = spec_from_synapse(MusicGenerationSynapse())
    assert spec.tempo_bpm == 120.0 and spec.duration_seconds == 10.0
    assert spec.key == Key(0, "major") and spec.meter == Meter(4, 4)
    assert spec.reference_audio is None


def test_with_seed_and_timbres():
    spec = parse_prompt("violin, cello and piano").with_seed(9)
    assert spec.seed == 9
    assert spec.timbres == ("strings", "piano")


@pytest.mark.parametrize(
    ("text", "name"),
    [("Eb minor", "Eb minor"), ("F# major", "F# major"), ("Am", "A minor"), ("C", "C major"),
     ("CM", "C major"), ("Bbm", "Bb minor"), ("bb", "Bb major"), ("A-flat minor", "G# minor"),
     ("C#min", "C# minor"), ("D flat major", "Db major")],
)
def test_parse_key_spellings(text, name):
    from scoring.music_theory import parse_key

    assert parse_key(text).name == name


@pytest.mark.parametrize("text", ["", None, "H", "Q minor", "C# dorian"])
def test_parse_key_rejects(text):
    from scoring.music_theory import parse_key

    assert parse_key(text) is None
