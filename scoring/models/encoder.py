"""A self-supervised music encoder's hidden states (MERT-v1-95M by default) for ``neural_quality``.

Any transformers audio encoder that loads through ``AutoModel`` + ``AutoFeatureExtractor`` and
returns ``hidden_states`` works (MERT, HuBERT, Wav2Vec2; MERT ships custom code, which is run
from the local directory only, with ``trust_remote_code=True`` when the directory holds
``*.py`` files). A clip is resampled once to the encoder's rate and cut into fixed
``ENCODER_WINDOW_SECONDS`` windows from the start (full windows only, unless the clip is
shorter than one; at most ``ENCODER_MAX_WINDOWS``, evenly spaced). Windows of the same length
from all clips of a round are batched. Per clip we keep the per-layer time-mean of every
hidden layer (``(L, H)``, what the reference statistics describe) and a coherence measure: the
mean cosine between consecutive ~1 s segment means of the middle layer.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from scoring import constants as C
from scoring.models.loading import ModelLoadError, inference, model_identity, model_name, offline

__all__ = ["MusicEncoder", "EncoderSummary", "encoder_windows"]

logger = logging.getLogger(__name__)

_BATCH = 8
_SEGMENT_SECONDS = 1.0


@dataclass(frozen=True)
class EncoderSummary:
    """What the encoder says about one clip.

    ``layer_means``: float32 ``(L, H)`` time- and window-mean of each hidden layer (L includes
    the input embedding layer); ``coherence``: mean cosine in [-1, 1] between consecutive ~1 s
    segment means of the middle layer (NaN when the clip has a single segment)."""

    layer_means: np.ndarray
    coherence: float


def encoder_windows(mono: np.ndarray, *, sample_rate: int) -> list[np.ndarray]:
    """Fixed ``ENCODER_WINDOW_SECONDS`` windows of ``mono`` (float32 ``(n,)``): full windows from
    the start, at most ``ENCODER_MAX_WINDOWS`` (evenly spaced when there are more); the whole
    clip when it is shorter than one window."""
    window = int(round(C.ENCODER_WINDOW_SECONDS * sample_rate))
    n_full = mono.shape[0] // window
    if n_full == 0:
        return [mono]
    idx = np.arange(n_full)
    if n_full > C.ENCODER_MAX_WINDOWS:
        idx = np.unique(np.round(np.linspace(0, n_full - 1, C.ENCODER_MAX_WINDOWS)).astype(int))
    return [mono[i * window : (i + 1) * window] for i in idx]


class MusicEncoder:
    """A loaded encoder + feature extractor. Build with :meth:`from_dir`; load once per process."""

    def __init__(self, *, model, extractor, name: str, identity: str, device: str = "cpu") -> None:
        self.model = model.eval()
        self.extractor = extractor
        self.name = name
        self.identity = identity
        self.device = device
        self.sample_rate = int(extractor.sampling_rate)

    @classmethod
    def from_dir(cls, directory: Path, *, device: str = "cpu") -> "MusicEncoder":
        """Load ``directory`` offline. Raises ModelLoadError when it is not a usable encoder."""
        offline()
        from transformers import AutoFeatureExtractor, AutoModel

        directory = Path(directory)
        remote = any(directory.glob("*.py"))  # MERT ships its modelling code next to the weights
        try:
            extractor = AutoFeatureExtractor.from_pretrained(directory, local_files_only=True, trust_remote_code=remote)
            model = AutoModel.from_pretrained(directory, local_files_only=True, trust_remote_code=remote).to(device)
        except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
            raise ModelLoadError(f"cannot load the music encoder from {directory}: {exc}") from exc
        if not hasattr(extractor, "sampling_rate"):
            raise ModelLoadError(f"{directory}: feature extractor has no sampling_rate; not an audio encoder")
        return cls(model=model, extractor=extractor, name=model_name(directory),
                   identity=model_identity(directory), device=device)

    def resample(self, mono: np.ndarray, *, sample_rate: int) -> np.ndarray:
        x = np.asarray(mono, dtype=np.float32)
        if sample_rate != self.sample_rate:
            x = soxr.resample(x, sample_rate, self.sample_rate, quality="HQ")
        return np.ascontiguousarray(x, dtype=np.float32)

    def summarize_recordings(self, recordings: list[tuple[np.ndarray, int]]) -> list[EncoderSummary]:
        """:meth:`summarize` of ``(mono float (frames,), sample_rate)`` pairs, resampled once."""
        return self.summarize([self.resample(m, sample_rate=sr) for m, sr in recordings])

    def summarize(self, clips: list[np.ndarray]) -> list[EncoderSummary]:
        """One :class:`EncoderSummary` per mono clip (float32 ``(n,)`` at :attr:`sample_rate`)."""
        windows: list[np.ndarray] = []
        owner: list[int] = []
        for i, clip in enumerate(clips):
            for w in encoder_windows(clip, sample_rate=self.sample_rate):
                windows.append(w)
                owner.append(i)
        # batch windows of equal length (all full windows share one length)
        states: list[np.ndarray | None] = [None] * len(windows)
        by_len: dict[int, list[int]] = {}
        for k, w in enumerate(windows):
            by_len.setdefault(int(w.shape[0]), []).append(k)
        for ks in by_len.values():
            for s in range(0, len(ks), _BATCH):
                chunk = ks[s : s + _BATCH]
                for k, st in zip(chunk, self._hidden_states([windows[k] for k in chunk])):
                    states[k] = st
        out = []
        for i in range(len(clips)):
            mine = [k for k in range(len(windows)) if owner[k] == i]
            seconds = windows[mine[0]].shape[0] / self.sample_rate
            out.append(self._summary([states[k] for k in mine], window_seconds=seconds))
        return out

    def _hidden_states(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        """Hidden states of equal-length windows: one float32 ``(L, T, H)`` per window."""
        inputs = self.extractor(windows, sampling_rate=self.sample_rate, return_tensors="pt")
        values = inputs["input_values"].to(self.device, dtype=self.model.dtype)
        with inference():
            out = self.model(input_values=values, output_hidden_states=True)
        hidden = getattr(out, "hidden_states", None)
        if hidden is None:
            raise ModelLoadError(f"encoder {self.name} returned no hidden_states")
        stacked = np.stack([h.float().cpu().numpy() for h in hidden], axis=1)  # (B, L, T, H)
        return list(stacked)

    def _summary(self, states: list[np.ndarray], *, window_seconds: float) -> EncoderSummary:
        layer_means = np.mean([s.mean(axis=1) for s in states], axis=0).astype(np.float32)  # (L, H)
        mid = states[0].shape[0] // 2
        frames = np.concatenate([s[mid] for s in states], axis=0).astype(np.float64)  # (T_total, H)
        frames_per_window = states[0].shape[1]
        seg = max(1, int(round(frames_per_window * _SEGMENT_SECONDS / window_seconds)))
        n_seg = frames.shape[0] // seg
        if n_seg < 2:
            return EncoderSummary(layer_means=layer_means, coherence=float("nan"))
        segs = frames[: n_seg * seg].reshape(n_seg, seg, -1).mean(axis=1)
        segs /= np.maximum(np.linalg.norm(segs, axis=1, keepdims=True), 1e-12)
        coherence = float(np.mean(np.sum(segs[:-1] * segs[1:], axis=1)))
        return EncoderSummary(layer_means=layer_means, coherence=coherence)
