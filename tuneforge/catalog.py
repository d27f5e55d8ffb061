"""The musical vocabulary of the subnet: genres, moods, instruments and meters.

One catalogue serves the challenge builder (what validators ask for), prompt understanding
(what a miner reads out of free text) and the procedural composer (how a genre sounds).
Instrument names map onto the procedural synth's timbres (``TIMBRES``).
"""

from dataclasses import dataclass

__all__ = [
    "GenreInfo",
    "MoodInfo",
    "GENRES",
    "MOODS",
    "INSTRUMENTS",
    "TIMBRES",
    "METERS",
    "VOCAL_STYLES",
    "timbre_for",
]

#: Timbres the procedural synth renders. Every instrument name maps onto one of these.
TIMBRES = (
    "piano",
    "electric_piano",
    "strings",
    "pad",
    "guitar",
    "bass",
    "synth_lead",
    "bell",
    "organ",
    "flute",
    "brass",
    "pluck",
    "drums",
)

#: Instrument name (as written in prompts) → synth timbre.
INSTRUMENTS: dict[str, str] = {
    "piano": "piano",
    "grand piano": "piano",
    "electric piano": "electric_piano",
    "rhodes": "electric_piano",
    "wurlitzer": "electric_piano",
    "strings": "strings",
    "string ensemble": "strings",
    "violin": "strings",
    "viola": "strings",
    "cello": "strings",
    "orchestra": "strings",
    "pad": "pad",
    "synth pad": "pad",
    "choir": "pad",
    "acoustic guitar": "guitar",
    "electric guitar": "guitar",
    "guitar": "guitar",
    "nylon guitar": "guitar",
    "banjo": "pluck",
    "mandolin": "pluck",
    "harp": "pluck",
    "ukulele": "pluck",
    "koto": "pluck",
    "sitar": "pluck",
    "bass": "bass",
    "bass guitar": "bass",
    "synth bass": "bass",
    "double bass": "bass",
    "upright bass": "bass",
    "808": "bass",
    "synth": "synth_lead",
    "synthesizer": "synth_lead",
    "lead synth": "synth_lead",
    "arpeggiator": "synth_lead",
    "bells": "bell",
    "bell": "bell",
    "glockenspiel": "bell",
    "celesta": "bell",
    "marimba": "bell",
    "vibraphone": "bell",
    "kalimba": "bell",
    "music box": "bell",
    "organ": "organ",
    "hammond organ": "organ",
    "accordion": "organ",
    "harmonica": "organ",
    "flute": "flute",
    "clarinet": "flute",
    "oboe": "flute",
    "pan flute": "flute",
    "whistle": "flute",
    "brass": "brass",
    "trumpet": "brass",
    "trombone": "brass",
    "french horn": "brass",
    "horns": "brass",
    "saxophone": "brass",
    "tuba": "brass",
    "drums": "drums",
    "drum kit": "drums",
    "percussion": "drums",
    "drum machine": "drums",
    "congas": "drums",
    "taiko": "drums",
    "tabla": "drums",
}


def timbre_for(instrument: str) -> str | None:
    """Synth timbre for an instrument name (case-insensitive), or None when unknown."""
    return INSTRUMENTS.get(instrument.strip().lower())


@dataclass(frozen=True)
class GenreInfo:
    """How a genre is asked for and how the procedural composer renders it.

    ``family`` groups genres for genre-aware scoring targets; ``tempo`` is (min, max) BPM;
    ``instruments`` is the pool challenges draw from; ``meters`` the time signatures that suit it;
    ``groove`` names the drum pattern family the composer uses; ``minor_bias`` is the chance
    (0-1) that a challenge for this genre is in a minor key.
    """

    family: str
    tempo: tuple[int, int]
    instruments: tuple[str, ...]
    meters: tuple[str, ...]
    groove: str
    minor_bias: float = 0.5


GENRES: dict[str, GenreInfo] = {
    "pop": GenreInfo("pop", (96, 128), ("piano", "electric guitar", "synth", "bass guitar", "drums", "strings"), ("4/4",), "backbeat", 0.35),
    "rock": GenreInfo("rock", (100, 150), ("electric guitar", "bass guitar", "drums", "organ", "piano"), ("4/4", "3/4"), "rock", 0.45),
    "hard rock": GenreInfo("rock", (110, 160), ("electric guitar", "bass guitar", "drums", "organ"), ("4/4",), "rock", 0.6),
    "metal": GenreInfo("rock", (120, 180), ("electric guitar", "bass guitar", "drums", "choir"), ("4/4", "7/8", "6/8"), "metal", 0.85),
    "punk": GenreInfo("rock", (150, 200), ("electric guitar", "bass guitar", "drums"), ("4/4",), "rock", 0.4),
    "indie": GenreInfo("rock", (90, 130), ("electric guitar", "bass guitar", "drums", "synth", "piano"), ("4/4", "3/4", "6/8"), "backbeat", 0.5),
    "jazz": GenreInfo("jazz", (80, 180), ("piano", "upright bass", "drums", "saxophone", "trumpet", "vibraphone"), ("4/4", "3/4", "5/4"), "swing", 0.4),
    "bebop": GenreInfo("jazz", (160, 240), ("piano", "upright bass", "drums", "saxophone", "trumpet"), ("4/4",), "swing", 0.4),
    "smooth jazz": GenreInfo("jazz", (80, 110), ("electric piano", "saxophone", "bass guitar", "drums", "guitar"), ("4/4",), "backbeat", 0.4),
    "blues": GenreInfo("jazz", (70, 120), ("electric guitar", "piano", "bass guitar", "drums", "harmonica", "organ"), ("4/4", "12/8"), "shuffle", 0.4),
    "funk": GenreInfo("rnb", (95, 120), ("electric guitar", "bass guitar", "drums", "brass", "electric piano", "organ"), ("4/4",), "funk", 0.5),
    "soul": GenreInfo("rnb", (70, 110), ("electric piano", "bass guitar", "drums", "strings", "brass", "organ"), ("4/4", "6/8"), "backbeat", 0.45),
    "r&b": GenreInfo("rnb", (65, 100), ("electric piano", "synth bass", "drums", "synth pad", "guitar"), ("4/4",), "rnb", 0.6),
    "hip hop": GenreInfo("urban", (80, 100), ("808", "drum machine", "piano", "synth pad", "strings"), ("4/4",), "hiphop", 0.7),
    "trap": GenreInfo("urban", (130, 160), ("808", "drum machine", "synth", "bells", "synth pad"), ("4/4",), "trap", 0.8),
    "lo-fi hip hop": GenreInfo("urban", (70, 90), ("electric piano", "upright bass", "drum machine", "guitar", "vibraphone"), ("4/4",), "hiphop", 0.5),
    "electronic": GenreInfo("electronic", (110, 135), ("synth", "synth bass", "drum machine", "synth pad", "arpeggiator"), ("4/4",), "four_on_floor", 0.6),
    "house": GenreInfo("electronic", (118, 128), ("synth", "synth bass", "drum machine", "piano", "synth pad"), ("4/4",), "four_on_floor", 0.5),
    "techno": GenreInfo("electronic", (124, 140), ("synth", "synth bass", "drum machine", "arpeggiator"), ("4/4",), "four_on_floor", 0.75),
    "trance": GenreInfo("electronic", (130, 142), ("synth", "arpeggiator", "synth pad", "synth bass", "drum machine"), ("4/4",), "four_on_floor", 0.7),
    "drum and bass": GenreInfo("electronic", (160, 178), ("synth bass", "drum machine", "synth pad", "synth"), ("4/4",), "breakbeat", 0.7),
    "dubstep": GenreInfo("electronic", (138, 142), ("synth bass", "drum machine", "synth", "synth pad"), ("4/4",), "halftime", 0.8),
    "synthwave": GenreInfo("electronic", (85, 118), ("synth", "synth bass", "drum machine", "synth pad", "arpeggiator"), ("4/4",), "backbeat", 0.65),
    "ambient": GenreInfo("ambient", (60, 90), ("synth pad", "piano", "bells", "strings", "flute"), ("4/4", "3/4"), "none", 0.5),
    "chillout": GenreInfo("ambient", (80, 105), ("electric piano", "synth pad", "guitar", "drum machine", "bass guitar"), ("4/4",), "backbeat", 0.5),
    "new age": GenreInfo("ambient", (60, 85), ("piano", "synth pad", "flute", "harp", "bells"), ("4/4", "3/4", "6/8"), "none", 0.4),
    "classical": GenreInfo("classical", (60, 140), ("piano", "strings", "violin", "cello", "flute", "french horn", "oboe"), ("4/4", "3/4", "6/8", "2/4"), "none", 0.45),
    "baroque": GenreInfo("classical", (80, 130), ("strings", "organ", "harp", "flute", "oboe", "violin"), ("4/4", "3/4"), "none", 0.45),
    "cinematic": GenreInfo("classical", (70, 130), ("strings", "french horn", "piano", "choir", "taiko", "brass"), ("4/4", "3/4", "6/8"), "cinematic", 0.65),
    "orchestral": GenreInfo("classical", (70, 140), ("strings", "brass", "flute", "french horn", "percussion", "harp"), ("4/4", "3/4", "6/8"), "cinematic", 0.55),
    "piano solo": GenreInfo("classical", (60, 120), ("piano",), ("4/4", "3/4", "6/8"), "none", 0.5),
    "folk": GenreInfo("folk", (80, 130), ("acoustic guitar", "violin", "banjo", "mandolin", "upright bass", "harmonica"), ("4/4", "3/4", "6/8"), "folk", 0.4),
    "country": GenreInfo("folk", (90, 130), ("acoustic guitar", "banjo", "bass guitar", "drums", "violin"), ("4/4", "3/4"), "country", 0.25),
    "bluegrass": GenreInfo("folk", (110, 160), ("banjo", "mandolin", "acoustic guitar", "violin", "upright bass"), ("4/4", "2/4"), "country", 0.3),
    "celtic": GenreInfo("folk", (90, 140), ("violin", "flute", "harp", "acoustic guitar", "whistle"), ("6/8", "3/4", "4/4"), "folk", 0.55),
    "reggae": GenreInfo("world", (70, 95), ("guitar", "bass guitar", "drums", "organ", "brass"), ("4/4",), "reggae", 0.45),
    "latin": GenreInfo("world", (90, 130), ("acoustic guitar", "piano", "congas", "brass", "bass guitar"), ("4/4", "2/4"), "latin", 0.55),
    "bossa nova": GenreInfo("world", (110, 140), ("nylon guitar", "upright bass", "percussion", "flute", "piano"), ("4/4", "2/4"), "bossa", 0.5),
    "afrobeat": GenreInfo("world", (100, 125), ("electric guitar", "bass guitar", "percussion", "brass", "organ"), ("4/4", "12/8"), "afro", 0.5),
    "flamenco": GenreInfo("world", (90, 140), ("acoustic guitar", "percussion", "bass"), ("3/4", "6/8", "4/4"), "folk", 0.8),
    "gospel": GenreInfo("rnb", (70, 120), ("organ", "piano", "choir", "bass guitar", "drums"), ("4/4", "6/8", "12/8"), "backbeat", 0.3),
    "disco": GenreInfo("electronic", (110, 125), ("bass guitar", "strings", "drums", "electric guitar", "piano", "brass"), ("4/4",), "four_on_floor", 0.45),
    "video game": GenreInfo("electronic", (100, 160), ("synth", "bells", "synth bass", "drum machine", "arpeggiator"), ("4/4", "3/4", "6/8"), "backbeat", 0.5),
    "world": GenreInfo("world", (80, 130), ("sitar", "tabla", "flute", "koto", "percussion", "strings"), ("4/4", "7/8", "5/4", "6/8"), "afro", 0.6),
}

#: Time signatures the subnet asks for.
METERS = ("4/4", "3/4", "6/8", "5/4", "7/8", "2/4", "12/8")


@dataclass(frozen=True)
class MoodInfo:
    """A mood's place on the valence (sad→happy, -1..1) and energy (calm→intense, -1..1) plane."""

    valence: float
    energy: float


MOODS: dict[str, MoodInfo] = {
    "happy": MoodInfo(0.9, 0.5),
    "joyful": MoodInfo(1.0, 0.6),
    "uplifting": MoodInfo(0.8, 0.5),
    "euphoric": MoodInfo(0.9, 0.9),
    "playful": MoodInfo(0.7, 0.4),
    "cheerful": MoodInfo(0.8, 0.4),
    "triumphant": MoodInfo(0.7, 0.8),
    "energetic": MoodInfo(0.5, 0.9),
    "aggressive": MoodInfo(-0.4, 1.0),
    "intense": MoodInfo(-0.2, 0.9),
    "epic": MoodInfo(0.3, 0.9),
    "heroic": MoodInfo(0.6, 0.8),
    "tense": MoodInfo(-0.5, 0.6),
    "dark": MoodInfo(-0.7, 0.3),
    "ominous": MoodInfo(-0.8, 0.4),
    "mysterious": MoodInfo(-0.3, 0.0),
    "eerie": MoodInfo(-0.6, -0.1),
    "melancholic": MoodInfo(-0.7, -0.4),
    "sad": MoodInfo(-0.9, -0.5),
    "nostalgic": MoodInfo(-0.2, -0.3),
    "bittersweet": MoodInfo(-0.1, -0.2),
    "romantic": MoodInfo(0.5, -0.2),
    "dreamy": MoodInfo(0.3, -0.6),
    "peaceful": MoodInfo(0.5, -0.8),
    "calm": MoodInfo(0.3, -0.8),
    "relaxed": MoodInfo(0.4, -0.7),
    "meditative": MoodInfo(0.1, -0.9),
    "hopeful": MoodInfo(0.6, 0.1),
    "inspiring": MoodInfo(0.7, 0.4),
    "groovy": MoodInfo(0.6, 0.5),
    "funky": MoodInfo(0.6, 0.6),
    "sensual": MoodInfo(0.4, -0.1),
    "whimsical": MoodInfo(0.6, 0.1),
    "somber": MoodInfo(-0.8, -0.6),
    "majestic": MoodInfo(0.5, 0.6),
    "suspenseful": MoodInfo(-0.4, 0.5),
}

#: Vocal styles a vocal challenge may name.
VOCAL_STYLES = ("female vocals", "male vocals", "choir vocals", "soulful vocals", "breathy vocals", "rap vocals")
