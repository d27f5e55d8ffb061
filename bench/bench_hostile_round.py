"""One round of 16 clips, 8 of them hostile, graded through the validator's path on one core.

Builds what 16 miners would send for one challenge: 8 honest procedural renders (each its own
seed) and one answer of each hostile kind of ``tuneforge localnet --hostile`` (a float32 WAV at
~1e18, a copy of honest clip 0 time-stretched 3 % at -6 dB, no answer in time, bad base64, a
40 % clip of another prompt, a 30 % clip, a crashed request, stereo with R = -L). Then times
the validator's grading of that round: the strict intake of every payload
(``decode_audio_b64``) and ``RoundRunner.grade`` on a one-worker ``ScoringPool`` (the
weight-free ``Scorer`` with a miner history), split into the scorer's stages. Prints one line
per stage, the wall time, and each clip's score.

    OMP_NUM_THREADS=1 python bench/bench_hostile_round.py [--seconds 10] [--repeat 2]
"""

import argparse
import asyncio
import base64
import io
import logging
import os
import statistics
import time
from collections import defaultdict
from dataclasses import replace

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from scoring.history import MinerHistory  # noqa: E402
from scoring.scorer import Scorer  # noqa: E402
from tuneforge.audio.intake import AudioRejected, decode_audio_b64, encode_audio_b64  # noqa: E402
from tuneforge.generation import GenerationSettings, build_backend  # noqa: E402
from tuneforge.localnet.hostile import _disguise  # noqa: E402
from tuneforge.spec import spec_from_synapse  # noqa: E402
from tuneforge.validator.challenges import ChallengeGenerator, ChallengeStore  # noqa: E402
from tuneforge.validator.leaderboard import Leaderboard  # noqa: E402
from tuneforge.validator.query import MinerResponse  # noqa: E402
from tuneforge.validator.round import RoundRunner, ScoringPool  # noqa: E402

STAGES = ("_intake", "_prepare", "_measure_round", "_add_to_history")


class TimedScorer(Scorer):
    """The validator's scorer with each stage of ``score_round`` timed (seconds, summed per call)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.times: dict[str, float] = defaultdict(float)
        for name in STAGES:
            setattr(self, name, self._timed(name, getattr(self, name)))

    def _timed(self, name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.times[name] += time.perf_counter() - t0
        return wrapper


def _float_wav(samples: np.ndarray, rate: int) -> str:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(samples, dtype=np.float32).T, rate, format="WAV", subtype="FLOAT")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def build_round(seconds: int):
    """(challenge, [(hotkey, kind, payload or None, error or None)]) for 8 honest and 8 hostile miners."""
    generator = ChallengeGenerator(b"bench-hostile-round", durations=(seconds, seconds))
    challenge = generator.generate(1)
    backend = build_backend(GenerationSettings(backend="procedural"))

    def render(hotkey: str, *, share: float = 1.0, prompt: str | None = None, seed: int | None = None):
        spec = spec_from_synapse(challenge.to_synapse(hotkey))
        spec = replace(spec, duration_seconds=max(1.0, seconds * share), prompt=prompt or spec.prompt,
                       seed=spec.seed if seed is None else seed)
        audio = backend.generate(spec)
        return np.asarray(audio.samples, dtype=np.float32), int(audio.sample_rate)

    answers = []
    honest0 = None
    for i in range(8):
        samples, rate = render(f"honest-{i}")
        honest0 = honest0 if honest0 is not None else (samples, rate)
        answers.append((f"honest-{i}", "honest", encode_audio_b64(samples, rate), None))
    samples, rate = render("h-oversized")
    answers.append(("h-oversized", "oversized-float", _float_wav(samples * np.float32(1e18), rate), None))
    answers.append(("h-copy", "disguised-copy", _float_wav(_disguise(honest0[0]), honest0[1]), None))
    answers.append(("h-late", "late", None, "no clip: status 408 Request timeout"))
    answers.append(("h-garbage", "garbage-base64", "!!not base64!! " + "%$#@" * 512, None))
    samples, rate = render("h-echo", share=0.4, prompt="slow ambient drone, no drums")
    answers.append(("h-echo", "rewritten-echo", encode_audio_b64(samples, rate), None))
    samples, rate = render("h-short", share=0.3)
    answers.append(("h-short", "wrong-length", encode_audio_b64(samples, rate), None))
    answers.append(("h-crash", "crash", None, "no clip: status 500 Internal Server Error"))
    samples, rate = render("h-mute")
    left = samples.mean(axis=0)
    answers.append(("h-mute", "mute-in-mono", encode_audio_b64(np.stack([left, -left]), rate), None))
    return challenge, answers


def intake(answers, challenge) -> tuple[list[MinerResponse], float]:
    """The validator's intake of every payload; (responses, seconds)."""
    t0 = time.perf_counter()
    responses = []
    for uid, (hotkey, _, payload, error) in enumerate(answers, start=1):
        r = MinerResponse(uid=uid, hotkey=hotkey, seed=challenge.seed_for(hotkey), rtt_seconds=1.0 + 0.01 * uid,
                          error=error)
        if payload is not None:
            try:
                r.audio = decode_audio_b64(payload)
            except AudioRejected as exc:
                r.error, r.reject_reason = f"rejected: {exc}", exc.reason
        responses.append(r)
    return responses, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="requested clip length (default 10)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds graded (fresh scorer each; default 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    challenge, answers = build_round(args.seconds)
    store = ChallengeStore()
    store.put(challenge)
    walls, intakes, stage_times, last = [], [], defaultdict(list), None
    for _ in range(args.repeat):
        scorer = TimedScorer(history=MinerHistory())
        runner = RoundRunner(generator=ChallengeGenerator(b"unused"), challenges=store, leaderboard=Leaderboard(),
                             pool=ScoringPool(workers=1, budget_s=600.0), scorer_fn=lambda s=scorer: s,
                             sample_size=16, timeout_s=30.0)
        t0 = time.perf_counter()
        responses, intake_s = intake(answers, challenge)
        breakdowns = asyncio.run(runner.grade(challenge, responses))
        walls.append(time.perf_counter() - t0)
        intakes.append(intake_s)
        for name in STAGES:
            stage_times[name].append(scorer.times[name])
        runner.pool.shutdown()
        last = list(zip(answers, breakdowns, strict=True))

    print(f"one round: {len(answers)} clips ({sum(1 for a in answers if a[1] != 'honest')} hostile), "
          f"{args.seconds} s requested, one core, median of {args.repeat}")
    print(f"  {'intake (decode_audio_b64, 16 payloads)':44s} {statistics.median(intakes):7.2f} s")
    labels = {"_intake": "scorer: features, silence, round analyses", "_prepare": "scorer: models.prepare (none loaded)",
              "_measure_round": "scorer: signals and penalties", "_add_to_history": "scorer: history add"}
    for name in STAGES:
        print(f"  {labels[name]:44s} {statistics.median(stage_times[name]):7.2f} s")
    print(f"  {'wall (intake + RoundRunner.grade)':44s} {statistics.median(walls):7.2f} s")
    print("scores:")
    for (hotkey, kind, _, _), b in last:
        why = b.error or ", ".join(f"{k} {v:g}" for k, v in b.penalties.items() if v < 1.0) or "-"
        print(f"  {kind:16s} {hotkey:12s} {b.final_score:6.3f}  {why[:90]}")


if __name__ == "__main__":
    main()
