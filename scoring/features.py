"""Per-clip features, computed lazily and at most once: the single cache every signal reads.

A :class:`Features` wraps one decoded clip. Each analysis (the analysis-rate mono signal, one
STFT, one mel spectrogram, one onset envelope, one beat track, one chroma, one bounded HPSS, one
pitch track, loudness, true peak, fingerprint, DSP embedding) is a ``functools.cached_property``
computed the first time a signal asks for it. Signals never recompute what is here; values that
other components compute (CLAP embeddings, instrument match) go into the extras store with
:meth:`Features.set_extra`.
"""

import functools
import logging
from typing import Any

import librosa
import numpy as np
import soxr

from scoring import constants as C
from scoring.chunked import mean_square
from scoring.copies import Fingerprint
from scoring.loudness import integrated_loudness
from scoring.music_theory import Key
from scoring.signals.base import ScoringError

__all__ = ["Features"]

logger = logging.getLogger(__name__)

#: Krumhansl–Kessler key profiles (tonic first).
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_EPS = 1e-10


def _zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / (x.std() + _EPS)


class Features:
    """Lazily computed analyses of one clip.

    ``samples``: float32 ``(channels, frames)`` at ``sample_rate`` Hz, as received. Analyses run
    on ``mono`` (channel mean resampled to ``constants.ANALYSIS_SAMPLE_RATE``); loudness and true
    peak run on the original channels and rate. Frame-based arrays share the STFT's frame grid
    (hop ``constants.STFT_HOP`` at the analysis rate) unless their docstring says otherwise.
    """

    def __init__(self, *, samples: np.ndarray, sample_rate: int) -> None:
        arr = np.asarray(samples)
        if arr.ndim == 1:
            arr = arr[np.newaxis, :]
        if arr.ndim != 2:
            raise ScoringError(f"samples must be (frames,) or (channels, frames), got shape {arr.shape}")
        if arr.shape[0] > 2 and arr.shape[1] <= 2:
            arr = arr.T  # (frames, channels) given: accept it
        if arr.shape[0] not in (1, 2):
            raise ScoringError(f"expected 1 or 2 channels, got {arr.shape[0]}")
        if arr.shape[1] < 2:
            raise ScoringError("clip has no samples")
        if not np.issubdtype(arr.dtype, np.floating):
            raise ScoringError(f"samples must be floating point, got {arr.dtype}")
        if int(sample_rate) <= 0:
            raise ScoringError(f"sample_rate must be positive, got {sample_rate}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise ScoringError("samples contain NaN or Inf")
        self._samples = arr
        self._sample_rate = int(sample_rate)
        self._extras: dict[str, Any] = {}

    @classmethod
    def from_audio(cls, *, samples: np.ndarray, sample_rate: int) -> "Features":
        """Wrap a clip. ``samples``: float ``(channels, frames)`` or ``(frames,)``; ``sample_rate`` in Hz."""
        return cls(samples=samples, sample_rate=sample_rate)

    # --- extras store ---------------------------------------------------------------------
    def set_extra(self, name: str, value: Any) -> None:
        """Store an externally computed value (e.g. ``"clap_audio_embedding"``)."""
        self._extras[name] = value

    def get_extra(self, name: str, default: Any = None) -> Any:
        return self._extras.get(name, default)

    # --- the clip as received -------------------------------------------------------------
    @property
    def samples(self) -> np.ndarray:
        """float32 ``(channels, frames)`` at :attr:`sample_rate`."""
        return self._samples

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def channels(self) -> int:
        return int(self._samples.shape[0])

    @property
    def duration_seconds(self) -> float:
        return self._samples.shape[1] / float(self._sample_rate)

    @property
    def stereo(self) -> np.ndarray | None:
        """``(2, frames)`` when the clip is stereo, else None."""
        return self._samples if self.channels == 2 else None

    @functools.cached_property
    def rms(self) -> float:
        """Full-clip RMS over all channels (linear, full scale = 1); summed in float64 chunk by
        chunk, bit-identical to the one-shot float64 mean (:mod:`scoring.chunked`)."""
        return float(np.sqrt(mean_square(self._samples)))

    @functools.cached_property
    def mono_rms(self) -> float:
        """RMS of the channel mean at the original rate (linear); near 0 when stereo channels cancel."""
        return float(np.sqrt(mean_square(self.mono_original)))

    @functools.cached_property
    def peak(self) -> float:
        """Sample peak (linear)."""
        # max(max, -min) is max |x| without an |x| copy of the clip; abs() turns a -0.0 into 0.0
        return abs(float(max(np.max(self._samples), -np.min(self._samples))))

    @functools.cached_property
    def mono_original(self) -> np.ndarray:
        """Channel mean at the original rate, float32 ``(frames,)`` (``(left + right) / 2`` in
        float32, as ``mean(axis=0)`` computes it, built in place: one array, no float64 copy)."""
        if self.channels == 1:
            return self._samples[0]
        out = np.add(self._samples[0], self._samples[1])
        out /= 2
        return out

    @functools.cached_property
    def mono(self) -> np.ndarray:
        """Channel mean resampled once (soxr) to ``ANALYSIS_SAMPLE_RATE``, float32 ``(n,)``."""
        x = self.mono_original
        if self._sample_rate != C.ANALYSIS_SAMPLE_RATE:
            x = soxr.resample(x, self._sample_rate, C.ANALYSIS_SAMPLE_RATE, quality="HQ")
        return np.ascontiguousarray(x, dtype=np.float32)

    @property
    def analysis_rate(self) -> int:
        return C.ANALYSIS_SAMPLE_RATE

    # --- trained listeners (scoring.listeners: musicnn taggers, basic-pitch notes) ---------
    @functools.cached_property
    def musicnn(self) -> "dict[str, Any] | None":
        """Both musicnn taggers' readings (tagger name → ``MusicnnOutput``: tag probabilities,
        per-patch taggram, 200-d embedding), or None when musicnn is not installed."""
        from scoring import listeners

        return listeners.musicnn_outputs(self)

    @functools.cached_property
    def musicnn_embedding(self) -> np.ndarray | None:
        """Music embedding from the trained taggers, float32 ``(400,)`` (both taggers' penultimate
        features, patch mean), or None when musicnn is not installed."""
        from scoring import listeners

        outputs = self.musicnn
        return None if outputs is None else listeners.musicnn_embedding(outputs)

    @functools.cached_property
    def transcription(self) -> Any:
        """basic-pitch ``Transcription`` of at most ``NOTES_MAX_SECONDS`` (notes with onsets,
        offsets, MIDI pitch, amplitude; posteriorgrams), or None when basic-pitch is absent."""
        from scoring import listeners

        return listeners.transcribe(self)

    # --- spectral front end ---------------------------------------------------------------
    @functools.cached_property
    def stft(self) -> np.ndarray:
        """Complex STFT of :attr:`mono`, ``(1 + n_fft/2, n_frames)`` complex64."""
        return librosa.stft(self.mono, n_fft=C.STFT_N_FFT, hop_length=C.STFT_HOP, center=True)

    @functools.cached_property
    def magnitude(self) -> np.ndarray:
        """``|stft|``, float32 ``(bins, frames)``."""
        return np.abs(self.stft).astype(np.float32)

    @functools.cached_property
    def power(self) -> np.ndarray:
        """``|stft|²``, float32 ``(bins, frames)``."""
        return np.square(self.magnitude)

    @functools.cached_property
    def frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of each STFT bin, ``(bins,)``."""
        return librosa.fft_frequencies(sr=C.ANALYSIS_SAMPLE_RATE, n_fft=C.STFT_N_FFT)

    @property
    def frame_rate(self) -> float:
        """STFT frames per second."""
        return C.ANALYSIS_SAMPLE_RATE / C.STFT_HOP

    @property
    def n_frames(self) -> int:
        return int(self.magnitude.shape[1])

    @functools.cached_property
    def mel(self) -> np.ndarray:
        """Power mel spectrogram ``(N_MELS, frames)``."""
        return librosa.feature.melspectrogram(S=self.power, sr=C.ANALYSIS_SAMPLE_RATE, n_mels=C.N_MELS)

    @functools.cached_property
    def mel_frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of each mel band, ``(N_MELS,)``."""
        return librosa.mel_frequencies(n_mels=C.N_MELS + 2, fmax=C.ANALYSIS_SAMPLE_RATE / 2)[1:-1]

    @functools.cached_property
    def log_mel(self) -> np.ndarray:
        """Mel spectrogram in dB (ref 1.0, floor −100 dB), ``(N_MELS, frames)``."""
        return librosa.power_to_db(self.mel, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)

    @functools.cached_property
    def mfcc(self) -> np.ndarray:
        """``(N_MFCC, frames)`` MFCCs of :attr:`log_mel`."""
        return librosa.feature.mfcc(S=self.log_mel, n_mfcc=C.N_MFCC)

    @functools.cached_property
    def frame_rms(self) -> np.ndarray:
        """Per-frame RMS of :attr:`mono` on the STFT grid (from the spectrum, Parseval), ``(frames,)``."""
        return librosa.feature.rms(S=self.magnitude, frame_length=C.STFT_N_FFT)[0]

    # --- rhythm -----------------------------------------------------------------------------
    @functools.cached_property
    def onset_envelope(self) -> np.ndarray:
        """Spectral-flux onset strength from :attr:`log_mel`, ``(frames,)``."""
        return librosa.onset.onset_strength(S=self.log_mel, sr=C.ANALYSIS_SAMPLE_RATE)

    @functools.cached_property
    def _beat_track(self) -> tuple[float, np.ndarray]:
        tempo, beats = librosa.beat.beat_track(
            onset_envelope=self.onset_envelope, sr=C.ANALYSIS_SAMPLE_RATE, hop_length=C.STFT_HOP
        )
        return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=np.int64)

    @property
    def tempo_bpm(self) -> float:
        """Beat-tracker tempo (BPM; 0.0 when no beat was found)."""
        return self._beat_track[0]

    @property
    def beats(self) -> np.ndarray:
        """Beat positions as STFT frame indices, ``(n_beats,)`` int64."""
        return self._beat_track[1]

    @functools.cached_property
    def beat_times(self) -> np.ndarray:
        """Beat positions in seconds, ``(n_beats,)``."""
        return self.beats / self.frame_rate

    @functools.cached_property
    def onset_autocorrelation(self) -> np.ndarray:
        """Normalised autocorrelation of the mean-removed onset envelope, lags 0..4 s, ``(lags,)``."""
        env = self.onset_envelope.astype(np.float64)
        env = env - env.mean()
        n = env.size
        max_lag = min(n - 1, int(4.0 * self.frame_rate))
        if max_lag < 2 or not np.any(env):
            return np.zeros(max(max_lag, 1) + 1)
        spec = np.fft.rfft(env, 2 * n)
        ac = np.fft.irfft(np.abs(spec) ** 2)[: max_lag + 1]
        ac = ac / (ac[0] + _EPS)
        ac = ac * n / (n - np.arange(max_lag + 1))  # unbiased
        return ac

    # --- tonality ---------------------------------------------------------------------------
    @functools.cached_property
    def chroma(self) -> np.ndarray:
        """Chroma (C first) from the power spectrogram, ``(12, frames)``, each frame max-normalised."""
        # tuning fixed at A440: estimating it costs more than the chroma itself and adds nothing to a key
        return librosa.feature.chroma_stft(S=self.power, sr=C.ANALYSIS_SAMPLE_RATE, tuning=0.0)

    @functools.cached_property
    def key_correlations(self) -> np.ndarray:
        """Krumhansl–Schmuckler correlations of the mean chroma with the 24 keys, ``(2, 12)`` (major, minor)."""
        mean_chroma = self.chroma.mean(axis=1)
        out = np.zeros((2, 12))
        if np.ptp(mean_chroma) < _EPS:
            return out
        z = _zscore(mean_chroma)
        for m, profile in enumerate((_MAJOR_PROFILE, _MINOR_PROFILE)):
            for tonic in range(12):
                out[m, tonic] = float(np.mean(z * _zscore(np.roll(profile, tonic))))
        return out

    @property
    def key(self) -> Key:
        """Most likely key (Krumhansl–Schmuckler on the mean chroma)."""
        m, tonic = np.unravel_index(int(np.argmax(self.key_correlations)), (2, 12))
        return Key(int(tonic), "major" if m == 0 else "minor")

    @property
    def key_strength(self) -> float:
        """Correlation of the mean chroma with the best key profile (−1..1; tonal music ~0.6-0.9)."""
        return float(np.max(self.key_correlations))

    # --- loudness ---------------------------------------------------------------------------
    @functools.cached_property
    def loudness_lufs(self) -> float:
        """BS.1770 gated integrated loudness (LUFS) on the original channels and rate; −inf if silent."""
        # pyloudnorm's measurement, streamed (scoring.loudness): no float64 copy of the clip;
        # clips under one 400 ms block are zero-padded to one block as before
        value = integrated_loudness(self._samples, self._sample_rate)
        return value if np.isfinite(value) else float("-inf")

    @functools.cached_property
    def true_peak_dbfs(self) -> float:
        """True peak (dBTP): the maximum of each channel oversampled 4× with soxr."""
        peak = 0.0
        chunk = 1 << 18  # streamed, so a 180 s clip never holds its 4x copy in memory
        for ch in self._samples:
            stream = soxr.ResampleStream(self._sample_rate, 4 * self._sample_rate, 1, dtype="float32", quality="HQ")
            for start in range(0, ch.size, chunk):
                last = start + chunk >= ch.size
                up = stream.resample_chunk(ch[start : start + chunk], last=last)
                if up.size:
                    peak = max(peak, float(np.max(np.abs(up))))
        return float(20.0 * np.log10(max(peak, 1e-10)))

    @functools.cached_property
    def short_term_loudness_db(self) -> np.ndarray:
        """K-free short-term level: RMS dB of 3 s windows hopped by 1 s on :attr:`mono`, ``(windows,)``."""
        x = self.mono
        sr = C.ANALYSIS_SAMPLE_RATE
        win, hop = 3 * sr, sr
        if x.size <= win:
            return np.array([10 * np.log10(mean_square(x) + 1e-12)])
        # the running sum of squares, chunk by chunk: each chunk's first square carries the sum so
        # far, so the sequential cumsum gives the same bits as one cumsum over the whole clip;
        # only its values at the window edges are kept
        starts = np.arange(0, x.size - win + 1, hop)
        edges = np.concatenate([starts, starts + win])  # csum index k = sum of the first k squares
        at_edge = np.zeros(edges.size)
        carry = 0.0
        chunk = 1 << 18
        for lo in range(0, x.size, chunk):
            sq = np.square(x[lo : lo + chunk], dtype=np.float64)
            sq[0] += carry
            csum = np.cumsum(sq, out=sq)
            inside = (edges > lo) & (edges <= lo + csum.size)
            at_edge[inside] = csum[edges[inside] - lo - 1]
            carry = float(csum[-1])
        csum_start, csum_stop = at_edge[: starts.size], at_edge[starts.size :]
        return 10 * np.log10((csum_stop - csum_start) / win + 1e-12)

    # --- harmonic / percussive and pitch ----------------------------------------------------
    @functools.cached_property
    def analysis_excerpt(self) -> slice:
        """STFT-frame slice (centre, ≤ ``HPSS_MAX_SECONDS``) on which HPSS and the pitch track run."""
        n = self.n_frames
        keep = int(C.HPSS_MAX_SECONDS * self.frame_rate)
        if n <= keep:
            return slice(0, n)
        start = (n - keep) // 2
        return slice(start, start + keep)

    @functools.cached_property
    def _pitch_bins(self) -> int:
        return int(np.searchsorted(self.frequencies, C.PITCH_MAX_BIN_HZ))

    @functools.cached_property
    def hpss(self) -> tuple[np.ndarray, np.ndarray]:
        """Harmonic and percussive magnitudes of the bins below ``PITCH_MAX_BIN_HZ`` over
        :attr:`analysis_excerpt`: two float32 ``(bins_low, frames_excerpt)`` arrays (soft masks,
        median filters of ``HPSS_KERNEL``). Run once, on a bounded piece of the spectrogram."""
        mag = self.magnitude[: self._pitch_bins, self.analysis_excerpt]
        h, p = librosa.decompose.hpss(mag, kernel_size=C.HPSS_KERNEL)
        return h.astype(np.float32), p.astype(np.float32)

    @functools.cached_property
    def _salience_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Harmonic-summation weights ``(candidates, bins_low)`` and candidate f0s (Hz)."""
        steps = C.PITCH_BINS_PER_SEMITONE
        n_cand = int(round(12 * steps * np.log2(C.PITCH_FMAX_HZ / C.PITCH_FMIN_HZ))) + 1
        f0s = C.PITCH_FMIN_HZ * 2.0 ** (np.arange(n_cand) / (12.0 * steps))
        bin_hz = C.ANALYSIS_SAMPLE_RATE / C.STFT_N_FFT
        nb = self._pitch_bins
        w = np.zeros((n_cand, nb), dtype=np.float32)
        for h in range(1, C.PITCH_HARMONICS + 1):
            pos = h * f0s / bin_hz
            lo = np.floor(pos).astype(int)
            frac = pos - lo
            ok = lo + 1 < nb
            weight = 0.8 ** (h - 1)
            rows = np.nonzero(ok)[0]
            np.add.at(w, (rows, lo[ok]), weight * (1 - frac[ok]))
            np.add.at(w, (rows, lo[ok] + 1), weight * frac[ok])
        w /= w.sum(axis=1, keepdims=True) + _EPS
        return w, f0s

    @functools.cached_property
    def _pitch_track(self) -> tuple[np.ndarray, np.ndarray]:
        harmonic, _ = self.hpss
        w, f0s = self._salience_matrix
        # whiten each bin by its mean over time so the bass does not own every frame
        white = np.sqrt(harmonic / (harmonic.mean(axis=1, keepdims=True) + 1e-8))
        sal = w @ white  # (candidates, frames)
        best = np.argmax(sal, axis=0)
        peak = sal[best, np.arange(sal.shape[1])]
        ratio = peak / (np.mean(sal, axis=0) + _EPS)
        # parabolic refinement on the log-frequency grid
        i = np.clip(best, 1, sal.shape[0] - 2)
        cols = np.arange(sal.shape[1])
        a, b, c = sal[i - 1, cols], sal[i, cols], sal[i + 1, cols]
        denom = a - 2 * b + c
        delta = np.where(np.abs(denom) > _EPS, 0.5 * (a - c) / np.where(np.abs(denom) > _EPS, denom, 1.0), 0.0)
        delta = np.clip(delta, -0.5, 0.5)
        idx = np.where((best > 0) & (best < sal.shape[0] - 1), best + delta, best)
        f0 = C.PITCH_FMIN_HZ * 2.0 ** (idx / (12.0 * C.PITCH_BINS_PER_SEMITONE))
        # silent frames carry no pitch
        level = self.frame_rms[self.analysis_excerpt]
        loud = level > max(1e-4, 0.05 * float(np.max(level)) if level.size else 0.0)
        ratio = np.where(loud, ratio, 0.0)
        return f0.astype(np.float64), ratio.astype(np.float64)

    @property
    def pitch_hz(self) -> np.ndarray:
        """Predominant f0 (Hz) per frame of :attr:`analysis_excerpt`, from harmonic summation on the
        harmonic magnitudes; read it only where :attr:`voiced`. ``(frames_excerpt,)``."""
        return self._pitch_track[0]

    @property
    def pitch_salience_ratio(self) -> np.ndarray:
        """Peak-to-mean ratio of the pitch salience per frame (≈1 for noise, ≫1 for a clear pitch)."""
        return self._pitch_track[1]

    @functools.cached_property
    def voiced(self) -> np.ndarray:
        """Frames with a clear predominant pitch (salience ratio ≥ 2.2), bool ``(frames_excerpt,)``."""
        return self.pitch_salience_ratio >= 2.2

    @functools.cached_property
    def pitch_midi_all(self) -> np.ndarray:
        """:attr:`pitch_hz` in MIDI note numbers for every frame, voiced or not (float64
        ``(frames_excerpt,)``); callers apply their own voicing gate."""
        return 69.0 + 12.0 * np.log2(np.maximum(self.pitch_hz, 1e-3) / 440.0)

    @functools.cached_property
    def pitch_midi(self) -> np.ndarray:
        """Predominant pitch in MIDI note numbers (float; NaN where unvoiced), ``(frames_excerpt,)``."""
        return np.where(self.voiced, self.pitch_midi_all, np.nan)

    # --- structure ------------------------------------------------------------------------
    @functools.cached_property
    def structure_segments(self) -> tuple[np.ndarray, float]:
        """Pooled (not standardised) chroma + MFCC segments: ``(segments, seconds_per_segment)``,
        ``segments`` float64 ``(n_seg, 12 + N_MFCC - 1)`` (chroma first, then MFCC 1.. / 20),
        ``n_seg ≤ STRUCTURE_MAX_FRAMES``; pooling is at least ``STRUCTURE_POOL_SECONDS``."""
        seconds = max(C.STRUCTURE_POOL_SECONDS, self.duration_seconds / C.STRUCTURE_MAX_FRAMES)
        pool = max(1, int(round(seconds * self.frame_rate)))
        feats = np.vstack([self.chroma, self.mfcc[1:] / 20.0])
        n_seg = feats.shape[1] // pool
        if n_seg < 2:
            return np.zeros((0, feats.shape[0])), pool / self.frame_rate
        seg = feats[:, : n_seg * pool].reshape(feats.shape[0], n_seg, pool).mean(axis=2).T
        return seg, pool / self.frame_rate

    @functools.cached_property
    def structure_features(self) -> tuple[np.ndarray, float]:
        """:attr:`structure_segments`, standardised per dimension, for self-similarity.

        Returns ``(segments, seconds_per_segment)`` with ``segments`` float64 ``(n_seg, 12 + N_MFCC - 1)``.
        """
        seg, seconds = self.structure_segments
        if seg.shape[0] == 0:
            return seg, seconds
        # std floor: a dimension that barely moves (a held tone) must not be blown up into noise
        return (seg - seg.mean(axis=0)) / np.maximum(seg.std(axis=0), 0.05), seconds

    @functools.cached_property
    def self_similarity(self) -> np.ndarray:
        """Cosine self-similarity of :attr:`structure_features`, ``(n_seg, n_seg)`` in [−1, 1]."""
        seg, _ = self.structure_features
        if seg.shape[0] == 0:
            return np.zeros((0, 0))
        unit = seg / (np.linalg.norm(seg, axis=1, keepdims=True) + _EPS)
        return unit @ unit.T

    # --- identity -----------------------------------------------------------------------------
    @functools.cached_property
    def dsp_embedding(self) -> np.ndarray:
        """Unit-norm float32 ``(DSP_EMBEDDING_DIM,)`` timbre/harmony summary: MFCC mean and std (40),
        chroma mean and std (24), 16 coarse log-mel band means and stds (32); each block unit-normed."""
        mf = self.mfcc
        ch = self.chroma
        lm = self.log_mel.reshape(16, C.N_MELS // 16, -1).mean(axis=1)
        blocks = [
            mf.mean(axis=1), mf.std(axis=1), ch.mean(axis=1), ch.std(axis=1),
            lm.mean(axis=1) - lm.mean(), lm.std(axis=1),
        ]
        parts = [b / (np.linalg.norm(b) + _EPS) for b in blocks]
        vec = np.concatenate(parts).astype(np.float64)
        vec /= np.linalg.norm(vec) + _EPS
        assert vec.size == C.DSP_EMBEDDING_DIM
        return vec.astype(np.float32)

    @functools.cached_property
    def fingerprint(self) -> Fingerprint:
        """Spectral-peak fingerprint for copy detection (:class:`scoring.copies.Fingerprint`,
        first ``FINGERPRINT_MAX_SECONDS``; computed from :attr:`samples`, every channel, not
        :attr:`mono`, so a phase-inverted channel cannot hide a copy)."""
        return Fingerprint.from_samples(self._samples, self._sample_rate)
