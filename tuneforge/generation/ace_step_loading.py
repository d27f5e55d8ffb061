"""Finding and loading an ACE-Step 1.5 checkpoint offline: directory, device, precision, VRAM bound.

A checkpoint is a diffusers pipeline folder (``model_index.json`` naming ``AceStepPipeline`` plus
``transformer/``, ``condition_encoder/``, ``vae/``, ``text_encoder/``, ``tokenizer/``,
``scheduler/``), named by a local directory or a Hugging Face hub id. Hub ids are looked up in
``$TUNEFORGE_MODELS_DIR/<name>`` (where ``scripts/download_models.sh ace-step`` saves it) and then
in the local Hugging Face cache, never on the network.

Precision: ``auto`` is bfloat16 on a CUDA device that supports it (the precision ACE-Step's
authors release and run the model in; float16's range overflows in the DiT's activations more
readily), float16 on older CUDA devices, float32 on the CPU. Half precision on the CPU is refused:
PyTorch's CPU kernels for it are slow or missing. Everything that can go wrong before generation
raises :class:`BackendUnavailable` with a one-line fix.
"""

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneforge.generation.base import DEFAULT_MODELS, BackendUnavailable
from tuneforge.generation.musicgen_loading import models_dir, resolve_device, short_model_name

__all__ = [
    "DEFAULT_ACE_STEP_MODEL",
    "LoadedAceStep",
    "ace_step_dtype_name",
    "cap_vram",
    "load_ace_step",
    "resolve_ace_step_dir",
]

log = logging.getLogger(__name__)

#: The official diffusers-format ACE-Step 1.5 checkpoint (XL turbo: guidance-distilled, 8 steps).
DEFAULT_ACE_STEP_MODEL = DEFAULT_MODELS["ace_step"]
_PIPELINE_CLASS = "AceStepPipeline"
_REQUIRED = ("transformer", "condition_encoder", "vae", "text_encoder", "tokenizer", "scheduler")
_PRECISIONS = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _missing(model: str, why: str = "not found locally") -> BackendUnavailable:
    return BackendUnavailable(f"ACE-Step model {model!r} {why}; run scripts/download_models.sh ace-step")


def _is_pipeline_dir(path: Path) -> bool:
    return (path / "model_index.json").is_file()


def resolve_ace_step_dir(model: str) -> Path:
    """A local directory holding an ``AceStepPipeline`` for ``model``; never downloads.

    Raises:
        BackendUnavailable: nothing local matches, or the folder is not a complete ACE-Step pipeline.
    """
    if not model or not model.strip():
        raise BackendUnavailable(
            "no ACE-Step model given (--generation.model): a hub id or a local directory"
        )
    path = Path(model).expanduser()
    if path.is_dir():
        found: Path | None = path if _is_pipeline_dir(path) else None
    elif path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1:
        found = None
    else:
        saved = models_dir() / short_model_name(model)
        found = saved if _is_pipeline_dir(saved) else _hf_cache_dir(model)
    if found is None:
        raise _missing(model)
    _check_layout(found, model)
    return found


def _hf_cache_dir(model: str) -> Path | None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        cached = Path(snapshot_download(repo_id=model, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError):
        return None
    return cached if _is_pipeline_dir(cached) else None


def _check_layout(directory: Path, model: str) -> None:
    try:
        index = json.loads((directory / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _missing(model, f"has an unreadable model_index.json ({exc})") from exc
    if index.get("_class_name") != _PIPELINE_CLASS:
        raise BackendUnavailable(
            f"{directory} holds a {index.get('_class_name')!r} pipeline, not {_PIPELINE_CLASS}"
        )
    absent = [name for name in _REQUIRED if not (directory / name).is_dir()]
    if absent:
        raise _missing(model, f"is incomplete in {directory} (no {', '.join(absent)})")


def ace_step_dtype_name(precision: str, device: str, *, bf16_supported: bool) -> str:
    """The torch dtype name for ``precision`` (auto | fp32 | fp16 | bf16) on ``device``.

    ``bf16_supported``: whether the CUDA device runs bfloat16 natively (compute capability ≥ 8.0).

    Raises:
        BackendUnavailable: an unknown precision, half precision on the CPU, or bf16 on a CUDA
            device without it.
    """
    text = (precision or "auto").strip().lower()
    cuda = device.startswith("cuda")
    if text == "auto":
        if not cuda:
            return "float32"
        return "bfloat16" if bf16_supported else "float16"
    if text not in _PRECISIONS:
        raise BackendUnavailable(
            f"invalid --generation.precision {precision!r}: use auto, fp32, fp16 or bf16"
        )
    if text != "fp32" and not cuda:
        raise BackendUnavailable(
            f"--generation.precision {text} needs a CUDA device (got {device}); use fp32"
        )
    if text == "bf16" and not bf16_supported:
        raise BackendUnavailable(f"{device} has no native bfloat16 (compute capability < 8.0); use fp16")
    return _PRECISIONS[text]


def cap_vram(device: str, max_vram_gb: float | None) -> float | None:
    """Bound this process's CUDA allocations on ``device`` to ``max_vram_gb`` GiB (None: no bound).

    Returns the fraction of the device set, or None. Past the bound PyTorch raises
    ``torch.OutOfMemoryError`` instead of taking more, which the backend answers by rendering
    a batch one request at a time.
    """
    if max_vram_gb is None:
        return None
    if not (max_vram_gb > 0):
        raise BackendUnavailable(f"--generation.max_vram_gb must be > 0, got {max_vram_gb}")
    if not device.startswith("cuda"):
        log.info("--generation.max_vram_gb ignored on %s", device)
        return None
    import torch

    index = int(device.split(":")[1]) if ":" in device else 0
    total = torch.cuda.get_device_properties(index).total_memory
    fraction = min(1.0, float(max_vram_gb) * 2**30 / total)
    torch.cuda.set_per_process_memory_fraction(fraction, index)
    log.info(
        "VRAM on %s bounded to %.1f GiB (%.0f %% of %.1f GiB)",
        device,
        max_vram_gb,
        100 * fraction,
        total / 2**30,
    )
    return fraction


@dataclass
class LoadedAceStep:
    """A loaded pipeline on its device. ``sample_rate`` in Hz; ``latents_per_second``: DiT frames per second."""

    pipe: Any
    directory: Path
    device: str
    dtype: Any
    sample_rate: int
    channels: int
    latents_per_second: float
    turbo: bool


def _bf16_supported(device: str) -> bool:
    if not device.startswith("cuda"):
        return False
    import torch

    return bool(torch.cuda.is_bf16_supported())


def load_ace_step(
    model: str,
    *,
    device: str = "auto",
    precision: str = "auto",
    vae_tiling: bool = True,
    max_vram_gb: float | None = None,
) -> LoadedAceStep:
    """Load an ACE-Step 1.5 pipeline, offline, once, onto ``device``.

    ``vae_tiling``: decode latents in 20 s tiles (2.6 s overlaps trimmed), so a long clip's VAE
    decode, the peak of a render, needs bounded memory; batch items are decoded one at a time.

    Raises:
        BackendUnavailable: diffusers missing, missing/incomplete files, bad device/precision.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch

        from tuneforge.generation.ace_step_pipeline import TuneForgeAceStepPipeline
    except ImportError as exc:
        raise BackendUnavailable(
            f"the ace_step backend needs diffusers>=0.42.1 (pip install -e '.[models]'): {exc}"
        ) from exc
    directory = resolve_ace_step_dir(model)
    torch_device = resolve_device(device)
    dtype = getattr(
        torch, ace_step_dtype_name(precision, torch_device, bf16_supported=_bf16_supported(torch_device))
    )
    cap_vram(torch_device, max_vram_gb)
    try:
        pipe = TuneForgeAceStepPipeline.from_pretrained(directory, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise BackendUnavailable(f"cannot load ACE-Step from {directory}: {exc}") from exc
    pipe.to(torch_device)
    pipe.set_progress_bar_config(disable=True)
    for module in (pipe.transformer, pipe.condition_encoder, pipe.text_encoder, pipe.vae):
        module.eval()
    pipe.vae.enable_slicing()
    if vae_tiling:
        pipe.vae.enable_tiling()
    channels = int(pipe.vae.config.audio_channels)
    loaded = LoadedAceStep(
        pipe=pipe,
        directory=directory,
        device=torch_device,
        dtype=dtype,
        sample_rate=int(pipe.sample_rate),
        channels=channels,
        latents_per_second=float(pipe.latents_per_second),
        turbo=bool(pipe.is_turbo),
    )
    log.info(
        "ACE-Step %s (%s) loaded from %s on %s as %s: %d Hz, %d channel(s), %.0f latent frames/s",
        short_model_name(model),
        "turbo" if loaded.turbo else "base/sft",
        directory,
        torch_device,
        dtype,
        loaded.sample_rate,
        channels,
        loaded.latents_per_second,
    )
    return loaded
