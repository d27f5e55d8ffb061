"""The synth's pitched timbres: one function per timbre renders one note as a mono array.

Tones are read from band-limited wavetables (harmonic spectra built once per harmonic count,
so the brightness of a layer is set by how many harmonics fit under its cutoff), FM pairs
(electric piano) or a few inharmonic sine partials (bell). Each timbre has its own envelope
family (percussive exponential decay for piano/guitar/pluck/bell, swells for strings/pad/
brass, organ-style gates) and spectral signature. Every note starts and ends at zero through
raised-cosine attack and release ramps, so notes never click.
"""

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.signal import lfilter

__all__ = ["PITCHED_TIMBRES", "RELEASE_SECONDS", "synthesize_note", "midi_to_hz"]

_TABLE_SIZE = 4096
# Partials 5, 10, ... sound two octaves and a major third above the note; at full strength they
# put the major third of every bass note and chord root into the chroma, which pulls key
# estimates of minor keys to the parallel major and of major keys to the dominant. Voicing
# them down keeps each timbre's character while the written harmony dominates the chroma.
_FIFTH_PARTIAL_GAIN = 0.3
_MIN_RAMP_S = 0.002


def midi_to_hz(pitch: float) -> float:
    """Equal-tempered frequency (Hz) of a MIDI pitch, A4 = 69 = 440 Hz."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def _amps_saw(k: np.ndarray) -> np.ndarray:
    return 1.0 / k


def _amps_square(k: np.ndarray) -> np.ndarray:
    return np.where(k % 2 == 1, 1.0 / k, 0.0)


def _amps_triangle(k: np.ndarray) -> np.ndarray:
    return np.where(k % 2 == 1, 1.0 / k**2, 0.0) * np.where((k // 2) % 2 == 0, 1.0, -1.0)


def _amps_piano(k: np.ndarray) -> np.ndarray:
    # Hammer struck at 1/8 of the string: every 8th harmonic is weak.
    return k**-1.25 * (0.25 + np.abs(np.sin(np.pi * k / 8.0)))


def _amps_piano_body(k: np.ndarray) -> np.ndarray:
    body = np.array([1.0, 0.4, 0.15, 0.06, 0.03])
    return np.where(k <= 5, body[np.minimum(k, 5).astype(int) - 1], 0.0)


def _amps_organ(k: np.ndarray) -> np.ndarray:
    drawbars = {1: 1.0, 2: 0.85, 3: 0.6, 4: 0.55, 6: 0.35, 8: 0.3, 10: 0.12, 12: 0.1, 16: 0.08}
    return np.array([drawbars.get(int(h), 0.0) for h in k])


def _amps_flute(k: np.ndarray) -> np.ndarray:
    return np.where(k == 1, 1.0, 0.25 * 0.35 ** (k - 2.0))


def _amps_bass(k: np.ndarray) -> np.ndarray:
    return 0.45 ** (k - 1.0)


def _amps_string(k: np.ndarray) -> np.ndarray:
    # Sawtooth with a body resonance lift around the 3rd-5th harmonics.
    return (1.0 / k) * (1.0 + 0.6 * np.exp(-0.5 * ((k - 4.0) / 1.5) ** 2))


def _amps_brass_soft(k: np.ndarray) -> np.ndarray:
    return 1.0 / k**2


def _amps_sine(k: np.ndarray) -> np.ndarray:
    return np.where(k == 1, 1.0, 0.0)


_SPECTRA: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "saw": _amps_saw,
    "square": _amps_square,
    "triangle": _amps_triangle,
    "piano": _amps_piano,
    "piano_body": _amps_piano_body,
    "organ": _amps_organ,
    "flute": _amps_flute,
    "bass": _amps_bass,
    "string": _amps_string,
    "brass_soft": _amps_brass_soft,
    "sine": _amps_sine,
}


@lru_cache(maxsize=512)
def _table(kind: str, harmonics: int) -> np.ndarray:
    """One period (``_TABLE_SIZE`` samples) of spectrum ``kind`` with ``harmonics`` partials, peak 1."""
    k = np.arange(1, harmonics + 1, dtype=float)
    amps = _SPECTRA[kind](k) * np.where(k % 5 == 0, _FIFTH_PARTIAL_GAIN, 1.0)
    phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    table = np.zeros(_TABLE_SIZE)
    for h, a in zip(k, amps, strict=True):
        if a != 0.0:
            table += a * np.sin(2.0 * np.pi * h * phase)
    peak = np.max(np.abs(table))
    out = (table / peak if peak > 0 else table).astype(np.float32)
    out.setflags(write=False)
    return out


def _osc(
    kind: str,
    freq: float,
    n: int,
    sr: int,
    *,
    cutoff_hz: float | None = None,
    cents: float = 0.0,
    freq_mult: np.ndarray | None = None,
    phase0: float = 0.0,
) -> np.ndarray:
    """Wavetable oscillator: ``n`` samples (float32) of ``kind`` at ``freq`` Hz, band-limited."""
    f = freq * 2.0 ** (cents / 1200.0)
    limit = max(1, int(0.45 * sr / f))
    harmonics = limit if cutoff_hz is None else max(1, min(limit, int(cutoff_hz / f)))
    harmonics = min(harmonics, 64)
    table = _table(kind, harmonics)
    scale = _TABLE_SIZE / sr
    if freq_mult is None:
        pos = np.arange(n, dtype=np.float64) * (f * scale)
    else:
        pos = np.cumsum(f * scale * freq_mult)
    pos += phase0 * _TABLE_SIZE
    idx = pos.astype(np.int64)
    idx &= _TABLE_SIZE - 1
    return table[idx]


def _time(n: int, sr: int) -> np.ndarray:
    return (np.arange(n) / sr).astype(np.float32)


def _vibrato(n: int, sr: int, *, rate: float, depth: float, delay: float) -> np.ndarray:
    """Frequency multiplier 1 + depth·sin, faded in over ``delay`` seconds."""
    t = np.arange(n) / sr
    fade = np.clip(t / max(delay, 1e-3), 0.0, 1.0)
    return 1.0 + depth * fade * np.sin(2.0 * np.pi * rate * t)


def _gate(n_total: int, sustain_n: int, sr: int, *, attack_s: float, release_s: float) -> np.ndarray:
    """Raised-cosine attack to 1, hold until ``sustain_n``, raised-cosine release to 0 at ``n_total``."""
    g = np.ones(n_total, dtype=np.float32)
    a = max(int(max(attack_s, _MIN_RAMP_S) * sr), 2)
    a = min(a, n_total)
    g[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    r = n_total - min(sustain_n, n_total)
    r = max(r, int(_MIN_RAMP_S * sr))
    r = min(r, n_total)
    g[n_total - r:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
    g[-1] = 0.0
    return g


def _decay(t: np.ndarray, tau: float) -> np.ndarray:
    return np.exp(-t / tau).astype(np.float32)


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n).astype(np.float32)


def _one_pole_lowpass(x: np.ndarray, cutoff_hz: float, sr: int) -> np.ndarray:
    a = float(np.exp(-2.0 * np.pi * cutoff_hz / sr))
    return lfilter([1.0 - a], [1.0, -a], x).astype(np.float32)


def _piano(f, n, sus, sr, rng):
    t = _time(n, sr)
    tau = float(np.clip(1.8 * (262.0 / f) ** 0.6, 0.35, 5.0))
    bright = _osc("piano", f, n, sr, cutoff_hz=7000) * _decay(t, tau * 0.22)
    body = (_osc("piano_body", f, n, sr, cents=-0.8) + _osc("piano_body", f, n, sr, cents=0.8, phase0=0.3)) * 0.5
    body *= _decay(t, tau)
    hammer = _one_pole_lowpass(_noise(n, rng), 2500.0, sr) * _decay(t, 0.004) * 0.3
    return 0.55 * bright + 0.5 * body + hammer, 0.002, 0.25


def _electric_piano(f, n, sus, sr, rng):
    t = np.arange(n) / sr
    index = 1.6 * np.exp(-t / 0.3) + 0.25
    tone = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * f * t)).astype(np.float32)
    tine = np.sin(2 * np.pi * min(f * 14.0, 0.45 * sr) * t).astype(np.float32) * _decay(t, 0.02) * 0.25
    tau = float(np.clip(2.2 * (262.0 / f) ** 0.5, 0.5, 4.0))
    trem = (1.0 + 0.18 * np.sin(2 * np.pi * 4.8 * t)).astype(np.float32)
    return (tone * _decay(t, tau) + tine) * trem, 0.002, 0.3


def _strings(f, n, sus, sr, rng):
    vib = _vibrato(n, sr, rate=5.3, depth=0.004, delay=0.3)
    x = sum(_osc("string", f, n, sr, cutoff_hz=5500, cents=c, freq_mult=vib, phase0=p)
            for c, p in ((-8.0, 0.0), (0.0, 0.37), (7.0, 0.71)))
    return x / 3.0, 0.14, 0.35


def _pad(f, n, sus, sr, rng):
    t = _time(n, sr)
    x = sum(_osc("saw", f, n, sr, cutoff_hz=1800, cents=c, phase0=p)
            for c, p in ((-14.0, 0.0), (-5.0, 0.2), (5.0, 0.55), (13.0, 0.8)))
    swell = 0.85 + 0.15 * np.sin(2 * np.pi * 0.25 * t)
    return x * swell / 4.0, 0.5, 0.8


def _guitar(f, n, sus, sr, rng):
    t = _time(n, sr)
    bright = _osc("saw", f, n, sr, cutoff_hz=5000) * _decay(t, 0.09)
    mid = _osc("saw", f, n, sr, cutoff_hz=1600, cents=2.0) * _decay(t, 0.5)
    fund = _osc("triangle", f, n, sr) * _decay(t, 1.6)
    pick = _one_pole_lowpass(_noise(n, rng), 4000.0, sr) * _decay(t, 0.003) * 0.4
    return 0.45 * bright + 0.45 * mid + 0.35 * fund + pick, 0.001, 0.12


def _bass(f, n, sus, sr, rng):
    t = _time(n, sr)
    body = _osc("bass", f, n, sr, cutoff_hz=900) * (0.55 + 0.45 * _decay(t, 0.6))
    snap = _osc("saw", f, n, sr, cutoff_hz=1200) * _decay(t, 0.04) * 0.3
    sub = _osc("sine", f, n, sr) * 0.5
    return body + snap + sub, 0.003, 0.07


def _synth_lead(f, n, sus, sr, rng):
    vib = _vibrato(n, sr, rate=5.6, depth=0.006, delay=0.2)
    x = 0.55 * _osc("square", f, n, sr, cutoff_hz=4500, freq_mult=vib) + 0.45 * _osc(
        "saw", f, n, sr, cutoff_hz=4500, cents=9.0, freq_mult=vib, phase0=0.25)
    t = _time(n, sr)
    return x * (0.8 + 0.2 * _decay(t, 0.15)), 0.008, 0.12


_BELL_PARTIALS = ((1.0, 1.0, 2.4), (2.0, 0.55, 1.7), (2.76, 0.5, 1.1), (5.4, 0.3, 0.5), (8.93, 0.18, 0.25))


def _bell(f, n, sus, sr, rng):
    t = np.arange(n) / sr
    x = np.zeros(n, dtype=np.float32)
    for ratio, amp, tau in _BELL_PARTIALS:
        if f * ratio < 0.45 * sr:
            x += (amp * np.sin(2 * np.pi * f * ratio * t) * np.exp(-t / tau)).astype(np.float32)
    return x / 1.5, 0.001, 0.9


def _organ(f, n, sus, sr, rng):
    t = _time(n, sr)
    x = _osc("organ", f, n, sr)
    rotor = 1.0 + 0.1 * np.sin(2 * np.pi * 6.2 * t)
    click = _one_pole_lowpass(_noise(n, rng), 3000.0, sr) * _decay(t, 0.002) * 0.15
    return x * rotor + click, 0.005, 0.06


def _flute(f, n, sus, sr, rng):
    vib = _vibrato(n, sr, rate=5.0, depth=0.005, delay=0.25)
    tone = _osc("flute", f, n, sr, freq_mult=vib)
    breath = _one_pole_lowpass(_noise(n, rng), min(3.0 * f, 8000.0), sr) * 0.12
    return tone + breath, 0.06, 0.12


def _brass(f, n, sus, sr, rng):
    t = _time(n, sr)
    scoop = 1.0 - 0.015 * np.exp(-np.arange(n) / (0.03 * sr))
    soft = _osc("brass_soft", f, n, sr, cutoff_hz=2000, freq_mult=scoop)
    bright = _osc("saw", f, n, sr, cutoff_hz=6000, freq_mult=scoop, phase0=0.1)
    blare = np.clip(t / 0.08, 0, 1) * (0.45 + 0.55 * _decay(t, 0.25))
    return 0.6 * soft + 0.5 * bright * blare, 0.03, 0.12


def _pluck(f, n, sus, sr, rng):
    t = _time(n, sr)
    tone = _osc("triangle", f, n, sr) * _decay(t, 0.8)
    click = _osc("saw", f, n, sr, cutoff_hz=9000) * _decay(t, 0.025) * 0.55
    return tone + click, 0.001, 0.2


# Vowel formants (Hz, bandwidth Hz, gain) for the optional "vocal" line.
_FORMANTS = ((700.0, 110.0, 1.0), (1220.0, 120.0, 0.5), (2600.0, 160.0, 0.25))


def _vocal(f, n, sus, sr, rng):
    limit = max(1, min(int(0.45 * sr / f), 60))
    k = np.arange(1, limit + 1)
    amps = np.zeros(limit)
    for fc, bw, g in _FORMANTS:
        amps += g / (1.0 + ((k * f - fc) / bw) ** 2)
    amps *= 1.0 / np.sqrt(k)
    vib = _vibrato(n, sr, rate=5.5, depth=0.012, delay=0.2)
    ph = np.cumsum(f * vib) / sr
    x = np.zeros(n)
    for h, a in zip(k, amps, strict=True):
        if a > 1e-3:
            x += a * np.sin(2 * np.pi * h * ph)
    x /= max(np.max(np.abs(x)), 1e-9)
    breath = _one_pole_lowpass(_noise(n, rng), 5000.0, sr) * 0.03
    return x.astype(np.float32) + breath, 0.05, 0.15


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
    "piano": 0.25, "electric_piano": 0.3, "strings": 0.35, "pad": 0.8, "guitar": 0.12, "bass": 0.07,
    "synth_lead": 0.12, "bell": 0.9, "organ": 0.06, "flute": 0.12, "brass": 0.12, "pluck": 0.2, "vocal": 0.15,
}


def synthesize_note(timbre: str, *, pitch: int, sustain_frames: int, sample_rate: int, seed: int) -> np.ndarray:
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
