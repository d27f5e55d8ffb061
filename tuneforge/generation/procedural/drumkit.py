"""The drum kit: each piece synthesised once per render from seeded noise, swept sines and metal.

Kick and toms are sine sweeps with a beater or stick transient; the snare is two shell modes
plus wire noise and a high sizzle; hats, ride and crash are the classic six-oscillator metallic
cluster (band-limited squares from :mod:`.oscillator`, so nothing aliases) mixed with noise and
shaped by high and low passes to the bands real cymbals occupy: closed hat 6.5-16 kHz, open hat
from 5.5 kHz, ride wash from 4 kHz with a ping, crash from 2.5 kHz with a high shimmer that rings
longer. Shaker, rim, clap, conga and cowbell cover the world/latin grooves. At 44.1 kHz and
above the cymbals carry real energy to 16-20 kHz. Every piece starts and ends at zero and
peaks at 1.
"""

from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt

from tuneforge.generation.procedural.oscillator import oscillate

__all__ = ["KIT_PIECES", "synthesize_kit"]

KIT_PIECES = (
    "kick",
    "snare",
    "clap",
    "closed_hat",
    "open_hat",
    "ride",
    "crash",
    "tom_low",
    "tom_mid",
    "shaker",
    "rim",
    "conga",
    "cowbell",
)

# The TR-808's six square oscillators (Hz), scaled per cymbal.
_METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)
_MAX_FILTER_SHARE = 0.45  # of the sample rate: corners above it are moved down to it


def _t(seconds: float, sr: int) -> np.ndarray:
    return np.arange(int(seconds * sr)) / sr


def _sweep(t: np.ndarray, f_end: float, f_start: float, tau: float, sr: int) -> np.ndarray:
    """Sine gliding from ``f_start`` to ``f_end`` Hz with time constant ``tau`` seconds."""
    f = f_end + (f_start - f_end) * np.exp(-t / tau)
    return np.sin(2 * np.pi * np.cumsum(f) / sr)


def _filt(x: np.ndarray, sr: int, kind: str, freq: float | tuple[float, float], order: int = 2) -> np.ndarray:
    """Butterworth ``kind`` ("lowpass", "highpass", "bandpass") at ``freq`` Hz, corners kept below 0.45 sr."""
    top = _MAX_FILTER_SHARE * sr
    if isinstance(freq, tuple):
        lo, hi = min(freq[0], 0.6 * top), min(freq[1], top)
        wn: float | tuple[float, float] = (lo / (0.5 * sr), hi / (0.5 * sr))
    else:
        wn = min(freq, top) / (0.5 * sr)
    return sosfilt(butter(order, wn, btype=kind, output="sos").astype(np.float32), np.asarray(x, np.float32))


@lru_cache(maxsize=16)
def _metal(n: int, sr: int, scale: float) -> np.ndarray:
    """The six-square metallic cluster at ``scale`` x the 808's pitches, band-limited, shape (n,).

    It has no random part, so it is built once per (length, rate, scale) and shared (read-only).
    """
    x = (
        sum(oscillate("square", 1.7 * scale * f, n, sr, phase0=i / 7.0) for i, f in enumerate(_METAL_HZ))
        / 6.0
    )
    x.setflags(write=False)
    return x


def _click(noise: np.ndarray, sr: int, lo_hz: float, tau: float) -> np.ndarray:
    """A stick or beater transient: ``noise`` above ``lo_hz`` decaying with time constant ``tau`` s."""
    return _filt(noise, sr, "highpass", lo_hz) * np.exp(-np.arange(len(noise)) / (tau * sr))


def _fade(x: np.ndarray, sr: int) -> np.ndarray:
    """Zero the first and last samples with 1 ms / 5 ms ramps so hits never click."""
    a, r = min(len(x), int(0.001 * sr)), min(len(x), int(0.005 * sr))
    x = x.copy()
    x[:a] *= np.linspace(0.0, 1.0, a)
    x[len(x) - r :] *= np.linspace(1.0, 0.0, r)
    return x


Noise = Callable[[int], np.ndarray]


def _kick(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.45, sr)
    return (
        _sweep(t, 48.0, 160.0, 0.035, sr) * np.exp(-t / 0.22)
        + _filt(noise(len(t)), sr, "bandpass", (1500.0, 9000.0)) * np.exp(-t / 0.002) * 0.3
        + _click(noise(len(t)), sr, 4000.0, 0.001) * 0.12
    )


def _snare(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.35, sr)
    return (
        0.5 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.06)
        + 0.25 * np.sin(2 * np.pi * 330.0 * t) * np.exp(-t / 0.04)
        + 0.8 * _filt(noise(len(t)), sr, "bandpass", (1000.0, 12_000.0)) * np.exp(-t / 0.11)
        + 0.25 * _filt(noise(len(t)), sr, "highpass", 7000.0) * np.exp(-t / 0.07)
        + 0.4 * _click(noise(len(t)), sr, 3000.0, 0.0015)
    )


def _clap(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.35, sr)
    env = np.zeros(len(t))
    for off in (0.0, 0.011, 0.022):
        env += np.where(t >= off, np.exp(-(t - off) / (0.006 if off < 0.02 else 0.12)), 0.0)
    return (
        _filt(noise(len(t)), sr, "bandpass", (800.0, 7000.0))
        + 0.15 * _filt(noise(len(t)), sr, "highpass", 6000.0)
    ) * env


def _cymbal(
    sr: int, noise: Noise, seconds: float, scale: float, noise_level: float
) -> tuple[np.ndarray, np.ndarray]:
    t = _t(seconds, sr)
    return t, _metal(len(t), sr, scale) + noise_level * noise(len(t))


def _closed_hat(sr: int, noise: Noise) -> np.ndarray:
    t, src = _cymbal(sr, noise, 0.12, 1.0, 0.8)
    hat = _filt(_filt(src, sr, "highpass", 6500.0), sr, "lowpass", 16_000.0, order=1)
    return hat * np.exp(-t / 0.022) + 0.3 * _click(noise(len(t)), sr, 5000.0, 0.001)


def _open_hat(sr: int, noise: Noise) -> np.ndarray:
    t, src = _cymbal(sr, noise, 0.6, 1.0, 0.8)
    hat = _filt(_filt(src, sr, "highpass", 5500.0), sr, "lowpass", 17_000.0, order=1)
    return hat * np.clip(t / 0.004, 0.0, 1.0) * np.exp(-t / 0.18)


def _ride(sr: int, noise: Noise) -> np.ndarray:
    t, src = _cymbal(sr, noise, 1.6, 1.3, 0.4)
    wash = _filt(_filt(src, sr, "highpass", 4000.0), sr, "lowpass", 15_000.0, order=1) * np.exp(-t / 0.6)
    ping = sum(
        a * np.sin(2 * np.pi * f * t) * np.exp(-t / tau)
        for f, a, tau in ((3150.0, 0.2, 0.3), (4750.0, 0.12, 0.25))
        if f < _MAX_FILTER_SHARE * sr
    )
    return 0.6 * wash + ping + 0.25 * _click(noise(len(t)), sr, 2000.0, 0.002)


def _crash(sr: int, noise: Noise) -> np.ndarray:
    t, src = _cymbal(sr, noise, 2.2, 0.9, 1.0)
    body = _filt(src, sr, "highpass", 2500.0) * np.exp(-t / 0.8)
    shimmer = _filt(noise(len(t)), sr, "highpass", 8000.0) * np.exp(-t / 1.0)  # the highs ring longest
    return (1.0 - np.exp(-t / 0.008)) * (body + 0.4 * shimmer)


def _tom_low(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.6, sr)
    return (
        _sweep(t, 75.0, 120.0, 0.06, sr) * np.exp(-t / 0.3)
        + _filt(noise(len(t)), sr, "lowpass", 600.0) * np.exp(-t / 0.02) * 0.6
        + _click(noise(len(t)), sr, 2500.0, 0.002) * 0.25
    )


def _tom_mid(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.4, sr)
    return (
        _sweep(t, 130.0, 190.0, 0.05, sr) * np.exp(-t / 0.2) + _click(noise(len(t)), sr, 2500.0, 0.002) * 0.25
    )


def _shaker(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.14, sr)
    return _filt(noise(len(t)), sr, "bandpass", (5000.0, 15_000.0)) * (
        np.clip(t / 0.012, 0, 1) * np.exp(-t / 0.035)
    )


def _rim(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.08, sr)
    tone = (0.6 * np.sin(2 * np.pi * 1700.0 * t) + 0.5 * np.sin(2 * np.pi * 480.0 * t)) * np.exp(-t / 0.012)
    return tone + 0.4 * _click(noise(len(t)), sr, 3000.0, 0.001)


def _conga(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.35, sr)
    tone = (np.sin(2 * np.pi * 215.0 * t) + 0.3 * np.sin(2 * np.pi * 430.0 * t)) * np.exp(-t / 0.12)
    return tone + 0.15 * _click(noise(len(t)), sr, 2000.0, 0.002)


def _cowbell(sr: int, noise: Noise) -> np.ndarray:
    t = _t(0.3, sr)
    bell = oscillate("square", 540.0, len(t), sr) + oscillate("square", 800.0, len(t), sr)
    return _filt(bell, sr, "bandpass", (500.0, 2500.0)) * np.exp(-t / 0.09) * 0.5


_BUILDERS: dict[str, Callable[[int, Noise], np.ndarray]] = {
    "kick": _kick,
    "snare": _snare,
    "clap": _clap,
    "closed_hat": _closed_hat,
    "open_hat": _open_hat,
    "ride": _ride,
    "crash": _crash,
    "tom_low": _tom_low,
    "tom_mid": _tom_mid,
    "shaker": _shaker,
    "rim": _rim,
    "conga": _conga,
    "cowbell": _cowbell,
}


def synthesize_kit(
    *, sample_rate: int, seed: int, pieces: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Kit pieces as float32 mono (peak 1), keyed by :data:`KIT_PIECES` name.

    ``pieces``: the names to build (None: all of them). Each piece draws its noise from its own
    stream keyed by ``seed`` and the piece, so a piece sounds the same whichever others are built.
    Raises ValueError for an unknown piece.
    """
    names = KIT_PIECES if pieces is None else tuple(dict.fromkeys(pieces))
    unknown = [p for p in names if p not in _BUILDERS]
    if unknown:
        raise ValueError(f"unknown kit pieces {unknown}; known: {', '.join(KIT_PIECES)}")
    out = {}
    for name in names:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, 0xD2, KIT_PIECES.index(name)])
        x = np.asarray(
            _BUILDERS[name](sample_rate, lambda n, rng=rng: rng.standard_normal(n, dtype=np.float32))
        )
        x = _fade(x / max(float(np.max(np.abs(x))), 1e-9), sample_rate)
        out[name] = x.astype(np.float32)
    return out
