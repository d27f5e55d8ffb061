"""The WavLM encoder of Audiobox Aesthetics, ported for inference (fp32, eval mode only).

A port of the subset of ``audiobox_aesthetics/model/wavlm.py`` (itself Microsoft's WavLM code on
fairseq) that the released model runs: the convolutional feature extractor (group norm in the
first block, or layer norm in every block), the weight-normed convolutional position embedding,
and post- or pre-norm transformer layers with WavLM's bucketed relative position bias and its
gated (GRU-style) rescaling. Module and parameter names are the package's, so its state dicts load
here unchanged; ``tests/test_scoring_aesthetics.py`` holds this port to the package's outputs.

Left out because inference never runs them: masking, dropout, layer drop, gradient scaling, the
``conv2d``/``custom`` extractors and the incremental-decoding attention path. Two package quirks
are refused rather than copied (:meth:`WavLMConfig.from_dict`): ``normalize=True`` (the package
layer-normalises the whole *batch* tensor at once, so a clip's score would depend on its batch
mates) and activations other than ``gelu``/``relu``. The package draws ``np.random.random()`` once
per layer even in eval mode (for layer drop); this port does not touch any global RNG.

Shapes: a batch of windows is ``(B, S)`` float32 samples at 16 kHz; the feature extractor's
strides (5·2·2·2·2·2·2 = 320 by default) give ``T = frames`` of 20 ms; hidden size ``D``.
"""

import ast
import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["WavLMConfig", "WavLM", "ConfigError", "parse_conv_layers"]

# Keys of the package's WavLMConfig that only matter in training (dropouts, masking, layer drop,
# gradient scaling): accepted in a config and ignored.
_TRAINING_ONLY = frozenset({
    "dropout", "attention_dropout", "activation_dropout", "encoder_layerdrop", "dropout_input",
    "dropout_features", "feature_grad_mult", "mask_length", "mask_prob", "mask_selection", "mask_other",
    "no_mask_overlap", "mask_min_space", "mask_channel_length", "mask_channel_prob",
    "mask_channel_selection", "mask_channel_other", "no_mask_channel_overlap", "mask_channel_min_space",
})


class ConfigError(ValueError):
    """A WavLM configuration this port cannot run (or that the package would run wrongly)."""


def parse_conv_layers(spec: "str | list | tuple") -> tuple[tuple[int, int, int], ...]:
    """``[(dim, kernel, stride), ...]`` from the package's string form (e.g.
    ``"[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"``, which the package ``eval``s) or from a
    list. The string is read with :mod:`ast` and only list/tuple literals of integers, ``+`` and
    ``* int`` are allowed: a checkpoint's config never runs code here."""
    if isinstance(spec, str):
        try:
            tree = ast.parse(spec, mode="eval").body
        except SyntaxError as exc:
            raise ConfigError(f"conv_feature_layers {spec!r} is not a list expression") from exc
        value = _literal(tree)
    else:
        value = spec
    try:
        layers = tuple((int(d), int(k), int(s)) for d, k, s in value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"conv_feature_layers must be (dim, kernel, stride) triples, got {spec!r}") from exc
    if not layers or any(d <= 0 or k <= 0 or s <= 0 for d, k, s in layers):
        raise ConfigError(f"conv_feature_layers must be non-empty positive triples, got {spec!r}")
    return layers


def _literal(node: ast.AST):
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        if isinstance(left, list) and isinstance(right, list):
            return left + right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = _literal(node.left), _literal(node.right)
        if isinstance(left, list) and isinstance(right, int) and 0 <= right <= 64:
            return left * right
    raise ConfigError(f"conv_feature_layers: unsupported expression {ast.dump(node)[:80]}")


@dataclass(frozen=True)
class WavLMConfig:
    """The encoder's shape. Defaults are the package's ``DEFAULT_AUDIO_CFG`` (the released
    model: WavLM Base+ sized, 12 layers of 768; 94.4 M parameters with the heads)."""

    extractor_mode: str = "default"
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    conv_feature_layers: tuple[tuple[int, int, int], ...] = ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
    conv_bias: bool = False
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True
    normalize: bool = False

    @classmethod
    def from_dict(cls, values: dict | None) -> "WavLMConfig":
        """Defaults updated with ``values`` (package key names). Training-only keys are ignored;
        unknown keys and unsupported settings raise :class:`ConfigError`."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(k for k in values if k not in known and k not in _TRAINING_ONLY)
        if unknown:
            raise ConfigError(f"unknown WavLM config keys: {', '.join(unknown)}")
        kwargs = {k: v for k, v in values.items() if k in known}
        if "conv_feature_layers" in kwargs:
            kwargs["conv_feature_layers"] = parse_conv_layers(kwargs["conv_feature_layers"])
        cfg = cls(**kwargs)
        cfg.check()
        return cfg

    def check(self) -> None:
        """Raise :class:`ConfigError` for settings this port does not run."""
        if self.extractor_mode not in ("default", "layer_norm"):
            raise ConfigError(f"extractor_mode {self.extractor_mode!r} (supported: default, layer_norm)")
        if self.activation_fn not in ("gelu", "relu"):
            raise ConfigError(f"activation_fn {self.activation_fn!r} (supported: gelu, relu)")
        if self.normalize:
            raise ConfigError("normalize=True: the package normalises the whole batch tensor at once, so a clip's "
                              "score would depend on the other clips in its batch")
        dims = (self.encoder_layers, self.encoder_embed_dim, self.encoder_ffn_embed_dim, self.encoder_attention_heads,
                self.conv_pos, self.conv_pos_groups)
        if any(int(d) <= 0 for d in dims):
            raise ConfigError("encoder sizes must be positive")
        if self.encoder_embed_dim % self.encoder_attention_heads:
            raise ConfigError("encoder_embed_dim must be divisible by encoder_attention_heads")
        if self.encoder_embed_dim % self.conv_pos_groups:
            raise ConfigError("encoder_embed_dim must be divisible by conv_pos_groups")
        if self.gru_rel_pos and (self.encoder_embed_dim // self.encoder_attention_heads) <= 0:
            raise ConfigError("gru_rel_pos needs a positive head size")
        if self.relative_position_embedding and (self.num_buckets < 4 or self.max_distance <= self.num_buckets // 4):
            raise ConfigError("relative position embedding needs num_buckets >= 4 and max_distance > num_buckets / 4")

    @property
    def downsample(self) -> int:
        """Input samples per output frame (product of the conv strides; 320 by default)."""
        return math.prod(s for _, _, s in self.conv_feature_layers)


def _activation(name: str):
    if name == "gelu":  # the package's gelu: computed in fp32, cast back
        return lambda x: F.gelu(x.float()).type_as(x)
    return F.relu


class _TransposeLast(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-2, -1)


class ConvFeatureExtractor(nn.Module):
    """``(B, S)`` samples → ``(B, C, T)``. Blocks are ``nn.Sequential`` with the package's indices
    (0 conv, 1 dropout, 2 norm, 3 GELU), so state-dict keys match."""

    def __init__(self, layers: tuple[tuple[int, int, int], ...], *, mode: str, conv_bias: bool) -> None:
        super().__init__()
        self.conv_layers = nn.ModuleList()
        in_d = 1
        for i, (dim, k, stride) in enumerate(layers):
            conv = nn.Conv1d(in_d, dim, k, stride=stride, bias=conv_bias)
            if mode == "layer_norm":
                norm = nn.Sequential(_TransposeLast(), nn.LayerNorm(dim, elementwise_affine=True), _TransposeLast())
                block = nn.Sequential(conv, nn.Identity(), norm, nn.GELU())
            elif i == 0:
                block = nn.Sequential(conv, nn.Identity(), nn.GroupNorm(dim, dim, affine=True), nn.GELU())
            else:
                block = nn.Sequential(conv, nn.Identity(), nn.GELU())
            self.conv_layers.append(block)
            in_d = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1)
        for block in self.conv_layers:
            x = block(x)
        return x


class _WeightNormConv(nn.Module):
    """The position convolution with ``torch.nn.utils.weight_norm(dim=2)``'s parameters
    (``weight_g``, ``weight_v``), the weight recomputed at each call as that hook does."""

    def __init__(self, dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.padding = kernel // 2
        self.groups = groups
        # initialised as the package does (normal weights, then weight_norm's g = |v| along dim 2)
        v = torch.randn(dim, dim // groups, kernel) * math.sqrt(4.0 / (kernel * dim))
        self.weight_v = nn.Parameter(v)
        self.weight_g = nn.Parameter(torch.norm_except_dim(v, 2, 2).clone())
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch._weight_norm(self.weight_v, self.weight_g, 2)
        return F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)


class _SamePad(nn.Module):
    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.remove = 1 if kernel % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, : -self.remove] if self.remove else x


class SelfAttention(nn.Module):
    """Multi-head self-attention with WavLM's relative position bias (computed by the layer that
    owns ``relative_attention_bias``, then passed on) and its gated rescaling per layer.
    Input ``(T, B, D)``; returns ``(T, B, D)`` and the (ungated) bias ``(B·H, T, T)`` or None."""

    def __init__(self, cfg: WavLMConfig, *, has_relative_attention_bias: bool) -> None:
        super().__init__()
        d, h = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        self.embed_dim, self.num_heads, self.head_dim = d, h, d // h
        self.num_buckets, self.max_distance = cfg.num_buckets, cfg.max_distance
        self.has_relative_attention_bias = has_relative_attention_bias
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(cfg.num_buckets, h)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)
        self.gru_rel_pos = cfg.gru_rel_pos
        if cfg.gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, h, 1, 1))

    def _bucket(self, relative: torch.Tensor) -> torch.Tensor:
        num_buckets = self.num_buckets // 2
        buckets = (relative > 0).to(torch.long) * num_buckets
        relative = torch.abs(relative)
        max_exact = num_buckets // 2
        is_small = relative < max_exact
        large = max_exact + (
            torch.log(relative.float() / max_exact) / math.log(self.max_distance / max_exact) * (num_buckets - max_exact)
        ).to(torch.long)
        large = torch.min(large, torch.full_like(large, num_buckets - 1))
        return buckets + torch.where(is_small, relative, large)

    def compute_bias(self, length: int) -> torch.Tensor:
        """``(H, T, T)`` bias for a sequence of ``length`` frames."""
        pos = torch.arange(length, dtype=torch.long)
        bucket = self._bucket(pos[None, :] - pos[:, None]).to(self.relative_attention_bias.weight.device)
        return self.relative_attention_bias(bucket).permute([2, 0, 1])

    def forward(
        self, x: torch.Tensor, *, key_padding_mask: torch.Tensor | None, position_bias: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        tgt_len, bsz, _ = x.shape
        if self.has_relative_attention_bias and position_bias is None:
            position_bias = (self.compute_bias(tgt_len).unsqueeze(0).repeat(bsz, 1, 1, 1)
                             .view(bsz * self.num_heads, tgt_len, tgt_len))
        attn_mask = None
        if position_bias is not None:
            attn_mask = position_bias
            if self.gru_rel_pos:
                q = x.transpose(0, 1).reshape(bsz, tgt_len, self.num_heads, -1).permute(0, 2, 1, 3)
                gate_a, gate_b = torch.sigmoid(
                    self.grep_linear(q).view(bsz, self.num_heads, tgt_len, 2, 4).sum(-1, keepdim=False)
                ).chunk(2, dim=-1)
                gate = gate_a * (gate_b * self.grep_a - 1.0) + 2.0
                attn_mask = gate.view(bsz * self.num_heads, -1, 1) * position_bias
            attn_mask = attn_mask.view((-1, tgt_len, tgt_len))
            if key_padding_mask is not None and key_padding_mask.dtype == torch.bool:
                # what multi_head_attention_forward does to a bool mask next to a float one (same
                # values), done here so it does not warn that mixing mask types is deprecated
                key_padding_mask = torch.zeros_like(key_padding_mask, dtype=attn_mask.dtype).masked_fill_(
                    key_padding_mask, float("-inf"))
        out, _ = F.multi_head_attention_forward(
            x, x, x, self.embed_dim, self.num_heads,
            torch.empty([0]),
            torch.cat((self.q_proj.bias, self.k_proj.bias, self.v_proj.bias)),
            None, None, False, 0.0,
            self.out_proj.weight, self.out_proj.bias,
            False,  # training
            key_padding_mask, False, attn_mask,
            use_separate_proj_weight=True,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
        )
        return out, position_bias


class EncoderLayer(nn.Module):
    """One transformer layer (post-norm unless ``layer_norm_first``), ``(T, B, D)`` in and out."""

    def __init__(self, cfg: WavLMConfig, *, has_relative_attention_bias: bool) -> None:
        super().__init__()
        d = cfg.encoder_embed_dim
        self.self_attn = SelfAttention(cfg, has_relative_attention_bias=has_relative_attention_bias)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(cfg.encoder_ffn_embed_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.layer_norm_first = cfg.layer_norm_first
        self.activation = _activation(cfg.activation_fn)

    def forward(
        self, x: torch.Tensor, *, padding_mask: torch.Tensor | None, pos_bias: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        residual = x
        if self.layer_norm_first:
            x = self.self_attn_layer_norm(x)
            x, pos_bias = self.self_attn(x, key_padding_mask=padding_mask, position_bias=pos_bias)
            x = residual + x
            residual = x
            x = self.final_layer_norm(x)
            x = self.fc2(self.activation(self.fc1(x)))
            return residual + x, pos_bias
        x, pos_bias = self.self_attn(x, key_padding_mask=padding_mask, position_bias=pos_bias)
        x = self.self_attn_layer_norm(residual + x)
        residual = x
        x = self.fc2(self.activation(self.fc1(x)))
        return self.final_layer_norm(residual + x), pos_bias


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: WavLMConfig) -> None:
        super().__init__()
        d = cfg.encoder_embed_dim
        self.pos_conv = nn.Sequential(_WeightNormConv(d, cfg.conv_pos, cfg.conv_pos_groups), _SamePad(cfg.conv_pos),
                                      nn.GELU())
        self.layers = nn.ModuleList([
            EncoderLayer(cfg, has_relative_attention_bias=cfg.relative_position_embedding and i == 0)
            for i in range(cfg.encoder_layers)
        ])
        self.layer_norm_first = cfg.layer_norm_first
        self.layer_norm = nn.LayerNorm(d)

    def layer_outputs(self, x: torch.Tensor, *, padding_mask: torch.Tensor | None, last: int) -> list[torch.Tensor]:
        """The package's ``layer_results`` for ``tgt_layer = last``: the input to the first layer
        and the output of each layer up to ``last`` (0-based), each ``(T, B, D)``."""
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        x = x.transpose(0, 1)
        outputs = [x]
        pos_bias = None
        for i, layer in enumerate(self.layers):
            x, pos_bias = layer(x, padding_mask=padding_mask, pos_bias=pos_bias)
            outputs.append(x)
            if i == last:
                break
        return outputs


class WavLM(nn.Module):
    """Feature extractor + transformer. :meth:`layer_outputs` is what Audiobox Aesthetics reads."""

    def __init__(self, cfg: WavLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        embed = cfg.conv_feature_layers[-1][0]
        self.feature_extractor = ConvFeatureExtractor(cfg.conv_feature_layers, mode=cfg.extractor_mode,
                                                      conv_bias=cfg.conv_bias)
        self.post_extract_proj = nn.Linear(embed, cfg.encoder_embed_dim) if embed != cfg.encoder_embed_dim else None
        self.mask_emb = nn.Parameter(torch.zeros(cfg.encoder_embed_dim))  # training only; kept for the state dict
        self.encoder = TransformerEncoder(cfg)
        self.layer_norm = nn.LayerNorm(embed)

    @staticmethod
    def frame_padding_mask(padding_mask: torch.Tensor, frames: int) -> torch.Tensor:
        """Sample padding ``(B, S)`` (True = padding) → frame padding ``(B, T)``: a frame is padding
        when every sample of its (S // T)-sample slice is (the package's ``forward_padding_mask``)."""
        extra = padding_mask.size(1) % frames
        if extra > 0:
            padding_mask = padding_mask[:, :-extra]
        return padding_mask.view(padding_mask.size(0), frames, -1).all(-1)

    def layer_outputs(
        self, source: torch.Tensor, *, padding_mask: torch.Tensor | None, output_layer: int
    ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """``source`` ``(B, S)`` → (layer outputs, each ``(T, B, D)``; frame padding ``(B, T)``)."""
        features = self.feature_extractor(source).transpose(1, 2)
        features = self.layer_norm(features)
        if padding_mask is not None:
            padding_mask = self.frame_padding_mask(padding_mask, features.size(1))
        if self.post_extract_proj is not None:
            features = self.post_extract_proj(features)
        outputs = self.encoder.layer_outputs(features, padding_mask=padding_mask, last=output_layer - 1)
        return outputs, padding_mask
