"""The `vocal` signal: when vocals were requested, is there a sung line, and does it sound sung?

Only for vocal requests: an instrumental request makes it unavailable (its weight goes to the
other signals), so no instrument is ever mistaken for unwanted vocals. Parts, from the pitch
track and the spectrum: share of frames with a clear pitch in the singing range (110-1000 Hz);
vibrato (share of ≥ 0.3 s voiced runs whose detrended pitch oscillates at 4-8 Hz with 0.2-1.5
semitones extent); formant-band energy (1-4 kHz share of the spectrum, where the singer's
formants sit). A DSP proxy: the neural `vocal_lyrics` signal does the real listening.
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C
from scoring.curves import plateau, ramp
from scoring.signals.base import SignalContext, Unavailable

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "vocal"


def vibrato_share(f: "Features") -> float:
    """Share of sustained voiced runs (≥ 0.3 s) with a 4-8 Hz pitch oscillation of 0.2-1.5 semitones.

    The first and last ``VIBRATO_EDGE_FRAMES`` frames of each run are dropped: at a note's onset
    and release the predominant-pitch track often reads a harmonic (an octave or a twelfth off),
    which would swamp the detrended extent of any vibrato.
    """
    midi = f.pitch_midi
    voiced = ~np.isnan(midi)
    min_len = int(0.3 * f.frame_rate)
    trim = C.VIBRATO_EDGE_FRAMES
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(int), [0]])))
    runs = [(a + trim, b - trim) for a, b in zip(edges[::2], edges[1::2]) if b - a - 2 * trim >= min_len]
    if not runs:
        return 0.0
    hits = 0
    for a, b in runs:
        seg = midi[a:b]
        t = np.arange(seg.size)
        seg = seg - np.polyval(np.polyfit(t, seg, 1), t)
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 256))
        freqs = np.fft.rfftfreq(256, 1.0 / f.frame_rate)
        band = (freqs >= 4) & (freqs <= 8)
        extent = 2 * np.sqrt(2) * seg.std()
        if spec[band].max() >= 0.5 * spec[1:].max() and 0.2 <= extent <= 1.5:
            hits += 1
    return hits / len(runs)


def measure(f: "Features") -> dict[str, float]:
    midi = f.pitch_midi
    hz = 440.0 * 2 ** ((midi - 69) / 12)
    in_range = (hz >= 110) & (hz <= 1000)
    freqs = f.frequencies
    ltas = f.power.mean(axis=1)
    formant = float(ltas[(freqs >= 1000) & (freqs < 4000)].sum() / (ltas.sum() + 1e-20))
    return {
        "singing_share": float(np.mean(in_range)) if midi.size else 0.0,
        "vibrato_share": vibrato_share(f),
        "formant_share": formant,
    }


def score(m: dict[str, float]) -> float:
    return float(
        0.45 * ramp(m["singing_share"], 0.1, 0.5)
        + 0.3 * ramp(m["vibrato_share"], 0.0, 0.3)
        + 0.25 * plateau(m["formant_share"], 0.05, 0.35, 0.1)
    )


def compute(ctx: SignalContext) -> float:
    if not ctx.request.vocals_requested:
        raise Unavailable("not applicable: instrumental request")
    return score(measure(ctx.features))
