"""Melody conditioning for MusicGen-Melody: a one-hot chromagram of a reference clip.

Reproduces ``MusicgenMelodyFeatureExtractor`` (power spectrogram with a Hann window, centred
frames, librosa chroma filters, arg-max one-hot per frame) with ``torch.stft``, because the
transformers feature extractor requires torchaudio, which cannot be installed next to CPU torch
2.13. The arg-max makes the result independent of spectrogram scaling, so torchaudio's
``normalized=True`` needs no counterpart. No stem separation (Demucs) is done: the whole mix
conditions the melody, which the model tolerates but follows less closely.
"""

import logging

import numpy as np
import soxr
import torch
from transformers.audio_utils import chroma_filter_bank

from tuneforge.audio.intake import AudioRejected, decode_audio_b64

__all__ = ["chroma_features", "reference_chroma"]

log = logging.getLogger(__name__)


def chroma_features(
    mono: np.ndarray,
    *,
    sample_rate: int,
    n_fft: int = 16384,
    hop_length: int = 4096,
    num_chroma: int = 12,
    max_seconds: float = 30.0,
) -> torch.Tensor:
    """One-hot chroma of ``mono`` (shape ``(n,)``, float, any rate; resampled to ``sample_rate``).

    Returns:
        float32 tensor ``(1, frames, num_chroma)``, one 1.0 per frame at the strongest pitch class;
        ``frames = 1 + len // hop_length`` over at most ``max_seconds`` of audio.
    """
    wav = np.asarray(mono, dtype=np.float32)[: int(max_seconds * sample_rate)]
    if wav.ndim != 1 or wav.size == 0:
        raise ValueError(f"chroma needs non-empty mono audio, got shape {wav.shape}")
    x = torch.from_numpy(np.ascontiguousarray(wav))
    if x.numel() < n_fft:
        pad = n_fft - x.numel()
        x = torch.nn.functional.pad(x, (pad // 2, pad - pad // 2))
    spec = torch.stft(
        x,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=n_fft,
        window=torch.hann_window(n_fft),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).abs() ** 2  # (n_fft // 2 + 1, frames)
    filters = torch.from_numpy(
        chroma_filter_bank(sampling_rate=sample_rate, num_frequency_bins=n_fft, tuning=0, num_chroma=num_chroma)
    ).float()  # (num_chroma, n_fft // 2 + 1)
    raw = filters @ spec  # (num_chroma, frames)
    idx = raw.argmax(dim=0)
    one_hot = torch.zeros(raw.shape[1], num_chroma)
    one_hot[torch.arange(raw.shape[1]), idx] = 1.0
    return one_hot[None]


def reference_chroma(
    reference_b64: str | None, *, sample_rate: int, n_fft: int, hop_length: int, num_chroma: int
) -> torch.Tensor | None:
    """Chroma ``(1, frames, num_chroma)`` of a base64 reference clip, or None when there is none.

    The clip goes through the strict intake. A clip the intake rejects is logged (with its
    reason) and the caller generates from text alone: a bad style reference should not fail
    the whole request.
    """
    if not reference_b64:
        return None
    try:
        clip = decode_audio_b64(reference_b64)
    except AudioRejected as exc:
        log.warning("reference audio rejected (%s); generating from text only", exc.reason)
        return None
    mono = clip.mono()
    if clip.sample_rate != sample_rate:
        mono = soxr.resample(mono, clip.sample_rate, sample_rate).astype(np.float32)
    return chroma_features(mono, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, num_chroma=num_chroma)
