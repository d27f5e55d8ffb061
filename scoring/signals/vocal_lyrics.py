"""The `vocal_lyrics` signal: are there intelligible vocals, singing the requested lyrics?

Only for requests with ``vocals_requested``. Whisper transcribes the clip (greedy, fixed 30 s
windows; ``scoring.models.whisper``). Intelligibility = ``exp(mean token log-prob) × (1 − P(no
speech))``. With requested lyrics, the score is ``VOCAL_LYRICS_WER_SHARE × (1 − WER) + (1 −
share) × intelligibility`` where WER is the word error rate of the transcript against the lyrics
after jiwer-style normalisation (lower case, punctuation removed, whitespace collapsed), capped
at 1; without lyrics it is the intelligibility alone.
"""

import re
import unicodedata

from scoring import constants as C
from scoring.signals.base import SignalContext, Unavailable


# scoring.models imports scoring.signals.base, whose package imports this module: import it late.
def _extras():
    from scoring.models import extras

    return extras


NAME = "vocal_lyrics"

__all__ = ["NAME", "compute", "normalize_words", "word_error_rate"]

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def normalize_words(text: str) -> list[str]:
    """Words of ``text`` after jiwer-style normalisation: NFKC, lower case, apostrophes unified
    and kept inside words, every other punctuation mark and symbol removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = "".join(ch if (ch.isalnum() or ch.isspace() or ch == "'") else " " for ch in text)
    text = re.sub(r"(?<![a-z0-9])'|'(?![a-z0-9])", " ", text)  # quotes, not contractions
    return text.split()


def word_error_rate(*, reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by word-level Levenshtein
    distance on normalised text. Raises ValueError when the reference has no words."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        raise ValueError("reference has no words")
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / len(ref)


def compute(ctx: SignalContext) -> float:
    if not ctx.request.vocals_requested:
        raise Unavailable("not applicable: instrumental request")
    _extras().clip_model(ctx, "whisper")
    transcript = ctx.features.get_extra(_extras().EXTRA_TRANSCRIPT)
    if transcript is None:
        raise Unavailable("error: whisper transcript was not computed")
    intelligibility = transcript.intelligibility
    lyrics = (ctx.request.lyrics or "").strip()
    if not normalize_words(lyrics):
        return intelligibility
    wer = min(1.0, word_error_rate(reference=lyrics, hypothesis=transcript.text))
    share = C.VOCAL_LYRICS_WER_SHARE
    return share * (1.0 - wer) + (1.0 - share) * intelligibility
