"""MusicGen through Meta's audiocraft library, used when ``settings.extra["engine"] == "audiocraft"``.

UNTESTED: audiocraft pins torch 2.1 and cannot be installed next to this project's torch, so
this path has never run here; it follows audiocraft's documented API (``MusicGen.get_pretrained``,
``set_generation_params``, ``generate``) and audiocraft's own windowed extension
(``extend_stride``) for clips longer than 30 s. The transformers engine is the supported one.
"""

import logging
import math

import numpy as np

from tuneforge.catalog import GENRES
from tuneforge.generation.base import BackendUnavailable, GeneratedAudio, GenerationSettings
from tuneforge.generation.musicgen_loading import resolve_device, short_model_name
from tuneforge.generation.musicgen_text import describe_spec
from tuneforge.generation.musicgen_windows import fit_length
from tuneforge.spec import MusicSpec

__all__ = ["AudiocraftMusicGenBackend"]

log = logging.getLogger(__name__)


class AudiocraftMusicGenBackend:
    """MusicGen via audiocraft (UNTESTED, see the module docstring). Same contract as ``MusicGenBackend``."""

    name = "musicgen"
    max_duration_seconds = 180.0

    def __init__(self, model, *, model_id: str, device: str, extra: dict) -> None:
        self._model = model
        self.model_id = model_id
        self.device = device
        self.sample_rate = int(model.sample_rate)
        self._top_k = int(extra.get("top_k", 250))
        self._cfg = float(extra.get("guidance_scale", 3.0))
        self._extend_stride = float(extra.get("window_seconds", 30.0)) - float(extra.get("overlap_seconds", 10.0))

    @classmethod
    def from_settings(cls, settings: GenerationSettings) -> "AudiocraftMusicGenBackend":
        try:
            from audiocraft.models import MusicGen
        except ImportError as exc:
            raise BackendUnavailable(
                "settings.extra['engine']='audiocraft' but audiocraft is not installed; "
                "use the default transformers engine"
            ) from exc
        device = resolve_device(settings.device)
        name = settings.model_name()
        model = MusicGen.get_pretrained(name, device=device)
        return cls(model, model_id=short_model_name(name), device=device, extra=dict(settings.extra or {}))

    def supported_genres(self) -> list[str]:
        return list(GENRES)

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        import torch

        duration = float(spec.duration_seconds)
        if not (math.isfinite(duration) and 0.0 < duration <= self.max_duration_seconds):
            raise ValueError(f"duration_seconds must be in (0, {self.max_duration_seconds}], got {duration}")
        self._model.set_generation_params(
            use_sampling=True, top_k=self._top_k, cfg_coef=self._cfg, duration=duration,
            extend_stride=self._extend_stride,
        )
        fork_devices = [self.device] if self.device.startswith("cuda") else []
        with torch.random.fork_rng(devices=fork_devices), torch.inference_mode():
            torch.manual_seed(int(spec.seed) & 0xFFFFFFFF)
            wav = self._model.generate([describe_spec(spec)])  # (1, channels, samples)
        audio = wav[0].float().cpu().numpy()
        n_frames = int(round(duration * self.sample_rate))
        audio = np.clip(fit_length(audio, frames=n_frames, sample_rate=self.sample_rate), -1.0, 1.0)
        return GeneratedAudio(samples=audio, sample_rate=self.sample_rate, model_id=self.model_id)
