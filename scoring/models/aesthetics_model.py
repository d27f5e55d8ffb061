"""The Audiobox Aesthetics network (torch): the package's ``AesMultiOutput`` ported for inference.

A WavLM encoder (:mod:`scoring.models.wavlm`), one softmax-weighted sum of its layer outputs per
axis, mean pooling over unpadded frames, L2 normalisation and one MLP head per axis
(``create_mlp_block``). Module and parameter names are the package's, so its state dicts load
unchanged. :class:`HeadConfig` holds the checkpoint's ``model_cfg`` and target statistics.
Imported only when a checkpoint is loaded (``scoring.models`` must import without torch).
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from scoring.models.wavlm import ConfigError, WavLM, WavLMConfig

__all__ = ["AXES", "HeadConfig", "AesMultiOutput"]

AXES = ("CE", "CU", "PC", "PQ")
_HEAD_KEYS = ("proj_num_layer", "proj_ln", "proj_act_fn", "proj_dropout", "nth_layer", "use_weighted_layer_sum",
              "precision", "normalize_embed", "output_dim")


@dataclass(frozen=True)
class HeadConfig:
    """The package's ``AesMultiOutput`` settings (``model_cfg``) and the target statistics."""

    target_transform: dict[str, tuple[float, float]]  # axis -> (mean, std)
    proj_num_layer: int = 1
    proj_ln: bool = False
    proj_act_fn: str = "gelu"
    proj_dropout: float = 0.0
    nth_layer: int = 13
    use_weighted_layer_sum: bool = True
    precision: str = "32"
    normalize_embed: bool = True
    output_dim: int = 1

    @classmethod
    def from_dict(cls, cfg: dict, target_transform: object) -> "HeadConfig":
        """From ``model_cfg``-style keys and a ``{axis: {"mean": m, "std": s}}`` mapping.
        Raises :class:`ConfigError` for missing/invalid statistics or settings the model cannot run."""
        if not isinstance(target_transform, dict) or any(a not in target_transform for a in AXES):
            raise ConfigError(f"target_transform must give mean and std for each of {', '.join(AXES)}")
        stats = {}
        for a in AXES:
            entry = target_transform[a]
            try:
                mean, std = float(entry["mean"]), float(entry["std"])
            except (TypeError, KeyError, ValueError) as exc:
                raise ConfigError(f"target_transform[{a!r}] must hold numbers 'mean' and 'std'") from exc
            if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
                raise ConfigError(f"target_transform[{a!r}] = mean {mean}, std {std}: needs finite values, std > 0")
            stats[a] = (mean, std)
        kwargs = {k: cfg[k] for k in _HEAD_KEYS if k in cfg}
        head = cls(target_transform=stats, **kwargs)
        if int(head.output_dim) != 1:
            raise ConfigError(f"output_dim {head.output_dim}: one score per axis (1) is what the package's inference reads")
        if not head.use_weighted_layer_sum:
            raise ConfigError("use_weighted_layer_sum=False: the package's unweighted branch pools one frame of one "
                              "batch item, not a clip; not supported")
        if int(head.proj_num_layer) < 1:
            raise ConfigError("proj_num_layer must be >= 1")
        if int(head.proj_num_layer) > 1 and head.proj_act_fn != "gelu":
            raise ConfigError(f"proj_act_fn {head.proj_act_fn!r}: the package supports only gelu")
        return head


def _mlp(dim: int, head: HeadConfig) -> nn.Sequential:
    """The package's ``create_mlp_block`` (same module indices, so the same state-dict keys)."""
    layers: list[nn.Module] = []
    for i in range(int(head.proj_num_layer)):
        if i == int(head.proj_num_layer) - 1:
            layers.append(nn.Linear(dim, int(head.output_dim)))
            continue
        layers.append(nn.Linear(dim, dim))
        if head.proj_ln:
            layers.append(nn.LayerNorm(normalized_shape=dim))
        layers.append(nn.GELU())
        if float(head.proj_dropout) != 0:
            layers.append(nn.Dropout(p=float(head.proj_dropout)))  # a no-op in eval; keeps the indices
    return nn.Sequential(*layers)


class AesMultiOutput(nn.Module):
    """WavLM + per-axis layer weights and heads; parameter names are the package's."""

    def __init__(self, head: HeadConfig, wavlm: WavLMConfig) -> None:
        super().__init__()
        if int(head.nth_layer) != wavlm.encoder_layers + 1:
            raise ConfigError(f"nth_layer {head.nth_layer} with {wavlm.encoder_layers} encoder layers: the weighted sum "
                              f"needs one weight per layer output ({wavlm.encoder_layers + 1})")
        self.head = head
        self.wavlm_model = WavLM(wavlm)
        dim = wavlm.encoder_embed_dim
        self.proj_layer = nn.ModuleDict({a: _mlp(dim, head) for a in AXES})
        n = int(head.nth_layer)
        self.layer_weights = nn.ParameterDict({a: nn.Parameter(torch.ones(n) / n) for a in AXES})

    def forward(self, wav: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """``wav`` ``(B, S)`` float32 at 16 kHz, ``mask`` ``(B, S)`` bool (True = real sample) →
        standardised predictions ``{axis: (B,)}``."""
        outputs, frame_padding = self.wavlm_model.layer_outputs(wav, padding_mask=~mask,
                                                               output_layer=int(self.head.nth_layer))
        stacked = torch.stack(outputs, dim=-1)  # (T, B, D, L)
        preds = {}
        for a in AXES:
            weights = torch.nn.functional.softmax(self.layer_weights[a], dim=-1)
            embed = torch.einsum("tbcl,l->btc", stacked, weights)
            frame_mask = (~frame_padding).unsqueeze(dim=-1).type_as(embed)
            embed = (embed * frame_mask).sum(dim=1) / frame_mask.sum(dim=1).clamp(min=1)
            if self.head.normalize_embed:
                embed = torch.nn.functional.normalize(embed, dim=-1)
            preds[a] = self.proj_layer[a](embed).squeeze(-1)
        return preds
