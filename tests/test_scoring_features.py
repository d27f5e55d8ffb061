"""Features on signals whose answer is known by construction (tempo, key, fingerprints, bad input)."""

import numpy as np
import pytest

from scoring.copies import compare
from scoring.features import Features
from scoring.music_theory import Key
from scoring.signals.base import ScoringError
from scoring.synth import click_track, render_piece

SR = 22_050


def _cadence(key_root_midi: int, minor: bool, seconds_per_chord: float = 1.0) -> np.ndarray:
    """i-iv-V-i (minor) or I-IV-V-I (major) block chords with bass, repeated twice."""
    third = 3 if minor else 4
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    n = int(seconds_per_chord * SR)
    t = np.arange(n) / SR
    env = np.exp(-t / 0.8) * np.minimum(1, t / 0.01)
    out = []
    for _ in range(2):
        for chord in chords:
            sig = np.zeros(n)
            for iv in chord:
                f = 440 * 2 ** ((key_root_midi + iv - 69) / 12)
                sig += sum(0.5**h * np.sin(2 * np.pi * f * (h + 1) * t) for h in range(3))
            fb = 440 * 2 ** ((key_root_midi + chord[0] - 12 - 69) / 12)
            sig += np.sin(2 * np.pi * fb * t)
            out.append(sig * env)
    x = np.concatenate(out)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("bpm", [97.0, 128.0])
def test_click_track_tempo_octave_tolerant(bpm):
    f = Features.from_audio(samples=click_track(tempo_bpm=bpm, seconds=12.0, sample_rate=SR), sample_rate=SR)
    ratios = [f.tempo_bpm / (bpm * k) for k in (0.5, 1.0, 2.0)]
    assert min(abs(r - 1.0) for r in ratios) < 0.05, f.tempo_bpm


def test_cadence_in_e_minor_reads_e_minor_or_relative():
    f = Features.from_audio(samples=_cadence(64, minor=True), sample_rate=SR)
    assert f.key in (Key(4, "minor"), Key(7, "major")), f.key
    assert f.key_strength > 0.5


def test_rendered_piece_key_and_tempo():
    x = render_piece(key=Key(2, "major"), tempo_bpm=120, seconds=8, sample_rate=SR, seed=0)
    f = Features.from_audio(samples=x, sample_rate=SR)
    assert f.key in (Key(2, "major"), Key(11, "minor"))
    assert min(abs(f.tempo_bpm / (120 * k) - 1) for k in (0.5, 1, 2)) < 0.05


def test_each_feature_computed_once_and_shapes():
    x = render_piece(key=Key(0, "major"), tempo_bpm=100, seconds=4, sample_rate=44_100, seed=0)
    f = Features.from_audio(samples=x, sample_rate=44_100)
    assert f.channels == 2 and f.stereo is not None and f.duration_seconds == pytest.approx(4.0)
    assert f.mono is f.mono and f.stft is f.stft and f.chroma is f.chroma and f.hpss is f.hpss
    assert f.chroma.shape == (12, f.n_frames)
    assert f.onset_envelope.shape == (f.n_frames,)
    emb = f.dsp_embedding
    assert emb.dtype == np.float32 and emb.shape == (96,) and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)
    assert -30 < f.loudness_lufs < 0 and f.true_peak_dbfs == pytest.approx(-1.0, abs=0.5)
    mono = Features.from_audio(samples=x[0], sample_rate=44_100)
    assert mono.channels == 1 and mono.stereo is None


def test_extras_store():
    f = Features.from_audio(samples=np.zeros(1000, dtype=np.float32), sample_rate=SR)
    assert f.get_extra("clap_audio_embedding") is None
    assert f.get_extra("x", 3) == 3
    f.set_extra("clap_audio_embedding", np.ones(4))
    assert f.get_extra("clap_audio_embedding").shape == (4,)


@pytest.mark.parametrize(
    "samples, rate, message",
    [
        (np.full(100, np.nan, dtype=np.float32), SR, "NaN"),
        (np.zeros((3, 100), dtype=np.float32), SR, "channels"),
        (np.zeros(1, dtype=np.float32), SR, "no samples"),
        (np.zeros(100, dtype=np.int16), SR, "floating"),
        (np.zeros(100, dtype=np.float32), 0, "sample_rate"),
        (np.zeros((2, 2, 2), dtype=np.float32), SR, "shape"),
    ],
)
def test_bad_input_is_a_clear_error(samples, rate, message):
    with pytest.raises(ScoringError, match=message):
        Features.from_audio(samples=samples, sample_rate=rate)


def test_fingerprint_identical_vs_different_seed():
    a = render_piece(key=Key(9, "minor"), tempo_bpm=110, seconds=10, sample_rate=SR, seed=1)
    b = render_piece(key=Key(9, "minor"), tempo_bpm=110, seconds=10, sample_rate=SR, seed=2)
    fa = Features.from_audio(samples=a, sample_rate=SR)
    fb = Features.from_audio(samples=b, sample_rate=SR)
    shifted = Features.from_audio(samples=np.concatenate([np.zeros((2, SR // 2), np.float32), a * 0.5], axis=1), sample_rate=SR)
    assert compare(fa.fingerprint, fa.fingerprint).multiplier == 0.0  # identical: a copy
    late = compare(fa.fingerprint, shifted.fingerprint)
    assert late.multiplier == 0.0  # 0.5 s later and 6 dB quieter: still a copy
    assert late.alignment is not None and abs(late.alignment.offset - 0.5 / 0.064) <= 1.0
    assert compare(fa.fingerprint, fb.fingerprint).multiplier == 1.0  # another seed: different music
