"""Offline loading helpers shared by the scoring models: where models live, errors, identity, inference mode.

Nothing here downloads: every checkpoint is read from a local directory with
``local_files_only=True`` and ``HF_HUB_OFFLINE=1``. A model's *identity* is a short hash of
its config and of its weight files' names, sizes and sampled bytes, so statistics built with
one checkpoint (the FAD reference, a preference head) can refuse to be used with another.
"""

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from scoring.signals.base import ScoringError

__all__ = [
    "fixed_windows",
    "ModelsMissing",
    "ModelLoadError",
    "default_models_dir",
    "model_identity",
    "model_name",
    "inference",
    "check_tokenizer",
    "offline",
]

logger = logging.getLogger(__name__)

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_SAMPLE_BYTES = 1 << 16  # bytes hashed per sampled position of a weight file
_SAMPLES_PER_FILE = 16


class ModelsMissing(ScoringError):
    """Required scoring models are absent; ``missing`` maps each model name to why."""

    def __init__(self, missing: dict[str, str]) -> None:
        self.missing = dict(missing)
        listed = "; ".join(f"{name}: {why}" for name, why in sorted(self.missing.items()))
        super().__init__(f"scoring models missing: {listed} (run scripts/download_models.sh)")


class ModelLoadError(ScoringError):
    """A model directory or statistics file is present but unusable (incomplete, mismatched)."""


def default_models_dir() -> Path:
    """Where ``scripts/download_models.sh`` saves models: ``$TUNEFORGE_MODELS_DIR`` or
    ``~/.cache/tuneforge/models``."""
    env = os.environ.get("TUNEFORGE_MODELS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tuneforge" / "models"


def offline() -> None:
    """Make sure nothing in transformers/huggingface_hub tries the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def model_identity(directory: Path) -> str:
    """A 16-hex-digit identity of the checkpoint in ``directory``.

    Hashes ``config.json`` and, for every weight file, its name, size and
    ``_SAMPLES_PER_FILE`` evenly spaced 64 KiB slices (not the whole file: hundreds of MB
    would cost seconds at every start). Two checkpoints that differ only in bytes between the
    sampled slices collide; this is an identity check against mix-ups, not a tamper check.
    """
    directory = Path(directory)
    digest = hashlib.sha256()
    config = directory / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    weights = sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    for path in weights:
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with path.open("rb") as fh:
            for k in range(_SAMPLES_PER_FILE):
                fh.seek(max(0, (size - _SAMPLE_BYTES) * k // max(1, _SAMPLES_PER_FILE - 1)))
                digest.update(fh.read(_SAMPLE_BYTES))
    return digest.hexdigest()[:16]


def model_name(directory: Path) -> str:
    """The checkpoint's name: the hub id recorded in ``config.json`` (``_name_or_path``) when it
    looks like one (``owner/name``), else the directory's name."""
    directory = Path(directory)
    try:
        recorded = str(json.loads((directory / "config.json").read_text()).get("_name_or_path") or "")
    except (OSError, ValueError):
        recorded = ""
    parts = recorded.split("/")
    if len(parts) == 2 and all(parts) and not recorded.startswith((".", "~")):
        return recorded
    return directory.name


def check_tokenizer(tokenizer, *, vocab_size: int, directory: Path, what: str) -> None:
    """Refuse a near-empty tokenizer (AUDIO-NOTES TRAP: a missing tokenizer can load as one
    without raising) or one with more tokens than the model's embedding table."""
    size = len(tokenizer)
    if size < max(8, vocab_size // 2) or size > vocab_size:
        raise ModelLoadError(
            f"{what} tokenizer in {directory} has {size} tokens but the model's vocabulary is {vocab_size}; "
            "the checkpoint is incomplete: re-run scripts/download_models.sh"
        )


@contextlib.contextmanager
def inference() -> Iterator[None]:
    """``torch.inference_mode`` with deterministic algorithms switched on for the duration
    (the previous global setting is restored afterwards, so a miner's MusicGen in the same
    process is unaffected)."""
    import torch

    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


def fixed_windows(
    mono: np.ndarray, *, window: int, min_tail: int, max_windows: int | None = None
) -> list[np.ndarray]:
    """Consecutive fixed windows of ``mono`` (``(n,)``), never random crops.

    A trailing partial window shorter than ``min_tail`` samples is dropped unless it is the whole
    clip; at most ``max_windows`` windows are returned. Returns views, each ``(≤ window,)``.
    """
    if mono.shape[0] == 0:
        raise ValueError("empty clip")
    out: list[np.ndarray] = []
    for start in range(0, mono.shape[0], window):
        piece = mono[start : start + window]
        if out and piece.shape[0] < min_tail:
            break
        out.append(piece)
        if max_windows is not None and len(out) >= max_windows:
            break
    return out
