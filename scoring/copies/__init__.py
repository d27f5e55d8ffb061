"""Copy detection: a spectral-peak fingerprint per clip and a matcher that sees through disguise.

:mod:`scoring.copies.prints` turns a clip into a :class:`Fingerprint`: the strongest spectral
peaks of each 64 ms frame of a log-frequency spectrogram (a third of a semitone per bin,
131 Hz–3.5 kHz, every channel's power summed), in dB relative to the clip's loud frames. Gain,
polarity, channel swaps or inversions, resampling, lossy coding, added noise and a low-pass
above 4 kHz leave those peaks where they were; a pitch shift moves them along the frequency
axis, a tempo change stretches the time axis, a delay shifts it.

:mod:`scoring.copies.align` finds the pitch shift, tempo ratio and offset that best map one
print onto another; :mod:`scoring.copies.match` decides whether, so mapped, one clip *contains*
the other: a copy, however disguised, holds every strong peak of its original (added noise and
distortion only add peaks), while two different pieces, even two seeds of one generator that
share chords, drums and intro, each hold notes the other lacks.
"""

from scoring.copies.match import FingerprintMatch, compare
from scoring.copies.prints import Fingerprint

__all__ = ["Fingerprint", "FingerprintMatch", "compare"]
