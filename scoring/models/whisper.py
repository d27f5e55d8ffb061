"""Whisper transcription for ``vocal_lyrics``: greedy, deterministic, fixed 30 s windows.

A clip is resampled once to 16 kHz and cut into consecutive ``WHISPER_WINDOW_SECONDS`` windows
(a trailing window shorter than 2 s is dropped unless it is the whole clip; at most
``WHISPER_MAX_WINDOWS``). All windows are decoded together with our own greedy loop (argmax,
KV cache, special tokens other than end-of-text masked), which works the same for released
checkpoints and tiny test models and never samples. The prompt is
``<|startoftranscript|> <|lang|> <|transcribe|> <|notimestamps|>`` using whichever of those
tokens the tokenizer has; the language is Whisper's own choice (argmax over language tokens
after the start token). ``no_speech_prob`` is the probability of ``<|nospeech|>`` at that same
first step, as in Whisper's reference decoder.
"""

import inspect
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from scoring import constants as C
from scoring.models.loading import (
    ModelLoadError,
    check_tokenizer,
    fixed_windows,
    inference,
    model_identity,
    model_name,
    offline,
)

__all__ = ["WhisperTranscriber", "Transcript", "whisper_windows"]

logger = logging.getLogger(__name__)

_LANGUAGE_TOKEN = re.compile(r"^<\|[a-z]{2,3}\|>$")
_MIN_TAIL_SECONDS = 2.0


@dataclass(frozen=True)
class Transcript:
    """A clip's transcription. ``mean_logprob``: mean natural-log probability of the generated
    tokens (end-of-text included); ``no_speech_prob``: mean over windows of P(<|nospeech|>)
    (0.0 when the tokenizer has no such token); ``tokens``: generated tokens in all windows."""

    text: str
    mean_logprob: float
    no_speech_prob: float
    tokens: int
    windows: int

    @property
    def intelligibility(self) -> float:
        """``exp(mean_logprob) × (1 − no_speech_prob)`` in [0, 1]: how sure Whisper is that it
        heard words, and which ones."""
        return float(math.exp(min(0.0, self.mean_logprob)) * (1.0 - self.no_speech_prob))


def whisper_windows(mono: np.ndarray, *, sample_rate: int) -> list[np.ndarray]:
    """Consecutive ``WHISPER_WINDOW_SECONDS`` windows of ``mono`` (float32 ``(n,)``)."""
    return fixed_windows(
        mono,
        window=int(round(C.WHISPER_WINDOW_SECONDS * sample_rate)),
        min_tail=int(round(_MIN_TAIL_SECONDS * sample_rate)),
        max_windows=C.WHISPER_MAX_WINDOWS,
    )


class WhisperTranscriber:
    """A loaded Whisper model and processor. Build with :meth:`from_dir`; load once per process."""

    def __init__(self, *, model, processor, name: str, identity: str, device: str = "cpu") -> None:
        self.model = model.eval()
        self.processor = processor
        self.name = name
        self.identity = identity
        self.device = device
        self.sample_rate = int(processor.feature_extractor.sampling_rate)
        tok = processor.tokenizer
        vocab = tok.get_vocab()
        self.sot = int(model.config.decoder_start_token_id)
        self.eot = int(model.config.eos_token_id)
        self.no_speech = vocab.get("<|nospeech|>", vocab.get("<|nocaptions|>"))
        self.suffix = [vocab[t] for t in ("<|transcribe|>", "<|notimestamps|>") if t in vocab]
        self.languages = sorted(i for t, i in vocab.items() if _LANGUAGE_TOKEN.match(t))
        specials = {i for t, i in vocab.items() if t.startswith("<|") and t.endswith("|>")}
        self.banned = sorted(specials - {self.eot})
        self.max_positions = int(model.config.max_target_positions)
        # transformers ≥ 5.2x names the KV cache ``cache``; earlier releases ``past_key_values``
        self._cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    @classmethod
    def from_dir(cls, directory: Path, *, device: str = "cpu") -> "WhisperTranscriber":
        """Load a saved ``WhisperForConditionalGeneration`` + ``WhisperProcessor`` offline."""
        offline()
        from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor

        directory = Path(directory)
        try:
            model = AutoModelForSpeechSeq2Seq.from_pretrained(directory, local_files_only=True).to(device)
            if model.config.model_type != "whisper":
                raise ModelLoadError(f"{directory} is not a Whisper checkpoint (model_type {model.config.model_type!r})")
            processor = AutoProcessor.from_pretrained(directory, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"cannot load Whisper from {directory}: {exc}") from exc
        check_tokenizer(processor.tokenizer, vocab_size=model.config.vocab_size, directory=directory, what="Whisper")
        return cls(model=model, processor=processor, name=model_name(directory),
                   identity=model_identity(directory), device=device)

    def resample(self, mono: np.ndarray, *, sample_rate: int) -> np.ndarray:
        x = np.asarray(mono, dtype=np.float32)
        if sample_rate != self.sample_rate:
            x = soxr.resample(x, sample_rate, self.sample_rate, quality="HQ")
        return np.ascontiguousarray(x, dtype=np.float32)

    def transcribe(self, clips: list[np.ndarray]) -> list[Transcript]:
        """One :class:`Transcript` per mono clip (float32 ``(n,)`` at :attr:`sample_rate`);
        the windows of all clips are decoded in one batch."""
        windows: list[np.ndarray] = []
        owner: list[int] = []
        for i, clip in enumerate(clips):
            for w in whisper_windows(clip, sample_rate=self.sample_rate):
                windows.append(w)
                owner.append(i)
        decoded = self._decode(windows) if windows else []
        out = []
        for i in range(len(clips)):
            mine = [decoded[k] for k in range(len(windows)) if owner[k] == i]
            logps = [lp for d in mine for lp in d[1]]
            text = " ".join(d[0].strip() for d in mine if d[0].strip())
            out.append(Transcript(
                text=text,
                # rounded: multi-threaded batched inference moves these by ~1e-8 with a window's
                # row in the batch; 4-5 decimals are far finer than any score needs
                mean_logprob=round(float(np.mean(logps)), 4) if logps else -math.inf,
                no_speech_prob=round(float(np.mean([d[2] for d in mine])), 5) if mine else 1.0,
                tokens=len(logps), windows=len(mine),
            ))
        return out

    def _decode(self, windows: list[np.ndarray]) -> list[tuple[str, list[float], float]]:
        """Greedy decode of windows: per window (text, token log-probs, no-speech probability)."""
        import torch
        from transformers.modeling_outputs import BaseModelOutput

        feats = self.processor.feature_extractor(
            [w.astype(np.float32) for w in windows], sampling_rate=self.sample_rate, return_tensors="pt"
        )["input_features"].to(self.device, dtype=self.model.dtype)
        batch = feats.shape[0]
        banned = torch.tensor(self.banned, dtype=torch.long)
        with inference():
            enc = BaseModelOutput(last_hidden_state=self.model.get_encoder()(feats).last_hidden_state)
            ids = torch.full((batch, 1), self.sot, dtype=torch.long, device=self.device)
            out = self.model(encoder_outputs=enc, decoder_input_ids=ids, use_cache=True)
            first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
            no_speech = first[:, self.no_speech].exp() if self.no_speech is not None else torch.zeros(batch)
            prefix = []
            if self.languages:
                lang_ids = torch.tensor(self.languages)
                prefix.append(lang_ids[first[:, lang_ids].argmax(dim=-1)].unsqueeze(1))
            for t in self.suffix:
                prefix.append(torch.full((batch, 1), t, dtype=torch.long))
            past = _cache_of(out)
            if prefix:
                step_ids = torch.cat(prefix, dim=1).to(self.device)
                out = self.model(encoder_outputs=enc, decoder_input_ids=step_ids, use_cache=True, **{self._cache_arg: past})
                past = _cache_of(out)
            length = 1 + len(prefix)
            budget = max(0, min(C.WHISPER_MAX_NEW_TOKENS, self.max_positions - length))
            done = torch.zeros(batch, dtype=torch.bool)
            tokens: list[list[int]] = [[] for _ in range(batch)]
            logps: list[list[float]] = [[] for _ in range(batch)]
            for _ in range(budget):
                logits = out.logits[:, -1].float().cpu()
                logits[:, banned] = -math.inf
                logp = torch.log_softmax(logits, dim=-1)
                nxt = logp.argmax(dim=-1)
                for b in range(batch):
                    if done[b]:
                        continue
                    logps[b].append(float(logp[b, nxt[b]]))
                    if int(nxt[b]) == self.eot:
                        done[b] = True
                    else:
                        tokens[b].append(int(nxt[b]))
                if bool(done.all()):
                    break
                nxt = torch.where(done, torch.full_like(nxt, self.eot), nxt)
                out = self.model(encoder_outputs=enc, decoder_input_ids=nxt.unsqueeze(1).to(self.device),
                                 use_cache=True, **{self._cache_arg: past})
                past = _cache_of(out)
        texts = self.processor.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return [(texts[b], logps[b], float(no_speech[b])) for b in range(batch)]


def _cache_of(output):
    """The KV cache of a decoder output, whichever name this transformers release uses."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
