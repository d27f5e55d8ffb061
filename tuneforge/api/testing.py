"""Test doubles for the API: an organic gateway that returns real, deterministic WAV clips.

:class:`FakeGateway` stands in for ``tuneforge.validator.organic.OrganicGateway`` in the API's
tests, its benchmark and demos without miners: each candidate is a short sine chord (a pitch
derived from the request's seed and the candidate's uid), encoded as WAV PCM16 at 16 kHz, with a
:class:`~scoring.breakdown.ScoreBreakdown` whose ``final_score`` comes from ``scores``.
"""

import asyncio
from collections.abc import Sequence

import numpy as np

from scoring import constants as C
from scoring.breakdown import ScoreBreakdown
from scoring.request import ScoringRequest
from tuneforge.audio.intake import encode_audio
from tuneforge.validator.organic import OrganicCandidate

__all__ = ["FakeGateway", "tone_wav", "fake_breakdown"]

SAMPLE_RATE = 16_000


def tone_wav(*, seconds: float, frequency_hz: float, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A WAV PCM16 mono file: ``seconds`` of a sine at ``frequency_hz`` plus its fifth, amplitude 0.3."""
    t = np.arange(int(round(seconds * sample_rate)), dtype=np.float64) / sample_rate
    wave = 0.2 * np.sin(2 * np.pi * frequency_hz * t) + 0.1 * np.sin(2 * np.pi * 1.5 * frequency_hz * t)
    return encode_audio(wave.astype(np.float32), sample_rate, "wav")


def fake_breakdown(final_score: float) -> ScoreBreakdown:
    """A breakdown whose every signal and ``composite`` equal ``final_score`` (no penalties)."""
    return ScoreBreakdown(
        signals={name: final_score for name in C.SIGNAL_WEIGHTS},
        penalties={name: 1.0 for name in C.PENALTIES},
        weights=dict(C.SIGNAL_WEIGHTS), composite=final_score, final_score=final_score,
    )


class FakeGateway:
    """An organic gateway double.

    Args:
        scores: ``final_score`` of each candidate in the order returned (uid = index + 1);
            deliberately not sorted, so callers must pick the best themselves.
        fail: raise ``RuntimeError`` from ``generate`` (a broken validator).
        empty: return no candidates (no miner available).
        delay_s: seconds each call waits before answering.
    """

    def __init__(self, *, scores: Sequence[float] = (0.4, 0.8, 0.6), fail: bool = False, empty: bool = False,
                 delay_s: float = 0.0) -> None:
        self.scores = list(scores)
        self.fail = fail
        self.empty = empty
        self.delay_s = delay_s
        self.requests: list[ScoringRequest] = []

    async def generate(self, request: ScoringRequest, *, num_candidates: int = 3,
                       timeout: float | None = None) -> list[OrganicCandidate]:
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("validator is not serving")
        if self.empty:
            return []
        out = []
        seed = request.seed or 0
        for i, score in enumerate(self.scores[:num_candidates]):
            uid = i + 1
            freq = 220.0 + 10.0 * ((seed + 7 * uid) % 40)
            data = tone_wav(seconds=request.duration_seconds, frequency_hz=freq)
            out.append(OrganicCandidate(
                uid=uid, hotkey=f"5FakeMinerHotkey{uid:02d}", audio_bytes=data, audio_format="wav", samples=None,
                sample_rate=SAMPLE_RATE, model_id=f"fake-model-{uid}", breakdown=fake_breakdown(score),
                rtt_seconds=0.01 * uid, challenge_id=f"{seed:032x}"[-32:], seed=seed,
            ))
        return out
