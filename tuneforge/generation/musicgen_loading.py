"""Finding and loading a MusicGen checkpoint offline: model directory, device, precision, variant.

A model is named by a local directory or a Hugging Face hub id. Hub ids are looked up in
``$TUNEFORGE_MODELS_DIR`` (where ``scripts/download_models.sh`` saves them, default
``~/.cache/tuneforge/models/<name>``) and then in the local Hugging Face cache, never on the
network. Everything that can go wrong before generation (no files, an incomplete tokenizer, a
device that does not exist, fp16 on a CPU) raises :class:`BackendUnavailable` with a one-line fix.
"""

import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneforge.generation.base import BackendUnavailable

__all__ = [
    "LoadedMusicGen",
    "load_musicgen",
    "models_dir",
    "resolve_device",
    "resolve_dtype",
    "resolve_model_dir",
    "short_model_name",
]

log = logging.getLogger(__name__)

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:(\d+))$")
_PRECISIONS = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def models_dir() -> Path:
    """Where ``scripts/download_models.sh`` saves models: ``$TUNEFORGE_MODELS_DIR`` or ``~/.cache/tuneforge/models``."""
    return Path(os.environ.get("TUNEFORGE_MODELS_DIR") or Path.home() / ".cache" / "tuneforge" / "models")


def short_model_name(model: str) -> str:
    """``"facebook/musicgen-small"`` → ``"musicgen-small"``; a directory → its name."""
    return Path(model.rstrip("/\\")).name or model


def _missing(model: str) -> BackendUnavailable:
    return BackendUnavailable(
        f"MusicGen model {model!r} not found locally; run scripts/download_models.sh {short_model_name(model)}"
    )


def resolve_model_dir(model: str) -> Path:
    """A local directory holding ``config.json`` for ``model``; never downloads.

    Raises:
        BackendUnavailable: nothing local matches (the message names the download script).
    """
    if not model or not model.strip():
        raise BackendUnavailable("no MusicGen model given (--generation.model): a hub id or a local directory")
    path = Path(model).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return path
        raise _missing(model)
    looks_like_path = path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1
    if looks_like_path:
        raise _missing(model)
    saved = models_dir() / short_model_name(model)
    if (saved / "config.json").is_file():
        return saved
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        cached = Path(snapshot_download(repo_id=model, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError) as exc:
        raise _missing(model) from exc
    if not (cached / "config.json").is_file():
        raise _missing(model)
    return cached


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda:0"`` when CUDA is usable else ``"cpu"``; validates ``cuda`` / ``cuda:N``.

    Raises:
        BackendUnavailable: a malformed string, or a CUDA device that does not exist here.
    """
    import torch

    text = (device or "").strip().lower()
    m = _DEVICE_RE.match(text)
    if not m:
        raise BackendUnavailable(f"invalid --generation.device {device!r}: use auto, cpu, cuda or cuda:N")
    if text == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise BackendUnavailable(f"--generation.device {device} requested but CUDA is not available here")
    index = int(m.group(2) or 0)
    if index >= torch.cuda.device_count():
        raise BackendUnavailable(
            f"--generation.device {device}: only {torch.cuda.device_count()} CUDA device(s) present"
        )
    return f"cuda:{index}"


def resolve_dtype(precision: str, device: str) -> Any:
    """torch dtype for ``precision`` (auto | fp32 | fp16 | bf16) on ``device``; half precision needs CUDA."""
    import torch

    text = (precision or "auto").strip().lower()
    if text == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if text not in _PRECISIONS:
        raise BackendUnavailable(f"invalid --generation.precision {precision!r}: use auto, fp32, fp16 or bf16")
    if text != "fp32" and not device.startswith("cuda"):
        raise BackendUnavailable(f"--generation.precision {text} needs a CUDA device (got {device}); use fp32")
    return getattr(torch, _PRECISIONS[text])


@dataclass
class LoadedMusicGen:
    """A loaded checkpoint. ``variant``: ``"mono"`` | ``"stereo"`` | ``"melody"``.

    ``frame_rate``: codec frames per second; ``hop``: audio samples per codec frame;
    ``codebooks_per_channel``: the delay-pattern depth (4 for released checkpoints);
    ``melody_features``: chroma settings (n_fft, hop_length, num_chroma) for the melody variant.
    """

    model: Any
    tokenizer: Any
    directory: Path
    variant: str
    device: str
    dtype: Any
    sample_rate: int
    frame_rate: float
    hop: int
    channels: int
    codebooks_per_channel: int
    max_positions: int
    melody_features: dict


def _codec_timing(audio_config: Any) -> tuple[int, int, float]:
    sample_rate = int(audio_config.sampling_rate)
    hop = int(math.prod(getattr(audio_config, "upsampling_ratios", []) or [0]))
    if hop <= 0:
        raise BackendUnavailable("MusicGen audio encoder config has no upsampling_ratios; cannot time frames")
    frame_rate = sample_rate / hop
    declared = getattr(audio_config, "frame_rate", None)
    if declared is not None and abs(float(declared) - math.ceil(frame_rate)) > 1e-6:
        log.warning("audio encoder frame_rate %s disagrees with sampling_rate/hop %.3f", declared, frame_rate)
    return sample_rate, hop, frame_rate


def _check_tokenizer(tokenizer: Any, text_vocab: int, directory: Path) -> None:
    # TRAP (AUDIO-NOTES): a missing tokenizer can load as a near-empty one without raising.
    size = len(tokenizer)
    if size < max(8, text_vocab // 2) or size > text_vocab:
        raise BackendUnavailable(
            f"tokenizer in {directory} has {size} tokens but the text encoder expects {text_vocab}; "
            "the checkpoint is incomplete: re-run scripts/download_models.sh"
        )


def load_musicgen(model: str, *, device: str = "auto", precision: str = "auto") -> LoadedMusicGen:
    """Load a MusicGen (mono, stereo or melody) checkpoint and its tokenizer, offline, once.

    Raises:
        BackendUnavailable: missing/incomplete files, not a MusicGen checkpoint, bad device/precision.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    directory = resolve_model_dir(model)
    torch_device = resolve_device(device)
    dtype = resolve_dtype(precision, torch_device)
    from transformers import AutoConfig, AutoModelForTextToWaveform, AutoProcessor, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot read MusicGen config in {directory}: {exc}") from exc
    if config.model_type not in ("musicgen", "musicgen_melody"):
        raise BackendUnavailable(f"{directory} holds a {config.model_type!r} model, not MusicGen")
    variant = "melody" if config.model_type == "musicgen_melody" else "mono"
    channels = int(getattr(config.decoder, "audio_channels", 1))
    if channels == 2:
        variant = "stereo" if variant == "mono" else variant
    elif channels != 1:
        raise BackendUnavailable(f"MusicGen decoder with {channels} audio channels is not supported")
    sample_rate, hop, frame_rate = _codec_timing(config.audio_encoder)
    try:
        if variant == "melody":
            # MusicgenMelodyProcessor requires torchaudio; the tokenizer is all the text side needs.
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        else:
            tokenizer = AutoProcessor.from_pretrained(directory, local_files_only=True).tokenizer
        _check_tokenizer(tokenizer, int(config.text_encoder.vocab_size), directory)
        net = AutoModelForTextToWaveform.from_pretrained(directory, local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot load MusicGen from {directory}: {exc}") from exc
    net.to(torch_device).eval()
    melody_features: dict = {}
    if variant == "melody":
        melody_features = {"n_fft": 16384, "hop_length": 4096, "num_chroma": int(getattr(config, "num_chroma", 12))}
        pre = directory / "preprocessor_config.json"
        if pre.is_file():
            stored = json.loads(pre.read_text())
            melody_features.update({k: int(stored[k]) for k in ("n_fft", "hop_length", "num_chroma") if k in stored})
    log.info(
        "MusicGen %s (%s) loaded from %s on %s as %s: %d Hz, %.1f frames/s, %d channel(s)",
        short_model_name(model), variant, directory, torch_device, dtype, sample_rate, frame_rate, channels,
    )
    return LoadedMusicGen(
        model=net,
        tokenizer=tokenizer,
        directory=directory,
        variant=variant,
        device=torch_device,
        dtype=dtype,
        sample_rate=sample_rate,
        frame_rate=frame_rate,
        hop=hop,
        channels=channels,
        codebooks_per_channel=int(config.decoder.num_codebooks) // channels,
        max_positions=int(getattr(config.decoder, "max_position_embeddings", 2048)),
        melody_features=melody_features,
    )
