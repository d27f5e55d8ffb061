"""Note evidence on signals whose answer is known by construction: transcribed-note statistics
(scoring.note_stats), attack/decay asymmetry (scoring.envelopes), exact repetition
(scoring.repetition), partial counts (scoring.partials), hiss (scoring.hiss), the artifact
penalty's evidence multipliers, the melody/musicality blend and its fallback without basic-pitch,
and determinism. No corpus: every clip is synthesized here."""

import json
import subprocess
import sys

import numpy as np
import pytest

from scoring import constants as C
from scoring import envelopes, hiss, listeners, note_stats, partials, repetition
from scoring.features import Features
from scoring.models.extras import SOURCE_PREFIX
from scoring.music_theory import Key
from scoring.penalties import artifact
from scoring.request import ScoringRequest
from scoring.signals import melody, musicality
from scoring.signals.base import SignalContext
from scoring.synth import render_piece
from scoring.wheel_models.basic_pitch import Note, Transcription

SR = 22_050
needs_notes = pytest.mark.skipif(not listeners.status().notes, reason="basic-pitch wheel not installed")


def pluck(midi: int, seconds: float, *, decay_s: float = 0.08) -> np.ndarray:
    """A plucked harmonic tone: 3 ms attack, exponential decay, five partials. float64 ``(n,)``."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    env = np.minimum(1.0, t / 0.003) * np.exp(-t / decay_s)
    return env * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 6))


def plucked_melody(seconds: float = 8.0, *, step_s: float = 0.25, seed: int = 0) -> np.ndarray:
    """A monophonic plucked melody on the C major scale (each note rings for 1 s), float32 ``(n,)``."""
    rng = np.random.default_rng(seed)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    y = np.zeros(int(seconds * SR))
    for k in range(int(seconds / step_s)):
        i = int(k * step_s * SR)
        note = pluck(scale[int(rng.integers(0, len(scale)))], 1.0)[: y.size - i]
        y[i : i + note.size] += note
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def held_chord(seconds: float = 8.0) -> np.ndarray:
    """A C major triad of harmonic tones, held for the whole clip. float32 ``(n,)``."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f * h * t) / h**1.5 for f in (261.63, 329.63, 392.0) for h in range(1, 6))
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def sine(seconds: float = 8.0, freq: float = 440.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def white_noise(seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def piece(seconds: float = 8.0) -> np.ndarray:
    """The scoring package's own test piece (harmony, melody, bass, drums), ``(2, n)``."""
    return render_piece(key=Key(0, "major"), tempo_bpm=112, seconds=seconds, sample_rate=SR, seed=3)


def features(x: np.ndarray) -> Features:
    return Features.from_audio(samples=x, sample_rate=SR)


def ctx(f: Features) -> SignalContext:
    return SignalContext(features=f, request=ScoringRequest(prompt="", duration_seconds=f.duration_seconds))


def transcription(notes: list[tuple[float, float, int]], seconds: float) -> Transcription:
    """A made-up basic-pitch reading: ``(start_s, end_s, midi)`` notes over one excerpt."""
    return Transcription(
        notes=tuple(Note(start_s=a, end_s=b, midi_pitch=p, amplitude=0.5) for a, b, p in notes),
        note_posteriorgram=np.zeros((0, 88), np.float32),
        onset_posteriorgram=np.zeros((0, 88), np.float32),
        contour_posteriorgram=np.zeros((0, 264), np.float32),
        frame_times_s=np.zeros(0),
        excerpts=((0.0, seconds),),
        duration_s=seconds,
    )


# --- note statistics on made-up transcriptions -------------------------------------------------
def test_scale_in_eighths_reads_as_a_stepwise_tonal_line_on_the_grid():
    beats = np.arange(0.0, 8.01, 0.5)  # 120 BPM
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    notes = [(0.25 * k, 0.25 * k + 0.2, scale[k % 8]) for k in range(32)]
    s = note_stats.from_transcription(transcription(notes, 8.0), beat_times=beats)
    assert s.n_notes == 32 and s.density == pytest.approx(4.0) and s.onset_rate == pytest.approx(4.0)
    assert s.distinct_pitches == 8 and s.pitch_range >= 10
    assert s.coverage == pytest.approx(0.8, abs=0.02) and s.polyphony == pytest.approx(1.0)
    assert s.step_share == pytest.approx(28 / 31)  # every interval a step except the three octave falls
    assert s.key_clarity > 0.7 and s.pitch_class_variety > 6
    assert s.grid_alignment == pytest.approx(1.0)
    assert s.changes_per_s >= 3.5
    assert s.length_variety == pytest.approx(0.0)


def test_held_chord_transcription_never_changes():
    notes = [(0.0, 8.0, 60), (0.0, 8.0, 64), (0.0, 8.0, 67)]
    s = note_stats.from_transcription(transcription(notes, 8.0), beat_times=np.zeros(0))
    assert s.changes_per_s == 0.0 and s.onset_rate == pytest.approx(1 / 8)
    assert s.polyphony == pytest.approx(3.0) and s.coverage == pytest.approx(1.0)
    assert s.key_clarity is None and s.step_share is None and s.grid_alignment is None
    assert melody.notes_score(s) == 0.0  # notes that never move are no melody


def test_no_notes_and_random_onsets():
    empty = note_stats.from_transcription(transcription([], 8.0), beat_times=np.arange(0.0, 8.0, 0.5))
    assert empty.n_notes == 0 and empty.coverage == 0.0 and empty.changes_per_s == 0.0
    assert np.all(empty.pitch_classes == 0) and melody.notes_score(empty) == 0.0
    rng = np.random.default_rng(1)
    starts = np.sort(rng.uniform(0.0, 7.5, 40))
    notes = [(a, a + 0.2, int(rng.integers(48, 84))) for a in starts]
    s = note_stats.from_transcription(transcription(notes, 8.0), beat_times=np.arange(0.0, 8.01, 0.5))
    assert s.grid_alignment < 0.5


def test_note_stats_are_measured_inside_the_excerpts_only():
    t = transcription([(0.0, 1.0, 60), (9.0, 10.0, 62)], 20.0)
    t = Transcription(
        notes=t.notes,
        note_posteriorgram=t.note_posteriorgram,
        onset_posteriorgram=t.onset_posteriorgram,
        contour_posteriorgram=t.contour_posteriorgram,
        frame_times_s=t.frame_times_s,
        excerpts=((0.0, 2.0), (9.0, 11.0)),
        duration_s=20.0,
    )
    s = note_stats.from_transcription(t, beat_times=np.zeros(0))
    assert s.analysed_s == pytest.approx(4.0) and s.coverage == pytest.approx(0.5)


# --- attack/decay asymmetry --------------------------------------------------------------------
def test_plucked_melody_reads_positive_and_its_reversal_negative():
    x = plucked_melody()
    forward, backward = features(x), features(np.ascontiguousarray(x[::-1]))
    a_fwd, a_rev = envelopes.attack_decay_asymmetry(forward), envelopes.attack_decay_asymmetry(backward)
    assert a_fwd > 0.2 and a_rev < -0.2
    assert a_rev == pytest.approx(-a_fwd, abs=0.15)  # reversal negates the measure
    assert envelopes.coarse_asymmetry(forward) > envelopes.coarse_asymmetry(backward)
    assert envelopes.fine_asymmetry(forward) > envelopes.fine_asymmetry(backward)
    m_fwd = artifact.evidence_multipliers(artifact.measure(forward))
    m_rev = artifact.evidence_multipliers(artifact.measure(backward))
    assert m_fwd["reversal"] == 1.0 and m_rev["reversal"] < 0.8


@pytest.mark.parametrize("make", [held_chord, sine, white_noise], ids=["chord", "sine", "noise"])
def test_steady_sounds_have_no_attack_asymmetry(make):
    assert abs(envelopes.attack_decay_asymmetry(features(make()))) < 0.15


# --- exact repetition --------------------------------------------------------------------------
@pytest.mark.parametrize("period_s", [0.5, 2.0, 3.3])
def test_tiled_loop_repeats_exactly(period_s):
    x = piece(10.0)
    seg = x[:, 2 * SR : 2 * SR + int(period_s * SR)]
    looped = np.tile(seg, (1, int(10.0 / period_s) + 1))[:, : 10 * SR]
    share, lag = repetition.exact_repeat_share(features(looped))
    assert share > 0.6
    assert (lag / period_s) == pytest.approx(round(lag / period_s), abs=0.05)  # a multiple of the period
    assert artifact.evidence_multipliers(artifact.measure(features(looped)))["repeats"] == pytest.approx(
        C.REPEAT_FLOOR
    )


def test_music_and_held_tones_are_not_exact_repeats():
    assert repetition.exact_repeat_share(features(piece(10.0)))[0] < C.REPEAT_SHARE_FREE
    assert repetition.exact_repeat_share(features(plucked_melody(10.0)))[0] < C.REPEAT_SHARE_FREE
    # a held sine matches itself at every lag: that is a steady sound (the static evidence's
    # business), not a loop; raw, it repeats everywhere
    f = features(sine(10.0))
    lm, audible = repetition._spectrogram(f)
    assert repetition.match_share(lm, audible, 100) > 0.95
    assert repetition.exact_repeat_share(f)[0] < 0.05


def test_repeat_ignores_a_gain_change_between_repetitions():
    x = piece(8.0)
    seg = x[:, SR : 3 * SR]
    looped = np.concatenate([seg * g for g in (1.0, 0.7, 1.0, 0.5)], axis=1).astype(np.float32)
    assert repetition.exact_repeat_share(features(looped))[0] > 0.6


# --- partials and hiss -------------------------------------------------------------------------
def test_pure_tones_have_one_partial_and_music_many():
    assert partials.partial_count(features(sine())) == 1.0
    assert partials.partial_count(features(piece())) > C.PARTIALS_FREE
    assert partials.partial_count(features(plucked_melody())) > C.PARTIALS_FREE
    m = artifact.evidence_multipliers(artifact.measure(features(sine())))
    assert m["pure_tones"] == pytest.approx(C.PURE_TONE_FLOOR)


def test_noise_is_hiss_and_music_is_not():
    floor, spread = hiss.hiss_floor(features(white_noise()))
    assert floor > C.HISS_FLOOR_FULL_DB and spread < C.HISS_SPREAD_FULL_DB
    floor, spread = hiss.hiss_floor(features(piece()))
    assert floor < C.HISS_FLOOR_FREE_DB or spread > C.HISS_SPREAD_FREE_DB
    assert artifact.evidence_multipliers(artifact.measure(features(white_noise())))["hiss"] == pytest.approx(
        C.HISS_FLOOR
    )


def test_silent_and_tiny_clips_are_handled():
    quiet = np.zeros(SR, dtype=np.float32)
    assert hiss.hiss_floor(features(quiet)) == (float("-inf"), float("inf"))
    assert partials.partial_count(features(quiet)) == 0.0
    assert repetition.exact_repeat_share(features(quiet)) == (0.0, 0.0)
    assert envelopes.fine_asymmetry(features(np.zeros(100, dtype=np.float32))) == 0.0


# --- the evidence multipliers on whole clips ---------------------------------------------------
def test_held_chord_and_sine_are_static():
    for x in (held_chord(), sine()):
        m = artifact.measure(features(x))
        assert m["chroma_variety"] < C.STATIC_CHROMA_FULL
        assert artifact.evidence_multipliers(m)["static"] == pytest.approx(C.STATIC_FLOOR)


@needs_notes
def test_white_noise_has_no_notes():
    m = artifact.measure(features(white_noise()))
    assert m["note_coverage"] < C.NO_NOTES_COVERAGE_FULL
    assert artifact.evidence_multipliers(m)["no_notes"] == pytest.approx(C.NO_NOTES_FLOOR)


@needs_notes
def test_held_chord_notes_never_change():
    s = note_stats.note_stats(features(held_chord()))
    assert s is not None and s.changes_per_s < C.STATIC_CHANGES_FULL and s.coverage > 0.9


@pytest.mark.parametrize("make", [piece, plucked_melody], ids=["piece", "plucked"])
def test_music_earns_every_evidence_multiplier(make):
    m = artifact.measure(features(make()))
    assert artifact.evidence_multipliers(m) == {k: 1.0 for k in artifact.evidence_multipliers(m)}


# --- signals: blend, sources and the fallback without basic-pitch -------------------------------
@needs_notes
def test_signals_blend_the_notes_and_name_their_source():
    f = features(piece())
    c = ctx(f)
    melody_value, musicality_value = melody.compute(c), musicality.compute(c)
    assert f.get_extra(SOURCE_PREFIX + "melody") == listeners.NOTES_SOURCE
    assert f.get_extra(SOURCE_PREFIX + "musicality") == listeners.NOTES_SOURCE
    stats = note_stats.note_stats(f)
    dsp = melody.score(melody.measure(f))
    expected = (1 - C.MELODY_NOTES_SHARE) * dsp + C.MELODY_NOTES_SHARE * melody.notes_score(stats)
    assert melody_value == pytest.approx(expected)
    assert 0.0 <= musicality_value <= 1.0


def test_without_basic_pitch_signals_and_penalty_fall_back(monkeypatch):
    monkeypatch.setattr(listeners, "transcribe", lambda features: None)
    f = features(piece())
    c = ctx(f)
    assert note_stats.note_stats(f) is None
    assert melody.compute(c) == pytest.approx(melody.score(melody.measure(f)))
    h, r = musicality.score_parts(musicality.measure(f))
    assert musicality.compute(c) == pytest.approx(0.6 * max(h, r) + 0.4 * (h + r) / 2)
    assert f.get_extra(SOURCE_PREFIX + "melody") is None and f.get_extra(SOURCE_PREFIX + "musicality") is None
    m = artifact.measure(f)
    assert "note_coverage" not in m and "note_changes_per_s" not in m
    multipliers = artifact.evidence_multipliers(m)
    assert multipliers["no_notes"] == 1.0 and multipliers["static"] == 1.0
    # the DSP half of the static evidence still hears a held chord
    m = artifact.measure(features(held_chord()))
    assert artifact.evidence_multipliers(m)["static"] == pytest.approx(C.STATIC_FLOOR)


# --- determinism -------------------------------------------------------------------------------
def test_same_clip_same_evidence():
    x = piece()
    a, b = artifact.measure(features(x)), artifact.measure(features(x.copy()))
    assert a == b
    sa, sb = note_stats.note_stats(features(x)), note_stats.note_stats(features(x.copy()))
    if sa is not None:
        assert sa.as_dict() == sb.as_dict() and np.array_equal(sa.pitch_classes, sb.pitch_classes)


def test_same_evidence_in_a_fresh_process():
    """The DSP evidence measures are bit-identical in another process (the transcription's own
    cross-process determinism is tests/test_basic_pitch.py's)."""
    code = (
        "import json, sys; sys.path.insert(0, 'tests');"
        "import test_note_evidence as T;"
        "from scoring import envelopes, hiss, partials, repetition;"
        "f = T.features(T.piece());"
        "print(json.dumps([envelopes.attack_decay_asymmetry(f), list(repetition.exact_repeat_share(f)),"
        " partials.partial_count(f), list(hiss.hiss_floor(f))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    f = features(piece())
    here = [
        envelopes.attack_decay_asymmetry(f),
        list(repetition.exact_repeat_share(f)),
        partials.partial_count(f),
        list(hiss.hiss_floor(f)),
    ]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == here
