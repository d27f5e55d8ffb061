"""Exact repetition at a long lag: a clip that is one piece of audio tiled over and over.

The artifact penalty's short-loop measure looks for waveform repeats at 80 ms-1 s. A loop of a
few seconds (a bar or two of real music, tiled) passes it, and its notes, attacks and harmony are
all real; what gives it away is that it repeats *exactly*. Played and produced music repeats its
sections too, but never frame for frame across the whole clip: a performance drifts, a mix
moves, parts enter and leave (corpus, confirmed share below: ≤ 0.17 in 10 s and 30 s excerpts;
a tiled 4 s loop: ≥ 0.51).

:func:`exact_repeat_share` compares the mel spectrogram (``Features.log_mel``) with itself one
lag later. A frame *matches* when its spectrum, after removing the mean level difference
(so a loop tiled at a different gain still matches), is within ``REPEAT_MATCH_DB`` on average
over the bands. The share of the clip's audible frames that match is measured at candidate lags
from ``REPEAT_MIN_LAG_SECONDS`` to half the clip (the strongest peaks of the spectrogram's
autocorrelation, each ±1 frame, so a loop that is not a whole number of frames long is found).
Each share is made specific to its lag: the share at lags a little away is subtracted, because a
held tone or a drone matches itself at every lag (that is a steady sound, which other measures
judge, not a loop). "Away" is each of the ``REPEAT_AWAY_SECONDS`` offsets on both sides, and the
offset that matches least is the one subtracted: a loop of period P matches at every multiple
of P, and no P longer than a frame divides both offsets, so a tiled loop (of any length) keeps
its share while a held tone loses it.

A loop repeats again one period later; a song that plays a section twice does not play it a
third time at the same spacing. So a share is *confirmed* at twice its lag: the reported share is
the smaller of the lag-specific share at the lag and the share at twice the lag (±1 frame),
wherever twice the lag still leaves ``REPEAT_CONFIRM_SECONDS`` of overlap (corpus music and procedural renders
whose sections repeat exactly: ≤ 0.6 at the lag, ≤ 0.1 at twice it; tiled loops ≥ 0.57 at both).
A lag too long to be confirmed keeps its unconfirmed share.
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C

if TYPE_CHECKING:
    from scoring.features import Features

__all__ = ["exact_repeat_share", "match_share"]

_EXTRA = "exact_repeat"


def _spectrogram(f: "Features") -> tuple[np.ndarray, np.ndarray]:
    """Log-mel floored ``REPEAT_FLOOR_DB`` under its loudest cell, float64 ``(bands, frames)``,
    and the audible-frame mask ``(frames,)``."""
    lm = f.log_mel.astype(np.float64)
    top = float(lm.max()) if lm.size else 0.0
    lm = np.maximum(lm, top - C.REPEAT_FLOOR_DB)
    audible = lm.max(axis=0) > top - C.REPEAT_AUDIBLE_DB
    return lm, audible


def match_share(lm: np.ndarray, audible: np.ndarray, lag: int) -> float:
    """Share of audible frames ``t ≥ lag`` of ``lm`` ``(bands, frames)`` whose spectrum matches
    frame ``t − lag``: the mean absolute difference, after removing the mean difference, over
    the bands within ``REPEAT_RANGE_DB`` of the louder frame's strongest band in either frame
    (bands both frames leave empty say nothing), under ``REPEAT_MATCH_DB``. 0.0 when the lag
    leaves fewer than 8 frames."""
    n = lm.shape[1]
    if lag < 1 or n - lag < 8:
        return 0.0
    ok = audible[lag:]
    if not ok.any():
        return 0.0
    a, b = lm[:, lag:][:, ok], lm[:, :-lag][:, ok]
    louder = np.maximum(a, b)
    used = louder > louder.max(axis=0, keepdims=True) - C.REPEAT_RANGE_DB
    count = np.maximum(used.sum(axis=0), 1)
    d = (a - b) * used
    d -= used * (d.sum(axis=0, keepdims=True) / count)  # the mean level difference of the used bands
    dev = np.abs(d).sum(axis=0) / count
    return float(np.mean(dev < C.REPEAT_MATCH_DB))


def _candidate_lags(lm: np.ndarray, lo: int, hi: int, k: int) -> list[int]:
    """The ``k`` lags in [lo, hi] with the highest (overlap-normalised) autocorrelation of the
    mean-removed spectrogram that are local maxima."""
    x = lm - lm.mean(axis=1, keepdims=True)
    n = x.shape[1]
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, nfft, axis=1)
    ac = np.fft.irfft(np.sum(np.abs(spec) ** 2, axis=0), nfft)[: hi + 2]
    ac = ac / np.maximum(n - np.arange(ac.size), 1)
    inner = np.arange(max(lo, 1), hi + 1)
    peaks = inner[(ac[inner] >= ac[inner - 1]) & (ac[inner] >= ac[inner + 1])]
    if peaks.size == 0:
        return []
    best = peaks[np.argsort(-ac[peaks], kind="stable")[:k]]
    return sorted(int(p) for p in best)


def exact_repeat_share(f: "Features") -> tuple[float, float]:
    """``(share, lag_seconds)``: the lag-specific, confirmed share of audible frames that repeat
    the frame one lag earlier exactly (see the module doc), at the best candidate lag;
    ``(0.0, 0.0)`` when the clip is shorter than two minimum lags. Cached in the clip's extras."""
    cached = f.get_extra(_EXTRA)
    if cached is not None:
        return cached
    lm, audible = _spectrogram(f)
    fr = f.frame_rate
    n = lm.shape[1]
    lo = int(round(C.REPEAT_MIN_LAG_SECONDS * fr))
    hi = n // 2
    best = (0.0, 0.0)
    if hi > lo:
        lags = sorted(
            {lag for c in _candidate_lags(lm, lo, hi, C.REPEAT_CANDIDATES) for lag in (c - 1, c, c + 1)}
        )
        raw = sorted(((match_share(lm, audible, lag), lag) for lag in lags), reverse=True)
        aways = [int(round(s * fr)) for s in C.REPEAT_AWAY_SECONDS]
        for share, lag in raw[: C.REPEAT_VERIFIED]:
            if share <= best[0]:
                break
            elsewhere = min(
                max(match_share(lm, audible, lag - away), match_share(lm, audible, lag + away))
                for away in aways
            )
            specific = max(0.0, share - elsewhere)
            if n - 2 * lag - 1 >= int(round(C.REPEAT_CONFIRM_SECONDS * fr)):
                # ±1 frame: twice a lag that is not a whole number of frames may round either way
                again = max(match_share(lm, audible, 2 * lag + d) for d in (-1, 0, 1))
                specific = min(specific, again)
            if specific > best[0]:
                best = (specific, lag / fr)
    f.set_extra(_EXTRA, best)
    return best
