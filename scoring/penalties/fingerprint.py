"""The `fingerprint_penalty`: near-duplicate clips from different hotkeys, or re-served clips.

Each clip's bit fingerprint (``Features.fingerprint``) is compared, at the best offset within
±``FINGERPRINT_MAX_OFFSET_SECONDS``, with (a) the other clips of the same round and (b) the
same hotkey's recent clips in ``MinerHistory``. Similarity is 1 − bit error rate: unrelated
audio ≈ 0.5, different seeds of one prompt well under 0.85, re-encoded or relayed copies ≥ 0.95.
Multiplier 1 at ``FINGERPRINT_SIM_NONE`` or below, linear to 0 at ``FINGERPRINT_SIM_FULL``.
Round pairs whose DSP embeddings differ (cosine < ``FINGERPRINT_PREFILTER_COSINE``) are skipped
before the bit comparison, which keeps large rounds cheap.

Rule for a group of near-duplicates in one round: the clip delivered first (smallest
validator-measured generation time; ties and unknown times broken by hotkey, ascending) is
presumed the original and keeps its score; every other copy is penalised. A relayer has to
receive the clip before forwarding it, so it cannot be first.
"""

import math

import numpy as np

from scoring import constants as C
from scoring.curves import ramp
from scoring.features import Features, fingerprint_similarity
from scoring.signals.base import SignalContext, Unavailable

NAME = "fingerprint_penalty"
#: Extra under which the scorer stores each clip's validator-measured delivery time (seconds).
DELIVERY_EXTRA = "delivery_seconds"


def max_offset_frames() -> int:
    frame_seconds = C.FINGERPRINT_FRAME_HOP * C.STFT_HOP / C.ANALYSIS_SAMPLE_RATE
    return int(round(C.FINGERPRINT_MAX_OFFSET_SECONDS / frame_seconds))


def similarity_multiplier(similarity: float) -> float:
    return ramp(similarity, C.FINGERPRINT_SIM_FULL, C.FINGERPRINT_SIM_NONE)


def _priority(features: Features, hotkey: str) -> tuple[float, str]:
    seconds = features.get_extra(DELIVERY_EXTRA)
    return (math.inf if seconds is None else float(seconds), hotkey)


def compute(ctx: SignalContext) -> float:
    fp = ctx.features.fingerprint
    if fp.size < 20:
        raise Unavailable("clip too short to fingerprint")
    offset = max_offset_frames()
    own = _priority(ctx.features, ctx.hotkey or "")
    worst = 1.0
    if ctx.round is not None:
        emb = ctx.features.dsp_embedding
        for other_key, other in ctx.round.entries.items():
            if _priority(other, other_key) >= own:
                continue  # we were first (or tie-break wins): the other copy pays, not us
            if float(np.dot(emb, other.dsp_embedding)) < C.FINGERPRINT_PREFILTER_COSINE:
                continue  # timbre and harmony differ: cannot be a copy (saves the bit comparison)
            sim = fingerprint_similarity(fp, other.fingerprint, max_offset=offset)
            worst = min(worst, similarity_multiplier(sim))
    if ctx.history is not None and ctx.hotkey:
        for past in ctx.history.fingerprints(ctx.hotkey):
            sim = fingerprint_similarity(fp, past, max_offset=offset)
            worst = min(worst, similarity_multiplier(sim))
    return worst
