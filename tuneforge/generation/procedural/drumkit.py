"""The drum kit: each piece synthesised once per render from seeded noise and swept sines.

Kick and toms are sine sweeps with a click; snare is a tuned body plus high-passed noise;
hats, ride and crash are six detuned square waves (the classic metallic cluster) plus noise,
high-passed; shaker, rim, clap, conga and cowbell cover the world/latin grooves. Every piece
starts and ends at zero.
"""

import numpy as np
from scipy.signal import butter, sosfilt

__all__ = ["KIT_PIECES", "synthesize_kit"]

KIT_PIECES = ("kick", "snare", "clap", "closed_hat", "open_hat", "ride", "crash", "tom_low", "tom_mid",
              "shaker", "rim", "conga", "cowbell")

_METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)


def _t(seconds: float, sr: int) -> np.ndarray:
    return np.arange(int(seconds * sr)) / sr


def _sweep(t: np.ndarray, f_end: float, f_start: float, tau: float, sr: int) -> np.ndarray:
    """Sine gliding from ``f_start`` to ``f_end`` Hz with time constant ``tau`` seconds."""
    f = f_end + (f_start - f_end) * np.exp(-t / tau)
    return np.sin(2 * np.pi * np.cumsum(f) / sr)


def _filt(x: np.ndarray, sr: int, kind: str, freq: float | tuple[float, float], order: int = 2) -> np.ndarray:
    nyq = 0.5 * sr
    wn = tuple(min(f / nyq, 0.99) for f in freq) if isinstance(freq, tuple) else min(freq / nyq, 0.99)
    return sosfilt(butter(order, wn, btype=kind, output="sos"), x)


def _metal(t: np.ndarray) -> np.ndarray:
    return sum(np.sign(np.sin(2 * np.pi * f * 1.7 * t + i)) for i, f in enumerate(_METAL_HZ)) / 6.0


def _fade(x: np.ndarray, sr: int) -> np.ndarray:
    """Zero the first and last samples with 1 ms / 5 ms ramps so hits never click."""
    a, r = min(len(x), int(0.001 * sr)), min(len(x), int(0.005 * sr))
    x = x.copy()
    x[:a] *= np.linspace(0.0, 1.0, a)
    x[len(x) - r:] *= np.linspace(1.0, 0.0, r)
    return x


def synthesize_kit(*, sample_rate: int, seed: int) -> dict[str, np.ndarray]:
    """Every kit piece as float32 mono (peak about 1), keyed by :data:`KIT_PIECES` name."""
    sr = sample_rate
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0xD2])
    kit: dict[str, np.ndarray] = {}

    t = _t(0.45, sr)
    kit["kick"] = _sweep(t, 48.0, 160.0, 0.035, sr) * np.exp(-t / 0.22) + _filt(
        rng.standard_normal(len(t)), sr, "highpass", 1500.0) * np.exp(-t / 0.003) * 0.25

    t = _t(0.3, sr)
    kit["snare"] = 0.55 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.06) + 0.8 * _filt(
        rng.standard_normal(len(t)), sr, "bandpass", (1200.0, 9000.0)) * np.exp(-t / 0.1)

    t = _t(0.35, sr)
    env = np.zeros(len(t))
    for off in (0.0, 0.011, 0.022):
        env += np.where(t >= off, np.exp(-(t - off) / (0.006 if off < 0.02 else 0.12)), 0.0)
    kit["clap"] = _filt(rng.standard_normal(len(t)), sr, "bandpass", (900.0, 5000.0)) * env

    t = _t(0.09, sr)
    kit["closed_hat"] = _filt(_metal(t) + 0.6 * rng.standard_normal(len(t)), sr, "highpass", 7000.0) * np.exp(-t / 0.018)
    t = _t(0.45, sr)
    kit["open_hat"] = _filt(_metal(t) + 0.6 * rng.standard_normal(len(t)), sr, "highpass", 6500.0) * np.exp(-t / 0.14)
    t = _t(1.2, sr)
    kit["ride"] = 0.6 * _filt(_metal(t * 1.3) + 0.3 * rng.standard_normal(len(t)), sr, "highpass", 4000.0) * (
        np.exp(-t / 0.5)) + 0.2 * np.sin(2 * np.pi * 3150.0 * t) * np.exp(-t / 0.3)
    t = _t(2.0, sr)
    kit["crash"] = _filt(_metal(t * 0.9) + rng.standard_normal(len(t)), sr, "highpass", 3500.0) * np.exp(-t / 0.7)

    t = _t(0.6, sr)
    kit["tom_low"] = _sweep(t, 75.0, 120.0, 0.06, sr) * np.exp(-t / 0.3) + _filt(
        rng.standard_normal(len(t)), sr, "lowpass", 600.0) * np.exp(-t / 0.02) * 0.6
    t = _t(0.4, sr)
    kit["tom_mid"] = _sweep(t, 130.0, 190.0, 0.05, sr) * np.exp(-t / 0.2)

    t = _t(0.12, sr)
    kit["shaker"] = _filt(rng.standard_normal(len(t)), sr, "bandpass", (4500.0, 11000.0)) * (
        np.clip(t / 0.012, 0, 1) * np.exp(-t / 0.035))
    t = _t(0.08, sr)
    kit["rim"] = (0.6 * np.sin(2 * np.pi * 1700.0 * t) + 0.5 * np.sin(2 * np.pi * 480.0 * t)) * np.exp(-t / 0.012)
    t = _t(0.35, sr)
    kit["conga"] = (np.sin(2 * np.pi * 215.0 * t) + 0.3 * np.sin(2 * np.pi * 430.0 * t)) * np.exp(-t / 0.12)
    t = _t(0.3, sr)
    kit["cowbell"] = _filt(np.sign(np.sin(2 * np.pi * 540.0 * t)) + np.sign(np.sin(2 * np.pi * 800.0 * t)), sr,
                           "bandpass", (500.0, 2500.0)) * np.exp(-t / 0.09) * 0.5

    out = {}
    for name, x in kit.items():
        x = np.asarray(x, dtype=float)
        x = _fade(x / max(float(np.max(np.abs(x))), 1e-9), sr)
        out[name] = x.astype(np.float32)
    return out
