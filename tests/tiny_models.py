"""Tiny random scoring models for tests: CLAP, a HuBERT-style music encoder and Whisper.

Each builder creates a model from a small config, trains its tokenizer in code with the
``tokenizers`` library (byte-level BPE for CLAP's RoBERTa text tower and for Whisper), pairs
it with the model's feature extractor in a processor and saves everything like a real
checkpoint, so the loaders in ``scoring.models`` read them exactly as they read downloaded
weights. Nothing is downloaded. The weights are random: tests check shapes, ranges,
determinism, batching and plumbing, not what the scores mean.
"""

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    ClapAudioConfig,
    ClapConfig,
    ClapFeatureExtractor,
    ClapModel,
    ClapProcessor,
    ClapTextConfig,
    HubertConfig,
    HubertModel,
    PreTrainedTokenizerFast,
    RobertaTokenizerFast,
    Wav2Vec2FeatureExtractor,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
)

__all__ = ["build_tiny_clap", "build_tiny_encoder", "build_tiny_whisper", "build_all"]

_CORPUS = [
    "lo-fi hip hop beat with electric piano and upright bass, 80 BPM, in A minor, 4/4 time",
    "uplifting orchestral cinematic piece with strings, french horn and taiko drums",
    "dark techno, driving synth bass, drum machine, 132 BPM, F minor",
    "happy pop song with piano, electric guitar and drums in C major",
    "calm ambient pad with bells and flute, slow tempo, 6/8 meter",
    "jazz trio, swing, saxophone, trumpet, vibraphone, Eb major, 3/4",
    "the sound of a piano, the sound of drums, the sound of a violin, a sine tone",
    "we sing the night away, hold my hand and never let go, la la la",
]


def _byte_level_bpe(vocab_size: int, special: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return tok


def build_tiny_roberta_tokenizer(vocab_size: int = 400) -> RobertaTokenizerFast:
    """A RoBERTa-style byte-level BPE tokenizer (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3)."""
    tok = _byte_level_bpe(vocab_size, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return RobertaTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    )


def build_tiny_clap(directory: Path | str, *, seed: int = 0, name: str = "clap") -> Path:
    """Save a tiny random unfused CLAP (HTS-AT audio tower, spec 256×64 mel) and its processor to
    ``directory / name``; returns that path."""
    out = Path(directory) / name
    torch.manual_seed(seed)
    tokenizer = build_tiny_roberta_tokenizer()
    text = ClapTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=80, projection_dim=16,
    )
    audio = ClapAudioConfig(
        spec_size=256, num_mel_bins=64, window_size=8, hidden_size=32, patch_embeds_hidden_size=16,
        depths=[1, 1], num_attention_heads=[2, 2], projection_dim=16, enable_fusion=False,
    )
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)).eval()
    extractor = ClapFeatureExtractor(feature_size=64, sampling_rate=48_000, truncation="rand_trunc")
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(out)
    model.save_pretrained(out)
    return out


def build_tiny_encoder(directory: Path | str, *, seed: int = 0, name: str = "encoder", sampling_rate: int = 16_000) -> Path:
    """Save a tiny random HuBERT encoder (stock transformers config, 3 layers of 32) and its
    feature extractor; stands in for MERT (same family of Wav2Vec2-style encoders)."""
    out = Path(directory) / name
    torch.manual_seed(seed)
    config = HubertConfig(
        hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
        conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, do_stable_layer_norm=False, feat_extract_norm="group",
    )
    HubertModel(config).eval().save_pretrained(out)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=sampling_rate, padding_value=0.0, do_normalize=True, return_attention_mask=True
    ).save_pretrained(out)
    return out


_WHISPER_SPECIAL = [
    "<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|translate|>",
    "<|nospeech|>", "<|notimestamps|>", "<|startofprev|>",
]


def build_tiny_whisper(directory: Path | str, *, seed: int = 0, name: str = "whisper") -> Path:
    """Save a tiny random Whisper (2+2 layers of 32, 80 mel bins) with a byte-level BPE tokenizer
    that has Whisper's special tokens (``<|startoftranscript|>``, ``<|en|>``, ``<|nospeech|>``...)."""
    out = Path(directory) / name
    torch.manual_seed(seed)
    tok = _byte_level_bpe(300, _WHISPER_SPECIAL)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
        unk_token="<|endoftext|>", pad_token="<|endoftext|>",
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _WHISPER_SPECIAL}
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=48, decoder_ffn_dim=48,
        d_model=32, max_source_positions=1500, max_target_positions=200,
        decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids["<|endoftext|>"],
        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"],
    )
    model = WhisperForConditionalGeneration(config).eval()
    model.save_pretrained(out)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(out)
    return out


def build_all(directory: Path | str) -> Path:
    """All three tiny models under ``directory`` (``clap/``, ``encoder/``, ``whisper/``)."""
    directory = Path(directory)
    build_tiny_clap(directory)
    build_tiny_encoder(directory)
    build_tiny_whisper(directory)
    return directory
