"""The `fingerprint_penalty`: near-duplicate clips from different hotkeys, or re-served clips, however disguised.

Each clip's spectral-peak fingerprint (``Features.fingerprint``, :mod:`scoring.copies`) is
compared with (a) the other clips of the same round and (b) the same hotkey's recent clips in
``MinerHistory``. The matcher searches pitch shift (±3.3 semitones), tempo ratio (0.92–1.08)
and start offset (±1 s), so gain, resampling, lossy re-encoding, delays, added noise,
low-pass, polarity and channel tricks, time-stretch, speed change and pitch-shift, alone or
combined, all still read as the same music; a pair of different pieces is told apart by the
strong notes each holds that the other lacks (see :mod:`scoring.copies.match`). The penalty
is the smallest copy multiplier over the pairs that count (1 = original, 0 = copy).

Rule for a group of near-duplicates in one round: the clip delivered first (smallest
validator-measured generation time; ties and unknown times broken by hotkey, ascending) is
presumed the original and keeps its score; every other copy is penalised. A relayer has to
receive the clip before forwarding it, so it cannot be first. Against the history there is no
order: re-serving one's own earlier clip, disguised or not, is penalised.

The pre-filter is the matcher's own first stage (a few candidate alignments scored by peak
agreement, ~1 ms): it is invariant to every disguise above by construction, where the DSP
embedding the bit print used was not (it follows loudness and timbre). Against the history
only the hotkey's ``FINGERPRINT_HISTORY_CLIPS`` most recent clips are read, and their derived
arrays are released after use.
"""

import math

from scoring.copies import compare
from scoring.features import Features
from scoring.signals.base import SignalContext, Unavailable

NAME = "fingerprint_penalty"
#: Extra under which the scorer stores each clip's validator-measured delivery time (seconds).
DELIVERY_EXTRA = "delivery_seconds"
#: Other clips' analyses this penalty reads (the scorer computes them at intake, under their own guard).
ROUND_FEATURES = ("fingerprint",)


def _priority(features: Features, hotkey: str) -> tuple[float, str]:
    seconds = features.get_extra(DELIVERY_EXTRA)
    try:
        value = float(seconds) if seconds is not None else math.inf
    except (TypeError, ValueError):
        value = math.inf
    return (value if math.isfinite(value) else math.inf, hotkey)


def compute(ctx: SignalContext) -> float:
    fp = ctx.features.fingerprint
    if fp.active_frames < 32:
        raise Unavailable("clip too short or too quiet to fingerprint (< 2 s of sound)")
    own = _priority(ctx.features, ctx.hotkey or "")
    worst = 1.0
    if ctx.round is not None:
        for other_key, other in sorted(ctx.round.entries.items()):
            if _priority(other, other_key) >= own:
                continue  # we were first (or tie-break wins): the other copy pays, not us
            worst = min(worst, compare(fp, other.fingerprint).multiplier)
            if worst == 0.0:
                return 0.0
    if ctx.history is not None and ctx.hotkey:
        for past in ctx.history.fingerprints(ctx.hotkey):
            try:
                worst = min(worst, compare(fp, past).multiplier)
            finally:
                past.release()  # thousands of history prints: keep their derived arrays only while in use
            if worst == 0.0:
                return 0.0
    return worst
