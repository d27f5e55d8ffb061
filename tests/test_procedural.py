"""Tests of the procedural backend: exact length, determinism, loudness and true peak, tempo and
key read back by standard estimators, distinct timbres, full-band and alias-free synthesis, drums
for the whole clip, form, grooves and bad input."""

import dataclasses
import hashlib
import itertools
import subprocess
import sys
import warnings

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly, welch

from scoring.music_theory import Key, Meter, key_relation, parse_key, parse_meter
from tuneforge.audio.intake import encode_audio
from tuneforge.catalog import GENRES, INSTRUMENTS, TIMBRES
from tuneforge.generation.base import BackendUnavailable, GenerationBackend, GenerationSettings, build_backend
from tuneforge.generation.procedural import ProceduralBackend
from tuneforge.generation.procedural.composer import compose
from tuneforge.generation.procedural.drumkit import KIT_PIECES, synthesize_kit
from tuneforge.generation.procedural.form import plan_form
from tuneforge.generation.procedural.grooves import humanize
from tuneforge.generation.procedural.loudness import integrated_loudness, true_peak_dbtp
from tuneforge.generation.procedural.mastering import master
from tuneforge.generation.procedural.mixer import render_score
from tuneforge.generation.procedural.oscillator import oscillate
from tuneforge.generation.procedural.score import DrumHit, Score, bar_grid
from tuneforge.generation.procedural.timbres import PITCHED_TIMBRES, midi_to_hz, synthesize_note
from tuneforge.spec import spec_from_fields

SR = 44_100
ANALYSIS_SR = 22_050  # tempo/key checks render at 22.05 kHz to keep the suite fast


@pytest.fixture(scope="module")
def backend() -> ProceduralBackend:
    return ProceduralBackend(sample_rate=SR)


@pytest.fixture(scope="module")
def analysis_backend() -> ProceduralBackend:
    return ProceduralBackend(sample_rate=ANALYSIS_SR)


def _spec(**kw):
    base = {"genre": "pop", "duration_seconds": 6.0, "seed": 7}
    base.update(kw)
    return spec_from_fields(**base)


# --- interface ---------------------------------------------------------------------------


def test_interface_and_factory():
    b = build_backend(GenerationSettings(backend="procedural", sample_rate=32_000))
    assert isinstance(b, ProceduralBackend) and isinstance(b, GenerationBackend)
    assert (b.name, b.model_id, b.device, b.sample_rate) == (
        "procedural",
        "tuneforge-procedural-v1",
        "cpu",
        32_000,
    )
    assert b.max_duration_seconds == 180.0
    assert b.supported_genres() == list(GENRES)


@pytest.mark.parametrize("duration", [1.0, 2.5, 4.321, 10.0])
def test_exact_length(backend, duration):
    out = backend.generate(_spec(duration_seconds=duration))
    assert out.samples.shape == (2, round(duration * SR))
    assert out.samples.dtype == np.float32
    assert out.sample_rate == SR and out.model_id == "tuneforge-procedural-v1"


def test_exact_length_other_rate():
    out = ProceduralBackend(sample_rate=22_050).generate(_spec(duration_seconds=3.3333))
    assert out.samples.shape == (2, round(3.3333 * 22_050))


def test_determinism_and_seed_sensitivity(backend):
    spec = _spec(genre="jazz", duration_seconds=5.0, seed=1234)
    a = backend.generate(spec).samples
    b = backend.generate(spec).samples
    assert np.array_equal(a, b)
    assert encode_audio(a, SR, "wav") == encode_audio(b, SR, "wav")
    c = backend.generate(spec.with_seed(1235)).samples
    assert not np.allclose(a, c)
    # Different seeds compose different music, not just different noise.
    sa = compose(spec, np.random.default_rng(spec.seed))
    sc = compose(spec.with_seed(1235), np.random.default_rng(1235))
    mel = lambda s: [(n.start_q, n.pitch) for p in s.parts if p.role == "melody" for n in p.notes]  # noqa: E731
    assert mel(sa) != mel(sc)


_FRESH_PROCESS = """
import hashlib
from tuneforge.generation.procedural import ProceduralBackend
from tuneforge.spec import spec_from_fields
spec = spec_from_fields(genre="hip hop", duration_seconds=2.0, seed=77, vocals_requested=True)
print(hashlib.sha256(ProceduralBackend(sample_rate=22_050).generate(spec).samples.tobytes()).hexdigest())
"""


def test_same_bytes_in_a_fresh_process(analysis_backend):
    """Caches (wavetables, noise loops) warmed by other renders never change what a request renders."""
    analysis_backend.generate(
        _spec(genre="ambient", duration_seconds=2.0, seed=5)
    )  # warm other cache entries
    here = analysis_backend.generate(
        _spec(genre="hip hop", duration_seconds=2.0, seed=77, vocals_requested=True)
    )
    fresh = subprocess.run([sys.executable, "-c", _FRESH_PROCESS], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == hashlib.sha256(here.samples.tobytes()).hexdigest()


# --- levels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "genre,mood", [("rock", "energetic"), ("ambient", "calm"), ("trap", "dark"), ("classical", "romantic")]
)
def test_levels_stereo_and_cleanliness(backend, genre, mood):
    x = backend.generate(_spec(genre=genre, mood=mood, duration_seconds=8.0, seed=3)).samples
    assert np.all(np.isfinite(x))
    # True peak checked with an independent 4x oversampler (scipy's polyphase resampler).
    up = resample_poly(x.astype(np.float64), 4, 1, axis=1)
    assert 20 * np.log10(np.max(np.abs(up))) <= -0.9
    assert np.max(np.abs(x)) < 1.0
    lufs = pyloudnorm.Meter(SR).integrated_loudness(x.T.astype(np.float64))
    assert abs(lufs - (-14.0)) < 1.0
    assert np.sqrt(np.mean(x**2)) > 0.01  # not silent
    assert np.max(np.abs(x.mean(axis=1))) < 1e-3  # no DC
    assert not np.allclose(x[0], x[1], atol=1e-3)  # real stereo
    assert abs(x[0, 0]) < 1e-3 and np.max(np.abs(x[:, -10:])) < 1e-2  # no click at the edges


def test_no_sample_jumps(backend):
    """Clicks show up as sample-to-sample jumps far above the music's own slope."""
    x = backend.generate(_spec(genre="house", duration_seconds=6.0, seed=11)).samples
    d = np.abs(np.diff(x, axis=1))
    assert np.max(d) < 0.6


# --- musical read-back ---------------------------------------------------------------------


def _tempo_ok(measured: float, requested: float) -> bool:
    return any(abs(measured / requested - m) / m < 0.08 for m in (0.5, 1.0, 2.0))


@pytest.mark.parametrize(
    "genre,tempo,meter,key,seed",
    [
        ("pop", 120, "4/4", "C major", 1),
        ("rock", 140, "4/4", "E minor", 2),
        ("jazz", 100, "3/4", "F major", 3),
        ("folk", 100, "6/8", "G major", 4),
        ("metal", 150, "7/8", "D minor", 5),
        ("world", 110, "5/4", "A minor", 6),
        ("techno", 135, "4/4", "A minor", 19),
        ("reggae", 80, "4/4", "G major", 13),
        ("bluegrass", 150, "2/4", "A major", 8),
    ],
)
def test_tempo_read_back(analysis_backend, genre, tempo, meter, key, seed):
    import librosa

    spec = spec_from_fields(
        genre=genre,
        tempo_bpm=tempo,
        time_signature=meter,
        key_signature=key,
        duration_seconds=10.0,
        seed=seed,
    )
    y = analysis_backend.generate(spec).samples.mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        measured, _ = librosa.beat.beat_track(y=y, sr=ANALYSIS_SR)
    measured = float(np.atleast_1d(measured)[0])
    assert _tempo_ok(measured, tempo), f"{genre} {meter}: requested {tempo}, beat tracker {measured:.1f}"


_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _ks_key(chroma: np.ndarray) -> Key:
    scores = [
        (np.corrcoef(chroma, np.roll(t, k))[0, 1], Key(k, mode))
        for mode, t in (("major", _MAJOR), ("minor", _MINOR))
        for k in range(12)
    ]
    return max(scores, key=lambda s: s[0])[1]


@pytest.mark.parametrize(
    "genre,key,meter,seed",
    [
        ("pop", "C major", "4/4", 21),
        ("classical", "A minor", "3/4", 22),
        ("rock", "E minor", "4/4", 2),
        ("house", "Eb major", "4/4", 24),
        ("folk", "G major", "6/8", 4),
        ("trap", "C# minor", "4/4", 10),
    ],
)
def test_key_read_back(analysis_backend, genre, key, meter, seed):
    import librosa

    spec = spec_from_fields(
        genre=genre, key_signature=key, time_signature=meter, duration_seconds=10.0, seed=seed
    )
    y = analysis_backend.generate(spec).samples.mean(axis=0)
    chroma = librosa.feature.chroma_stft(y=y, sr=ANALYSIS_SR).mean(axis=1)
    detected = _ks_key(chroma)
    assert key_relation(parse_key(key), detected) in ("exact", "relative"), f"{key}: detected {detected.name}"


# --- timbres -------------------------------------------------------------------------------


def _timbre_features(x: np.ndarray, sr: int, f0: float | None = None) -> np.ndarray:
    """Spectral envelope plus a 12-frame amplitude envelope.

    With ``f0`` the spectrum is read at harmonics 1-12 (level relative to the strongest,
    floored at -60 dB; pitch-invariant) plus the share of energy between harmonics; without it
    (drums), as 16 log-spaced band shares from 60 Hz to 10 kHz.
    """
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    if f0 is None:
        edges = np.geomspace(60, 10_000, 17)
        bands = np.array([spec[(f >= a) & (f < b)].sum() for a, b in itertools.pairwise(edges)])
        shape = np.log10(bands / bands.sum() + 1e-4)  # shares below -40 dB count as absent
    else:
        near = [np.abs(f - k * f0) < 0.03 * k * f0 for k in range(1, 13)]
        levels = np.array([spec[m].sum() for m in near])
        harmonic = np.clip(10 * np.log10(levels / levels.max() + 1e-12), -60, 0) / 20
        inharmonic = 1.0 - levels.sum() / spec[(f > 0.5 * f0) & (f < 13 * f0)].sum()
        shape = np.concatenate([harmonic, [3 * inharmonic]])
    env = np.array([np.sqrt(np.mean(c**2)) for c in np.array_split(x, 12)])
    return np.concatenate([shape, 2 * env / env.max()])


def test_every_catalogue_timbre_is_rendered():
    assert set(TIMBRES) - {"drums"} <= set(PITCHED_TIMBRES)
    for timbre in TIMBRES:
        instrument = next(name for name, t in INSTRUMENTS.items() if t == timbre)
        score = compose(_spec(instruments=[instrument]), np.random.default_rng(0))
        if timbre == "drums":
            assert score.drums
        else:
            assert {p.timbre for p in score.parts} == {timbre}
            assert not score.drums  # only what was asked for plays


def test_pitched_timbres_have_distinct_spectra_and_envelopes():
    sr = 22_050

    def feats_at(pitch: int) -> dict[str, np.ndarray]:
        return {
            t: _timbre_features(
                synthesize_note(t, pitch=pitch, sustain_frames=sr, sample_rate=sr, seed=1),
                sr,
                f0=440.0 * 2 ** ((pitch - 69) / 12),
            )
            for t in PITCHED_TIMBRES
        }

    feats, feats_up = feats_at(60), feats_at(62)
    # Yardstick: how far one timbre moves between two neighbouring pitches.
    within = max(np.linalg.norm(feats[t] - feats_up[t]) for t in PITCHED_TIMBRES)
    between = min(np.linalg.norm(feats[a] - feats[b]) for a, b in itertools.combinations(feats, 2))
    assert between > within, (between, within)


def test_notes_start_and_end_silent_and_kit_pieces_distinct():
    for t in PITCHED_TIMBRES:
        x = synthesize_note(t, pitch=57, sustain_frames=2000, sample_rate=SR, seed=0)
        assert x[0] == 0.0 and x[-1] == 0.0 and np.all(np.isfinite(x)) and np.max(np.abs(x)) > 0.05
    kit = synthesize_kit(sample_rate=22_050, seed=1)
    assert set(kit) == set(KIT_PIECES)
    feats = {
        p: _timbre_features(np.pad(s, (0, max(0, 22_050 - len(s))))[:22_050], 22_050) for p, s in kit.items()
    }
    assert min(np.linalg.norm(feats[a] - feats[b]) for a, b in itertools.combinations(feats, 2)) > 0.5


# --- full band, no aliasing ----------------------------------------------------------------


def _line_energies(x: np.ndarray, f0: float, *, above_hz: float, tol_hz: float) -> tuple[float, float]:
    """(energy near harmonics of ``f0``, energy between them) above ``above_hz``, in dB of the total."""
    spec = np.abs(np.fft.rfft(x * np.blackman(len(x)), 4 * len(x))) ** 2
    f = np.fft.rfftfreq(4 * len(x), 1 / SR)
    k = np.round(f / f0)
    near = (np.abs(f - k * f0) < tol_hz) & (k >= 1)
    band = f > above_hz
    db = lambda m: 10 * np.log10(spec[m].sum() / spec.sum() + 1e-30)  # noqa: E731
    return db(near & band), db(~near & band)


@pytest.mark.parametrize("genre", ["hip hop", "rock", "pop"])
def test_mix_has_energy_above_10_khz(backend, genre):
    """Cymbals, pick and hammer noise and the instruments' upper harmonics reach the top of the band."""
    x = backend.generate(_spec(genre=genre, duration_seconds=6.0)).samples.mean(axis=0)
    f, p = welch(x, SR, nperseg=4096)
    assert p[f > 10_000].sum() / p.sum() > 0.003  # a synth that stops at 7 kHz leaves < 0.1 %
    air = 10 * np.log10(p[(f >= 12_000) & (f < 16_000)].mean() / p[(f >= 500) & (f < 2_000)].mean())
    assert air > -22.0, air


def test_oscillator_is_band_limited():
    """A saw at 5 kHz holds its four harmonics below the guard and nothing else (no fold-back)."""
    x = oscillate("saw", 5_000.0, SR, SR).astype(np.float64)
    harmonic, between = _line_energies(x, 5_000.0, above_hz=0.0, tol_hz=40.0)
    assert harmonic > -0.01 and between < -90.0, (harmonic, between)


@pytest.mark.parametrize("timbre,pitch", [("organ", 84), ("organ", 96), ("brass", 72)])
def test_sustained_notes_have_no_alias_or_lookup_noise(timbre, pitch):
    """Between the harmonics of a held note there is nothing: no aliasing, no wavetable-lookup noise."""
    x = synthesize_note(timbre, pitch=pitch, sustain_frames=SR, sample_rate=SR, seed=0).astype(np.float64)
    _, between = _line_energies(
        x[int(0.3 * SR) : int(0.9 * SR)], midi_to_hz(pitch), above_hz=500.0, tol_hz=30.0
    )
    assert between < -75.0, between  # the truncating 4096-point lookup this replaced left about -58 dB


@pytest.mark.parametrize("pitch", [48, 60, 72])
def test_piano_attack_has_harmonics_above_10_khz(pitch):
    """The struck string's bright attack: real partials (not noise) above 10 kHz, falling off softly."""
    x = synthesize_note("piano", pitch=pitch, sustain_frames=SR, sample_rate=SR, seed=0).astype(np.float64)
    harmonic, between = _line_energies(x[: int(0.3 * SR)], midi_to_hz(pitch), above_hz=10_000.0, tol_hz=8.0)
    assert harmonic > -55.0 and harmonic > between + 20.0, (harmonic, between)


def test_kit_cymbals_reach_16_khz():
    kit = synthesize_kit(sample_rate=SR, seed=3)
    for piece in ("closed_hat", "open_hat", "ride", "crash", "shaker"):
        spec = np.abs(np.fft.rfft(kit[piece].astype(np.float64))) ** 2
        f = np.fft.rfftfreq(len(kit[piece]), 1 / SR)
        assert spec[f > 16_000].sum() / spec.sum() > 0.02, piece


# --- drums for the whole clip ---------------------------------------------------------------


@pytest.mark.parametrize(
    "genre,meter,tempo,seconds",
    [
        ("hip hop", "4/4", 90, 6.0),  # the clip whose drums used to stop at 2.7 s
        ("house", "4/4", 124, 5.0),
        ("jazz", "3/4", 140, 7.3),
        ("folk", "6/8", 100, 9.0),
        ("metal", "7/8", 150, 4.1),
        ("reggae", "4/4", 80, 13.0),
        ("trap", "4/4", 145, 2.0),
    ],
)
def test_every_beat_of_the_clip_has_a_drum_hit(genre, meter, tempo, seconds):
    score = compose(
        _spec(genre=genre, time_signature=meter, tempo_bpm=tempo, duration_seconds=seconds),
        np.random.default_rng(7),
    )
    starts = np.array([h.start_q for h in score.drums])
    beats = int(np.floor(score.total_q))
    uncovered = [k for k in range(beats) if not np.any((starts >= k - 0.05) & (starts < k + 0.95))]
    assert not uncovered, f"beats without a drum hit: {uncovered} of {beats}"
    assert starts.max() < score.total_q


def test_drum_onsets_in_the_last_quarter_of_a_six_second_hip_hop_clip():
    """Rendered, not just scored: the drum stem has onsets to the end, where a crash used to wash."""
    import librosa

    spec = _spec(genre="hip hop", tempo_bpm=90, duration_seconds=6.0)
    score = compose(spec, np.random.default_rng(spec.seed))
    stem = render_score(
        dataclasses.replace(score, parts=[]),
        sample_rate=ANALYSIS_SR,
        n_frames=6 * ANALYSIS_SR,
        seed=spec.seed,
    ).mean(axis=0)
    onsets = librosa.onset.onset_detect(y=stem, sr=ANALYSIS_SR, units="time")
    assert np.sum(onsets >= 4.5) >= 3, onsets  # 2.25 beats of eighth-note hats and a backbeat


def test_open_hat_is_choked_by_the_next_hat():
    base = dict(
        tempo_bpm=120.0,
        meter=parse_meter("4/4"),
        key=parse_key("C major"),
        total_q=4.0,
        parts=[],
        drum_gain=1.0,
        reverb_seconds=0.5,
        sections=[("A", 0, 1)],
    )
    alone = render_score(
        Score(drums=[DrumHit(0.0, "open_hat", 1.0)], **base), sample_rate=SR, n_frames=SR, seed=1
    )
    choked = render_score(
        Score(drums=[DrumHit(0.0, "open_hat", 1.0), DrumHit(0.5, "closed_hat", 1.0)], **base),
        sample_rate=SR,
        n_frames=SR,
        seed=1,
    )
    after = slice(int(0.4 * SR), int(0.6 * SR))  # after the closed hat (at 0.25 s, 0.12 s long) has died
    assert np.sum(choked[:, after] ** 2) < 0.1 * np.sum(alone[:, after] ** 2)


def test_humanize_keeps_kicks_on_the_grid_and_is_seeded():
    hits = [DrumHit(q * 0.5, piece, 0.8) for q in range(16) for piece in ("kick", "closed_hat")]
    played = humanize(hits, groove="rock", seconds_per_quarter=0.5, seed=9)
    assert played == humanize(hits, groove="rock", seconds_per_quarter=0.5, seed=9)
    assert played != humanize(hits, groove="rock", seconds_per_quarter=0.5, seed=10)
    for a, b in zip(hits, played, strict=True):
        assert b.piece == a.piece and 0.0 < b.velocity <= 1.0
        moved_s = abs(b.start_q - a.start_q) * 0.5
        assert (moved_s == 0.0) if a.piece == "kick" else (moved_s <= 0.010)
    assert any(b.start_q != a.start_q for a, b in zip(hits, played, strict=True))
    programmed = humanize(hits, groove="four_on_floor", seconds_per_quarter=0.5, seed=9)
    assert [h.start_q for h in programmed] == [h.start_q for h in hits]


# --- structure -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "meter,pulses,compound",
    [
        ("4/4", [(0, 1), (1, 1), (2, 1), (3, 1)], False),
        ("6/8", [(0, 1.5), (1.5, 1.5)], True),
        ("12/8", [(0, 1.5), (1.5, 1.5), (3, 1.5), (4.5, 1.5)], True),
        ("7/8", [(0, 1.0), (1.0, 1.0), (2.0, 1.5)], False),
        ("5/4", [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)], False),
        ("2/4", [(0, 1), (1, 1)], False),
    ],
)
def test_bar_grid(meter, pulses, compound):
    grid = bar_grid(parse_meter(meter))
    assert [tuple(p) for p in grid.pulses] == [tuple(map(float, p)) for p in pulses]
    assert grid.compound == compound


@pytest.mark.parametrize("bars", [1, 2, 3, 5, 6, 9, 13, 17, 40, 113])
def test_form_covers_every_bar(bars):
    sections = plan_form(total_bars=bars, base_energy=0.5, rng=np.random.default_rng(bars))
    assert sections[0].start_bar == 0
    assert sum(s.bars for s in sections) == bars
    for a, b in itertools.pairwise(sections):
        assert b.start_bar == a.start_bar + a.bars
    assert sum(s.closing for s in sections) == 1
    if bars >= 14:
        assert sections[0].label == "intro" and sections[-1].label == "outro"
        assert {"A", "B"} <= {s.label for s in sections}


@pytest.mark.parametrize("groove_genre", sorted({g.groove: name for name, g in GENRES.items()}.values()))
@pytest.mark.parametrize("meter", ["4/4", "3/4", "6/8", "7/8", "5/4", "2/4", "12/8"])
def test_grooves_follow_the_meter(groove_genre, meter):
    spec = _spec(
        genre=groove_genre,
        time_signature=meter,
        tempo_bpm=110,
        duration_seconds=20.0,
        instruments=["piano", "bass", "drums"],
    )
    score = compose(spec, np.random.default_rng(1))
    bar_q = bar_grid(parse_meter(meter)).bar_q
    n_bars = int(round(max(h.start_q for h in score.drums) / bar_q)) + 1 if score.drums else 0
    kicks = {round(h.start_q / bar_q, 6) for h in score.drums if h.piece == "kick"}
    assert all(float(b) in kicks for b in range(n_bars)), "every bar starts with a kick"
    assert all(0 <= h.start_q < score.total_q + bar_q for h in score.drums)
    # Chord changes fall on pulse starts.
    grid_pulses = {round(s, 6) for s in bar_grid(parse_meter(meter)).pulse_starts}
    chord_onsets = {round(n.start_q % bar_q, 6) for p in score.parts if p.role == "pad" for n in p.notes}
    assert chord_onsets <= grid_pulses | {0.0}


def test_meter_and_key_reach_the_score():
    spec = _spec(key_signature="F# minor", time_signature="7/8", tempo_bpm=150)
    score = compose(spec, np.random.default_rng(2))
    assert score.meter == Meter(7, 8) and score.key == Key(6, "minor") and score.tempo_bpm == 150
    melody = [n.pitch % 12 for p in score.parts if p.role == "melody" for n in p.notes]
    scale = set(Key(6, "minor").scale()) | {(Key(6, "minor").scale()[6] + 1) % 12}
    assert melody and set(melody) <= scale
    assert melody[-1] == 6  # the last phrase cadences to the tonic


def test_vocals_add_a_formant_line(backend):
    score = compose(_spec(vocals_requested=True), np.random.default_rng(0))
    assert any(p.timbre == "vocal" and p.notes for p in score.parts)


# --- mastering ----------------------------------------------------------------------------


def test_loudness_matches_pyloudnorm_and_true_peak_finds_intersample_peaks():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, SR * 3)) * np.linspace(0.01, 0.2, SR * 3)).astype(np.float32)
    assert abs(integrated_loudness(x, sample_rate=SR) - pyloudnorm.Meter(SR).integrated_loudness(x.T)) < 0.01
    t = np.arange(SR) / SR
    s = np.stack([np.sin(2 * np.pi * SR / 4 * t + np.pi / 4)] * 2)  # sample peak 0.707, true peak 1.0
    assert abs(true_peak_dbtp(s)) < 0.1


def test_master_limits_a_hot_signal():
    rng = np.random.default_rng(1)
    t = np.arange(SR * 2) / SR
    x = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 221 * t)]) * 0.3
    x[:, ::5000] += rng.uniform(2.0, 4.0, size=(2, x[:, ::5000].shape[1]))  # spikes far over full scale
    y, report = master(x.astype(np.float32), sample_rate=SR)
    assert report.true_peak_dbtp <= -1.0 and true_peak_dbtp(y) <= -1.0
    assert abs(report.loudness_out_lufs + 14.0) < 1.0
    assert report.max_gain_reduction_db > 3.0


# --- bad input ------------------------------------------------------------------------------


def test_bad_input_is_rejected(backend):
    from dataclasses import replace

    spec = _spec()
    with pytest.raises(ValueError, match="duration"):
        backend.generate(replace(spec, duration_seconds=0.0))
    with pytest.raises(ValueError, match="duration"):
        backend.generate(replace(spec, duration_seconds=181.0))
    with pytest.raises(ValueError, match="tempo"):
        backend.generate(replace(spec, tempo_bpm=float("nan")))
    with pytest.raises(BackendUnavailable):
        ProceduralBackend(sample_rate=1_000)
    with pytest.raises(ValueError, match="timbre"):
        synthesize_note("kazoo", pitch=60, sustain_frames=100, sample_rate=SR, seed=0)
    with pytest.raises(ValueError, match="silent"):
        master(np.zeros((2, SR), dtype=np.float32), sample_rate=SR)
    with pytest.raises(ValueError):
        plan_form(total_bars=0, base_energy=0.5, rng=np.random.default_rng(0))


def test_unknown_genre_and_mood_fall_back(backend):
    out = backend.generate(_spec(genre="zydeco-polka", mood="glorp", duration_seconds=2.0))
    assert out.samples.shape == (2, 2 * SR) and np.all(np.isfinite(out.samples))


@pytest.mark.slow
def test_three_minute_render(backend):
    out = backend.generate(_spec(genre="cinematic", duration_seconds=180.0, seed=99))
    assert out.samples.shape == (2, 180 * SR)
    assert np.all(np.isfinite(out.samples)) and np.max(np.abs(out.samples)) < 1.0
