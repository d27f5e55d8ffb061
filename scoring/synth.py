"""Reference clips synthesised in numpy: music whose tempo, key and meter are known by construction.

Used by the tests, the scoring benchmark and self-checks, so none of them needs audio files.
``render_piece`` plays a four-chord progression (pad), a root bass, a repeating two-bar melody
motif and a drum kit (kick, snare, hi-hat) at a given tempo and key, deterministic per seed.
"""

import numpy as np

from scoring.music_theory import Key

__all__ = ["render_piece", "click_track"]

_MAJOR_PROGRESSION = (0, 4, 5, 3)  # I V vi IV (scale degrees, 0-based)
_MINOR_PROGRESSION = (0, 5, 2, 6)  # i VI III VII


def _tone(freq: float, n: int, sr: int, *, harmonics: int, decay: float, attack: float) -> np.ndarray:
    t = np.arange(n) / sr
    wave = sum((0.6**h) * np.sin(2 * np.pi * freq * (h + 1) * t) for h in range(harmonics))
    env = np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)
    return (wave * env).astype(np.float64)


def render_piece(
    *, key: Key, tempo_bpm: float, seconds: float, sample_rate: int = 44_100, seed: int = 0, stereo: bool = True
) -> np.ndarray:
    """A 4/4 piece in ``key`` at ``tempo_bpm``: float32 ``(2, frames)`` (or ``(1, frames)``), peak −1 dBFS."""
    rng = np.random.default_rng(seed)
    sr = sample_rate
    n = int(round(seconds * sr))
    beat = 60.0 / tempo_bpm
    scale = key.scale()
    prog = _MAJOR_PROGRESSION if key.mode == "major" else _MINOR_PROGRESSION
    left = np.zeros(n + 4 * sr)
    right = np.zeros(n + 4 * sr)

    def midi_hz(m: float) -> float:
        return 440.0 * 2 ** ((m - 69) / 12)

    def pitch(degree: int, octave: int) -> float:
        return midi_hz(12 * (octave + 1) + scale[degree % 7] + 12 * (degree // 7))

    def add(sig: np.ndarray, start: float, pan: float, gain: float) -> None:
        i = int(start * sr)
        left[i : i + sig.size] += gain * (1 - pan) * sig
        right[i : i + sig.size] += gain * (1 + pan) * sig

    motif = rng.choice([0, 1, 2, 3, 4, 2, 1, 0, 4, 5, 4, 2, 1, 2, 0, 0], size=8, replace=True)
    bar = 4 * beat
    n_bars = int(np.ceil(seconds / bar))
    for b in range(n_bars):
        root = prog[b % 4]
        t0 = b * bar
        for d in (0, 2, 4):  # pad chord
            add(_tone(pitch(root + d, 4), int(bar * sr), sr, harmonics=3, decay=3.0, attack=0.08), t0, -0.3, 0.08)
        for k in range(4):  # bass on every beat
            add(_tone(pitch(root, 2), int(beat * sr), sr, harmonics=4, decay=0.35, attack=0.005), t0 + k * beat, 0.0, 0.22)
        for k in range(8):  # melody: the motif, shifted with the chord on odd bars
            deg = int(motif[k]) + (root if b % 2 else 0)
            add(_tone(pitch(deg, 5), int(0.5 * beat * sr), sr, harmonics=5, decay=0.25, attack=0.004), t0 + k * beat / 2, 0.3, 0.12)
        for k in range(4):  # drums
            s = t0 + k * beat
            if k in (0, 2):
                m = int(0.25 * sr)
                tt = np.arange(m) / sr
                kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-tt / 0.03)) * tt) * np.exp(-tt / 0.12)
                add(kick, s, 0.0, 0.5)
            else:
                m = int(0.18 * sr)
                snare = rng.standard_normal(m) * np.exp(-np.arange(m) / sr / 0.05)
                add(snare, s, 0.1, 0.15)
            for h in (0.0, 0.5):
                m = int(0.05 * sr)
                hat = np.diff(rng.standard_normal(m + 1)) * np.exp(-np.arange(m) / sr / 0.012)
                add(hat, s + h * beat, -0.2, 0.05)
    out = np.stack([left[:n], right[:n]])
    if not stereo:
        out = out.mean(axis=0, keepdims=True)
    out *= 10 ** (-1 / 20) / (np.abs(out).max() + 1e-12)
    return out.astype(np.float32)


def click_track(*, tempo_bpm: float, seconds: float, sample_rate: int = 22_050) -> np.ndarray:
    """Mono float32 ``(frames,)``: a 1 kHz, 20 ms decaying click on every beat."""
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, dtype=np.float32)
    m = int(0.02 * sample_rate)
    t = np.arange(m) / sample_rate
    click = (np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.004)).astype(np.float32)
    step = 60.0 / tempo_bpm
    k = 0
    while (i := int(round(k * step * sample_rate))) + m <= n:
        out[i : i + m] += click
        k += 1
    return 0.8 * out
