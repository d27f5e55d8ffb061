"""The MusicGen generation backend (transformers): text (and melody) to music on a GPU or CPU.

Loads one MusicGen checkpoint at construction (mono, stereo or melody, detected from its
config; offline only, see :mod:`musicgen_loading`), writes each :class:`MusicSpec` out as
conditioning text, samples with top-k 250 and classifier-free guidance 3.0 inside a forked,
seeded torch RNG (reproducible, global RNG untouched), and returns exactly
``round(duration · sample_rate)`` frames. Requests longer than the model's window are rendered
by windowed continuation with equal-power crossfades (:mod:`musicgen_windows`). An optional
audiocraft engine is reachable through ``settings.extra["engine"] = "audiocraft"``.
"""

import logging
import math
from typing import Any

import numpy as np

from tuneforge.catalog import GENRES
from tuneforge.generation.base import BackendUnavailable, GeneratedAudio, GenerationSettings
from tuneforge.generation.musicgen_chroma import reference_chroma
from tuneforge.generation.musicgen_loading import LoadedMusicGen, load_musicgen, short_model_name
from tuneforge.generation.musicgen_text import describe_spec
from tuneforge.generation.musicgen_windows import (
    WindowPlan,
    equal_power_crossfade,
    fit_length,
    tokens_for_frames,
)
from tuneforge.spec import MusicSpec

__all__ = ["MusicGenBackend", "SamplingSettings"]

log = logging.getLogger(__name__)

MAX_DURATION_SECONDS = 180.0


class SamplingSettings:
    """Sampling knobs read from ``settings.extra``: ``top_k`` (250), ``guidance_scale`` (3.0), ``temperature`` (1.0)."""

    def __init__(self, extra: dict) -> None:
        self.top_k = int(extra.get("top_k", 250))
        self.guidance_scale = float(extra.get("guidance_scale", 3.0))
        self.temperature = float(extra.get("temperature", 1.0))
        if self.top_k < 1 or not (math.isfinite(self.guidance_scale) and self.guidance_scale >= 1.0):
            raise BackendUnavailable(
                f"MusicGen sampling needs top_k >= 1 and guidance_scale >= 1, got {self.top_k}, {self.guidance_scale}"
            )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise BackendUnavailable(f"MusicGen temperature must be > 0, got {self.temperature}")

    def generate_kwargs(self) -> dict[str, Any]:
        return {
            "do_sample": True,
            "top_k": self.top_k,
            "guidance_scale": self.guidance_scale,
            "temperature": self.temperature,
        }


class MusicGenBackend:
    """MusicGen through transformers. Build with :meth:`from_settings` (loads the model once).

    ``generate`` returns float32 ``(channels, frames)`` at the codec's rate (32 kHz for the released
    checkpoints): 1 channel for mono/melody checkpoints, 2 for stereo ones.
    """

    name = "musicgen"
    max_duration_seconds = MAX_DURATION_SECONDS

    def __init__(self, loaded: LoadedMusicGen, *, model_id: str, plan: WindowPlan, sampling: SamplingSettings) -> None:
        self._loaded = loaded
        self.model_id = model_id
        self.sample_rate = loaded.sample_rate
        self.device = loaded.device
        self.channels = loaded.channels
        self.variant = loaded.variant
        self.plan = plan
        self.sampling = sampling
        window_tokens = tokens_for_frames(
            math.ceil(plan.window_seconds * loaded.frame_rate), codebook_delay=loaded.codebooks_per_channel - 1
        )
        if window_tokens + 1 > loaded.max_positions:
            raise BackendUnavailable(
                f"MusicGen window of {plan.window_seconds} s needs {window_tokens} positions; "
                f"the model has {loaded.max_positions}: lower settings.extra['window_seconds']"
            )

    @classmethod
    def from_settings(cls, settings: GenerationSettings) -> "MusicGenBackend":
        """Load ``settings.model`` on ``settings.device`` at ``settings.precision``.

        ``settings.extra`` keys: ``window_seconds`` (30), ``overlap_seconds`` (10),
        ``crossfade_seconds`` (1.5), ``top_k`` (250), ``guidance_scale`` (3.0), ``temperature`` (1.0),
        ``engine`` (``"transformers"`` | ``"audiocraft"``).

        Raises:
            BackendUnavailable: model not found locally, bad device/precision/settings.
        """
        extra = dict(settings.extra or {})
        engine = extra.get("engine", "transformers")
        if engine == "audiocraft":
            from tuneforge.generation.musicgen_audiocraft import AudiocraftMusicGenBackend

            return AudiocraftMusicGenBackend.from_settings(settings)  # type: ignore[return-value]
        if engine != "transformers":
            raise BackendUnavailable(f"unknown MusicGen engine {engine!r} (transformers | audiocraft)")
        try:
            plan = WindowPlan(
                window_seconds=float(extra.get("window_seconds", 30.0)),
                overlap_seconds=float(extra.get("overlap_seconds", 10.0)),
                crossfade_seconds=float(extra.get("crossfade_seconds", 1.5)),
            )
        except ValueError as exc:
            raise BackendUnavailable(f"bad MusicGen window settings: {exc}") from exc
        sampling = SamplingSettings(extra)
        model = settings.model_name()
        loaded = load_musicgen(model, device=settings.device, precision=settings.precision)
        return cls(loaded, model_id=short_model_name(model), plan=plan, sampling=sampling)

    def supported_genres(self) -> list[str]:
        """The catalogue's genres (MusicGen is conditioned on free text, so every one is asked for by name)."""
        return list(GENRES)

    # ----------------------------------------------------------------------------------------

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        """Render ``spec`` to float32 ``(channels, round(duration · sample_rate))`` in [-1, 1].

        Deterministic per ``spec.seed`` (on a given device and precision); the global torch RNG is
        left as it was. Raises ValueError for a duration outside (0, 180] s, RuntimeError if the
        model produced non-finite samples.
        """
        import torch

        duration = float(spec.duration_seconds)
        if not (math.isfinite(duration) and 0.0 < duration <= self.max_duration_seconds):
            raise ValueError(f"duration_seconds must be in (0, {self.max_duration_seconds}], got {duration}")
        n_frames = int(round(duration * self.sample_rate))
        text = describe_spec(spec)
        loaded = self._loaded
        conditioning = self._conditioning(text, spec)
        fork_devices = [loaded.device] if loaded.device.startswith("cuda") else []
        with torch.random.fork_rng(devices=fork_devices), torch.inference_mode():
            torch.manual_seed(int(spec.seed) & 0xFFFFFFFF)
            audio = self._render(conditioning, n_frames)
        if not np.all(np.isfinite(audio)):
            raise RuntimeError(
                "MusicGen produced non-finite samples; try --generation.precision fp32 or bf16"
            )
        audio = np.clip(fit_length(audio, frames=n_frames, sample_rate=self.sample_rate), -1.0, 1.0)
        log.info("musicgen %s: %.2f s seed %d: %r", self.model_id, duration, spec.seed, text[:120])
        return GeneratedAudio(samples=np.ascontiguousarray(audio, dtype=np.float32), sample_rate=self.sample_rate,
                              model_id=self.model_id)

    def _conditioning(self, text: str, spec: MusicSpec) -> dict[str, Any]:
        loaded = self._loaded
        tokens = loaded.tokenizer([text], return_tensors="pt", padding=True)
        inputs: dict[str, Any] = {k: v.to(loaded.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        if loaded.variant == "melody":
            chroma = reference_chroma(
                getattr(spec, "reference_audio", None), sample_rate=loaded.sample_rate, **loaded.melody_features
            )
            if chroma is not None:
                inputs["input_features"] = chroma.to(loaded.device, dtype=loaded.dtype)
        return inputs

    def _render(self, conditioning: dict[str, Any], n_frames: int) -> np.ndarray:
        """Audio ``(channels, >= n_frames or what the model gave)`` float32 by windowed continuation."""
        loaded, plan = self._loaded, self.plan
        hop, rate = loaded.hop, loaded.frame_rate
        window_codes = math.ceil(plan.window_seconds * rate)
        needed_codes = math.ceil(n_frames / hop)
        first = self._generate_window(conditioning, new_codes=min(needed_codes, window_codes), prompt=None)
        audio = first
        prompt_codes = max(1, int(round(plan.overlap_seconds * rate)))
        xfade = int(round(plan.crossfade_seconds * loaded.sample_rate))
        windows = 1
        while audio.shape[1] < n_frames:
            tail = audio[:, -prompt_codes * hop:]
            if tail.shape[1] < prompt_codes * hop:
                break  # the model stopped early; fit_length pads the end
            remaining = math.ceil((n_frames - audio.shape[1]) / hop)
            new_codes = min(remaining, window_codes - prompt_codes)
            window = self._generate_window(conditioning, new_codes=new_codes, prompt=tail)
            redo, fresh = window[:, : tail.shape[1]], window[:, tail.shape[1]:]
            if fresh.shape[1] == 0:
                log.warning("MusicGen continuation produced no new audio; padding the end")
                break
            # Keep the original audio through the overlap; seam into the re-rendered overlap at its end.
            seam = min(xfade, redo.shape[1])
            audio[:, audio.shape[1] - seam:] = equal_power_crossfade(audio[:, audio.shape[1] - seam:], redo[:, redo.shape[1] - seam:])
            audio = np.concatenate([audio, fresh], axis=1)
            windows += 1
        log.debug("musicgen rendered %d window(s), %d frames for %d requested", windows, audio.shape[1], n_frames)
        return audio

    def _generate_window(self, conditioning: dict[str, Any], *, new_codes: int, prompt: np.ndarray | None) -> np.ndarray:
        """One generate call: ``new_codes`` fresh codec frames after an optional audio ``prompt`` ``(channels, n)``.

        Returns float32 ``(channels, frames)``: the re-rendered prompt (if any) followed by the new audio.
        """
        loaded = self._loaded
        kwargs = dict(conditioning)
        kwargs.update(self.sampling.generate_kwargs())
        kwargs["max_new_tokens"] = tokens_for_frames(new_codes, codebook_delay=loaded.codebooks_per_channel - 1)
        if prompt is not None:
            kwargs["decoder_input_ids"] = self._encode_prompt(prompt)
        out = loaded.model.generate(**kwargs)
        return out[0].float().cpu().numpy()

    def _encode_prompt(self, audio: np.ndarray) -> Any:
        """Codec codes of ``audio`` ``(channels, n)`` as decoder input ids ``(num_codebooks, frames)``.

        Stereo checkpoints interleave left and right codebooks (L0, R0, L1, R1, ...), as
        transformers does for an audio prompt.
        """
        import torch

        loaded = self._loaded
        wav = torch.from_numpy(np.ascontiguousarray(audio)).to(loaded.device, dtype=loaded.dtype)
        codes = []
        for channel in range(loaded.channels):
            enc = loaded.model.audio_encoder.encode(wav[None, channel : channel + 1], return_dict=True)
            codes.append(enc.audio_codes[0, 0])  # (codebooks_per_channel, frames)
        if loaded.channels == 1:
            return codes[0]
        stacked = torch.stack(codes, dim=1)  # (codebooks, 2, frames): L/R interleaved when flattened
        return stacked.reshape(-1, stacked.shape[-1])
