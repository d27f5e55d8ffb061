"""diffusers' ``AceStepPipeline`` with per-request metadata, so different requests share one batch.

diffusers 0.42 takes ``bpm``, ``keyscale`` and ``timesignature`` once per call, for every prompt
of a batch. Queued miner requests each have their own tempo, key and meter, so this subclass's
:meth:`encode_prompt` also accepts one value per prompt and writes each prompt's own "# Metas"
block; everything else (the prompt template, tokenisation, the text encoder pass, the lyric
embedding lookup) is the parent's, called item by item or reproduced line for line. A scalar
still means "the same for every prompt", so a single request is encoded exactly as diffusers
encodes it.

The latent length (``audio_duration``) stays one per call: a batch holds requests rendered at
the same length (:func:`tuneforge.generation.ace_step_prompt.render_seconds`).
"""

from collections.abc import Sequence
from typing import Any

import torch
from diffusers import AceStepPipeline

__all__ = ["TuneForgeAceStepPipeline", "per_item"]


def per_item(value: Any, n: int, name: str) -> list[Any]:
    """``value`` as a list of ``n``: a scalar (or None) repeated, or a sequence of exactly ``n``."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name}: {len(value)} values for {n} prompts")
        return list(value)
    return [value] * n


class TuneForgeAceStepPipeline(AceStepPipeline):
    """``AceStepPipeline`` whose ``bpm`` / ``keyscale`` / ``timesignature`` may be given per prompt."""

    def encode_prompt(  # type: ignore[override]
        self,
        prompt: str | list[str],
        lyrics: str | list[str],
        device: torch.device,
        vocal_language: str | list[str] = "en",
        audio_duration: float = 60.0,
        instruction: str | None = None,
        bpm: int | None | Sequence[int | None] = None,
        keyscale: str | None | Sequence[str | None] = None,
        timesignature: str | None | Sequence[str | None] = None,
        max_text_length: int = 256,
        max_lyric_length: int = 2048,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Text hidden states ``(B, T_text, D)`` + mask ``(B, T_text)`` and lyric token embeddings
        ``(B, T_lyric, D)`` + mask ``(B, T_lyric)``, as the parent's, with per-prompt metadata."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        n = len(prompts)
        lyric_list = per_item(lyrics, n, "lyrics")
        languages = per_item(vocal_language, n, "vocal_language")
        bpms = per_item(bpm, n, "bpm")
        keys = per_item(keyscale, n, "keyscale")
        meters = per_item(timesignature, n, "timesignature")
        texts, lyric_texts = [], []
        for i in range(n):
            text, lyric_text = self._format_prompt(
                prompt=prompts[i],
                lyrics=lyric_list[i],
                vocal_language=languages[i],
                audio_duration=audio_duration,
                instruction=instruction,
                bpm=bpms[i],
                keyscale=keys[i],
                timesignature=meters[i],
            )
            texts.append(text)
            lyric_texts.append(lyric_text)
        # From here on as AceStepPipeline.encode_prompt (diffusers 0.42): longest padding, the full
        # text encoder for the caption, the embedding table only for the lyrics.
        text_inputs = self.tokenizer(
            texts, padding="longest", truncation=True, max_length=max_text_length, return_tensors="pt"
        )
        lyric_inputs = self.tokenizer(
            lyric_texts, padding="longest", truncation=True, max_length=max_lyric_length, return_tensors="pt"
        )
        text_ids = text_inputs.input_ids.to(device)
        lyric_ids = lyric_inputs.input_ids.to(device)
        text_hidden = self.text_encoder(input_ids=text_ids).last_hidden_state
        lyric_hidden = self.text_encoder.get_input_embeddings()(lyric_ids)
        return (
            text_hidden,
            text_inputs.attention_mask.to(device).bool(),
            lyric_hidden,
            lyric_inputs.attention_mask.to(device).bool(),
        )
