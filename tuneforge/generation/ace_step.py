"""The ACE-Step 1.5 generation backend (diffusers ``AceStepPipeline``): songs with sung lyrics.

Loads one ACE-Step pipeline at construction (offline, :mod:`ace_step_loading`), writes each
:class:`MusicSpec` in the form ACE-Step was trained on (:mod:`ace_step_prompt`: style caption,
lyrics or ``[Instrumental]``, bpm / key / meter / duration metadata), seeds each request's
starting noise from its own CPU generator (the same noise on every device, and per request even
inside a batch), and returns 48 kHz stereo of exactly ``round(duration · 48000)`` frames.

Requests shorter than ACE-Step's 10 s minimum are rendered at 10 s and cut, with a short fade
where the cut falls. Requests that render at the same length can share one batch
(:meth:`AceStepBackend.generate_batch`, used by the miner's engine up to ``max_batch``); each
keeps its own caption, lyrics, metadata and seed, but the DiT attends over the batch's padded
condition sequence (no padding mask, as in ACE-Step's own batched inference), so a batched clip
is close to, not bit-identical with, the same request rendered alone. A batch that runs out of
GPU memory is rendered in halves and the batch limit lowered.
"""

import logging
import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from tuneforge.catalog import GENRES
from tuneforge.generation.ace_step_loading import LoadedAceStep, load_ace_step
from tuneforge.generation.ace_step_prompt import AceStepPrompt, ace_step_prompt, render_seconds
from tuneforge.generation.base import BackendUnavailable, GeneratedAudio, GenerationSettings
from tuneforge.generation.musicgen_loading import short_model_name
from tuneforge.spec import MusicSpec

__all__ = ["AceStepBackend", "AceStepSampling", "fade_cut"]

log = logging.getLogger(__name__)

MAX_DURATION_SECONDS = 180.0
#: Fade-out applied where a longer render is cut to the requested length (seconds).
CUT_FADE_SECONDS = 0.25
#: Most requests one batch may hold, whatever the settings say.
MAX_BATCH_LIMIT = 16


class AceStepSampling:
    """Sampling knobs from ``settings.extra``: ``steps``, ``guidance_scale``, ``shift``.

    Defaults follow the checkpoint: a turbo (guidance-distilled) DiT runs 8 steps without
    guidance; a base/SFT DiT 32 steps with guidance 7.0. ``shift`` 3.0 for both (ACE-Step's).
    """

    def __init__(self, extra: dict, *, turbo: bool) -> None:
        self.steps = int(extra.get("steps", 8 if turbo else 32))
        self.guidance_scale = 1.0 if turbo else float(extra.get("guidance_scale", 7.0))
        self.shift = float(extra.get("shift", 3.0))
        if self.steps < 1:
            raise BackendUnavailable(f"ACE-Step steps must be >= 1, got {self.steps}")
        if not (math.isfinite(self.guidance_scale) and self.guidance_scale >= 1.0):
            raise BackendUnavailable(f"ACE-Step guidance_scale must be >= 1, got {self.guidance_scale}")
        if not (math.isfinite(self.shift) and self.shift > 0):
            raise BackendUnavailable(f"ACE-Step shift must be > 0, got {self.shift}")


def fade_cut(audio: np.ndarray, *, frames: int, sample_rate: int) -> np.ndarray:
    """The first ``frames`` of ``audio`` ``(channels, n)``; a half-cosine fade over the last
    :data:`CUT_FADE_SECONDS` (at most a quarter of the clip) when more than 50 ms were cut."""
    out = np.array(audio[:, :frames], dtype=np.float32, copy=True)
    if audio.shape[1] - frames > 0.05 * sample_rate:
        n = min(int(CUT_FADE_SECONDS * sample_rate), frames // 4)
        if n > 1:
            out[:, frames - n :] *= (0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, n)))).astype(np.float32)
    return out


class AceStepBackend:
    """ACE-Step 1.5 through diffusers. Build with :meth:`from_settings` (loads the model once).

    ``generate`` returns float32 ``(channels, frames)`` at the VAE's rate (48 kHz stereo for the
    released checkpoints).
    """

    name = "ace_step"
    max_duration_seconds = MAX_DURATION_SECONDS

    def __init__(
        self, loaded: LoadedAceStep, *, model_id: str, sampling: AceStepSampling, max_batch: int = 1
    ) -> None:
        if not 1 <= int(max_batch) <= MAX_BATCH_LIMIT:
            raise BackendUnavailable(f"--generation.max_batch must be 1-{MAX_BATCH_LIMIT}, got {max_batch}")
        self._loaded = loaded
        self.model_id = model_id
        self.sample_rate = loaded.sample_rate
        self.device = loaded.device
        self.channels = loaded.channels
        self.sampling = sampling
        self.max_batch = int(max_batch)

    @classmethod
    def from_settings(cls, settings: GenerationSettings) -> "AceStepBackend":
        """Load ``settings.model`` (default ``DEFAULT_MODELS["ace_step"]``) on ``settings.device``.

        ``settings.extra`` keys: ``steps``, ``guidance_scale``, ``shift`` (see :class:`AceStepSampling`),
        ``vae_tiling`` (True). ``settings.max_batch`` and ``settings.max_vram_gb`` bound batches and memory.

        Raises:
            BackendUnavailable: model not found locally, diffusers missing, bad device/precision/settings.
        """
        extra = dict(settings.extra or {})
        model = settings.model_name()
        loaded = load_ace_step(
            model,
            device=settings.device,
            precision=settings.precision,
            vae_tiling=bool(extra.get("vae_tiling", True)),
            max_vram_gb=settings.max_vram_gb,
        )
        sampling = AceStepSampling(extra, turbo=loaded.turbo)
        return cls(loaded, model_id=short_model_name(model), sampling=sampling, max_batch=settings.max_batch)

    def supported_genres(self) -> list[str]:
        """The catalogue's genres (ACE-Step is conditioned on free-text style tags)."""
        return list(GENRES)

    def batch_key(self, spec: MusicSpec) -> Hashable:
        """Requests with equal keys can share a batch: those rendered at the same length."""
        return render_seconds(spec.duration_seconds)

    # ----------------------------------------------------------------------------------------

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        """Render ``spec`` to float32 ``(channels, round(duration · sample_rate))``, peak -1 dBFS.

        Deterministic per ``spec.seed`` on a given device and precision. Raises ValueError for a
        duration outside (0, 180] s, RuntimeError if the model produced non-finite samples.
        """
        return self.generate_batch([spec])[0]

    def generate_batch(self, specs: Sequence[MusicSpec]) -> list[GeneratedAudio]:
        """Render ``specs`` (equal :meth:`batch_key`) in calls of at most :attr:`max_batch`.

        Returns one :class:`GeneratedAudio` per spec, in order. Raises ValueError for an empty
        list, mixed render lengths or a bad duration; RuntimeError on non-finite output.
        """
        if not specs:
            raise ValueError("generate_batch needs at least one request")
        for spec in specs:
            duration = float(spec.duration_seconds)
            if not (math.isfinite(duration) and 0.0 < duration <= self.max_duration_seconds):
                raise ValueError(
                    f"duration_seconds must be in (0, {self.max_duration_seconds}], got {duration}"
                )
        prompts = [ace_step_prompt(spec) for spec in specs]
        if len({p.render_seconds for p in prompts}) != 1:
            raise ValueError(
                f"a batch renders one length; got {sorted({p.render_seconds for p in prompts})} s"
            )
        audio = self._render_fitting(prompts, [int(spec.seed) for spec in specs])
        out = []
        for spec, prompt, clip in zip(specs, prompts, audio, strict=True):
            if not np.all(np.isfinite(clip)):
                raise RuntimeError(
                    "ACE-Step produced non-finite samples; try --generation.precision bf16 or fp32"
                )
            frames = int(round(float(spec.duration_seconds) * self.sample_rate))
            if clip.shape[1] < frames:
                clip = np.pad(clip, ((0, 0), (0, frames - clip.shape[1])))
            samples = np.clip(fade_cut(clip, frames=frames, sample_rate=self.sample_rate), -1.0, 1.0)
            log.info(
                "ace_step %s: %.2f s (rendered %.0f s) seed %d %s: %r",
                self.model_id,
                spec.duration_seconds,
                prompt.render_seconds,
                spec.seed,
                "instrumental" if prompt.instrumental else prompt.language,
                prompt.caption[:120],
            )
            out.append(
                GeneratedAudio(
                    samples=np.ascontiguousarray(samples),
                    sample_rate=self.sample_rate,
                    model_id=self.model_id,
                )
            )
        return out

    def _render_fitting(self, prompts: list[AceStepPrompt], seeds: list[int]) -> list[np.ndarray]:
        """Render in chunks of :attr:`max_batch`; a chunk that runs out of GPU memory is halved."""
        import torch

        results: list[np.ndarray] = []
        pending = [
            (prompts[i : i + self.max_batch], seeds[i : i + self.max_batch])
            for i in range(0, len(prompts), self.max_batch)
        ]
        while pending:
            chunk, chunk_seeds = pending.pop(0)
            try:
                results.extend(self._render(chunk, chunk_seeds))
            except torch.OutOfMemoryError:
                if len(chunk) == 1:
                    raise
                half = len(chunk) // 2
                self.max_batch = max(1, min(self.max_batch, half))
                log.warning(
                    "ace_step: out of GPU memory for a batch of %d on %s; rendering halves, max_batch now %d",
                    len(chunk),
                    self.device,
                    self.max_batch,
                )
                if self.device.startswith("cuda"):
                    torch.cuda.empty_cache()
                pending[:0] = [(chunk[:half], chunk_seeds[:half]), (chunk[half:], chunk_seeds[half:])]
        return results

    def _render(self, prompts: list[AceStepPrompt], seeds: list[int]) -> list[np.ndarray]:
        """One pipeline call: float32 ``(channels, render frames)`` per prompt."""
        import torch

        generators = [torch.Generator(device="cpu").manual_seed(seed & 0xFFFFFFFF) for seed in seeds]
        kwargs: dict[str, Any] = dict(
            prompt=[p.caption for p in prompts],
            lyrics=[p.lyrics for p in prompts],
            vocal_language=[p.language for p in prompts],
            bpm=[p.bpm for p in prompts],
            keyscale=[p.keyscale for p in prompts],
            timesignature=[p.timesignature for p in prompts],
            audio_duration=prompts[0].render_seconds,
            num_inference_steps=self.sampling.steps,
            guidance_scale=self.sampling.guidance_scale,
            shift=self.sampling.shift,
            generator=generators,
            output_type="pt",
        )
        with torch.inference_mode():
            audio = self._loaded.pipe(**kwargs).audios
        return [a.float().cpu().numpy() for a in audio]
