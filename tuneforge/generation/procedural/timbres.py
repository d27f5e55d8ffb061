"""The synth's pitched timbres: one function per timbre renders one note as a mono array.

Tones come from the band-limited wavetable oscillator (:mod:`.oscillator`): each layer keeps its
harmonics up to the top of the audio band and shapes its brightness with a soft spectral tilt
above a corner frequency, the way real instruments' spectra fall, instead of stopping at a hard
cutoff. Electric piano is an FM pair and bell a few inharmonic sine partials. The noise of
playing (hammer, pick, bow, breath, key click) is seeded, band-passed noise with gentle slopes,
which puts natural energy up to 10-16 kHz. Each timbre has its own envelope family (percussive
exponential decay for piano/guitar/pluck/bell, swells for strings/pad/brass, organ-style gates)
and spectral signature. Every note starts and ends at zero through raised-cosine attack and
release ramps, so notes never click.
"""

from functools import lru_cache

import numpy as np
from scipy.signal import lfilter

from tuneforge.generation.procedural.oscillator import (
    harmonic_count,
    oscillate,
    read_table,
    table_from_amplitudes,
)

__all__ = ["PITCHED_TIMBRES", "RELEASE_SECONDS", "synthesize_note", "midi_to_hz"]

_MIN_RAMP_S = 0.002
_osc = oscillate


def midi_to_hz(pitch: float) -> float:
    """Equal-tempered frequency (Hz) of a MIDI pitch, A4 = 69 = 440 Hz."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def _time(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32) * np.float32(1.0 / sr)


def _vibrato(n: int, sr: int, *, rate: float, depth: float, delay: float) -> np.ndarray:
    """Frequency multiplier 1 + depth·sin, faded in over ``delay`` seconds."""
    t = _time(n, sr)
    fade = np.clip(t * np.float32(1.0 / max(delay, 1e-3)), 0.0, 1.0)
    return 1.0 + np.float32(depth) * fade * np.sin(np.float32(2.0 * np.pi * rate) * t)


def _gate(n_total: int, sustain_n: int, sr: int, *, attack_s: float, release_s: float) -> np.ndarray:
    """Raised-cosine attack to 1, hold until ``sustain_n``, raised-cosine release to 0 at ``n_total``."""
    g = np.ones(n_total, dtype=np.float32)
    a = max(int(max(attack_s, _MIN_RAMP_S) * sr), 2)
    a = min(a, n_total)
    g[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    r = n_total - min(sustain_n, n_total)
    r = max(r, int(_MIN_RAMP_S * sr))
    r = min(r, n_total)
    g[n_total - r :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
    g[-1] = 0.0
    return g


def _decay(t: np.ndarray, tau: float) -> np.ndarray:
    return np.exp(t * np.float32(-1.0 / tau)).astype(np.float32, copy=False)


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n, dtype=np.float32)


def _one_pole_lowpass(x: np.ndarray, cutoff_hz: float, sr: int) -> np.ndarray:
    a = float(np.exp(-2.0 * np.pi * min(cutoff_hz, 0.45 * sr) / sr))
    return lfilter(np.array([1.0 - a], np.float32), np.array([1.0, -a], np.float32), x).astype(
        np.float32, copy=False
    )


def _band_noise(n: int, rng: np.random.Generator, lo_hz: float, hi_hz: float, sr: int) -> np.ndarray:
    """White noise through a one-pole high pass at ``lo_hz`` and a one-pole low pass at ``hi_hz``.

    Gentle 6 dB/octave slopes, as the noise of a bow, breath or pick has. Float32, shape (n,).
    """
    x = _noise(n, rng)
    a = float(np.exp(-2.0 * np.pi * lo_hz / sr))
    x = lfilter(np.array([(1.0 + a) / 2.0, -(1.0 + a) / 2.0], np.float32), np.array([1.0, -a], np.float32), x)
    return _one_pole_lowpass(x, hi_hz, sr)


_LOOP_SECONDS = 4.0


@lru_cache(maxsize=32)
def _noise_loop(lo_hz: float, hi_hz: float, sr: int) -> np.ndarray:
    """Four seconds of :func:`_band_noise` (fixed seed), the source of every sustained noise layer."""
    rng = np.random.default_rng([int(lo_hz), int(hi_hz), sr, 0x5A])
    loop = _band_noise(int(_LOOP_SECONDS * sr), rng, lo_hz, hi_hz, sr)
    loop.setflags(write=False)
    return loop


def _sustained_noise(n: int, rng: np.random.Generator, lo_hz: float, hi_hz: float, sr: int) -> np.ndarray:
    """``n`` samples of band noise for a held note (bow, breath, air), read from a cached loop.

    The note starts at a seeded offset into the loop; a note longer than the loop repeats it,
    which at these levels (30-50 dB under the tone) is not heard, and it costs no filtering.
    """
    loop = _noise_loop(lo_hz, hi_hz, sr)
    start = int(rng.integers(len(loop)))
    reps = -(-(start + n) // len(loop))
    return np.concatenate([loop] * reps)[start : start + n] if reps > 1 else loop[start : start + n].copy()


def _burst(n: int, rng: np.random.Generator, lo_hz: float, hi_hz: float, sr: int, tau: float) -> np.ndarray:
    """A decaying noise transient (hammer, pick, key click): :func:`_band_noise` times exp(-t/tau), length n.

    Only the first ``10 tau`` seconds are synthesised (the rest is below -86 dB and left at zero).
    """
    m = min(n, max(1, int(10.0 * tau * sr)))
    out = np.zeros(n, dtype=np.float32)
    out[:m] = _band_noise(m, rng, lo_hz, hi_hz, sr) * _decay(_time(m, sr), tau)
    return out


def _piano(f, n, sus, sr, rng):
    t = _time(n, sr)
    tau = float(np.clip(1.8 * (262.0 / f) ** 0.6, 0.35, 5.0))
    bright = _osc("piano", f, n, sr, corner_hz=5000.0) * _decay(t, tau * 0.22)
    body = (
        _osc("piano_body", f, n, sr, cents=-0.8) + _osc("piano_body", f, n, sr, cents=0.8, phase0=0.3)
    ) * 0.5
    body *= _decay(t, tau)
    hammer = _burst(n, rng, 300.0, 9000.0, sr, 0.004) * 0.3
    return 0.55 * bright + 0.5 * body + hammer, 0.002, 0.25


def _electric_piano(f, n, sus, sr, rng):
    t = np.arange(n) / sr
    index = 1.6 * np.exp(-t / 0.3) + 0.25
    tone = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * f * t)).astype(np.float32)
    tau = float(np.clip(2.2 * (262.0 / f) ** 0.5, 0.5, 4.0))
    trem = (1.0 + 0.18 * np.sin(2 * np.pi * 4.8 * t)).astype(np.float32)
    x = tone * _decay(t, tau)
    if f * 14.0 < 0.45 * sr:  # the tine's metallic ping, when it fits below the guard
        x = x + np.sin(2 * np.pi * f * 14.0 * t).astype(np.float32) * _decay(t, 0.02) * 0.25
    return (x + _burst(n, rng, 1000.0, 8000.0, sr, 0.003) * 0.08) * trem, 0.002, 0.3


def _strings(f, n, sus, sr, rng):
    vib = _vibrato(n, sr, rate=5.3, depth=0.004, delay=0.3)
    x = sum(
        _osc("string", f, n, sr, corner_hz=3500.0, cents=c, freq_mult=vib, phase0=p)
        for c, p in ((-8.0, 0.0), (0.0, 0.37), (7.0, 0.71))
    )
    bow = _sustained_noise(n, rng, 1500.0, 10_000.0, sr) * 0.02  # rosin on the string: the section's air
    return x / 3.0 + bow, 0.14, 0.35


def _pad(f, n, sus, sr, rng):
    t = _time(n, sr)
    x = sum(
        _osc("saw", f, n, sr, corner_hz=1800.0, slope=2, cents=c, phase0=p)
        for c, p in ((-14.0, 0.0), (-5.0, 0.2), (5.0, 0.55), (13.0, 0.8))
    )
    swell = 0.85 + 0.15 * np.sin(2 * np.pi * 0.25 * t)
    air = _sustained_noise(n, rng, 4000.0, 14_000.0, sr) * 0.004
    return x * swell / 4.0 + air, 0.5, 0.8


def _guitar(f, n, sus, sr, rng):
    t = _time(n, sr)
    bright = _osc("saw", f, n, sr, corner_hz=4000.0) * _decay(t, 0.09)
    mid = _osc("saw", f, n, sr, corner_hz=1600.0, slope=2, cents=2.0) * _decay(t, 0.5)
    fund = _osc("triangle", f, n, sr) * _decay(t, 1.6)
    pick = _burst(n, rng, 800.0, 12_000.0, sr, 0.003) * 0.4
    return 0.45 * bright + 0.45 * mid + 0.35 * fund + pick, 0.001, 0.12


def _bass(f, n, sus, sr, rng):
    t = _time(n, sr)
    body = _osc("bass", f, n, sr, corner_hz=900.0, slope=2) * (0.55 + 0.45 * _decay(t, 0.6))
    snap = _osc("saw", f, n, sr, corner_hz=1500.0) * _decay(t, 0.04) * 0.3
    sub = _osc("sine", f, n, sr) * 0.5
    finger = _burst(n, rng, 400.0, 5000.0, sr, 0.005) * 0.08
    return body + snap + sub + finger, 0.003, 0.07


def _synth_lead(f, n, sus, sr, rng):
    vib = _vibrato(n, sr, rate=5.6, depth=0.006, delay=0.2)
    x = 0.55 * _osc("square", f, n, sr, corner_hz=5000.0, freq_mult=vib) + 0.45 * _osc(
        "saw", f, n, sr, corner_hz=5000.0, cents=9.0, freq_mult=vib, phase0=0.25
    )
    t = _time(n, sr)
    return x * (0.8 + 0.2 * _decay(t, 0.15)), 0.008, 0.12


_BELL_PARTIALS = (
    (1.0, 1.0, 2.4),
    (2.0, 0.55, 1.7),
    (2.76, 0.5, 1.1),
    (5.4, 0.3, 0.5),
    (8.93, 0.18, 0.25),
    (13.34, 0.08, 0.12),
)


def _bell(f, n, sus, sr, rng):
    t = _time(n, sr)
    x = np.zeros(n, dtype=np.float32)
    for ratio, amp, tau in _BELL_PARTIALS:
        if f * ratio < 0.45 * sr:
            m = min(n, int(12.0 * tau * sr))  # the partial is below -100 dB after 12 time constants
            x[:m] += _osc("sine", f * ratio, m, sr) * (np.float32(amp) * _decay(t[:m], tau))
    strike = _burst(n, rng, 2000.0, 16_000.0, sr, 0.002) * 0.12
    return x / 1.5 + strike, 0.001, 0.9


def _organ(f, n, sus, sr, rng):
    t = _time(n, sr)
    x = _osc("organ", f, n, sr)
    rotor = 1.0 + 0.1 * np.sin(2 * np.pi * 6.2 * t)
    click = _burst(n, rng, 500.0, 12_000.0, sr, 0.002) * 0.15
    return x * rotor + click, 0.005, 0.06


def _flute(f, n, sus, sr, rng):
    vib = _vibrato(n, sr, rate=5.0, depth=0.005, delay=0.25)
    tone = _osc("flute", f, n, sr, freq_mult=vib)
    breath = _sustained_noise(n, rng, 500.0, 6000.0, sr) * 0.05
    chiff = _burst(n, rng, 1500.0, 10_000.0, sr, 0.02) * 0.15
    return tone + breath + chiff, 0.06, 0.12


def _brass(f, n, sus, sr, rng):
    t = _time(n, sr)
    scoop = 1.0 - 0.015 * np.exp(-np.arange(n) / (0.03 * sr))
    soft = _osc("brass_soft", f, n, sr, corner_hz=2000.0, freq_mult=scoop)
    bright = _osc("saw", f, n, sr, corner_hz=3500.0, freq_mult=scoop, phase0=0.1)
    blare = np.clip(t / 0.08, 0, 1) * (0.45 + 0.55 * _decay(t, 0.25))
    return 0.6 * soft + 0.5 * bright * blare, 0.03, 0.12


def _pluck(f, n, sus, sr, rng):
    t = _time(n, sr)
    tone = _osc("triangle", f, n, sr) * _decay(t, 0.8)
    click = _osc("saw", f, n, sr, corner_hz=8000.0) * _decay(t, 0.025) * 0.55
    return tone + click, 0.001, 0.2


# Vowel formants (Hz, bandwidth Hz, gain) for the optional "vocal" line: an open "ah" with the
# singer's formant cluster near 3 kHz.
_FORMANTS = ((700.0, 110.0, 1.0), (1220.0, 120.0, 0.5), (2600.0, 160.0, 0.25), (3300.0, 250.0, 0.12))
_VOCAL_VIBRATO = 0.012


@lru_cache(maxsize=128)
def _vocal_table(pitch_hz: float, sr: int) -> np.ndarray:
    """The vowel's harmonic spectrum at ``pitch_hz`` as a wavetable (formant weights depend on pitch)."""
    k = np.arange(1, harmonic_count(pitch_hz, sr, max_mult=1.0 + _VOCAL_VIBRATO) + 1, dtype=np.float64)
    amps = np.zeros(len(k))
    for fc, bw, g in _FORMANTS:
        amps += g / (1.0 + ((k * pitch_hz - fc) / bw) ** 2)
    amps *= 1.0 / np.sqrt(k)
    table = table_from_amplitudes(amps)
    table.setflags(write=False)
    return table


def _vocal(f, n, sus, sr, rng):
    vib = _vibrato(n, sr, rate=5.5, depth=_VOCAL_VIBRATO, delay=0.2)
    x = read_table(_vocal_table(f, sr), f, n, sr, freq_mult=vib)
    breath = _sustained_noise(n, rng, 1000.0, 12_000.0, sr) * 0.015
    return x + breath, 0.05, 0.15


_RENDERERS = {
    "piano": _piano,
    "electric_piano": _electric_piano,
    "strings": _strings,
    "pad": _pad,
    "guitar": _guitar,
    "bass": _bass,
    "synth_lead": _synth_lead,
    "bell": _bell,
    "organ": _organ,
    "flute": _flute,
    "brass": _brass,
    "pluck": _pluck,
    "vocal": _vocal,
}

#: Pitched timbres the synth renders (the catalogue's TIMBRES minus "drums", plus "vocal").
PITCHED_TIMBRES = tuple(_RENDERERS)

#: Seconds a note rings after its written end.
RELEASE_SECONDS = {
    "piano": 0.25,
    "electric_piano": 0.3,
    "strings": 0.35,
    "pad": 0.8,
    "guitar": 0.12,
    "bass": 0.07,
    "synth_lead": 0.12,
    "bell": 0.9,
    "organ": 0.06,
    "flute": 0.12,
    "brass": 0.12,
    "pluck": 0.2,
    "vocal": 0.15,
}


def synthesize_note(
    timbre: str, *, pitch: int, sustain_frames: int, sample_rate: int, seed: int
) -> np.ndarray:
    """One note of ``timbre`` at MIDI ``pitch``.

    Returns float32 mono of ``sustain_frames + release`` samples (release from
    :data:`RELEASE_SECONDS`), starting and ending at exactly 0, peak about 1. ``seed`` drives the
    noise components (hammer, pick, breath) so a note renders identically every time.
    Raises ValueError for an unknown timbre or a non-positive length.
    """
    if timbre not in _RENDERERS:
        raise ValueError(f"unknown timbre {timbre!r}; known: {', '.join(PITCHED_TIMBRES)}")
    if sustain_frames < 1:
        raise ValueError(f"sustain_frames must be >= 1, got {sustain_frames}")
    release_n = int(RELEASE_SECONDS[timbre] * sample_rate)
    n = sustain_frames + release_n
    rng = np.random.default_rng([seed & 0xFFFFFFFF, pitch, sustain_frames, len(timbre)])
    f = midi_to_hz(pitch)
    wave, attack_s, release_s = _RENDERERS[timbre](f, n, sustain_frames, sample_rate, rng)
    gate = _gate(n, sustain_frames, sample_rate, attack_s=attack_s, release_s=release_s)
    return (np.asarray(wave, dtype=np.float32) * gate).astype(np.float32, copy=False)
