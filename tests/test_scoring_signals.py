"""Behavioural tests of the weight-free DSP signals.

Each signal (musicality, melody, structural, production, quality, timbral, mix_separation,
learned_mos, vocal, and the tempo/key parts of attribute) is run on a rendered piece
(``scoring.synth.render_piece``) and on degraded versions of it: white noise at 0 dB SNR, hard
clipping, +12 dB over-loud, a 2 kHz low-pass, a DC offset, time reversal, a 0.5 s loop, a plain
sine, random beeps, white noise, dual mono and out-of-phase stereo. The assertions are orderings
with a margin (loose enough for recalibration, tight enough that a constant signal fails), exact
values for the pure curve functions, the [0, 1] range and determinism. Every clip is analysed once
per test session (``functools.cache``); signals are called directly (not through ``Scorer``,
which clamps) so an out-of-range or non-finite value is seen as such.
"""

import functools
import math
from types import ModuleType

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from scoring import constants as C
from scoring.features import Features
from scoring.music_theory import Key
from scoring.request import ScoringRequest
from scoring.scorer import Scorer
from scoring.signals import (
    attribute,
    learned_mos,
    melody,
    mix_separation,
    musicality,
    production,
    quality,
    structural,
    timbral,
    vocal,
)
from scoring.signals.base import SignalContext, Unavailable
from scoring.synth import render_piece

SR = 22_050
SECONDS = 10.0
TEMPO = 104.0
KEY = Key(9, "minor")  # A minor

#: Instrumental request matching the rendered piece (no time signature: meter is not tested here).
REQUEST = ScoringRequest(
    prompt="cinematic piece", duration_seconds=SECONDS, genre="cinematic", tempo_bpm=TEMPO, key_signature="A minor"
)
VOCAL_REQUEST = ScoringRequest(prompt="pop song with vocals", duration_seconds=SECONDS, genre="pop", vocals_requested=True)

#: The DSP signals under test, by published name.
SIGNAL_MODULES: dict[str, ModuleType] = {
    "attribute": attribute,
    "musicality": musicality,
    "melody": melody,
    "structural": structural,
    "production": production,
    "quality": quality,
    "timbral": timbral,
    "mix_separation": mix_separation,
    "learned_mos": learned_mos,
    "vocal": vocal,
}

A_MINOR_MIDI = (57, 59, 60, 62, 64, 65, 67, 69, 71, 72, 74, 76)
#: Chromatic leaps over three octaves, no motif: the opposite of a singable line.
LEAPS_MIDI = (45, 58, 71, 50, 83, 62, 47, 76, 53, 68, 81, 46, 73, 56, 87, 49, 66, 79, 52, 70)


# --- clips -----------------------------------------------------------------------------------
@functools.cache
def _piece() -> np.ndarray:
    """The reference: a 10 s stereo piece in A minor at 104 BPM, peak −1 dBFS, ``(2, frames)``."""
    return render_piece(key=KEY, tempo_bpm=TEMPO, seconds=SECONDS, sample_rate=SR, seed=3)


def _white_noise(shape: tuple[int, ...], rms: float, seed: int) -> np.ndarray:
    return (rms * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def _sine(seconds: float, hz: float = 440.0, amp: float = 0.25) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _beeps(n: int, seed: int) -> np.ndarray:
    """Random sine beeps (50-300 ms, 200-2000 Hz, random gaps), dual mono ``(2, n)``."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=np.float32)
    i = 0
    while i < n:
        length = int(rng.uniform(0.05, 0.3) * SR)
        freq, amp = float(rng.uniform(200, 2000)), float(rng.uniform(0.05, 0.4))
        seg = amp * np.sin(2 * np.pi * freq * np.arange(min(length, n - i)) / SR)
        y[i : i + seg.size] += seg
        i += length + int(rng.uniform(0.0, 0.4) * SR)
    return np.tile(y, (2, 1))


def _tones(midis: tuple[int, ...] | list[int], note_seconds: float, *, harmonics: int = 5, decay: float = 0.4) -> np.ndarray:
    """Mono plucked notes (harmonics falling 0.6 per partial, exponential decay), peak 0.5."""
    n = int(note_seconds * SR)
    t = np.arange(n) / SR
    env = np.minimum(1.0, t / 0.01) * np.exp(-t / decay)
    notes = []
    for m in midis:
        f0 = 440.0 * 2 ** ((m - 69) / 12)
        notes.append(env * sum(0.6**h * np.sin(2 * np.pi * f0 * (h + 1) * t) for h in range(harmonics)))
    x = np.concatenate(notes)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def _sung_line(*, vibrato_semitones: float, note_seconds: float = 0.6, gap_seconds: float = 0.12) -> np.ndarray:
    """A voice-like line: sustained harmonic notes at 220-330 Hz with smooth 40 ms onsets and
    offsets, short breaths between notes and an optional 5.5 Hz vibrato (peak deviation in
    semitones, so the peak-to-peak extent is twice that). Mono, peak 0.5."""
    n = int(note_seconds * SR)
    t = np.arange(n) / SR
    env = np.minimum(1.0, t / 0.04) * np.minimum(1.0, (n - np.arange(n)) / (0.04 * SR))
    parts = []
    for m in (57, 60, 62, 64, 62, 60, 59, 57) * 2:
        inst = 440.0 * 2 ** ((m - 69) / 12) * 2 ** (vibrato_semitones * np.sin(2 * np.pi * 5.5 * t) / 12)
        phase = 2 * np.pi * np.cumsum(inst) / SR
        parts.append(env * sum(0.6 ** (h - 1) * np.sin(h * phase) for h in range(1, 7)))
        parts.append(np.zeros(int(gap_seconds * SR)))
    x = np.concatenate(parts)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def _build(name: str) -> np.ndarray:
    x = _piece()
    n = x.shape[1]
    rms = float(np.sqrt(np.mean(np.square(x))))
    mono = x.mean(axis=0)
    if name == "clean":
        return x
    if name == "clean_44k":
        return render_piece(key=KEY, tempo_bpm=TEMPO, seconds=6.0, sample_rate=44_100, seed=3)
    if name == "noise_0db":
        return (x + _white_noise(x.shape, rms, seed=5)).astype(np.float32)
    if name == "clipped_x8":
        return np.clip(x * 8.0, -1.0, 1.0)
    if name == "loud_12db":
        return (x * 10 ** (12 / 20)).astype(np.float32)  # float samples far over full scale
    if name == "lowpass_2k":
        return sosfiltfilt(butter(8, 2000.0, btype="low", fs=SR, output="sos"), x, axis=1).astype(np.float32)
    if name == "dc_offset":
        return (x + 0.1).astype(np.float32)
    if name == "reversed":
        return np.ascontiguousarray(x[:, ::-1])
    if name == "loop_0.5s":
        seg = x[:, n // 2 : n // 2 + SR // 2]
        return np.tile(seg, (1, n // seg.shape[1] + 1))[:, :n]
    if name == "dual_mono":
        return np.stack([mono, mono])
    if name == "out_of_phase":
        return np.stack([mono, -mono])  # L = -R: the mono sum is digital silence
    if name == "sine":
        return np.tile(_sine(SECONDS), (2, 1))
    if name == "beeps":
        return _beeps(n, seed=5)
    if name == "white_noise":
        return _white_noise((2, n), 0.1, seed=6)
    if name == "stepwise_tune":  # an in-key, stepwise 16-note motif, repeated, 0.25 s notes
        motif = [A_MINOR_MIDI[i] for i in (0, 1, 2, 3, 4, 3, 2, 1, 0, 2, 4, 2, 1, 0, 1, 0)]
        return _tones((motif * 3)[:40], 0.25)
    if name == "leaping_tune":
        return _tones((LEAPS_MIDI * 2)[:40], 0.25)
    if name == "piano":  # broken major chords in C4-G5: midrange, inside the singing range
        arpeggio = (60, 64, 67, 72, 67, 64, 62, 65, 69, 74, 69, 65, 64, 67, 71, 76, 71, 67, 60, 64, 67, 72, 76, 79)
        return _tones((arpeggio * 2)[:40], 0.25, harmonics=8, decay=0.5)
    if name == "sung":
        return _sung_line(vibrato_semitones=0.0)
    if name == "sung_vibrato":
        return _sung_line(vibrato_semitones=0.3)
    raise KeyError(name)


def _sample_rate(name: str) -> int:
    return 44_100 if name == "clean_44k" else SR


@functools.cache
def _clip(name: str) -> np.ndarray:
    return _build(name)


@functools.cache
def _features(name: str) -> Features:
    return Features.from_audio(samples=_clip(name), sample_rate=_sample_rate(name))


def _context(features: Features, signal: str) -> SignalContext:
    return SignalContext(features=features, request=VOCAL_REQUEST if signal == "vocal" else REQUEST)


def _compute_all(features: Features) -> dict[str, float | None]:
    """Every signal under test on ``features`` (vocal against the vocal request); None when unavailable."""
    out: dict[str, float | None] = {}
    for name, module in SIGNAL_MODULES.items():
        try:
            out[name] = float(module.compute(_context(features, name)))
        except Unavailable:
            out[name] = None
    return out


@functools.cache
def _values(name: str) -> dict[str, float | None]:
    return _compute_all(_features(name))


def _v(signal: str, clip: str) -> float:
    """One signal's value on one clip; fails the test when the signal is unavailable."""
    value = _values(clip)[signal]
    assert value is not None, f"{signal} unavailable on {clip}"
    return value


RANGE_CLIPS = (
    "clean", "clean_44k", "noise_0db", "clipped_x8", "loud_12db", "lowpass_2k", "dc_offset", "reversed",
    "loop_0.5s", "dual_mono", "out_of_phase", "sine", "beeps", "white_noise", "stepwise_tune", "piano", "sung",
)


# --- every signal: range and determinism -------------------------------------------------------
@pytest.mark.parametrize("clip", RANGE_CLIPS)
def test_every_signal_is_available_finite_and_in_unit_interval(clip: str) -> None:
    for name, value in _values(clip).items():
        assert value is not None, f"{name} unavailable on {clip}"
        assert math.isfinite(value) and 0.0 <= value <= 1.0, (name, clip, value)


@pytest.mark.parametrize("clip", ["clean", "noise_0db", "beeps"])
def test_same_clip_scored_twice_gives_identical_values(clip: str) -> None:
    fresh = Features.from_audio(samples=_clip(clip).copy(), sample_rate=_sample_rate(clip))
    assert _compute_all(fresh) == _values(clip)


def test_scorer_breakdown_is_deterministic() -> None:
    scorer = Scorer()
    first = scorer.score(samples=_clip("clean"), sample_rate=SR, request=REQUEST).to_dict()
    second = Scorer().score(samples=_clip("clean").copy(), sample_rate=SR, request=REQUEST).to_dict()
    assert first == second
    for name in SIGNAL_MODULES:
        if name != "vocal":
            assert first["signals"][name] == pytest.approx(_v(name, "clean"), abs=1e-6), name


def test_clean_piece_scores_high_on_every_quality_signal() -> None:
    for name in ("musicality", "melody", "production", "quality", "timbral", "mix_separation", "learned_mos"):
        assert _v(name, "clean") >= 0.8, name
    assert _v("structural", "clean") >= 0.5


# --- musicality --------------------------------------------------------------------------------
def test_musicality_piece_far_above_sine_and_white_noise() -> None:
    clean = _v("musicality", "clean")
    assert _v("musicality", "sine") <= clean - 0.5
    assert _v("musicality", "white_noise") <= clean - 0.5


def test_musicality_piece_above_random_beeps_and_noisy_copy() -> None:
    clean = _v("musicality", "clean")
    assert _v("musicality", "beeps") <= clean - 0.15
    assert _v("musicality", "noise_0db") <= clean - 0.05


def test_musicality_one_held_tone_is_not_harmony() -> None:
    sine = musicality.measure(_features("sine"))
    piece = musicality.measure(_features("clean"))
    assert sine["pitch_class_variety"] < 3.0 < piece["pitch_class_variety"]
    harmonic_sine, _ = musicality.score_parts(sine)
    harmonic_piece, rhythmic_piece = musicality.score_parts(piece)
    assert harmonic_sine <= 0.2 and harmonic_piece >= 0.8 and rhythmic_piece >= 0.8


# --- melody ------------------------------------------------------------------------------------
def test_melody_piece_has_a_line_sine_and_noise_do_not() -> None:
    clean = _v("melody", "clean")
    assert clean >= 0.8
    assert _v("melody", "sine") <= 0.1
    assert _v("melody", "white_noise") <= 0.1


def test_melody_noise_lowers_clarity() -> None:
    clean = melody.measure(_features("clean"))
    noisy = melody.measure(_features("noise_0db"))
    assert noisy["clarity"] <= clean["clarity"] - 0.5
    assert _v("melody", "noise_0db") <= _v("melody", "clean") - 0.04


def test_melody_stepwise_in_key_motif_beats_random_leaps() -> None:
    tune = melody.measure(_features("stepwise_tune"))
    leaps = melody.measure(_features("leaping_tune"))
    assert tune["step_share"] >= leaps["step_share"] + 0.15
    assert tune["in_key"] >= leaps["in_key"] + 0.15
    assert tune["motif"] >= leaps["motif"] + 0.1
    assert melody.score(tune) >= melody.score(leaps) + 0.08


def test_melody_score_bounds_of_the_curve() -> None:
    assert melody.score({"note_coverage": 0.0, "clarity": 0.0, "motif": 0.0}) == 0.0
    best = {"note_coverage": 0.5, "clarity": 3.0, "motif": 0.5, "step_share": 0.8, "tritone_share": 0.0, "in_key": 1.0}
    assert melody.score(best) == pytest.approx(1.0)


# --- structural ---------------------------------------------------------------------------------
def test_structural_piece_above_sine_noise_and_beeps() -> None:
    clean = _v("structural", "clean")
    assert _v("structural", "sine") <= clean - 0.15
    assert _v("structural", "white_noise") <= clean - 0.25
    assert _v("structural", "beeps") <= clean - 0.4


def test_structural_short_loop_scores_below_the_piece() -> None:
    """The standardised self-similarity once read a 0.5 s loop's periodic wobble as repetition
    (0.81 vs the piece's 0.74); the harmonic-variety gate sinks it."""
    assert _v("structural", "loop_0.5s") <= _v("structural", "clean") - 0.4
    assert structural.measure(_features("loop_0.5s"))["variety"] < 0.03 < 0.1 < structural.measure(
        _features("clean"))["variety"]
    assert structural.score({"repetition": 0.25, "continuity": 0.35, "variety": 0.02}) == 0.0
    assert structural.score({"repetition": 0.25, "continuity": 0.35, "variety": 0.05}) == pytest.approx(0.5)


def test_structural_unavailable_on_a_two_second_clip() -> None:
    f = Features.from_audio(samples=_piece()[:, : 2 * SR], sample_rate=SR)
    with pytest.raises(Unavailable):
        structural.compute(_context(f, "structural"))


def test_structural_score_curve() -> None:
    assert structural.score({"repetition": 0.25, "continuity": 0.35}) == pytest.approx(1.0)
    assert structural.score({"repetition": 0.0, "continuity": 0.0}) == 0.0
    assert structural.score({"repetition": 1.0, "continuity": 0.0}) == pytest.approx(math.sqrt(0.6))
    long_clip = {"repetition": 0.25, "continuity": 0.35, "sections": 2.0, "sections_expected": 2.0}
    assert structural.score(long_clip) == pytest.approx(1.0)
    assert structural.score({**long_clip, "sections": 12.0}) == pytest.approx(math.sqrt(0.8))


# --- production ---------------------------------------------------------------------------------
def test_production_clipping_and_overload_cost() -> None:
    clean = _v("production", "clean")
    assert _v("production", "clipped_x8") <= clean - 0.3
    assert _v("production", "loud_12db") <= clean - 0.2
    loud = production.measure(_features("loud_12db"))
    assert loud["true_peak_dbfs"] > 6.0 and loud["loudness_lufs"] > production.measure(_features("clean"))["loudness_lufs"] + 10


def test_production_stereo_correlation_dual_mono_vs_out_of_phase() -> None:
    assert production.stereo_correlation(_features("dual_mono")) == pytest.approx(1.0, abs=1e-6)
    assert production.stereo_correlation(_features("out_of_phase")) == pytest.approx(-1.0, abs=1e-6)
    assert 0.3 < production.stereo_correlation(_features("clean")) < 0.995
    assert _v("production", "dual_mono") >= _v("production", "out_of_phase") + 0.2


def test_production_mono_clip_has_no_stereo_part() -> None:
    assert production.stereo_correlation(_features("piano")) is None
    assert "stereo_correlation" not in production.measure(_features("piano"))


def test_production_score_curve_exact() -> None:
    ideal = {"loudness_lufs": -14.0, "true_peak_dbfs": -1.0, "plr_db": 13.0, "tilt_db_per_octave": -6.0}
    assert production.score(ideal, family="default") == pytest.approx(1.0)
    assert production.score({**ideal, "stereo_correlation": 0.9}, family="default") == pytest.approx(1.0)
    assert production.score({**ideal, "stereo_correlation": 1.0}, family="default") == pytest.approx(4.8 / 5)
    assert production.score({**ideal, "stereo_correlation": -1.0}, family="default") == pytest.approx(4.0 / 5)
    assert production.score({**ideal, "tilt_db_per_octave": 0.0}, family="default") == pytest.approx((3.0 + 0.25) / 4)


def test_production_loudness_target_follows_genre_family() -> None:
    quiet = {"loudness_lufs": -21.0, "true_peak_dbfs": -6.0, "plr_db": 15.0, "tilt_db_per_octave": -6.0}
    assert production.score(quiet, family="classical") == pytest.approx(1.0)
    assert production.score(quiet, family="electronic") <= 0.85
    assert production.genre_family(REQUEST) == "classical"
    assert production.genre_family(ScoringRequest(prompt="a dark techno track", duration_seconds=10)) == "electronic"
    assert production.genre_family(ScoringRequest(prompt="something", duration_seconds=10)) == C.DEFAULT_FAMILY


# --- quality ------------------------------------------------------------------------------------
def test_quality_white_noise_at_0db_snr_costs() -> None:
    clean, noisy = quality.measure(_features("clean")), quality.measure(_features("noise_0db"))
    assert noisy["noise_floor_db"] >= clean["noise_floor_db"] + 20.0
    assert noisy["flatness"] >= clean["flatness"] + 0.1
    assert _v("quality", "noise_0db") <= _v("quality", "clean") - 0.25


def test_quality_lowpass_at_2khz_loses_bandwidth() -> None:
    assert quality.bandwidth_hz(_features("clean")) > 9000.0
    assert quality.bandwidth_hz(_features("lowpass_2k")) < 3000.0
    assert _v("quality", "lowpass_2k") <= _v("quality", "clean") - 0.25


def test_quality_dc_offset_costs_its_part() -> None:
    assert quality.measure(_features("dc_offset"))["dc_offset"] == pytest.approx(0.1, abs=0.01)
    assert _v("quality", "clean") - _v("quality", "dc_offset") == pytest.approx(0.1, abs=0.02)


def test_quality_score_curve_exact() -> None:
    ideal = {"bandwidth_hz": 10_000.0, "noise_floor_db": -60.0, "flatness": 0.01, "dc_offset": 0.0}
    worst = {"bandwidth_hz": 2000.0, "noise_floor_db": -10.0, "flatness": 0.6, "dc_offset": 0.2}
    assert quality.score(ideal) == pytest.approx(1.0)
    assert quality.score(worst) == 0.0


# --- timbral -------------------------------------------------------------------------------------
def test_timbral_noise_sine_and_white_noise_score_low() -> None:
    clean = _v("timbral", "clean")
    assert _v("timbral", "noise_0db") <= clean - 0.4
    assert _v("timbral", "sine") <= 0.4
    assert _v("timbral", "white_noise") <= 0.4


def test_timbral_reversal_breaks_natural_attacks() -> None:
    assert timbral.attack_skewness(_features("clean")) > 1.0
    assert timbral.attack_skewness(_features("reversed")) <= timbral.attack_skewness(_features("clean")) - 1.0
    assert _v("timbral", "reversed") <= _v("timbral", "clean") - 0.15


# --- mix_separation ------------------------------------------------------------------------------
def test_mix_separation_piece_above_degraded() -> None:
    clean = _v("mix_separation", "clean")
    assert _v("mix_separation", "noise_0db") <= clean - 0.08
    assert _v("mix_separation", "sine") <= clean - 0.25
    assert _v("mix_separation", "white_noise") <= clean - 0.3


def test_mix_separation_noise_is_ambiguous_and_lowpass_has_no_presence() -> None:
    assert mix_separation.separability(_features("white_noise")) <= mix_separation.separability(_features("clean")) - 0.2
    assert mix_separation.presence_share(_features("lowpass_2k")) <= 0.2 * mix_separation.presence_share(_features("clean"))
    assert _v("mix_separation", "lowpass_2k") <= _v("mix_separation", "clean") - 0.1


# --- learned_mos ---------------------------------------------------------------------------------
def test_learned_mos_piece_above_noise_sine_and_white_noise() -> None:
    clean = _v("learned_mos", "clean")
    assert _v("learned_mos", "noise_0db") <= clean - 0.4
    assert _v("learned_mos", "sine") <= 0.4
    assert _v("learned_mos", "white_noise") <= 0.4


def test_learned_mos_logistic_extremes_exact() -> None:
    best = {
        "bandwidth_hz": 10_000.0, "modulation_share": 0.9, "modulation_depth_db": 4.0, "harmonicity": 3.0,
        "flatness": 0.01, "noise_floor_db": -60.0, "attack_skew": 2.0, "event_share": 0.1,
    }
    worst = {
        "bandwidth_hz": 1000.0, "modulation_share": 0.1, "modulation_depth_db": 0.0, "harmonicity": 1.0,
        "flatness": 0.9, "noise_floor_db": 0.0, "attack_skew": -1.0, "event_share": 0.0,
    }
    assert learned_mos.score(best) == pytest.approx(1.0 / (1.0 + math.exp(-4.5)))
    assert learned_mos.score(worst) == pytest.approx(1.0 / (1.0 + math.exp(4.0)))


# --- vocal ---------------------------------------------------------------------------------------
def test_vocal_unavailable_for_instrumental_piano_piece() -> None:
    """The DSP proxy would read midrange piano as singing; an instrumental request must not be graded on it."""
    piano = _features("piano")
    with pytest.raises(Unavailable, match="instrumental"):
        vocal.compute(SignalContext(features=piano, request=REQUEST))
    # the proxy itself does run on this clip when vocals are asked for: it is the request that keeps it out
    assert 0.0 <= vocal.compute(SignalContext(features=piano, request=VOCAL_REQUEST)) <= 1.0


def test_instrumental_request_drops_vocal_weight_not_the_score() -> None:
    request = ScoringRequest(prompt="solo piano", duration_seconds=SECONDS, instruments=("piano",))
    b = Scorer().score(samples=_clip("piano"), sample_rate=SR, request=request)
    assert b.signals["vocal"] is None and "instrumental" in b.unavailable["vocal"]
    assert b.weights["vocal"] == 0.0
    assert sum(b.weights.values()) == pytest.approx(1.0)
    assert "vocal" not in b.penalties
    assert b.composite == pytest.approx(sum(b.weights[k] * v for k, v in b.signals.items() if v is not None))
    rendered = Scorer().score(samples=_clip("clean"), sample_rate=SR, request=REQUEST)
    assert rendered.signals["vocal"] is None and rendered.weights["vocal"] == 0.0


def test_vocal_sung_line_above_sine_and_white_noise() -> None:
    sung = vocal.measure(_features("sung"))
    noise = vocal.measure(_features("white_noise"))
    assert sung["singing_share"] >= 0.5 and noise["singing_share"] <= 0.1
    assert _v("vocal", "sung") >= _v("vocal", "white_noise") + 0.2
    assert _v("vocal", "sung") >= _v("vocal", "sine") + 0.3


def test_vocal_detects_a_clean_vibrato_on_most_notes() -> None:
    """Onset/release pitch errors at the ends of each note once hid every vibrato (edge frames now dropped)."""
    assert vocal.vibrato_share(_features("sung")) == 0.0
    assert vocal.vibrato_share(_features("sung_vibrato")) >= 0.5


# --- attribute: tempo and key --------------------------------------------------------------------
@pytest.mark.parametrize(
    "ratio, compound, expected",
    [
        (1.0, False, 1.0),
        (1.03, False, 1.0),
        (0.97, False, 1.0),
        (0.5, False, C.TEMPO_OCTAVE_CREDIT),
        (2.0, False, C.TEMPO_OCTAVE_CREDIT),
        (2.0 / 3.0, False, 0.0),
        (2.0 / 3.0, True, C.TEMPO_COMPOUND_CREDIT),
        (1.5, False, 0.0),
        (1.5, True, C.TEMPO_COMPOUND_CREDIT),
        (1.2, False, 0.0),
        (0.8, True, 0.0),
        (1.095, False, 0.5),  # halfway between full credit (4 %) and none (15 %)
    ],
)
def test_tempo_credit_curve(ratio: float, compound: bool, expected: float) -> None:
    credit = attribute.tempo_credit(detected_bpm=120.0 * ratio, requested_bpm=120.0, compound=compound)
    assert credit == pytest.approx(expected)


def test_tempo_credit_rejects_non_positive_tempi() -> None:
    assert attribute.tempo_credit(detected_bpm=0.0, requested_bpm=120.0) == 0.0
    assert attribute.tempo_credit(detected_bpm=120.0, requested_bpm=0.0) == 0.0


@pytest.mark.parametrize(
    "requested_bpm, expected",
    [(TEMPO, 1.0), (TEMPO / 2, C.TEMPO_OCTAVE_CREDIT), (TEMPO * 2, C.TEMPO_OCTAVE_CREDIT), (TEMPO * 1.2, 0.0)],
)
def test_tempo_part_on_the_rendered_piece(requested_bpm: float, expected: float) -> None:
    req = ScoringRequest(prompt="piece", duration_seconds=SECONDS, tempo_bpm=requested_bpm)
    parts = attribute.parts(SignalContext(features=_features("clean"), request=req))
    assert parts["tempo"] == pytest.approx(expected)


def test_key_relation_credits_are_ordered() -> None:
    credits = C.KEY_RELATION_CREDIT
    assert credits["exact"] == 1.0
    assert credits["exact"] > credits["relative"] > credits["parallel"] > credits["fifth"] > credits["other"] >= 0.0


@pytest.mark.parametrize(
    "requested, relation",
    [("A minor", "exact"), ("C major", "relative"), ("A major", "parallel"), ("E minor", "fifth"),
     ("D minor", "fifth"), ("F# major", "other")],
)
def test_key_credit_on_the_rendered_piece(requested: str, relation: str) -> None:
    f = _features("clean")
    assert f.key == KEY
    conf = attribute.key_confidence(f.key_strength)
    assert conf >= 0.9
    expected = conf * C.KEY_RELATION_CREDIT[relation] + (1.0 - conf) * C.KEY_UNSURE_CREDIT
    assert attribute.key_credit(features=f, requested=requested) == pytest.approx(expected)


def test_key_credit_unsure_reading_and_unparsable_request() -> None:
    noise = _features("white_noise")
    assert noise.key_strength < C.KEY_STRENGTH_RANGE[0]
    for requested in ("A minor", "C major", "F# major"):
        assert attribute.key_credit(features=noise, requested=requested) == pytest.approx(C.KEY_UNSURE_CREDIT)
    assert attribute.key_credit(features=_features("clean"), requested="not a key") is None


def test_attribute_matching_request_above_mismatched_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # the measured parts only (tempo, key, duration): what the taggers make of the synthetic piece
    # against "cinematic" is tests/test_prompt_tags.py's business
    monkeypatch.setattr(attribute, "tag_parts", lambda ctx: {})
    mismatched = ScoringRequest(prompt="piece", duration_seconds=SECONDS, tempo_bpm=TEMPO * 1.2, key_signature="F# major")
    good = attribute.compute(SignalContext(features=_features("clean"), request=REQUEST))
    bad = attribute.compute(SignalContext(features=_features("clean"), request=mismatched))
    assert good >= 0.9
    assert bad <= good - 0.4
