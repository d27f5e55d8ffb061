"""Audiobox Aesthetics (Meta, CC-BY-4.0 weights): four learned aesthetic axes per clip, on 1–10.

CE content enjoyment, CU content usefulness, PC production complexity, PQ production quality
(Tjandra et al. 2025, arXiv:2502.05139). The model is a WavLM encoder (:mod:`scoring.models.wavlm`)
whose layer outputs are mixed by a softmax-weighted sum per axis, mean-pooled over the unpadded
frames, L2-normalised and read by one small MLP head per axis; heads predict standardised scores
that the checkpoint's target statistics map back onto the 1–10 scale.

**Checkpoint** (``<models_dir>/audiobox-aesthetics/``, filled by ``scripts/download_models.sh
aesthetics`` from the hub repo ``facebook/audiobox-aesthetics``), either layout:

- ``config.json`` + ``model.safetensors``: what ``AesMultiOutput.save_pretrained`` writes
  (huggingface_hub's ``PyTorchModelHubMixin``): the head settings and ``target_transform`` as
  JSON, the state dict as safetensors. Preferred when both layouts are there (no pickle at all).
- ``checkpoint.pt``: the training checkpoint the package's ``infer.py`` loads: a dict with
  ``state_dict`` (keys prefixed ``model.``), ``model_cfg`` and ``target_transform``. Read with
  ``torch.load(weights_only=True)``, which refuses any pickled object other than tensors and
  plain containers (the released file holds only those).

The encoder's shape is not in the released files: the package hard-codes it
(``DEFAULT_AUDIO_CFG``, WavLM Base+ sized), and so do we (:class:`WavLMConfig` defaults). A
config may carry an optional ``wavlm_config`` mapping (package key names) that overrides it:
only the tiny test models use that. Nothing is downloaded and the hub is never called.

**Preprocessing, as the package's ``infer.py``:** the clip's channel mean, resampled to 16 kHz
(soxr HQ here; the package uses torchaudio's sinc resampler, which our torch build lacks, and
takes the channel mean after resampling: both linear, so that order changes only float
rounding), cut into 10 s windows every 10 s from the start; the last window is zero-padded to
10 s with a padding mask and weighs its real length / 10 s in the clip's mean (a clip of
10.5 s gives a full window and a 0.5 s window weighing 0.05). Every window of the clip is used
(an 180 s clip: 18 windows). Each axis is the weighted mean of its windows' de-standardised
predictions. Inference is fp32 on the CPU whatever ``precision`` the checkpoint names (the
package autocasts when it is ``16``/``bf16``), in eval mode. On the CPU windows go through the
model one at a time: that is no slower there than a clip's three windows together (6.9 vs 7.9 s
per 30 s clip on one shared core, ``bench/bench_scoring_neural.py --full-aesthetics``) and makes a
window's result exactly independent of the other clips of the round; other devices take batches
of ``GPU_BATCH`` windows, equal to one-window passes up to float rounding.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from scoring.models.loading import ModelLoadError, inference, model_identity

if TYPE_CHECKING:
    from scoring.models.aesthetics_model import AesMultiOutput

__all__ = [
    "AXES",
    "SAMPLE_RATE",
    "WINDOW_SECONDS",
    "HOP_SECONDS",
    "AestheticsScores",
    "AestheticsPredictor",
    "inference_windows",
    "read_checkpoint",
    "CONFIG_FILE",
    "SAFETENSORS_FILE",
    "CHECKPOINT_FILE",
]

logger = logging.getLogger(__name__)

AXES = ("CE", "CU", "PC", "PQ")  # the order of aesthetics_model.AXES
SAMPLE_RATE = 16_000
WINDOW_SECONDS = 10
HOP_SECONDS = 10
CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"
NAME = "audiobox-aesthetics"

GPU_BATCH = 8  # windows per forward pass off the CPU (the first conv output is 65 MB per window)


@dataclass(frozen=True)
class AestheticsScores:
    """The four axes of one clip on the model's 1–10 scale (weighted window means; not clipped,
    a prediction may leave the scale slightly), and how many 10 s windows they come from."""

    CE: float
    CU: float
    PC: float
    PQ: float
    windows: int

    def axis(self, name: str) -> float:
        """The value of axis ``name`` (one of :data:`AXES`)."""
        if name not in AXES:
            raise KeyError(f"unknown aesthetics axis {name!r} (axes: {', '.join(AXES)})")
        return float(getattr(self, name))

    def as_dict(self) -> dict[str, float]:
        return {a: self.axis(a) for a in AXES}


def inference_windows(n_samples: int) -> list[tuple[int, int]]:
    """``(start, real length)`` in samples of the 10 s windows of a clip of ``n_samples`` samples at
    16 kHz: one every 10 s from 0 while the start is inside the clip (``infer.make_inference_batch``
    with ``hop_size=10, window_size=10``). Each is zero-padded to 10 s and weighs length / 10 s."""
    if n_samples <= 0:
        raise ValueError("empty clip")
    hop, window = HOP_SECONDS * SAMPLE_RATE, WINDOW_SECONDS * SAMPLE_RATE
    return [(start, min(window, n_samples - start)) for start in range(0, n_samples, hop)]


def read_checkpoint(directory: Path) -> tuple[dict, Any, dict[str, Any], Path]:
    """``(head config dict, target_transform, state dict of tensors, weight file)`` from either layout.

    Raises:
        ModelLoadError: neither layout is complete, or a file cannot be read."""
    directory = Path(directory)
    config_path, st_path, ckpt_path = directory / CONFIG_FILE, directory / SAFETENSORS_FILE, directory / CHECKPOINT_FILE
    if config_path.is_file() and st_path.is_file():
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot read {config_path}: {exc}") from exc
        if not isinstance(config, dict):
            raise ModelLoadError(f"{config_path} is not a JSON object")
        try:
            from safetensors.torch import load_file

            state = load_file(str(st_path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - any failure to parse the file means it is unusable
            raise ModelLoadError(f"cannot read {st_path} ({type(exc).__name__}: {exc}); re-run "
                                 "scripts/download_models.sh aesthetics") from exc
        return config, config.get("target_transform"), state, st_path
    if ckpt_path.is_file():
        import torch

        try:
            ckpt = torch.load(str(ckpt_path), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - truncated zip, foreign pickle, not a checkpoint: unusable
            raise ModelLoadError(f"cannot read {ckpt_path} ({type(exc).__name__}: {exc}); re-run "
                                 "scripts/download_models.sh aesthetics") from exc
        if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
            raise ModelLoadError(f"{ckpt_path} has no 'state_dict': not an Audiobox Aesthetics checkpoint")
        cfg = ckpt.get("model_cfg")
        if not isinstance(cfg, dict):
            raise ModelLoadError(f"{ckpt_path} has no 'model_cfg': not an Audiobox Aesthetics checkpoint")
        state = {(k[len("model."):] if k.startswith("model.") else k): v for k, v in ckpt["state_dict"].items()}
        return dict(cfg), ckpt.get("target_transform"), state, ckpt_path
    present = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    raise ModelLoadError(
        f"{directory} holds neither {CONFIG_FILE} + {SAFETENSORS_FILE} nor {CHECKPOINT_FILE} (found: "
        f"{', '.join(present) or 'nothing'}); run scripts/download_models.sh aesthetics"
    )


class AestheticsPredictor:
    """A loaded Audiobox Aesthetics model. Build with :meth:`from_dir`; load once per process."""

    sample_rate = SAMPLE_RATE

    def __init__(self, *, model: "AesMultiOutput", name: str, identity: str, device: str = "cpu") -> None:
        self.model = model.eval()
        self.name = name
        self.identity = identity
        self.device = device
        self.head = model.head
        self.batch_windows = 1 if str(device) == "cpu" else GPU_BATCH
        self.n_parameters = sum(p.numel() for p in model.parameters())

    @classmethod
    def from_dir(cls, directory: Path, *, device: str = "cpu") -> "AestheticsPredictor":
        """Load the checkpoint in ``directory`` (see the module docstring for the layouts).

        Raises:
            ModelLoadError: files absent, unreadable, of another architecture, or with
                non-finite weights or statistics."""
        import torch

        from scoring.models.aesthetics_model import AesMultiOutput, HeadConfig
        from scoring.models.wavlm import ConfigError, WavLMConfig

        directory = Path(directory)
        config, target_transform, state, weight_file = read_checkpoint(directory)
        try:
            head = HeadConfig.from_dict(config, target_transform)
            wavlm = WavLMConfig.from_dict(config.get("wavlm_config"))
            model = AesMultiOutput(head, wavlm)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{weight_file}: {exc}") from exc
        bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise ModelLoadError(f"{weight_file}: state dict entries that are not tensors: {', '.join(bad[:5])}")
        state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelLoadError(f"{weight_file} does not match the Audiobox Aesthetics architecture "
                                 f"({wavlm.encoder_layers} layers of {wavlm.encoder_embed_dim}): {_first_lines(exc)}") from exc
        nonfinite = [k for k, v in model.state_dict().items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if nonfinite:
            raise ModelLoadError(f"{weight_file}: non-finite weights in {', '.join(nonfinite[:5])}")
        if str(head.precision) != "32":
            logger.info("aesthetics checkpoint names precision %s; running fp32", head.precision)
        model = model.to(device).eval()
        return cls(model=model, name=NAME, identity=model_identity(directory), device=device)

    # --- audio ----------------------------------------------------------------------------
    def resample(self, mono: np.ndarray, *, sample_rate: int) -> np.ndarray:
        """``mono`` (float ``(n,)`` at ``sample_rate``) at 16 kHz, float32 (soxr HQ)."""
        x = np.asarray(mono, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected mono samples (n,), got shape {x.shape}")
        if sample_rate != self.sample_rate:
            x = soxr.resample(x, sample_rate, self.sample_rate, quality="HQ")
        return np.ascontiguousarray(x, dtype=np.float32)

    def predict_recordings(self, recordings: list[tuple[np.ndarray, int]]) -> list[AestheticsScores]:
        """:meth:`predict` of ``(mono float (frames,), sample_rate)`` pairs, resampled once each."""
        return self.predict([self.resample(m, sample_rate=sr) for m, sr in recordings])

    def predict(self, clips: list[np.ndarray]) -> list[AestheticsScores]:
        """One :class:`AestheticsScores` per mono clip (float32 ``(n,)`` at 16 kHz). The windows of
        all clips go through the model in order, :attr:`batch_windows` at a time (1 on the CPU, so
        a clip's scores do not depend on the other clips; in larger batches they do only through
        float rounding: per-window norms, masked attention and pooling)."""
        window = WINDOW_SECONDS * SAMPLE_RATE
        pieces: list[tuple[int, int, int]] = []  # (clip, start, length)
        for i, clip in enumerate(clips):
            pieces.extend((i, start, length) for start, length in inference_windows(int(clip.shape[0])))
        preds = np.zeros((len(pieces), len(AXES)), dtype=np.float64)
        for s in range(0, len(pieces), self.batch_windows):
            chunk = pieces[s : s + self.batch_windows]
            wav = np.zeros((len(chunk), window), dtype=np.float32)
            mask = np.zeros((len(chunk), window), dtype=bool)
            for row, (i, start, length) in enumerate(chunk):
                wav[row, :length] = clips[i][start : start + length]
                mask[row, :length] = True
            preds[s : s + len(chunk)] = self._forward(wav, mask)
        out = []
        for i in range(len(clips)):
            rows = [k for k, (owner, _, _) in enumerate(pieces) if owner == i]
            weights = np.array([pieces[k][2] / window for k in rows], dtype=np.float64)
            axes = (preds[rows] * weights[:, None]).sum(axis=0) / weights.sum()
            if not np.all(np.isfinite(axes)):
                raise ValueError(f"non-finite aesthetics prediction for clip {i} of {len(clips)}")
            out.append(AestheticsScores(**{a: float(v) for a, v in zip(AXES, axes)}, windows=len(rows)))
        return out

    def _forward(self, wav: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """De-standardised predictions ``(B, 4)`` (axes in :data:`AXES` order) of padded windows
        ``wav`` ``(B, S)`` float32 with ``mask`` ``(B, S)`` bool."""
        import torch

        with inference():
            preds = self.model(torch.from_numpy(wav).to(self.device), torch.from_numpy(mask).to(self.device))
        cols = []
        for a in AXES:
            mean, std = self.head.target_transform[a]
            cols.append((preds[a].float().cpu() * std + mean).numpy().astype(np.float64))
        return np.stack(cols, axis=1)


def _first_lines(exc: Exception, n: int = 3) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in lines[:n]) + (" ..." if len(lines) > n else "")
