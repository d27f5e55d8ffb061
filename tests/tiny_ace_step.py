"""Tiny random ACE-Step 1.5 checkpoints for tests: every component built from a config, saved
with ``AceStepPipeline.save_pretrained`` in the layout the released diffusers checkpoints have.

The parts are those of the real model at toy widths: an Oobleck VAE at 48 kHz stereo with
ACE-Step's downsampling of 1920 samples per latent frame (25 latent frames per second, 64 → 8
latent channels), a two-layer Qwen3 text encoder, a two-layer DiT and condition encoder. The
tokenizer is a byte-level BPE trained in code with ``<|endoftext|>`` as its end token (the
pipeline's prompt template ends in it), wrapped as a ``PreTrainedTokenizerFast``. Nothing is
downloaded; the weights are random, so the audio is not music: tests check shapes, rates,
lengths, seeding and loading, not musicality.
"""

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

__all__ = ["build_tiny_ace_step", "build_tiny_qwen_tokenizer"]

_CORPUS = [
    "# Instruction\nFill the audio semantic mask based on the given conditions:\n\n# Caption\n",
    "jazz, melancholic, piano, upright bass, instrumental, 92 bpm, Eb minor, 3/4 time.",
    "# Metas\n- bpm: 120\n- timesignature: 4\n- keyscale: C major\n- duration: 10 seconds\n",
    "# Languages\nen\n\n# Lyric\n[Verse]\nsoft notes in the morning light\n[Chorus]\nmusic fills the air",
    "[Instrumental] techno, energetic, synth, drum machine, vocals, 128 bpm, F# minor, 6/8 time",
]


def build_tiny_qwen_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (like Qwen3's) trained on a small in-code corpus."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def build_tiny_ace_step(
    directory: Path | str, *, seed: int = 0, name: str = "tiny-ace-step", turbo: bool = True
) -> Path:
    """Build, save and return the directory of a tiny random ACE-Step 1.5 pipeline.

    Args:
        directory: parent folder; the checkpoint goes to ``directory / name``.
        seed: torch seed for the random weights.
        name: folder name.
        turbo: mark the DiT guidance-distilled (``is_turbo``), as the released turbo checkpoints are.
    """
    import torch
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import AceStepConditionEncoder

    out = Path(directory) / name
    tokenizer = build_tiny_qwen_tokenizer()
    width = dict(
        num_attention_heads=2, num_key_value_heads=1, head_dim=8, rope_theta=10000.0, sliding_window=16
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        transformer = AceStepTransformer1DModel(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            in_channels=24,  # noise (8) + source latents (8) + chunk mask (8), as 64 + 64 + 64 in the real DiT
            audio_acoustic_hidden_dim=8,
            patch_size=2,
            is_turbo=turbo,
            model_version="turbo" if turbo else "base",
            **width,
        )
        text_encoder = Qwen3Model(
            Qwen3Config(
                vocab_size=len(tokenizer),
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=1,
                head_dim=8,
                max_position_embeddings=2048,
            )
        )
        condition_encoder = AceStepConditionEncoder(
            hidden_size=16,
            intermediate_size=32,
            text_hidden_dim=16,
            timbre_hidden_dim=8,
            num_lyric_encoder_hidden_layers=1,
            num_timbre_encoder_hidden_layers=1,
            **width,
        )
        # The real condition encoder carries a learned silence latent (15000 frames of 64
        # channels); the pipeline reads its first 30 s (750 frames) as the timbre reference.
        condition_encoder.silence_latent.normal_(0.0, 0.1)
        vae = AutoencoderOobleck(
            encoder_hidden_size=4,
            downsampling_ratios=[2, 4, 4, 6, 10],  # 1920 samples per latent frame, as ACE-Step's VAE
            channel_multiples=[1, 1, 1, 1, 1],
            decoder_channels=4,
            decoder_input_channels=8,
            audio_channels=2,
            sampling_rate=48_000,
        )
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)
    pipe = AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=scheduler,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    return out
