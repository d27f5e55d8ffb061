"""CLAP text and audio embeddings (LAION checkpoints through transformers' ``ClapModel``).

Audio is resampled once to the model's rate (48 kHz) and cut into FIXED consecutive windows of
``CLAP_WINDOW_SECONDS`` (10 s) from the start of the clip; a trailing partial window is kept
when it lasts at least ``CLAP_MIN_TAIL_SECONDS`` (the feature extractor repeat-pads it) and
dropped otherwise. No window is longer than the extractor's maximum, so its random crop never
runs; for fused checkpoints the extractor's random ``is_longer`` flag is overwritten with
False (every window fits). Raw (projected, unnormalised) window embeddings are averaged and
the mean is L2-normalised: one unit vector ``(d,)`` per clip. Windows of all the clips of a
round go through the audio tower together in batches. Text embeddings are unit vectors,
cached per prompt in a bounded LRU.
"""

import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np
import soxr

from scoring import constants as C
from scoring.models.loading import (
    ModelLoadError,
    check_tokenizer,
    fixed_windows,
    inference,
    model_identity,
    model_name,
    offline,
)

__all__ = ["ClapEmbedder", "clap_windows"]

logger = logging.getLogger(__name__)

_TEXT_CACHE_SIZE = 1024
_AUDIO_BATCH = 16  # windows per forward pass


def clap_windows(mono: np.ndarray, *, sample_rate: int) -> list[np.ndarray]:
    """Fixed consecutive windows of ``CLAP_WINDOW_SECONDS`` of ``mono`` (float32 ``(n,)`` at
    ``sample_rate`` Hz). A trailing partial window shorter than ``CLAP_MIN_TAIL_SECONDS`` is
    dropped unless it is the whole clip. Returns views, each ``(≤ window,)``."""
    return fixed_windows(
        mono,
        window=int(round(C.CLAP_WINDOW_SECONDS * sample_rate)),
        min_tail=int(round(C.CLAP_MIN_TAIL_SECONDS * sample_rate)),
    )


class ClapEmbedder:
    """A loaded CLAP model and processor. Build with :meth:`from_dir`; load once per process."""

    def __init__(self, *, model, processor, name: str, identity: str, device: str = "cpu") -> None:
        self.model = model.eval()
        self.processor = processor
        self.name = name
        self.identity = identity
        self.device = device
        extractor = processor.feature_extractor
        self.sample_rate = int(extractor.sampling_rate)
        self.window_samples = int(round(C.CLAP_WINDOW_SECONDS * self.sample_rate))
        max_samples = int(getattr(extractor, "nb_max_samples", self.window_samples))
        if max_samples < self.window_samples:
            raise ModelLoadError(
                f"CLAP feature extractor takes at most {max_samples} samples but windows are {self.window_samples}"
            )
        self.fused = bool(getattr(model.config.audio_config, "enable_fusion", False))
        self._truncation = "fusion" if self.fused else "rand_trunc"  # neither crops a window ≤ max length
        self.dim = int(model.config.projection_dim)
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @classmethod
    def from_dir(cls, directory: Path, *, device: str = "cpu") -> "ClapEmbedder":
        """Load ``directory`` (a saved ``ClapModel`` + ``ClapProcessor``) offline.

        Raises:
            ModelLoadError: not a CLAP checkpoint, incomplete files or a near-empty tokenizer.
        """
        offline()
        from transformers import AutoModel, AutoProcessor

        directory = Path(directory)
        try:
            model = AutoModel.from_pretrained(directory, local_files_only=True).to(device).eval()
            if model.config.model_type != "clap":
                raise ModelLoadError(f"{directory} is not a CLAP checkpoint (model_type {model.config.model_type!r})")
            processor = AutoProcessor.from_pretrained(directory, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"cannot load CLAP from {directory}: {exc}") from exc
        if not hasattr(processor, "feature_extractor") or not hasattr(processor, "tokenizer"):
            raise ModelLoadError(f"{directory} has no CLAP processor (feature extractor + tokenizer)")
        check_tokenizer(processor.tokenizer, vocab_size=model.config.text_config.vocab_size, directory=directory, what="CLAP")
        return cls(model=model, processor=processor, name=model_name(directory),
                   identity=model_identity(directory), device=device)

    # --- audio ----------------------------------------------------------------------------
    def resample(self, mono: np.ndarray, *, sample_rate: int) -> np.ndarray:
        """``mono`` (float ``(n,)`` at ``sample_rate``) at the model rate, float32 (soxr HQ)."""
        x = np.asarray(mono, dtype=np.float32)
        if sample_rate != self.sample_rate:
            x = soxr.resample(x, sample_rate, self.sample_rate, quality="HQ")
        return np.ascontiguousarray(x, dtype=np.float32)

    def embed_recordings(self, recordings: list[tuple[np.ndarray, int]]) -> np.ndarray:
        """Unit embeddings ``(n, d)`` of ``(mono float (frames,), sample_rate)`` pairs: resampled
        once to the model rate, then :meth:`embed_audio`. The scorer and the FAD reference builder
        both embed through here, so their windowing is identical."""
        return self.embed_audio([self.resample(m, sample_rate=sr) for m, sr in recordings])

    def embed_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        """Unit-norm embeddings ``(len(clips), d)`` float32 of mono clips already at
        :attr:`sample_rate`; all windows of all clips are batched together."""
        if not clips:
            return np.zeros((0, self.dim), dtype=np.float32)
        windows: list[np.ndarray] = []
        owner: list[int] = []
        for i, clip in enumerate(clips):
            for w in clap_windows(clip, sample_rate=self.sample_rate):
                windows.append(w)
                owner.append(i)
        raw = np.concatenate(
            [self._embed_windows(windows[s : s + _AUDIO_BATCH]) for s in range(0, len(windows), _AUDIO_BATCH)]
        )
        owner_arr = np.asarray(owner)
        out = np.zeros((len(clips), raw.shape[1]), dtype=np.float64)
        for i in range(len(clips)):
            out[i] = raw[owner_arr == i].mean(axis=0)
        return _unit(out).astype(np.float32)

    def _embed_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        """Raw projected embeddings ``(len(windows), d)`` float64 (not normalised)."""
        import torch

        inputs = self.processor.feature_extractor(
            [w.astype(np.float64) for w in windows], sampling_rate=self.sample_rate, return_tensors="pt",
            truncation=self._truncation, padding="repeatpad",
        )
        # The extractor marks a random clip "longer" when none is (fusion only): undo that.
        is_longer = torch.zeros((len(windows), 1), dtype=torch.bool)
        feats = inputs["input_features"].to(self.device, dtype=self.model.dtype)
        with inference():
            if hasattr(self.model, "audio_model") and hasattr(self.model, "audio_projection"):
                pooled = self.model.audio_model(input_features=feats, is_longer=is_longer.to(self.device)).pooler_output
                emb = self.model.audio_projection(pooled)
            else:  # older/other layouts: normalised features only
                emb = _pooled(self.model.get_audio_features(input_features=feats, is_longer=is_longer.to(self.device)))
        return emb.float().cpu().numpy().astype(np.float64)

    # --- text -----------------------------------------------------------------------------
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit-norm text embeddings ``(len(texts), d)`` float32; cached per text (LRU)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if todo:
            for text, vec in zip(todo, self._embed_texts_uncached(todo)):
                self._text_cache[text] = vec
                while len(self._text_cache) > _TEXT_CACHE_SIZE:
                    self._text_cache.popitem(last=False)
        out = []
        for t in texts:
            self._text_cache.move_to_end(t)
            out.append(self._text_cache[t])
        return np.stack(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def _embed_texts_uncached(self, texts: list[str]) -> np.ndarray:
        tok = self.processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        tok = {k: v.to(self.device) for k, v in tok.items() if k in ("input_ids", "attention_mask")}
        with inference():
            if hasattr(self.model, "text_model") and hasattr(self.model, "text_projection"):
                emb = self.model.text_projection(self.model.text_model(**tok).pooler_output)
            else:
                emb = _pooled(self.model.get_text_features(**tok))
        return _unit(emb.float().cpu().numpy().astype(np.float64)).astype(np.float32)


def _pooled(output):
    """Embedding tensor from ``get_*_features``: a tensor (transformers 4) or an output object (5)."""
    return output.pooler_output if hasattr(output, "pooler_output") else output


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
