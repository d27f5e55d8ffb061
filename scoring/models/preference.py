"""The preference head: a small MLP that rates a clip from its CLAP audio embedding.

Trained by ``scripts/train_preference.py`` with a Bradley–Terry loss on pairs of clips people
compared (P(a preferred to b) = σ(r(a) − r(b))). The head file (``torch.save`` of plain
tensors and numbers, loaded with ``weights_only=True``) records the embedding model's name,
identity and dimension, the validation accuracy on held-out pairs, and the mean and standard
deviation of the rewards on the training clips, which turn a reward into a score
``σ((r − mean) / std)`` in (0, 1). A head built for another embedding model is refused. Its
weight in the composite is 0 below ``PREFERENCE_ACCURACY_LOW`` accuracy and rises linearly from
``PREFERENCE_WEIGHT_MIN`` to ``PREFERENCE_WEIGHT_MAX`` at ``PREFERENCE_ACCURACY_HIGH``.
"""

import logging
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scoring import constants as C
from scoring.models.loading import ModelLoadError, inference

__all__ = ["PreferenceHead", "build_mlp", "preference_weight_for", "save_head", "HEAD_FORMAT"]

logger = logging.getLogger(__name__)

HEAD_FORMAT = 1


def build_mlp(*, dim: int, hidden: int):
    """``dim → hidden → hidden/2 → 1`` MLP (GELU) producing one reward per embedding."""
    from torch import nn

    return nn.Sequential(
        nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden // 2), nn.GELU(), nn.Linear(hidden // 2, 1)
    )


def preference_weight_for(accuracy: float) -> float:
    """Composite weight of a head with validation ``accuracy`` (0 below ``PREFERENCE_ACCURACY_LOW``)."""
    if not math.isfinite(accuracy) or accuracy < C.PREFERENCE_ACCURACY_LOW:
        return 0.0
    t = min(1.0, (accuracy - C.PREFERENCE_ACCURACY_LOW) / (C.PREFERENCE_ACCURACY_HIGH - C.PREFERENCE_ACCURACY_LOW))
    return C.PREFERENCE_WEIGHT_MIN + t * (C.PREFERENCE_WEIGHT_MAX - C.PREFERENCE_WEIGHT_MIN)


def save_head(path: Path, *, mlp, hidden: int, embedding_model: str, embedding_identity: str, embedding_dim: int,
              val_accuracy: float, reward_mean: float, reward_std: float, extra: dict | None = None) -> None:
    """Write a head file (see module docstring for what it records)."""
    import torch

    payload = {
        "format": HEAD_FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in mlp.state_dict().items()},
        "hidden": int(hidden),
        "embedding_model": str(embedding_model),
        "embedding_identity": str(embedding_identity),
        "embedding_dim": int(embedding_dim),
        "val_accuracy": float(val_accuracy),
        "reward_mean": float(reward_mean),
        "reward_std": float(reward_std),
        **(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


@dataclass
class PreferenceHead:
    """A loaded head. ``score(embeddings)`` → preference scores in (0, 1)."""

    mlp: object
    embedding_model: str
    embedding_identity: str
    embedding_dim: int
    val_accuracy: float
    reward_mean: float
    reward_std: float

    @classmethod
    def load(cls, path: Path) -> "PreferenceHead":
        """Read a head file. Raises ModelLoadError when it is not one."""
        import torch

        try:
            data = torch.load(Path(path), map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
            raise ModelLoadError(f"cannot read preference head {path}: {exc}") from exc
        keys = ("state_dict", "hidden", "embedding_model", "embedding_dim", "val_accuracy", "reward_mean", "reward_std")
        if not isinstance(data, dict) or any(k not in data for k in keys) or data.get("format") != HEAD_FORMAT:
            raise ModelLoadError(f"{path} is not a preference head file (format {HEAD_FORMAT}) from scripts/train_preference.py")
        mlp = build_mlp(dim=int(data["embedding_dim"]), hidden=int(data["hidden"]))
        try:
            mlp.load_state_dict(data["state_dict"])
        except RuntimeError as exc:
            raise ModelLoadError(f"preference head {path} has inconsistent weights: {exc}") from exc
        return cls(
            mlp=mlp.eval(), embedding_model=str(data["embedding_model"]),
            embedding_identity=str(data.get("embedding_identity", "")), embedding_dim=int(data["embedding_dim"]),
            val_accuracy=float(data["val_accuracy"]), reward_mean=float(data["reward_mean"]),
            reward_std=max(float(data["reward_std"]), 1e-6),
        )

    def check_embedder(self, *, name: str, identity: str, dim: int) -> None:
        """Refuse to pair this head with an embedding model other than the one it was trained on."""
        if dim != self.embedding_dim or (self.embedding_identity and identity != self.embedding_identity):
            raise ModelLoadError(
                f"preference head was trained on {self.embedding_model} (identity {self.embedding_identity or '?'}, "
                f"dim {self.embedding_dim}) but the loaded CLAP is {name} (identity {identity}, dim {dim}); "
                "retrain it with scripts/train_preference.py"
            )

    @property
    def weight(self) -> float:
        return preference_weight_for(self.val_accuracy)

    def rewards(self, embeddings: np.ndarray) -> np.ndarray:
        """Raw rewards ``(n,)`` float64 of embeddings ``(n, d)``."""
        import torch

        x = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        with inference():
            return self.mlp(x).squeeze(-1).double().numpy()

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """Scores ``(n,)`` in (0, 1): ``σ((reward − mean) / std)``."""
        z = (self.rewards(embeddings) - self.reward_mean) / self.reward_std
        return 1.0 / (1.0 + np.exp(-z))
