"""Generation and neural-scoring speed at full model size, with random weights (nothing downloaded).

Speed does not depend on weight values, so every model is built from its published config with
random weights: ACE-Step 1.5 (the 2B turbo DiT, whose config diffusers' defaults reproduce, or
the 5B XL turbo with ``--ace-variant xl``; Qwen3-Embedding-0.6B text encoder; the 48 kHz Oobleck
VAE), MusicGen-small (T5-base text encoder, 300M decoder, 32 kHz EnCodec) and the validator's
neural scorers (CLAP with an HTS-AT base audio tower, a HuBERT-base-sized encoder standing in
for MERT-v1-95M, Whisper-small). Tokenizers are small byte-level ones trained in code, so
prompts cost a few more tokens than with the real vocabularies.

Prints, per backend and batch size, seconds of audio generated per second of wall time and the
peak CUDA memory, then each scorer's 30 s clips per second. ACE-Step runs through the miner's
own backend code (prompt rendering, per-request metadata and seeds, the cut to length); MusicGen
batch 1 through the miner's backend, larger batches as one raw ``generate`` call (the backend
does not batch: one seed per request cannot be honoured inside one sampling call), with the
fraction of MusicGen's memory-bandwidth bound reached (each decoding step reads every decoder
weight once; 50 steps per second of audio).

    python bench/bench_gpu.py --device cuda --batch-sizes 1,2,4,8            # on a GPU machine
    python bench/bench_gpu.py --tiny                                          # CPU smoke run (tiny models)

``--tiny`` builds the tests' tiny random models instead (tests/tiny_*.py), so the script runs on a
CPU in seconds; its figures say nothing about real speed.
"""

import argparse
import gc
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tiny builders and their tokenizers

from tuneforge.spec import spec_from_fields  # noqa: E402

#: Memory bandwidth (GB/s) of GPUs by name, for MusicGen's bound; --bandwidth-gbs overrides.
BANDWIDTH_GBS = {"H200": 4800.0, "H100": 3350.0, "A100": 2039.0, "L40S": 864.0, "A10": 600.0, "4090": 1008.0}
LYRICS = "[Verse]\nCity lights are fading slow\nEvery road I used to know\n[Chorus]\nHold on, hold on tonight"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> str:
    return f"{torch.cuda.max_memory_allocated() / 2**30:.2f}" if device.startswith("cuda") else "-"


def _timed(fn: Callable[[], object], device: str, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` after one untimed warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def _specs(n: int, seconds: float) -> list:
    return [
        spec_from_fields(
            prompt="indie pop ballad with piano and strings",
            duration_seconds=seconds,
            seed=100 + i,
            vocals_requested=True,
            lyrics=LYRICS,
        )
        for i in range(n)
    ]


# ---------------------------------------------------------------------------------------------
# ACE-Step 1.5


def full_ace_step(device: str, dtype: torch.dtype, variant: str):
    """An ACE-Step 1.5 pipeline of the released architecture with random weights, on ``device``."""
    from diffusers import AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import AceStepConditionEncoder
    from tiny_ace_step import build_tiny_qwen_tokenizer
    from transformers import Qwen3Config, Qwen3Model

    from tuneforge.generation.ace_step_pipeline import TuneForgeAceStepPipeline

    xl = variant == "xl"
    dit = (
        {
            "hidden_size": 2560,
            "intermediate_size": 9728,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "encoder_hidden_size": 2048,
        }
        if xl
        else {}
    )
    with torch.device(device):
        transformer = AceStepTransformer1DModel(is_turbo=True, model_version="turbo", **dit)
        condition_encoder = AceStepConditionEncoder()  # 2048 wide, 8 lyric + 4 timbre layers (XL's too)
        text_encoder = Qwen3Model(
            Qwen3Config(
                vocab_size=151_669,
                hidden_size=1024,
                intermediate_size=3072,
                num_hidden_layers=28,
                num_attention_heads=16,
                num_key_value_heads=8,
                head_dim=128,
                max_position_embeddings=32_768,
                rope_theta=1_000_000.0,
                tie_word_embeddings=True,
            )
        )
        vae = AutoencoderOobleck(downsampling_ratios=[2, 4, 4, 6, 10], sampling_rate=48_000)
    pipe = TuneForgeAceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=build_tiny_qwen_tokenizer(),
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
    )
    return pipe.to(device, dtype)


def ace_step_backend(args, device: str, dtype: torch.dtype, tmp: str):
    from tuneforge.generation.ace_step import AceStepBackend, AceStepSampling
    from tuneforge.generation.ace_step_loading import LoadedAceStep
    from tuneforge.generation.base import GenerationSettings, build_backend

    if args.tiny:
        from tiny_ace_step import build_tiny_ace_step

        path = build_tiny_ace_step(tmp)
        return build_backend(
            GenerationSettings(backend="ace_step", model=str(path), device=device, max_batch=16)
        )
    pipe = full_ace_step(device, dtype, args.ace_variant)
    pipe.set_progress_bar_config(disable=True)
    pipe.vae.enable_slicing()
    pipe.vae.enable_tiling()
    loaded = LoadedAceStep(
        pipe=pipe,
        directory=Path("-"),
        device=device,
        dtype=dtype,
        sample_rate=48_000,
        channels=2,
        latents_per_second=25.0,
        turbo=True,
    )
    name = f"random acestep-v15-{'xl-' if args.ace_variant == 'xl' else ''}turbo"
    return AceStepBackend(loaded, model_id=name, sampling=AceStepSampling({}, turbo=True), max_batch=16)


def bench_ace_step(args, device: str, dtype: torch.dtype, tmp: str) -> None:
    backend = ace_step_backend(args, device, dtype, tmp)
    params = sum(p.numel() for p in backend._loaded.pipe.transformer.parameters()) / 1e6
    print(
        f"\nACE-Step 1.5 ({backend.model_id}, DiT {params:.0f} M params, {backend.sampling.steps} steps, {dtype}), "
        f"{args.seconds:g} s clips"
    )
    print(f"{'batch':>5} {'wall s':>8} {'audio s/s':>10} {'peak GiB':>9}")
    for batch in args.batch_sizes:
        specs = _specs(batch, args.seconds)
        _reset_peak(device)
        try:
            wall = _timed(lambda specs=specs: backend.generate_batch(specs), device, args.repeats)
        except torch.OutOfMemoryError:
            print(f"{batch:>5} out of memory")
            break
        print(f"{batch:>5} {wall:8.3f} {batch * args.seconds / wall:10.1f} {_peak_gib(device):>9}")


# ---------------------------------------------------------------------------------------------
# MusicGen-small


def musicgen_backend(args, device: str, dtype: torch.dtype, tmp: str):
    from tuneforge.generation.base import GenerationSettings, build_backend

    if args.tiny:
        from tiny_musicgen import build_tiny_musicgen

        path = build_tiny_musicgen(tmp)
        return build_backend(GenerationSettings(backend="musicgen", model=str(path), device=device))
    from tiny_musicgen import build_tiny_tokenizer
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    from tuneforge.generation.musicgen import MusicGenBackend, SamplingSettings
    from tuneforge.generation.musicgen_loading import LoadedMusicGen
    from tuneforge.generation.musicgen_windows import WindowPlan

    text = T5Config(
        vocab_size=32_128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12
    )  # t5-base
    codec = EncodecConfig(
        sampling_rate=32_000,
        audio_channels=1,
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=2048,
        target_bandwidths=[2.2],
        num_filters=64,
        hidden_size=128,
        num_lstm_layers=2,
        chunk_length_s=None,
        overlap=None,
        use_causal_conv=False,
        normalize=False,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=2048,
        hidden_size=1024,
        ffn_dim=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        num_codebooks=4,
        max_position_embeddings=2048,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    config = MusicgenConfig(
        text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict()
    )
    with torch.device(device):
        model = MusicgenForConditionalGeneration(config)
    model = model.to(device, dtype).eval()
    model.generation_config.decoder_start_token_id = 2048
    model.generation_config.pad_token_id = 2048
    loaded = LoadedMusicGen(
        model=model,
        tokenizer=build_tiny_tokenizer(),
        directory=Path("-"),
        variant="mono",
        device=device,
        dtype=dtype,
        sample_rate=32_000,
        frame_rate=50.0,
        hop=640,
        channels=1,
        codebooks_per_channel=4,
        max_positions=2048,
        melody_features={},
    )
    plan = WindowPlan(window_seconds=30.0, overlap_seconds=10.0, crossfade_seconds=1.5)
    return MusicGenBackend(loaded, model_id="random musicgen-small", plan=plan, sampling=SamplingSettings({}))


def _bandwidth_gbs(args, device: str) -> float | None:
    if args.bandwidth_gbs:
        return float(args.bandwidth_gbs)
    if not device.startswith("cuda"):
        return None
    name = torch.cuda.get_device_name(device)
    return next((bw for key, bw in BANDWIDTH_GBS.items() if key in name), None)


def bench_musicgen(args, device: str, dtype: torch.dtype, tmp: str) -> None:
    backend = musicgen_backend(args, device, dtype, tmp)
    model = backend._loaded.model
    decoder_bytes = sum(p.numel() * p.element_size() for p in model.decoder.parameters())
    bandwidth = _bandwidth_gbs(args, device)
    # One decoding step reads every decoder weight once; 50 steps per second of audio (+3 delay steps).
    bound = None if bandwidth is None else bandwidth * 1e9 / decoder_bytes / 50.0
    print(
        f"\nMusicGen ({backend.model_id}, decoder {decoder_bytes / 2**20:.0f} MiB as {dtype}), {args.seconds:g} s clips; "
        f"bandwidth bound {'n/a' if bound is None else f'{bound:.1f} audio s/s per sequence'}"
    )
    print(f"{'batch':>5} {'wall s':>8} {'audio s/s':>10} {'of bound':>9} {'peak GiB':>9}  path")
    spec = _specs(1, args.seconds)[0]
    for batch in args.batch_sizes:
        _reset_peak(device)
        if batch == 1:
            fn, path = (lambda: backend.generate(spec)), "miner backend"
        else:
            tokens = backend._loaded.tokenizer([spec.prompt] * batch, return_tensors="pt", padding=True).to(
                device
            )
            steps = int(round(args.seconds * 50)) + 3

            def fn(tokens=tokens, steps=steps):
                with torch.inference_mode():
                    model.generate(
                        **tokens, do_sample=True, top_k=250, guidance_scale=3.0, max_new_tokens=steps
                    )

            path = "raw generate (not served)"
        try:
            wall = _timed(fn, device, args.repeats)
        except torch.OutOfMemoryError:
            print(f"{batch:>5} out of memory")
            break
        rate = batch * args.seconds / wall
        share = "-" if bound is None else f"{100 * rate / (bound * batch):.0f} %"
        print(f"{batch:>5} {wall:8.3f} {rate:10.1f} {share:>9} {_peak_gib(device):>9}  {path}")


# ---------------------------------------------------------------------------------------------
# neural scorers


def scorer_dir(args, tmp: str) -> Path:
    """A models folder in ``scoring.models.load_models``' layout: the tests' tiny processors and
    tokenizers, with full-size random networks saved over the tiny ones unless ``--tiny``."""
    from tiny_models import build_tiny_clap, build_tiny_encoder, build_tiny_whisper

    root = Path(tmp) / "scorers"
    clap, encoder, whisper = (
        build_tiny_clap(root),
        build_tiny_encoder(root, name="mert"),
        build_tiny_whisper(root),
    )
    if args.tiny:
        return root
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapModel,
        ClapTextConfig,
        HubertConfig,
        HubertModel,
        WhisperConfig,
        WhisperForConditionalGeneration,
    )

    torch.manual_seed(0)
    tiny_whisper = WhisperConfig.from_pretrained(whisper)
    ClapModel(
        ClapConfig(
            text_config=ClapTextConfig(
                vocab_size=50_265,
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072,
                max_position_embeddings=514,
                projection_dim=512,
            ).to_dict(),
            audio_config=ClapAudioConfig(
                spec_size=256,
                num_mel_bins=64,
                window_size=8,
                patch_embeds_hidden_size=128,
                hidden_size=1024,
                depths=[2, 2, 12, 2],
                num_attention_heads=[4, 8, 16, 32],
                projection_dim=512,
                enable_fusion=False,
            ).to_dict(),
            projection_dim=512,
        )
    ).save_pretrained(clap)  # HTS-AT base + RoBERTa base, as LAION's larger_clap_* checkpoints
    HubertModel(HubertConfig()).save_pretrained(encoder)  # base size: 12 layers of 768, as MERT-v1-95M
    WhisperForConditionalGeneration(
        WhisperConfig(
            vocab_size=51_865,
            num_mel_bins=80,
            d_model=768,
            encoder_layers=12,
            decoder_layers=12,
            encoder_attention_heads=12,
            decoder_attention_heads=12,
            encoder_ffn_dim=3072,
            decoder_ffn_dim=3072,
            decoder_start_token_id=tiny_whisper.decoder_start_token_id,
            eos_token_id=tiny_whisper.eos_token_id,
            pad_token_id=tiny_whisper.pad_token_id,
            bos_token_id=tiny_whisper.bos_token_id,
        )
    ).save_pretrained(whisper)  # whisper-small
    return root


def bench_scorers(args, device: str, tmp: str) -> None:
    from scoring.models import load_models

    bundle = load_models(scorer_dir(args, tmp), device=device)
    sr = 32_000
    t = np.arange(30 * sr) / sr
    clips = [
        ((0.3 * np.sin(2 * np.pi * 220 * (1 + 0.1 * k) * t)).astype(np.float32), sr)
        for k in range(args.clips)
    ]
    print(
        f"\nneural scorers ({'tiny' if args.tiny else 'full size'}, random weights, fp32), {args.clips} clips of 30 s "
        f"per call"
    )
    print(f"{'model':<28} {'clips/s':>8} {'peak GiB':>9}")
    rows = []
    if bundle.clap is not None:
        rows.append((f"clap ({bundle.clap.name})", lambda: bundle.clap.embed_recordings(clips)))
    if bundle.encoder is not None:
        rows.append((f"encoder ({bundle.encoder.name})", lambda: bundle.encoder.summarize_recordings(clips)))
    if bundle.whisper is not None:
        w = bundle.whisper
        resampled = [w.resample(m, sample_rate=s) for m, s in clips]
        rows.append((f"whisper ({w.name})", lambda: w.transcribe(resampled)))
    for name, fn in rows:
        _reset_peak(device)
        wall = _timed(fn, device, args.repeats)
        print(f"{name:<28} {len(clips) / wall:8.2f} {_peak_gib(device):>9}")


def _free(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--dtype",
        choices=("bf16", "fp16", "fp32"),
        default=None,
        help="generation precision (default: bf16 on CUDA, fp32 on CPU)",
    )
    p.add_argument("--batch-sizes", default="1,2,4,8", help="comma-separated batch sizes")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each generated clip")
    p.add_argument(
        "--repeats", type=int, default=2, help="timed calls per figure (best is printed) after a warm-up"
    )
    p.add_argument("--clips", type=int, default=8, help="30 s clips per scorer call")
    p.add_argument(
        "--ace-variant", choices=("turbo", "xl"), default="turbo", help="2B turbo or 5B XL turbo DiT"
    )
    p.add_argument(
        "--bandwidth-gbs", type=float, default=None, help="GPU memory bandwidth for MusicGen's bound"
    )
    p.add_argument("--only", default="ace_step,musicgen,scorers", help="parts to run")
    p.add_argument(
        "--tiny", action="store_true", help="tiny random models (CPU smoke run; figures meaningless)"
    )
    args = p.parse_args()
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    logging.basicConfig(level=logging.WARNING)
    device = "cuda:0" if args.device == "cuda" else args.device
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[
        args.dtype or ("bf16" if device.startswith("cuda") else "fp32")
    ]
    if args.tiny and args.seconds == 30.0:
        args.seconds, args.clips, args.repeats = 10.0, 2, 1
    label = (
        torch.cuda.get_device_name(device)
        if device.startswith("cuda")
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    print(
        f"device: {label}; torch {torch.__version__}; {'TINY models' if args.tiny else 'full-size random models'}"
    )
    parts = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "ace_step" in parts:
            bench_ace_step(args, device, dtype, tmp)
            _free(device)
        if "musicgen" in parts:
            bench_musicgen(args, device, dtype if device.startswith("cuda") else torch.float32, tmp)
            _free(device)
        if "scorers" in parts:
            bench_scorers(args, device, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
