"""Band-limited wavetable oscillator: the tone source of the pitched timbres and of the kit's metal.

A wavetable holds one period of a harmonic spectrum, built with one inverse FFT. Every harmonic
it holds lies below :data:`NYQUIST_GUARD` times the sample rate at the note's highest frequency
(vibrato and detune included), so nothing folds back below Nyquist: the oscillator cannot alias.
Brightness is shaped in the spectrum rather than by cutting it: an optional soft low-pass
(``corner_hz``, with ``slope`` 6 dB per octave per order) tilts the harmonics above the corner
down the way a string's or a brass bell's spectrum falls, so a bright timbre keeps harmonics up
to the top of the audio band, only quieter. The table is read with linear interpolation; with
:data:`TABLE_SIZE` samples per period and at most :data:`MAX_HARMONICS` harmonics its
interpolation error stays more than 90 dB below the tone from 110 Hz up.
"""

from functools import lru_cache

import numpy as np

__all__ = [
    "TABLE_SIZE",
    "MAX_HARMONICS",
    "NYQUIST_GUARD",
    "SPECTRA",
    "harmonic_count",
    "table_from_amplitudes",
    "wavetable",
    "read_table",
    "oscillate",
]

TABLE_SIZE = 8192
MAX_HARMONICS = 480
#: Highest partial frequency as a share of the sample rate (0.45 leaves room for vibrato and detune).
NYQUIST_GUARD = 0.45
# Partials 5, 10, ... sound two octaves and a major third above the note; at full strength they
# put the major third of every bass note and chord root into the chroma, which pulls key
# estimates of minor keys to the parallel major and of major keys to the dominant. Voicing
# them down keeps each timbre's character while the written harmony dominates the chroma.
_FIFTH_PARTIAL_GAIN = 0.3
_CORNER_STEPS_PER_OCTAVE = 4  # corners (in harmonics) are rounded to quarter octaves to share tables


def _saw(k: np.ndarray) -> np.ndarray:
    return 1.0 / k


def _square(k: np.ndarray) -> np.ndarray:
    return np.where(k % 2 == 1, 1.0 / k, 0.0)


def _triangle(k: np.ndarray) -> np.ndarray:
    return np.where(k % 2 == 1, 1.0 / k**2, 0.0) * np.where((k // 2) % 2 == 0, 1.0, -1.0)


def _piano(k: np.ndarray) -> np.ndarray:
    # Hammer struck at 1/8 of the string: every 8th harmonic is weak.
    return k**-1.25 * (0.25 + np.abs(np.sin(np.pi * k / 8.0)))


def _piano_body(k: np.ndarray) -> np.ndarray:
    body = np.array([1.0, 0.4, 0.15, 0.06, 0.03])
    return np.where(k <= 5, body[np.minimum(k, 5).astype(int) - 1], 0.0)


def _organ(k: np.ndarray) -> np.ndarray:
    drawbars = {1: 1.0, 2: 0.85, 3: 0.6, 4: 0.55, 6: 0.35, 8: 0.3, 10: 0.12, 12: 0.1, 16: 0.08}
    return np.array([drawbars.get(int(h), 0.0) for h in k])


def _flute(k: np.ndarray) -> np.ndarray:
    return np.where(k == 1, 1.0, 0.25 * 0.35 ** (k - 2.0))


def _bass(k: np.ndarray) -> np.ndarray:
    return 0.45 ** (k - 1.0)


def _string(k: np.ndarray) -> np.ndarray:
    # Sawtooth with a body resonance lift around the 3rd-5th harmonics.
    return (1.0 / k) * (1.0 + 0.6 * np.exp(-0.5 * ((k - 4.0) / 1.5) ** 2))


def _brass_soft(k: np.ndarray) -> np.ndarray:
    return 1.0 / k**2


def _sine(k: np.ndarray) -> np.ndarray:
    return np.where(k == 1, 1.0, 0.0)


#: Harmonic amplitude laws by name: harmonic numbers (float array, from 1) → amplitudes.
SPECTRA = {
    "saw": _saw,
    "square": _square,
    "triangle": _triangle,
    "piano": _piano,
    "piano_body": _piano_body,
    "organ": _organ,
    "flute": _flute,
    "bass": _bass,
    "string": _string,
    "brass_soft": _brass_soft,
    "sine": _sine,
}


def harmonic_count(freq_hz: float, sample_rate: int, *, max_mult: float = 1.0) -> int:
    """How many harmonics of ``freq_hz`` fit below the guard when the pitch rises by up to ``max_mult``."""
    return int(max(1, min(MAX_HARMONICS, NYQUIST_GUARD * sample_rate / (freq_hz * max_mult))))


def _corner_bucket(corner_harmonics: float) -> float:
    step = round(_CORNER_STEPS_PER_OCTAVE * np.log2(max(corner_harmonics, 0.25)))
    return float(2.0 ** (step / _CORNER_STEPS_PER_OCTAVE))


def table_from_amplitudes(amps: np.ndarray) -> np.ndarray:
    """One period with ``amps[i]`` as the sine amplitude of harmonic ``i + 1``: float32, ``TABLE_SIZE + 1``.

    Peak-normalised to 1; the last sample repeats the first so linear interpolation never wraps.
    At most ``TABLE_SIZE // 2 - 1`` harmonics. The caller keeps them below the guard.
    """
    harmonics = len(amps)
    if not 1 <= harmonics < TABLE_SIZE // 2:
        raise ValueError(f"need 1..{TABLE_SIZE // 2 - 1} harmonic amplitudes, got {harmonics}")
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum[1 : harmonics + 1] = -1j * np.asarray(amps, dtype=np.float64) * (TABLE_SIZE / 2)  # sine phase
    table = np.fft.irfft(spectrum, TABLE_SIZE)
    peak = float(np.max(np.abs(table)))
    out = np.empty(TABLE_SIZE + 1, dtype=np.float32)
    out[:TABLE_SIZE] = table / peak if peak > 0 else table
    out[TABLE_SIZE] = out[0]
    return out


@lru_cache(maxsize=768)
def wavetable(kind: str, harmonics: int, corner: float = 0.0, slope: int = 1) -> np.ndarray:
    """One period of spectrum ``kind`` (a :data:`SPECTRA` name), as :func:`table_from_amplitudes` returns.

    ``harmonics`` partials (1..harmonics); ``corner`` > 0 tilts those above ``corner`` (in
    harmonics) by ``slope`` x 6 dB/octave (a Butterworth magnitude of that order). Read-only: the
    table is shared through the cache.
    """
    k = np.arange(1, harmonics + 1, dtype=np.float64)
    amps = SPECTRA[kind](k) * np.where(k % 5 == 0, _FIFTH_PARTIAL_GAIN, 1.0)
    if corner > 0.0:
        amps = amps / np.sqrt(1.0 + (k / corner) ** (2 * slope))
    out = table_from_amplitudes(amps)
    out.setflags(write=False)
    return out


def read_table(
    table: np.ndarray,
    freq_hz: float,
    n: int,
    sample_rate: int,
    *,
    freq_mult: np.ndarray | None = None,
    phase0: float = 0.0,
) -> np.ndarray:
    """``n`` samples (float32) of ``table`` played at ``freq_hz``, linearly interpolated.

    ``freq_mult`` (shape (n,), positive, around 1) modulates the frequency sample by sample;
    ``phase0`` is the starting phase in cycles.
    """
    inc = freq_hz * TABLE_SIZE / sample_rate
    if freq_mult is None:
        pos = np.arange(n, dtype=np.float64)
    else:
        pos = np.cumsum(freq_mult, dtype=np.float64)
    pos *= inc
    if phase0:
        pos += phase0 * TABLE_SIZE
    idx = pos.astype(np.int64)
    pos -= idx
    frac = pos.astype(np.float32)
    idx &= TABLE_SIZE - 1
    lo = np.take(table, idx)
    out = np.take(table[1:], idx)
    out -= lo
    out *= frac
    out += lo
    return out


def oscillate(
    kind: str,
    freq_hz: float,
    n: int,
    sample_rate: int,
    *,
    corner_hz: float | None = None,
    slope: int = 1,
    cents: float = 0.0,
    freq_mult: np.ndarray | None = None,
    phase0: float = 0.0,
) -> np.ndarray:
    """``n`` samples (float32, peak about 1) of spectrum ``kind`` at ``freq_hz`` detuned by ``cents``.

    ``freq_mult`` (shape (n,), around 1) modulates the frequency sample by sample (vibrato, a pitch
    scoop); the harmonic count leaves room for its largest value. ``corner_hz``: the soft
    low-pass corner in Hz (None: the full spectrum up to the guard). ``phase0`` in cycles.
    """
    f = freq_hz * 2.0 ** (cents / 1200.0)
    max_mult = float(np.max(freq_mult)) if freq_mult is not None and len(freq_mult) else 1.0
    harmonics = harmonic_count(f, sample_rate, max_mult=max_mult)
    corner = _corner_bucket(corner_hz / f) if corner_hz is not None else 0.0
    if corner >= 8.0 * harmonics:  # the tilt would change nothing audible: share the untilted table
        corner = 0.0
    table = wavetable(kind, harmonics, corner, slope if corner else 1)
    return read_table(table, f, n, sample_rate, freq_mult=freq_mult, phase0=phase0)
