"""Tiny random scoring models for tests: CLAP, a HuBERT-style music encoder, Whisper and
Audiobox Aesthetics.

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

__all__ = ["build_tiny_clap", "build_tiny_encoder", "build_tiny_whisper", "build_tiny_aesthetics", "build_all",
           "TINY_AESTHETICS_WAVLM"]

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


#: The tiny Audiobox Aesthetics encoder: the released model's structure (group-norm extractor,
#: post-norm layers, gated relative position bias) at 2 layers of 32 and 16-channel convolutions.
TINY_AESTHETICS_WAVLM = {
    "encoder_layers": 2, "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 48, "encoder_attention_heads": 2,
    "conv_feature_layers": "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2", "conv_pos": 16, "conv_pos_groups": 4,
    "num_buckets": 32, "max_distance": 64,
}
_TINY_AESTHETICS_HEAD = {"proj_num_layer": 1, "proj_ln": False, "proj_act_fn": "gelu", "proj_dropout": 0.0,
                         "nth_layer": 3, "use_weighted_layer_sum": True, "precision": "32", "normalize_embed": True,
                         "output_dim": 1}
_TINY_TARGETS = {"CE": {"mean": 5.6, "std": 1.5}, "CU": {"mean": 6.3, "std": 1.4},
                 "PC": {"mean": 4.2, "std": 1.8}, "PQ": {"mean": 6.9, "std": 1.2}}


def build_tiny_aesthetics(
    directory: Path | str, *, seed: int = 0, name: str = "audiobox-aesthetics", layout: str = "safetensors",
    wavlm: dict | None = None,
) -> Path:
    """Save a tiny random Audiobox Aesthetics model (``scoring.models.aesthetics_model``, the
    package's architecture and parameter names) to ``directory / name``, in the hub layout
    (``layout="safetensors"``: ``config.json`` + ``model.safetensors``, as ``save_pretrained``
    writes) or the training-checkpoint layout the package's ``infer.py`` reads
    (``layout="checkpoint"``: ``checkpoint.pt`` with ``model.``-prefixed keys). The encoder's
    shape goes in ``wavlm_config`` (the real checkpoint has none: the package hard-codes it)."""
    import json

    from safetensors.torch import save_file

    from scoring.models.aesthetics_model import AesMultiOutput, HeadConfig
    from scoring.models.wavlm import WavLMConfig

    out = Path(directory) / name
    out.mkdir(parents=True, exist_ok=True)
    wavlm = dict(TINY_AESTHETICS_WAVLM if wavlm is None else wavlm)
    head = dict(_TINY_AESTHETICS_HEAD, nth_layer=int(wavlm.get("encoder_layers", 12)) + 1)
    torch.manual_seed(seed)
    model = AesMultiOutput(HeadConfig.from_dict(head, _TINY_TARGETS), WavLMConfig.from_dict(wavlm)).eval()
    with torch.no_grad():  # away from the uniform layer weights and unit gates of an untrained model
        for pname, p in model.named_parameters():
            if pname.startswith("layer_weights.") or pname.endswith("grep_a"):
                p.add_(0.5 * torch.randn(p.shape))
            elif pname.startswith("proj_layer."):
                p.mul_(4.0)  # spread the tiny heads' outputs so the axes vary between clips
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if layout == "safetensors":
        save_file(state, str(out / "model.safetensors"))
        (out / "config.json").write_text(json.dumps(dict(head, target_transform=_TINY_TARGETS, wavlm_config=wavlm,
                                                         freeze_encoder=True), indent=1))
    elif layout == "checkpoint":
        torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()},
                    "model_cfg": dict(head, wavlm_config=wavlm), "target_transform": _TINY_TARGETS},
                   out / "checkpoint.pt")
    else:
        raise ValueError(f"layout must be 'safetensors' or 'checkpoint', got {layout!r}")
    return out


def build_all(directory: Path | str) -> Path:
    """All three tiny models under ``directory`` (``clap/``, ``encoder/``, ``whisper/``)."""
    directory = Path(directory)
    build_tiny_clap(directory)
    build_tiny_encoder(directory)
    build_tiny_whisper(directory)
    return directory
