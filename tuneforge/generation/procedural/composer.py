"""The composer: a MusicSpec becomes a Score (harmony, melody, bass, comping, drums, form).

Genre picks the progression family, groove, instrument pool and reverb; mood picks among the
progressions (valence) and sets the arrangement density (energy); the key, meter and tempo
are taken exactly from the spec. Chord changes and the kit's kick/backbeat fall on the bar's
pulses so a beat tracker recovers the tempo; phrases cadence to the tonic so the key reads
true. All randomness comes from the one ``numpy.random.Generator`` passed in.
"""

import math

import numpy as np

from scoring.music_theory import Meter
from tuneforge.catalog import GENRES, MOODS, GenreInfo, MoodInfo
from tuneforge.generation.procedural.arrangement import ROLE_GAIN, ROLE_PAN, ROLE_SEND, choose_arrangement
from tuneforge.generation.procedural.form import PHRASE_BARS, Section, plan_form
from tuneforge.generation.procedural.grooves import drum_bar, humanize, swing_position
from tuneforge.generation.procedural.harmony import (
    CADENCE,
    choose_progressions,
    chord_pitch_classes,
    voice_chord,
)
from tuneforge.generation.procedural.melody import cadence_figure, make_motif, realise_motif, vary_motif
from tuneforge.generation.procedural.score import BarGrid, DrumHit, NoteEvent, Part, Score, bar_grid
from tuneforge.spec import MusicSpec

__all__ = ["compose", "DEFAULT_GENRE"]

DEFAULT_GENRE = "pop"
_REVERB_SECONDS = {
    "ambient": 3.2,
    "classical": 2.2,
    "jazz": 1.2,
    "rock": 1.0,
    "electronic": 1.5,
    "urban": 0.9,
    "rnb": 1.2,
    "folk": 1.3,
    "world": 1.2,
    "pop": 1.2,
}
_DRUM_GAIN = {
    "electronic": 1.0,
    "urban": 1.0,
    "rock": 0.95,
    "pop": 0.9,
    "rnb": 0.85,
    "jazz": 0.6,
    "classical": 0.75,
    "folk": 0.65,
    "world": 0.8,
    "ambient": 0.6,
}
_SUSTAINED = {"strings", "pad", "organ", "brass", "flute", "vocal"}
_ARP_GENRE_GROOVES = {"none"}


def _genre(spec: MusicSpec) -> GenreInfo:
    return GENRES.get(spec.genre, GENRES[DEFAULT_GENRE])


def _mood(spec: MusicSpec) -> MoodInfo:
    if spec.mood in MOODS:
        return MOODS[spec.mood]
    return MoodInfo(0.4 if spec.key.mode == "major" else -0.4, 0.2)


def _section_numerals(section: Section, progs: dict[str, tuple[str, ...]], mode: str) -> list[str]:
    tonic = "I" if mode == "major" else "i"
    if section.label == "intro":
        first = progs["A"][0]
        return [first if i % 2 == 0 else tonic for i in range(section.bars)]
    if section.label == "outro":
        return [tonic] * section.bars
    prog = progs["B"] if section.label == "B" else progs["A"]
    chords = [prog[i % len(prog)] for i in range(section.bars)]
    if section.closing:
        if section.bars >= 2:
            chords[-2:] = list(CADENCE[mode])
        else:
            chords[-1] = tonic
    return chords


def _hemiola(grid: BarGrid, tempo_bpm: float) -> bool:
    """Whether a compound meter's accompaniment moves in quarter notes (three against two).

    From 100 BPM up the dotted-quarter pulse alone would read as 2/3 of the tempo to a beat
    tracker; a quarter-note hemiola in bass and comping (idiomatic in 6/8 and 12/8) keeps
    the quarter audible while the kit still groups the eighths in threes.
    """
    return grid.compound and tempo_bpm >= 100.0


def _comp_rhythm(
    groove: str, grid: BarGrid, four_four: bool, sustained: bool, tempo_bpm: float
) -> list[tuple[float, float, float]]:
    """(onset_q, length_q, velocity) of the chord instrument's hits in one bar."""
    if _hemiola(grid, tempo_bpm) and not sustained:
        return [(float(s), 0.9, 0.85 if s == 0 else 0.7) for s in np.arange(0.0, grid.bar_q - 1e-9, 1.0)]
    if sustained:
        half = grid.pulses[len(grid.pulses) // 2][0] if len(grid.pulses) > 1 else grid.bar_q
        return [(0.0, half, 0.8), (half, grid.bar_q - half, 0.65)]
    if four_four:
        table = {
            "reggae": [(0.5, 0.3, 0.8), (1.5, 0.3, 0.8), (2.5, 0.3, 0.8), (3.5, 0.3, 0.8)],
            "four_on_floor": [
                (0.0, 0.35, 0.85),
                (0.5, 0.3, 0.4),
                (1.5, 0.3, 0.4),
                (2.0, 0.35, 0.8),
                (2.5, 0.3, 0.4),
                (3.5, 0.3, 0.4),
            ],
            "swing": [(0.0, 0.9, 0.8), (1.0 + 2.0 / 3.0, 0.5, 0.7), (3.0, 0.6, 0.6)],
            "funk": [
                (0.0, 0.2, 0.9),
                (0.5, 0.2, 0.45),
                (1.0, 0.2, 0.75),
                (1.5, 0.2, 0.45),
                (2.0, 0.2, 0.9),
                (2.5, 0.2, 0.45),
                (3.0, 0.2, 0.75),
                (3.5, 0.2, 0.45),
            ],
            "trap": [(0.0, 2.0, 0.7), (2.0, 2.0, 0.6)],
            "hiphop": [(0.0, 1.5, 0.75), (1.5, 0.5, 0.55), (2.0, 2.0, 0.65)],
            "rnb": [(0.0, 1.5, 0.75), (1.5, 0.5, 0.55), (2.0, 2.0, 0.65)],
            "halftime": [(0.0, 2.0, 0.7), (2.0, 2.0, 0.6)],
            "bossa": [(0.0, 0.9, 0.8), (1.5, 0.4, 0.6), (2.0, 0.9, 0.7), (3.5, 0.4, 0.6)],
            "latin": [(0.0, 0.4, 0.85), (1.5, 0.4, 0.6), (2.0, 0.4, 0.75), (3.5, 0.4, 0.6)],
        }
        if groove in table:
            return table[groove]
    if grid.step_q == 0.5 and any(length > 1.0 for _, length in grid.pulses):
        # Compound and irregular meters: strum every eighth, accenting the group starts, so the
        # eighth-note grid (and with it the quarter-note tempo) is audible.
        starts = grid.pulse_starts
        return [
            (float(s), 0.45, 0.8 if any(abs(s - p) < 1e-9 for p in starts) else 0.55)
            for s in np.arange(0.0, grid.bar_q - 1e-9, 0.5)
        ]
    return [
        (s, length * 0.9, 0.6 + 0.3 * a) for (s, length), a in zip(grid.pulses, grid.accents, strict=True)
    ]


def _bass_rhythm(
    groove: str, grid: BarGrid, four_four: bool, tempo_bpm: float
) -> list[tuple[float, float, int, float]]:
    """(onset_q, length_q, interval above the root in semitones, velocity) for one bar of bass."""
    if _hemiola(grid, tempo_bpm):
        return [
            (float(s), 0.9, (0, 12, 7)[i % 3], 0.9 if s == 0 else 0.75)
            for i, s in enumerate(np.arange(0.0, grid.bar_q - 1e-9, 1.0))
        ]
    if four_four:
        if groove == "four_on_floor":
            return [(i * 0.5, 0.42, 12 if i % 2 else 0, 0.9 if i % 2 else 0.7) for i in range(8)]
        if groove in ("rock", "metal"):
            return [(i * 0.5, 0.45, 0, 0.9 if i % 2 == 0 else 0.7) for i in range(8)]
        if groove == "funk":
            return [
                (
                    i * 0.5,
                    0.2 if i % 2 else 0.4,
                    (12, 10)[i // 2 % 2] if i % 2 else 0,
                    0.55 if i % 2 else 0.95,
                )
                for i in range(8)
            ]
        if groove in ("hiphop", "trap", "rnb", "halftime"):
            return [(0.0, 1.6, 0, 1.0), (1.75, 0.5, 0, 0.6), (2.5, 1.4, 0, 0.85)]
        if groove == "reggae":
            return [(0.0, 0.9, 0, 0.9), (1.5, 0.45, 7, 0.7), (2.0, 0.9, 0, 0.85), (3.0, 0.45, 12, 0.7)]
        if groove in ("bossa", "latin"):
            return [(0.0, 1.4, 0, 0.9), (1.5, 0.45, 7, 0.7), (2.0, 1.4, 7, 0.85), (3.5, 0.45, 0, 0.7)]
        if groove == "country":
            return [(0.0, 0.9, 0, 0.9), (1.0, 0.9, 7, 0.7), (2.0, 0.9, 0, 0.85), (3.0, 0.9, 7, 0.7)]
    if groove == "none":
        return [(0.0, grid.bar_q * 0.95, 0, 0.85)]
    intervals = (0, 12, 0, 7)
    return [
        (s, length * 0.9, intervals[i % 4] if i else 0, 0.6 + 0.35 * a)
        for i, ((s, length), a) in enumerate(zip(grid.pulses, grid.accents, strict=True))
    ]


def _walking_bass(
    root_midi: int, chord_pcs: tuple[int, ...], next_root_midi: int, grid: BarGrid, bar_q0: float
) -> list[NoteEvent]:
    third = (chord_pcs[1] - chord_pcs[0]) % 12
    fifth = (chord_pcs[2] - chord_pcs[0]) % 12
    steps = [0, third, fifth, None]
    notes = []
    for i, (s, length) in enumerate(grid.pulses):
        if i == len(grid.pulses) - 1 and i > 0:
            pitch = next_root_midi - 1 if next_root_midi > root_midi else next_root_midi + 1
        else:
            pitch = root_midi + (steps[i % 3] or 0)
        notes.append(NoteEvent(bar_q0 + s, length * 0.9, pitch, 0.85 if i == 0 else 0.7))
    return notes


def _bass_root_midi(pc: int) -> int:
    """Bass register E2-Eb3 (MIDI 40-51): low enough to anchor, high enough for a clear pitch class."""
    m = 36 + pc
    return m + 12 if m < 40 else m


def _drum_track(
    *, groove: str, meter: Meter, split: int, total_bars: int, total_q: float, bar_section: list[Section]
) -> list[DrumHit]:
    """Kit hits over the whole piece, bar by bar of the real meter, up to ``total_q`` quarter notes.

    ``total_bars`` counts harmony bars (``split`` of them per kit bar). The final chord rings from
    the last harmony bar to the end of the clip; the kit keeps time through it (the groove goes on
    to the last beat, so a clip never ends in a drum-less wash), and a crash marks the arrival of
    the final chord.
    """
    grid = bar_grid(meter)
    four_four = meter.beats_per_bar == 4 and meter.beat_unit == 4
    bars = total_bars // split
    kit_bars = max(bars, math.ceil(total_q / grid.bar_q - 1e-6))
    drums: list[DrumHit] = []
    for bar in range(kit_bars):
        q0 = bar * grid.bar_q
        sec = bar_section[min(bar * split, total_bars - 1)]
        last_h = bar * split + split - 1
        if groove == "none":
            # A drum kit was requested for a groove-less genre: a soft pulse on the bar's beats.
            hits = [
                DrumHit(q0 + s, "kick" if i == 0 else "rim", 0.6) for i, s in enumerate(grid.pulse_starts)
            ]
        else:
            hits = drum_bar(groove=groove, grid=grid, bar_start_q=q0, energy=sec.energy, four_four=four_four)
            if sec.label == "intro":
                hits = [h for h in hits if h.piece in ("kick", "closed_hat", "shaker", "ride", "rim")]
            if bar * split == sec.start_bar and sec.label in ("B", "A'") and sec.start_bar > 0:
                hits.append(DrumHit(q0, "crash", 0.7))
            if last_h + 1 < total_bars - split and bar_section[last_h + 1] is not sec:
                last_pulse_start, last_len = grid.pulses[-1]
                fill_steps = int(round(last_len / 0.25))
                hits = [h for h in hits if h.start_q < q0 + last_pulse_start - 1e-9 or h.piece != "snare"]
                hits += [
                    DrumHit(q0 + last_pulse_start + 0.25 * k, "snare", 0.45 + 0.5 * k / max(fill_steps, 1))
                    for k in range(fill_steps)
                ]
        if (
            bar == bars - 1
            and bars > 1
            and not any(h.piece == "crash" and h.start_q <= q0 + 1e-9 for h in hits)
        ):
            hits.append(DrumHit(q0, "crash", 0.8))
        drums += [h for h in hits if h.start_q < total_q - 1e-9]
    return drums


def compose(spec: MusicSpec, rng: np.random.Generator) -> Score:
    """Compose ``spec`` into a :class:`Score` covering exactly ``spec.duration_seconds`` of music time."""
    genre = _genre(spec)
    mood = _mood(spec)
    key, meter = spec.key, spec.meter
    spq = 60.0 / spec.tempo_bpm
    # Long bars (slow 4/4, 12/8) change chords every half bar: the harmony runs on half bars.
    split = 2 if meter.beats_per_bar % 2 == 0 and bar_grid(meter).bar_q * spq > 3.2 else 1
    hmeter = Meter(meter.beats_per_bar // split, meter.beat_unit)
    grid = bar_grid(hmeter)
    four_four = hmeter.beats_per_bar == 4 and hmeter.beat_unit == 4
    total_q = spec.duration_seconds / spq
    total_bars = max(1, int(math.floor(total_q / (grid.bar_q * split) + 0.35))) * split
    base_energy = float(np.clip(0.5 + 0.35 * mood.energy, 0.1, 0.95))
    sections = plan_form(total_bars=total_bars, base_energy=base_energy, rng=rng)
    progs = choose_progressions(
        family=genre.family, mode=key.mode, valence=mood.valence, energy=mood.energy, rng=rng
    )
    arrangement = choose_arrangement(requested=spec.timbres, genre=genre)
    roles = dict(arrangement.roles)
    groove = genre.groove
    # Genres without a groove keep the pulse with an arpeggiated accompaniment.
    arpeggiate_chords = groove in _ARP_GENRE_GROOVES or not arrangement.drums

    bar_numerals: list[str] = []
    bar_section: list[Section] = []
    for sec in sections:
        bar_numerals += _section_numerals(sec, progs, key.mode)
        bar_section += [sec] * sec.bars

    parts: dict[str, Part] = {
        role: Part(role, timbre, ROLE_GAIN[role], ROLE_PAN[role], ROLE_SEND[role])
        for role, timbre in roles.items()
    }
    if spec.vocals:
        parts["vocal"] = Part("vocal", "vocal", ROLE_GAIN["vocal"], ROLE_PAN["vocal"], ROLE_SEND["vocal"])
        parts["melody"].gain *= 0.6

    eighth_s = 0.5 * spq
    mel_step = 0.5 if eighth_s >= 0.17 else 1.0
    if grid.compound or meter.beat_unit == 8:
        mel_step = 0.5 if eighth_s >= 0.12 else 1.5 if grid.compound else 1.0
    density = float(np.clip(0.25 + 0.3 * (mood.energy + 1.0) / 2.0, 0.2, 0.6))
    motifs = {"A": make_motif(grid=grid, density=density, step_q=mel_step, rng=rng)}
    motifs["A2"] = make_motif(grid=grid, density=density, step_q=mel_step, rng=rng)
    motifs["B"] = make_motif(grid=grid, density=min(0.8, density + 0.15), step_q=mel_step, rng=rng)
    motifs["B2"] = vary_motif(motifs["A2"], rng)
    tonic_midi = 60 + key.tonic if key.tonic <= 6 else 48 + key.tonic
    mel_timbre = roles["melody"]
    mel_tonic = tonic_midi + (12 if mel_timbre in ("bell", "flute") and tonic_midi < 62 else 0)
    if mel_timbre == "bass":
        mel_tonic -= 12

    chord_prev: tuple[int, ...] | None = None
    pad_prev: tuple[int, ...] | None = None
    mel_degree = 2
    drums: list[DrumHit] = []
    chord_sustained = roles["chords"] in _SUSTAINED
    bass_low_register = arrangement.bass_in_low_register_of is not None
    last_bar = total_bars - 1
    for bar in range(total_bars):
        q0 = bar * grid.bar_q
        sec = bar_section[bar]
        numeral = bar_numerals[bar]
        root_pc, pcs = chord_pitch_classes(key, numeral)
        final = bar == last_bar
        ring_q = max(grid.bar_q, total_q - q0) if final else grid.bar_q
        pos_in_phrase = (bar - sec.start_bar) % PHRASE_BARS
        phrase_end = pos_in_phrase == PHRASE_BARS - 1 or bar == sec.start_bar + sec.bars - 1
        energy = sec.energy

        # Chords.
        voicing = voice_chord(pcs, chord_prev, low=52, high=74)
        chord_prev = voicing
        if final:
            comp = [(0.0, ring_q, 0.8)]
        elif arpeggiate_chords and not chord_sustained:
            step = 0.5 if eighth_s >= 0.14 else 1.0
            order = [0, 2, 1, 2] if len(voicing) == 3 else [0, 2, 1, 3]
            comp = []
            for i, s in enumerate(np.arange(0.0, grid.bar_q - 1e-9, step)):
                acc = 0.85 if any(abs(s - p) < 1e-9 for p in grid.pulse_starts) else 0.6
                comp.append((float(s), step * 1.6, acc, order[i % len(order)]))
        else:
            comp = _comp_rhythm(
                groove, grid, four_four, chord_sustained or sec.label == "intro", spec.tempo_bpm
            )
        for hit in comp:
            on, length, vel = hit[0], hit[1], hit[2]
            if len(hit) == 4:
                idx = hit[3] % len(voicing)
                lowest = voicing[0] - 12 if idx == 0 else voicing[idx]
                parts["chords"].notes.append(NoteEvent(q0 + on, length, lowest, vel * (0.6 + 0.4 * energy)))
                continue
            if groove in ("swing", "shuffle") and not grid.compound:
                on = swing_position(on)
            for p in voicing:
                parts["chords"].notes.append(NoteEvent(q0 + on, length, p, vel * (0.6 + 0.4 * energy)))

        # Pad: the whole bar, voiced lower.
        if "pad" in parts and (sec.label != "intro" or energy < 0.5):
            pv = voice_chord(pcs, pad_prev, low=48, high=67)
            pad_prev = pv
            for p in pv:
                parts["pad"].notes.append(NoteEvent(q0, ring_q, p, 0.7))

        # Bass.
        root_midi = _bass_root_midi(root_pc)
        bass_notes: list[NoteEvent] = []
        if final:
            bass_notes.append(NoteEvent(q0, ring_q, root_midi, 0.9))
        elif (
            groove == "swing"
            and four_four
            or (groove == "swing" and not grid.compound and len(grid.pulses) >= 3)
        ):
            next_pc = chord_pitch_classes(key, bar_numerals[bar + 1])[0]
            bass_notes += _walking_bass(root_midi, pcs, _bass_root_midi(next_pc), grid, q0)
        elif sec.label == "intro":
            bass_notes.append(NoteEvent(q0, grid.bar_q * 0.95, root_midi, 0.7))
        else:
            for on, length, iv, vel in _bass_rhythm(groove, grid, four_four, spec.tempo_bpm):
                if groove in ("swing", "shuffle") and not grid.compound:
                    on = swing_position(on)
                bass_notes.append(NoteEvent(q0 + on, length, root_midi + iv, vel))
        if bass_low_register:
            bass_notes = [
                NoteEvent(n.start_q, n.length_q, n.pitch + 12, n.velocity * 0.8) for n in bass_notes
            ]
        parts["bass"].notes += bass_notes

        # Melody (and the vocal line, which sings it).
        mel_notes: list[NoteEvent] = []
        if sec.label in ("A", "A'", "B"):
            closing_bar = phrase_end and (sec.closing or sec.label in ("A'",))
            vel = 0.65 + 0.3 * energy
            if final or (phrase_end and pos_in_phrase >= 2) or closing_bar and bar == last_bar:
                mel_notes = cadence_figure(
                    key=key,
                    from_degree=mel_degree,
                    closing=sec.closing or final,
                    chord_pcs=pcs,
                    grid=grid,
                    bar_start_q=q0,
                    tonic_midi=mel_tonic,
                    velocity=vel,
                )
                if final:
                    mel_notes[-1] = NoteEvent(
                        mel_notes[-1].start_q,
                        max(mel_notes[-1].length_q, ring_q - (mel_notes[-1].start_q - q0)),
                        mel_notes[-1].pitch,
                        vel,
                    )
                mel_degree = 2
            else:
                b = sec.label == "B"
                name = ("B" if pos_in_phrase < 2 else "B2") if b else ("A" if pos_in_phrase < 2 else "A2")
                motif = motifs[name]
                if pos_in_phrase == 1 or (sec.label == "A'" and pos_in_phrase == 2):
                    motif = vary_motif(motif, rng)
                start = (4 if b else (0 if bar % 2 else 2)) if pos_in_phrase == 0 else mel_degree
                mel_notes, mel_degree = realise_motif(
                    motif,
                    key=key,
                    start_degree=start,
                    chord_pcs=pcs,
                    grid=grid,
                    bar_start_q=q0,
                    tonic_midi=mel_tonic,
                    velocity=vel,
                )
        elif sec.label == "outro" and final:
            mel_notes = [NoteEvent(q0, ring_q, mel_tonic, 0.6)]
        parts["melody"].notes += mel_notes
        if "vocal" in parts and sec.label in ("A", "A'", "B"):
            parts["vocal"].notes += [
                NoteEvent(n.start_q, n.length_q, n.pitch if n.pitch >= 55 else n.pitch + 12, n.velocity)
                for n in mel_notes
            ]
        if "counter" in parts and sec.label in ("B", "A'"):
            parts["counter"].notes += [
                NoteEvent(n.start_q, n.length_q, n.pitch - 12, n.velocity * 0.8) for n in mel_notes
            ]

        # Arpeggio over the chord in the busier sections.
        if "arp" in parts and sec.label in ("A", "B", "A'") and not final:
            step = 0.5 if eighth_s >= 0.14 else 1.0
            tones = [p + 12 for p in voicing] + [voicing[0] + 24]
            for i, s in enumerate(np.arange(0.0, grid.bar_q - 1e-9, step)):
                acc = 0.8 if any(abs(s - p) < 1e-9 for p in grid.pulse_starts) else 0.55
                parts["arp"].notes.append(NoteEvent(q0 + float(s), step * 0.9, tones[i % len(tones)], acc))

    if arrangement.drums:
        drums = _drum_track(
            groove=groove,
            meter=meter,
            split=split,
            total_bars=total_bars,
            total_q=total_q,
            bar_section=bar_section,
        )
        drums = humanize(drums, groove=groove, seconds_per_quarter=spq, seed=int(spec.seed))

    ordered = [parts[r] for r in ("bass", "chords", "pad", "arp", "melody", "counter", "vocal") if r in parts]
    return Score(
        tempo_bpm=float(spec.tempo_bpm),
        meter=meter,
        key=key,
        total_q=total_q,
        parts=ordered,
        drums=drums,
        drum_gain=_DRUM_GAIN.get(genre.family, 0.85),
        reverb_seconds=_REVERB_SECONDS.get(genre.family, 1.2),
        sections=[(s.label, s.start_bar, s.bars) for s in sections],
    )
