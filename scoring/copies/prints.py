"""The fingerprint of one clip: the strongest spectral peaks of each frame, and what the matcher derives from them.

Extraction (:meth:`Fingerprint.from_samples`), on the first ``FINGERPRINT_MAX_SECONDS``:

1. every channel is resampled (soxr HQ) to ``FINGERPRINT_SAMPLE_RATE`` and framed with a
   ``FINGERPRINT_N_FFT`` Hann window every ``FINGERPRINT_HOP`` samples; the channels' power
   spectra are **summed**, so polarity, a swapped or inverted channel, or mono↔stereo leave the
   print (up to gain) unchanged;
2. a log-frequency filterbank (``FINGERPRINT_BINS_PER_OCTAVE`` triangular bins from
   ``FINGERPRINT_FMIN_HZ`` to ``FINGERPRINT_FMAX_HZ``) gives a ``(F, T)`` spectrogram in dB
   relative to the 95th percentile of the frames' maxima — gain-invariant;
3. per frame, the local maxima along frequency within ``FINGERPRINT_PEAK_DEPTH_DB`` of the
   frame's strongest, at most ``FINGERPRINT_PEAKS_PER_FRAME`` of them, strongest first, are kept.

Stored: ``bins`` ``(T, R)`` uint8 (``NO_BIN`` where a frame has fewer peaks) and ``levels``
``(T, R)`` int8 dB (``NO_LEVEL`` there): ≤ 24 kB for 30 s. Everything else (a dense
approximation of the spectrogram, the strong-peak table, a pitch histogram, an onset curve) is
derived once per print, lazily, and cached on it.
"""

import functools
import hashlib
import logging

import numpy as np
import soxr
from scipy import ndimage

from scoring import constants as C

__all__ = ["Fingerprint", "NO_BIN", "NO_LEVEL", "n_bins", "frame_seconds"]

logger = logging.getLogger(__name__)

NO_BIN = 255
NO_LEVEL = -128
#: Format of the stored arrays; bump when extraction changes (history files keep the version).
FORMAT_VERSION = 2
#: dB assigned where a print has no information (far below anything stored).
_ABSENT_DB = -200.0
_QUICK_TOP = 4  # peaks per frame that must be found (pre-filter)
_QUICK_REF = 10  # among this many of the other print's peaks
_CLIP_FLOOR_DB = -50.0  # strong peaks must also be loud in absolute (clip-relative) terms
#: Derived arrays :meth:`Fingerprint.release` drops (the ``(F, T)`` ones; ~0.8 MB for 30 s).
_HEAVY = (
    "tolerant",
    "strong_peaks",
    "quick_peaks",
    "sharp_mask",
    "quick_mask",
    "pitch_histogram",
    "onset_curve",
    "_stretched_onsets",
)


def frame_seconds() -> float:
    """Seconds between fingerprint frames (64 ms)."""
    return C.FINGERPRINT_HOP / C.FINGERPRINT_SAMPLE_RATE


@functools.lru_cache(maxsize=1)
def n_bins() -> int:
    """Number of log-frequency bins ``F`` (171)."""
    return (
        int(np.floor(C.FINGERPRINT_BINS_PER_OCTAVE * np.log2(C.FINGERPRINT_FMAX_HZ / C.FINGERPRINT_FMIN_HZ)))
        + 1
    )


@functools.lru_cache(maxsize=1)
def _filterbank() -> tuple[np.ndarray, int]:
    """Triangular log-frequency filterbank ``(F, n_stft)`` float32 (rows sum to 1) over the first
    ``n_stft`` STFT bins (those any filter touches)."""
    nf = n_bins()
    bpo = C.FINGERPRINT_BINS_PER_OCTAVE
    centres = C.FINGERPRINT_FMIN_HZ * 2.0 ** (np.arange(-1, nf + 1) / bpo)
    freqs = np.arange(C.FINGERPRINT_N_FFT // 2 + 1) * C.FINGERPRINT_SAMPLE_RATE / C.FINGERPRINT_N_FFT
    df = freqs[1]
    w = np.zeros((nf, freqs.size))
    for j in range(nf):
        lo, c, hi = centres[j], centres[j + 1], centres[j + 2]
        lo, hi = min(lo, c - df), max(hi, c + df)  # at least one STFT bin either side
        w[j] = np.maximum(0.0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
        w[j] /= w[j].sum()
    used = int(np.max(np.nonzero(w.any(axis=0))[0])) + 1
    return np.ascontiguousarray(w[:, :used].T, dtype=np.float32), used


def _spectrogram_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(F, T)`` float32 log-frequency power spectrogram in dB (unreferenced), channels summed."""
    fb, used = _filterbank()
    n_fft, hop = C.FINGERPRINT_N_FFT, C.FINGERPRINT_HOP
    window = np.hanning(n_fft).astype(np.float32)
    power = None
    for ch in samples:
        y = (
            ch
            if sample_rate == C.FINGERPRINT_SAMPLE_RATE
            else soxr.resample(ch, sample_rate, C.FINGERPRINT_SAMPLE_RATE, quality="HQ")
        )
        y = np.pad(np.asarray(y, dtype=np.float32), (n_fft // 2, n_fft // 2))
        frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
        spec = np.fft.rfft(frames * window, axis=1)[:, :used]
        p = spec.real.astype(np.float32) ** 2 + spec.imag.astype(np.float32) ** 2
        power = p if power is None else power + p
    assert power is not None
    return (10.0 * np.log10(power @ fb + 1e-20)).T.astype(np.float32)


class Fingerprint:
    """Spectral-peak fingerprint of one clip (see the module docstring).

    ``bins``: uint8 ``(T, R)`` log-frequency bin of each stored peak, strongest first, ``NO_BIN``
    for none; ``levels``: int8 ``(T, R)`` its level in dB relative to the clip's loud frames,
    ``NO_LEVEL`` for none. Frames are ``frame_seconds()`` apart. Immutable once built.
    """

    def __init__(self, bins: np.ndarray, levels: np.ndarray) -> None:
        bins = np.asarray(bins)
        levels = np.asarray(levels)
        if bins.ndim != 2 or bins.shape != levels.shape or bins.dtype != np.uint8 or levels.dtype != np.int8:
            raise ValueError(
                f"fingerprint arrays must be (T, R) uint8 and int8, got {bins.shape} {bins.dtype}, "
                f"{levels.shape} {levels.dtype}"
            )
        present = bins != NO_BIN
        if np.any(present != (levels != NO_LEVEL)) or np.any(bins[present] >= n_bins()):
            raise ValueError("fingerprint bins and levels disagree or a bin is out of range")
        self.bins = np.ascontiguousarray(bins)
        self.levels = np.ascontiguousarray(levels)
        self.bins.flags.writeable = False
        self.levels.flags.writeable = False

    # --- construction and storage ---------------------------------------------------------------
    @classmethod
    def from_samples(cls, samples: np.ndarray, sample_rate: int) -> "Fingerprint":
        """Fingerprint of ``samples`` (float ``(channels, frames)`` or ``(frames,)``, finite) at
        ``sample_rate`` Hz; an empty print (0 frames) for a clip shorter than one window."""
        x = np.atleast_2d(np.asarray(samples, dtype=np.float32))
        x = x[:, : int(round(C.FINGERPRINT_MAX_SECONDS * sample_rate))]
        r = C.FINGERPRINT_PEAKS_PER_FRAME
        if x.shape[1] * C.FINGERPRINT_SAMPLE_RATE < C.FINGERPRINT_N_FFT * sample_rate:
            return cls(np.full((0, r), NO_BIN, np.uint8), np.full((0, r), NO_LEVEL, np.int8))
        return cls.from_spectrogram(_spectrogram_db(x, int(sample_rate)))

    @classmethod
    def from_spectrogram(cls, db: np.ndarray) -> "Fingerprint":
        """Fingerprint of a ``(F, T)`` log-frequency power spectrogram in dB (any reference), as
        :func:`_spectrogram_db` makes it: steps 2–3 of the module docstring."""
        r = C.FINGERPRINT_PEAKS_PER_FRAME
        db = np.array(db, dtype=np.float32)
        if db.shape[1] == 0:
            return cls(np.full((0, r), NO_BIN, np.uint8), np.full((0, r), NO_LEVEL, np.int8))
        top = db.max(axis=0)
        ref = float(np.percentile(top, 95))
        db -= ref
        top -= ref
        peak = np.zeros(db.shape, dtype=bool)
        peak[1:-1] = (db[1:-1] > db[:-2]) & (db[1:-1] >= db[2:])
        peak &= db >= (top - C.FINGERPRINT_PEAK_DEPTH_DB)[None, :]
        peak &= db > -120.0  # digital silence
        value = np.where(peak, db, -np.inf)
        order = np.argsort(-value, axis=0, kind="stable")[:r]  # (R, T), strongest first
        level = np.take_along_axis(value, order, axis=0)
        ok = np.isfinite(level)
        bins = np.where(ok, order, NO_BIN).astype(np.uint8).T
        levels = np.where(ok, np.clip(np.round(level), -127, 127), NO_LEVEL).astype(np.int8).T
        if bins.shape[1] < r:  # fewer bins than R (cannot happen with 171 bins, kept for safety)
            pad = r - bins.shape[1]
            bins = np.pad(bins, ((0, 0), (0, pad)), constant_values=NO_BIN)
            levels = np.pad(levels, ((0, 0), (0, pad)), constant_values=NO_LEVEL)
        return cls(bins, levels)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"bins": ..., "levels": ...}`` for storage (:meth:`from_arrays` reads them back)."""
        return {"bins": np.array(self.bins), "levels": np.array(self.levels)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Fingerprint":
        return cls(arrays["bins"], arrays["levels"])

    @property
    def n_frames(self) -> int:
        return int(self.bins.shape[0])

    @property
    def duration_seconds(self) -> float:
        return self.n_frames * frame_seconds()

    @property
    def nbytes(self) -> int:
        return int(self.bins.nbytes + self.levels.nbytes)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Fingerprint)
            and np.array_equal(self.bins, other.bins)
            and np.array_equal(self.levels, other.levels)
        )

    __hash__ = object.__hash__  # identity: prints are cached per object

    def __repr__(self) -> str:
        return f"Fingerprint({self.n_frames} frames, {int(np.sum(self.bins != NO_BIN))} peaks)"

    @functools.cached_property
    def digest(self) -> bytes:
        """SHA-256 of the stored arrays: orders a pair canonically (the matcher is then symmetric)."""
        h = hashlib.sha256()
        h.update(np.int64(self.n_frames).tobytes())
        h.update(self.bins.tobytes())
        h.update(self.levels.tobytes())
        return h.digest()

    def release(self) -> None:
        """Drop the derived arrays cached on this print (they are rebuilt when next needed). A
        validator keeps thousands of history prints: holding their ``(F, T)`` derivations would
        cost ~0.8 MB each, the stored arrays cost ~22 kB."""
        for name in _HEAVY:
            self.__dict__.pop(name, None)

    # --- derived, cached --------------------------------------------------------------------------
    @functools.cached_property
    def _present(self) -> np.ndarray:
        return self.bins != NO_BIN

    @functools.cached_property
    def top(self) -> np.ndarray:
        """Each frame's strongest peak (dB), ``_ABSENT_DB`` for a frame without peaks; ``(T,)`` float32."""
        lv = np.where(self._present, self.levels.astype(np.float32), _ABSENT_DB)
        return lv.max(axis=1) if self.n_frames else np.zeros(0, np.float32)

    @functools.cached_property
    def active_frames(self) -> int:
        """Frames whose strongest peak is above ``FINGERPRINT_SILENCE_DB``."""
        return int(np.sum(self.top > C.FINGERPRINT_SILENCE_DB))

    def dense(self) -> np.ndarray:
        """Approximate ``(F, T)`` float32 dB spectrogram rebuilt from the stored peaks: a peak's
        level at its bin, 6 dB under it on either neighbour (the slope), and elsewhere 3 dB under
        the frame's floor (its weakest stored peak when the frame is full, else the storage depth
        under its strongest): what the clip holds at most there."""
        f_n, t_n = n_bins(), self.n_frames
        out = np.full((f_n, t_n), _ABSENT_DB, np.float32)
        t_idx = np.broadcast_to(np.arange(t_n)[:, None], self.bins.shape)
        p = self._present
        out[self.bins[p], t_idx[p]] = self.levels[p].astype(np.float32)
        slope = ndimage.maximum_filter1d(out, 3, axis=0) - 6.0
        lv = np.where(p, self.levels.astype(np.float32), np.inf)
        full = p.all(axis=1)
        floor = np.where(full, lv.min(axis=1) if t_n else 0.0, self.top - C.FINGERPRINT_PEAK_DEPTH_DB) - 3.0
        return np.maximum(np.maximum(out, slope), floor[None, :]).astype(np.float32)

    def peak_map(self) -> np.ndarray:
        """``(F, T)`` float32: each stored peak's level at its bin, ``_ABSENT_DB`` elsewhere."""
        out = np.full((n_bins(), self.n_frames), _ABSENT_DB, np.float32)
        t_idx = np.broadcast_to(np.arange(self.n_frames)[:, None], self.bins.shape)
        p = self._present
        out[self.bins[p], t_idx[p]] = self.levels[p].astype(np.float32)
        return out

    @functools.cached_property
    def tolerant(self) -> tuple[np.ndarray, np.ndarray]:
        """(:meth:`peak_map` max-filtered over ±``FINGERPRINT_TOLERANCE_BINS`` bins and ±1 frame,
        :attr:`top` max-filtered over ±1 frame): the strongest *peak* this clip has near a point,
        for the absence test. Only peaks explain a peak: a dense, noise-like spectrum is loud
        everywhere but holds no peak at most places, so it cannot pass for a container of anything."""
        if self.n_frames == 0:
            return np.zeros((n_bins(), 0), np.float32), np.zeros(0, np.float32)
        size = (2 * C.FINGERPRINT_TOLERANCE_BINS + 1, 3)
        return (
            ndimage.maximum_filter(self.peak_map(), size=size, mode="constant", cval=_ABSENT_DB),
            ndimage.maximum_filter1d(self.top, 3, mode="nearest"),
        )

    @functools.cached_property
    def strong_peaks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Strong peaks ``(bin, frame, level re its frame's strongest)``, three ``(n,)`` arrays:
        within ``FINGERPRINT_STRONG_DB`` of the frame's strongest and above −50 dB re the clip."""
        p = self._present
        lv = self.levels.astype(np.float32)
        rel = lv - self.top[:, None]
        keep = p & (rel >= -C.FINGERPRINT_STRONG_DB) & (lv > _CLIP_FLOOR_DB)
        t_idx = np.broadcast_to(np.arange(self.n_frames)[:, None], self.bins.shape)
        return self.bins[keep].astype(np.int64), t_idx[keep].astype(np.int64), rel[keep]

    @functools.cached_property
    def quick_peaks(self) -> tuple[np.ndarray, np.ndarray]:
        """``(bin, frame)`` of the ``_QUICK_TOP`` strongest peaks of each frame above −50 dB."""
        b, lv = self.bins[:, :_QUICK_TOP], self.levels[:, :_QUICK_TOP]
        keep = (b != NO_BIN) & (lv > _CLIP_FLOOR_DB)
        t_idx = np.broadcast_to(np.arange(self.n_frames)[:, None], b.shape)
        return b[keep].astype(np.int64), t_idx[keep].astype(np.int64)

    @functools.cached_property
    def sharp_mask(self) -> np.ndarray:
        """``(F, T)`` bool: within ±1 bin (same frame) of one of each frame's ``_QUICK_REF`` strongest peaks."""
        m = np.zeros((n_bins(), self.n_frames), dtype=bool)
        b = self.bins[:, :_QUICK_REF]
        keep = b != NO_BIN
        t_idx = np.broadcast_to(np.arange(self.n_frames)[:, None], b.shape)
        m[b[keep], t_idx[keep]] = True
        return ndimage.binary_dilation(m, structure=np.ones((3, 1), bool)) if self.n_frames else m

    @functools.cached_property
    def quick_mask(self) -> np.ndarray:
        """:attr:`sharp_mask` widened by ±1 frame."""
        m = self.sharp_mask
        return ndimage.binary_dilation(m, structure=np.ones((1, 3), bool)) if self.n_frames else m

    @functools.cached_property
    def pitch_histogram(self) -> np.ndarray:
        """How often each bin holds one of a frame's 4 strongest peaks, minus its running mean over
        a third of an octave; float64 ``(F,)``. A pitch shift translates it."""
        b, _ = self.quick_peaks
        h = np.bincount(b, minlength=n_bins()).astype(np.float64)
        return h - ndimage.uniform_filter1d(h, C.FINGERPRINT_BINS_PER_OCTAVE // 3 + 1, mode="nearest")

    @functools.cached_property
    def onset_curve(self) -> np.ndarray:
        """Pitch-independent onset strength per frame: summed rises of :meth:`dense` (floored at
        −60 dB) over the previous frame's ±1-bin maximum, high-passed over ~2 s; float64 ``(T,)``."""
        if self.n_frames < 2:
            return np.zeros(self.n_frames)
        d = np.maximum(self.dense(), -60.0).astype(np.float64)
        prev = ndimage.maximum_filter1d(d, 3, axis=0)
        rise = np.zeros(self.n_frames)
        rise[1:] = np.maximum(d[:, 1:] - prev[:, :-1], 0.0).sum(axis=0)
        return rise - ndimage.uniform_filter1d(rise, 31, mode="nearest")
