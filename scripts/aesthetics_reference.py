"""Reference outputs of the original Audiobox Aesthetics code for the parity test of our port.

Runs the ``audiobox-aesthetics`` 0.0.4 package's own model (``AesMultiOutput``) and inference
pipeline (``infer.AesPredictor``: windowing, padding masks, weighting, de-standardising) on fixed
clips, with tiny random models of the same architecture (the package hard-codes its encoder size
in ``model.aes.DEFAULT_AUDIO_CFG``; this script swaps in a small one before building). Each model
is saved as a ``checkpoint.pt`` in the package's own training-checkpoint format, which is also
what our loader reads; the tests load it through ``scoring.models.load_models`` and compare.

Writes ``tests/data/aesthetics_reference.json`` (per clip and model: the four axes) and
``tests/data/aesthetics_reference_<model>.pt``. The clips are made by :func:`reference_clip` from
integer arithmetic only, so the test rebuilds them bit-identically on any machine.

The package's ``infer.py`` imports torchaudio (no build for our torch); it is used there only to
load files and resample, so when it is not installed a stub is put in its place that passes
16 kHz input through unchanged and refuses anything else (the clips here are 16 kHz).

    pip install --no-deps audiobox_aesthetics-0.0.4-py3-none-any.whl   # or --package-path DIR
    python scripts/aesthetics_reference.py [--package-path DIR] [--out tests/data]
"""

import argparse
import hashlib
import importlib.util
import json
import logging
import sys
import types
from pathlib import Path

import numpy as np

logger = logging.getLogger("aesthetics_reference")

SR = 16_000

#: Tiny encoder configs (package key names) and head settings of the reference models. "released"
#: has the released model's structure (group-norm extractor, post-norm layers, gated relative
#: position bias, one linear head); "variant" exercises the other branches the port supports.
MODELS: dict[str, dict] = {
    "released": {
        "wavlm_config": {
            "encoder_layers": 2, "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 48, "encoder_attention_heads": 2,
            "conv_feature_layers": "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2", "conv_pos": 16,
            "conv_pos_groups": 4, "num_buckets": 32, "max_distance": 64,
        },
        "head": {"proj_num_layer": 1, "proj_ln": False, "proj_act_fn": "gelu", "proj_dropout": 0.0, "nth_layer": 3,
                 "use_weighted_layer_sum": True, "precision": "32", "normalize_embed": True, "output_dim": 1},
        "target_transform": {"CE": (5.5, 1.6), "CU": (6.2, 1.4), "PC": (4.1, 1.9), "PQ": (6.8, 1.3)},
        "seed": 1,
    },
    "variant": {
        "wavlm_config": {
            "extractor_mode": "layer_norm", "layer_norm_first": True, "conv_bias": True, "activation_fn": "relu",
            "encoder_layers": 3, "encoder_embed_dim": 24, "encoder_ffn_embed_dim": 40, "encoder_attention_heads": 3,
            "conv_feature_layers": "[(12,10,5)] + [(12,3,2)] * 4 + [(12,2,2)] * 2", "conv_pos": 15,
            "conv_pos_groups": 3, "relative_position_embedding": False, "gru_rel_pos": False,
        },
        "head": {"proj_num_layer": 2, "proj_ln": True, "proj_act_fn": "gelu", "proj_dropout": 0.1, "nth_layer": 4,
                 "use_weighted_layer_sum": True, "precision": "32", "normalize_embed": False, "output_dim": 1},
        "target_transform": {"CE": (5.0, 2.0), "CU": (5.0, 1.0), "PC": (3.0, 2.5), "PQ": (7.0, 0.8)},
        "seed": 2,
    },
}

#: (name, seconds as samples at 16 kHz, channels, seed): one padded window; a full window and a
#: quarter one (stereo); two full windows; a full window and a 100-sample one (weight 0.000625).
CLIPS = (("short", 51_200, 1, 11), ("stereo", 200_000, 2, 12), ("two_windows", 320_000, 1, 13),
         ("sliver", 160_100, 1, 14))


def reference_clip(n: int, channels: int, seed: int) -> np.ndarray:
    """A deterministic test clip, float32 ``(channels, n)`` in [-1, 1) at 16 kHz, from integer
    arithmetic only (bit-identical everywhere): a square wave whose pitch and loudness step every
    quarter second, plus hashed noise; channel k is shifted by k·37 samples and pitched a fifth up."""
    out = np.zeros((channels, n), dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    for ch in range(channels):
        k = idx + 37 * ch
        step = k // 4000
        period = np.array([80, 64, 54, 48, 40, 36])[(step * (seed + 3)) % 6] * (2 if ch == 0 else 3) // 2
        square = np.where((k % period) < period // 2, 6000, -6000) * ((step % 4) + 1) // 4
        h = (k.astype(np.uint64) * np.uint64(2654435761) + np.uint64(seed * 97 + ch)) & np.uint64(0xFFFFFFFF)
        h ^= h >> np.uint64(15)
        h = (h * np.uint64(2246822519)) & np.uint64(0xFFFFFFFF)
        h ^= h >> np.uint64(13)
        noise = (h & np.uint64(4095)).astype(np.int64) - 2048
        out[ch] = square + noise
    return (out.astype(np.float32) / np.float32(32768)).astype(np.float32)


def _stub_torchaudio() -> None:
    if importlib.util.find_spec("torchaudio") is not None:
        return

    def resample(wav, orig_freq, new_freq):
        if orig_freq != new_freq:
            raise RuntimeError("torchaudio stub: the reference clips are already at 16 kHz")
        return wav

    def refuse(*_a, **_k):
        raise RuntimeError("torchaudio stub: loading files is not used by this script")

    stub = types.ModuleType("torchaudio")
    stub.functional = types.SimpleNamespace(resample=resample)
    stub.load = refuse
    stub.info = refuse
    sys.modules["torchaudio"] = stub


def build_reference_model(aes, wavlm_mod, spec: dict):
    """The package's ``AesMultiOutput`` with the tiny encoder of ``spec`` and seeded weights."""
    import torch

    cfg = dict(aes.DEFAULT_AUDIO_CFG.__dict__)
    cfg.update(spec["wavlm_config"])
    saved = aes.DEFAULT_AUDIO_CFG
    aes.DEFAULT_AUDIO_CFG = wavlm_mod.WavLMConfig(cfg)  # read by AesMultiOutput.__post_init__
    try:
        torch.manual_seed(spec["seed"])
        tt = {a: {"mean": m, "std": s} for a, (m, s) in spec["target_transform"].items()}
        model = aes.AesMultiOutput(**{k: v for k, v in spec["head"].items()}, target_transform=tt)
    finally:
        aes.DEFAULT_AUDIO_CFG = saved
    gen = torch.Generator().manual_seed(spec["seed"] + 100)
    with torch.no_grad():  # untrained values would be uniform layer weights and unit gates: move them
        for name, p in model.named_parameters():
            if name.startswith("layer_weights.") or name.endswith("grep_a"):
                p.add_(0.5 * torch.randn(p.shape, generator=gen))
    return model.eval(), tt


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--package-path", type=Path, default=None,
                   help="directory holding the audiobox_aesthetics package (default: the installed one)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "data")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.package_path is not None:
        sys.path.insert(0, str(args.package_path))
    _stub_torchaudio()
    import torch

    torch.set_num_threads(1)
    from audiobox_aesthetics import infer
    from audiobox_aesthetics.model import aes
    from audiobox_aesthetics.model import wavlm as wavlm_mod

    args.out.mkdir(parents=True, exist_ok=True)
    clips = {name: reference_clip(n, ch, seed) for name, n, ch, seed in CLIPS}
    result: dict = {"package": "audiobox-aesthetics 0.0.4", "torch": torch.__version__, "sample_rate": SR,
                    "clips": [{"name": n, "samples": s, "channels": c, "seed": sd} for n, s, c, sd in CLIPS],
                    "models": {}}
    for model_name, spec in MODELS.items():
        model, tt = build_reference_model(aes, wavlm_mod, spec)
        path = args.out / f"aesthetics_reference_{model_name}.pt"
        torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                    "model_cfg": dict(spec["head"], wavlm_config=spec["wavlm_config"]),
                    "target_transform": tt}, path)
        # the package's own loader and pipeline, on the file just written
        saved = aes.DEFAULT_AUDIO_CFG
        cfg = dict(saved.__dict__)
        cfg.update(spec["wavlm_config"])
        aes.DEFAULT_AUDIO_CFG = wavlm_mod.WavLMConfig(cfg)
        try:
            predictor = infer.AesPredictor(checkpoint_pth=str(path), precision="32")
        finally:
            aes.DEFAULT_AUDIO_CFG = saved
        batch = [{"path": torch.from_numpy(clips[name]), "sample_rate": SR} for name, *_ in CLIPS]
        rows = predictor.forward(batch)
        alone = [predictor.forward([b])[0] for b in batch]
        result["models"][model_name] = {
            "checkpoint": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "batched": {name: row for (name, *_), row in zip(CLIPS, rows)},
            "alone": {name: row for (name, *_), row in zip(CLIPS, alone)},
        }
        for (name, *_), row in zip(CLIPS, rows):
            logger.info("%-8s %-12s %s", model_name, name, " ".join(f"{k} {v:.6f}" for k, v in row.items()))
    (args.out / "aesthetics_reference.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    logger.info("wrote %s", args.out / "aesthetics_reference.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
