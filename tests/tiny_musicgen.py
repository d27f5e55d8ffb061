"""Tiny random MusicGen checkpoints for tests: built from configs, saved like a real checkpoint.

The text tokenizer is a Unigram model trained in code with the ``tokenizers`` library and
wrapped as a ``T5TokenizerFast``; the processor pairs it with an ``EncodecFeatureExtractor``.
Nothing is downloaded. The models are random, so they decode to near-constant audio: tests
check shapes, dtypes, lengths, sample rates and determinism, not musicality.
"""

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    EncodecConfig,
    EncodecFeatureExtractor,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    MusicgenMelodyConfig,
    MusicgenMelodyDecoderConfig,
    MusicgenMelodyForConditionalGeneration,
    MusicgenProcessor,
    T5Config,
    T5TokenizerFast,
)

__all__ = ["build_tiny_musicgen", "build_tiny_tokenizer"]

_CORPUS = [
    "lo-fi hip hop beat with electric piano and upright bass, 80 BPM, in A minor, 4/4 time",
    "uplifting orchestral cinematic piece with strings, french horn and taiko drums",
    "dark techno, driving synth bass, drum machine, 132 BPM, F minor",
    "happy pop song with piano, electric guitar and drums in C major",
    "calm ambient pad with bells and flute, slow tempo, 6/8 meter",
    "jazz trio, swing, saxophone, trumpet, vibraphone, Eb major, 3/4",
    "genre mood instruments tempo key meter description music",
]


def build_tiny_tokenizer(vocab_size: int = 120) -> T5TokenizerFast:
    """A T5-style Unigram tokenizer trained on a small in-code corpus (``len`` ≈ ``vocab_size``)."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return T5TokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0
    )


def _encodec_config() -> EncodecConfig:
    # 32 kHz, hop 8*5*4*4 = 640 → 50 frames per second, like the real MusicGen EnCodec.
    return EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=2048,
        target_bandwidths=[2.2],
        num_filters=4,
        hidden_size=8,
        num_residual_layers=1,
        num_lstm_layers=1,
        codebook_dim=8,
        chunk_length_s=None,
        overlap=None,
    )


def build_tiny_musicgen(
    directory: Path | str, *, variant: str = "mono", seed: int = 0, name: str | None = None
) -> Path:
    """Build, save and return the directory of a tiny random MusicGen checkpoint.

    Args:
        directory: parent folder; the checkpoint goes to ``directory / name``.
        variant: ``"mono"`` (4 codebooks, 1 channel), ``"stereo"`` (8 codebooks, 2 channels)
            or ``"melody"`` (``MusicgenMelodyForConditionalGeneration``, chroma conditioning).
        seed: torch seed for the random weights.
        name: folder name (default ``"tiny-musicgen-<variant>"``).
    """
    import torch

    out = Path(directory) / (name or f"tiny-musicgen-{variant}")
    tokenizer = build_tiny_tokenizer()
    text = T5Config(
        vocab_size=len(tokenizer),
        d_model=16,
        d_kv=4,
        d_ff=32,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        decoder_start_token_id=0,
    )
    stereo = variant == "stereo"
    dec_kwargs = dict(
        vocab_size=2048,
        hidden_size=16,
        ffn_dim=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_codebooks=8 if stereo else 4,
        audio_channels=2 if stereo else 1,
        max_position_embeddings=4096,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if variant == "melody":
            config = MusicgenMelodyConfig(
                text_encoder=text.to_dict(),
                audio_encoder=_encodec_config().to_dict(),
                decoder=MusicgenMelodyDecoderConfig(**dec_kwargs).to_dict(),
                num_chroma=12,
                chroma_length=235,
            )
            model = MusicgenMelodyForConditionalGeneration(config)
        elif variant in ("mono", "stereo"):
            config = MusicgenConfig(
                text_encoder=text.to_dict(),
                audio_encoder=_encodec_config().to_dict(),
                decoder=MusicgenDecoderConfig(**dec_kwargs).to_dict(),
            )
            model = MusicgenForConditionalGeneration(config)
        else:
            raise ValueError(f"unknown tiny MusicGen variant {variant!r} (mono | stereo | melody)")
        # EnCodec codebooks start as zero buffers, which would make every code decode to the same
        # audio; random codebooks make the audio depend on the sampled codes (and so on the seed).
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_(0.0, 1.0)
            layer.codebook.embed_avg.copy_(layer.codebook.embed)
            layer.codebook.cluster_size.fill_(1.0)
            layer.codebook.inited.fill_(1.0)
    model.generation_config.decoder_start_token_id = 2048
    model.generation_config.pad_token_id = 2048
    model.generation_config.do_sample = True
    model.generation_config.guidance_scale = 3.0
    model.generation_config.max_length = 1500
    model.save_pretrained(out)
    if variant == "melody":
        # MusicgenMelodyProcessor needs torchaudio (not installable here): save the tokenizer and
        # the feature extractor's settings as a plain preprocessor config, as real checkpoints have.
        tokenizer.save_pretrained(out)
        (out / "preprocessor_config.json").write_text(
            json.dumps(
                {
                    "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
                    "sampling_rate": 32000,
                    "hop_length": 4096,
                    "n_fft": 16384,
                    "num_chroma": 12,
                    "chunk_length": 30,
                }
            )
        )
    else:
        extractor = EncodecFeatureExtractor(feature_size=2 if stereo else 1, sampling_rate=32000)
        MusicgenProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(out)
    return out
