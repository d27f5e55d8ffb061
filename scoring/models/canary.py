"""The CLAP canary: a start-up check that the loaded CLAP tells obvious sounds apart.

Four 10 s clips are synthesised in numpy (a drum groove, a sustained piano-like chord
progression, a pure sine tone, white noise), each with a matching and a mismatching
description. A case's margin is cos(clip, matching text) − cos(clip, mismatching text); the
canary passes when the matching text wins in a strict majority of cases. A validator refuses to
score with a CLAP that fails (a wrong checkpoint, a broken tokenizer or a truncated download
make CLAP scores noise, and noise in a 19 % signal decides weights).
"""

import logging
from dataclasses import dataclass

import numpy as np

__all__ = ["run_clap_canary", "CanaryResult", "CanaryCase", "canary_clips"]

logger = logging.getLogger(__name__)

_SECONDS = 10.0


@dataclass(frozen=True)
class CanaryCase:
    """One synthetic clip: its descriptions and ``margin`` = cos(matching) − cos(mismatching)."""

    name: str
    matching: str
    mismatching: str
    margin: float

    @property
    def passed(self) -> bool:
        return self.margin > 0.0


@dataclass(frozen=True)
class CanaryResult:
    """All cases; ``passed`` when the matching description wins in a strict majority."""

    cases: tuple[CanaryCase, ...]
    passed: bool

    @property
    def message(self) -> str:
        wins = sum(c.passed for c in self.cases)
        detail = ", ".join(f"{c.name} {c.margin:+.3f}" for c in self.cases)
        return f"{wins}/{len(self.cases)} cases matched their description ({detail})"


def _drums(sr: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    beat = int(sr * 0.5)  # 120 BPM
    kick_t = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 12)
    rng = np.random.default_rng(7)
    snare = rng.standard_normal(int(0.15 * sr)) * np.exp(-np.arange(int(0.15 * sr)) / sr * 25)
    hat = rng.standard_normal(int(0.04 * sr)) * np.exp(-np.arange(int(0.04 * sr)) / sr * 120)
    hat = np.diff(hat, prepend=0.0)  # brighter
    for k, start in enumerate(range(0, n, beat)):
        if k % 2 == 0:
            seg = kick[: n - start]
        else:
            seg = 0.6 * snare[: n - start]
        out[start : start + seg.size] += seg
        for h in (start, start + beat // 2):
            piece = 0.25 * hat[: max(0, n - h)]
            out[h : h + piece.size] += piece
    return out


def _piano(sr: int, n: int) -> np.ndarray:
    chords = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]  # C Am F G
    out = np.zeros(n)
    span = n // len(chords)
    tt = np.arange(span) / sr
    for k, chord in enumerate(chords):
        note = np.zeros(span)
        for midi in chord:
            f0 = 440.0 * 2 ** ((midi - 69) / 12)
            for h in range(1, 7):
                note += (0.6 ** (h - 1)) * np.sin(2 * np.pi * f0 * h * tt) * np.exp(-tt * (1.2 + 0.6 * h))
        attack = np.minimum(1.0, tt / 0.005)
        out[k * span : (k + 1) * span] = note * attack
    return out


def _sine(sr: int, n: int) -> np.ndarray:
    return np.sin(2 * np.pi * 440.0 * np.arange(n) / sr)


def _noise(sr: int, n: int) -> np.ndarray:
    return np.random.default_rng(11).standard_normal(n)


_CASES = (
    ("drum groove", _drums, "a drum beat with kick, snare and hi-hats", "a solo violin playing a slow melody"),
    ("piano chords", _piano, "piano chords", "a heavy drum beat"),
    ("sine tone", _sine, "a pure sine wave tone", "a rock band with drums and electric guitar"),
    ("white noise", _noise, "white noise", "a piano playing a gentle melody"),
)


def canary_clips(sample_rate: int) -> list[tuple[str, np.ndarray, str, str]]:
    """``(name, clip float32 (n,) peak 0.5, matching text, mismatching text)`` for each case."""
    n = int(_SECONDS * sample_rate)
    out = []
    for name, synth, match, mismatch in _CASES:
        clip = synth(sample_rate, n)
        clip = 0.5 * clip / max(float(np.max(np.abs(clip))), 1e-9)
        out.append((name, clip.astype(np.float32), match, mismatch))
    return out


def run_clap_canary(bundle) -> CanaryResult:
    """Run the canary on ``bundle.clap`` (anything with ``sample_rate``, ``embed_audio`` and
    ``embed_texts`` like :class:`~scoring.models.clap.ClapEmbedder`). Raises ValueError when
    the bundle has no CLAP."""
    clap = getattr(bundle, "clap", None)
    if clap is None:
        raise ValueError("the bundle has no CLAP model to check")
    clips = canary_clips(int(clap.sample_rate))
    audio = clap.embed_audio([c for _, c, _, _ in clips])
    texts = clap.embed_texts([t for _, _, m, mm in clips for t in (m, mm)])
    cases = []
    for k, (name, _, match, mismatch) in enumerate(clips):
        a = np.asarray(audio[k], dtype=np.float64)
        margin = float(a @ texts[2 * k] - a @ texts[2 * k + 1])
        cases.append(CanaryCase(name=name, matching=match, mismatching=mismatch, margin=margin))
    wins = sum(c.passed for c in cases)
    result = CanaryResult(cases=tuple(cases), passed=wins * 2 > len(cases))
    (logger.info if result.passed else logger.error)("CLAP canary: %s", result.message)
    return result
