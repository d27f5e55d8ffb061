"""Arrangement: which timbre plays which role (melody, chords, pad, bass, arp), and how loud
and where in the stereo field each sits.

Requested instruments are honoured exactly: when a request names instruments, only their
timbres play, each in the role it suits best, and a role nobody suits is either doubled by
a requested timbre (melody, chords, bass in a low register) or left out (pad, arp). With no
request the genre's instrument pool is used, drums included when the genre has a groove.
"""

from dataclasses import dataclass

from tuneforge.catalog import GenreInfo, timbre_for

__all__ = ["Arrangement", "choose_arrangement", "ROLE_GAIN", "ROLE_PAN", "ROLE_SEND"]

_PREFERENCE = {
    "melody": ("synth_lead", "flute", "brass", "strings", "bell", "guitar", "pluck", "piano", "electric_piano",
               "organ", "pad", "bass"),
    "chords": ("piano", "electric_piano", "guitar", "organ", "pluck", "strings", "pad", "synth_lead", "bell",
               "brass", "flute"),
    "bass": ("bass",),
    "pad": ("pad", "strings", "organ", "brass"),
    "arp": ("bell", "pluck", "synth_lead", "piano", "guitar", "electric_piano", "flute"),
}

ROLE_GAIN = {"melody": 0.5, "chords": 0.3, "pad": 0.2, "bass": 0.55, "arp": 0.18, "counter": 0.25, "vocal": 0.45}
ROLE_PAN = {"melody": 0.08, "chords": -0.32, "pad": 0.28, "bass": 0.0, "arp": 0.5, "counter": -0.5, "vocal": -0.05}
ROLE_SEND = {"melody": 0.3, "chords": 0.25, "pad": 0.45, "bass": 0.03, "arp": 0.4, "counter": 0.3, "vocal": 0.3}


@dataclass(frozen=True)
class Arrangement:
    """Role → timbre (roles absent from ``roles`` are not played) and whether the kit plays."""

    roles: dict[str, str]
    drums: bool
    bass_in_low_register_of: str | None  # when no bass timbre: the chords timbre plays the bass line


def _pool_timbres(genre: GenreInfo) -> list[str]:
    out: list[str] = []
    for inst in genre.instruments:
        t = timbre_for(inst)
        if t and t not in out:
            out.append(t)
    return out


def choose_arrangement(*, requested: tuple[str, ...], genre: GenreInfo) -> Arrangement:
    """Assign timbres to roles from the request (exactly) or the genre pool.

    ``requested``: timbre names from :attr:`MusicSpec.timbres` (may be empty).
    """
    if requested:
        timbres = list(requested)
        drums = "drums" in timbres
    else:
        timbres = _pool_timbres(genre)
        drums = genre.groove != "none" or "drums" in timbres
    pitched = [t for t in timbres if t != "drums"]
    if not pitched:
        # Only drums were asked for: a piano keeps the harmony (and so the key) audible.
        pitched = ["piano"] if requested else ["piano", "bass"]
    roles: dict[str, str] = {}
    unused = list(pitched)
    for role in ("bass", "melody", "chords", "pad", "arp"):
        for t in _PREFERENCE[role]:
            if t in unused:
                roles[role] = t
                unused.remove(t)
                break
    # Melody and chords must exist: double a requested timbre if needed.
    if "chords" not in roles:
        roles["chords"] = next((t for t in _PREFERENCE["chords"] if t in pitched), pitched[0])
        if roles["chords"] == "bass":
            roles["chords"] = roles.get("melody", pitched[0])
    if "melody" not in roles:
        roles["melody"] = next((t for t in _PREFERENCE["melody"] if t in pitched and t != "bass"), roles["chords"])
    for t in unused:  # extra requested timbres: double the melody an octave down
        if "counter" not in roles:
            roles["counter"] = t
        elif "pad" not in roles:
            roles["pad"] = t
        elif "arp" not in roles:
            roles["arp"] = t
    low = None
    if "bass" not in roles:
        low = roles["chords"]
        roles["bass"] = low
    return Arrangement(roles=roles, drums=drums, bass_in_low_register_of=low)
