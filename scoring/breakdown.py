"""The result of scoring one clip: every signal, every penalty, the weights used and the final score.

A :class:`ScoreBreakdown` lists all 16 published signals (``None`` when unavailable, with the
reason in ``unavailable``) and all 4 penalties (1.0 when none applies or it cannot be computed,
with a note in ``penalty_notes``). ``sources`` names the trained model behind a signal's value
where that signal has a weight-free route too (e.g. ``learned_mos`` from Audiobox Aesthetics);
it is left out of ``to_dict`` when empty, so weight-free breakdowns are unchanged. ``to_dict``
rounds floats to ``DECIMALS`` so two processes scoring the same bytes serialise byte-identical
breakdowns.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from scoring import constants as C

__all__ = ["ScoreBreakdown", "DECIMALS"]

DECIMALS = 6


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    r = round(v, DECIMALS)
    return 0.0 if r == 0 else r  # no "-0.0"


@dataclass
class ScoreBreakdown:
    """Scores of one clip. ``signals`` values and ``composite``/``final_score`` are in [0, 1];
    ``penalties`` are multipliers in [0, 1]; ``weights`` are the effective (renormalised) weights
    the composite used (0 for unavailable signals)."""

    signals: dict[str, float | None]
    unavailable: dict[str, str] = field(default_factory=dict)
    penalties: dict[str, float] = field(default_factory=dict)
    penalty_notes: dict[str, str] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    composite: float = 0.0
    final_score: float = 0.0
    error: str | None = None
    scoring_version: int = C.SCORING_VERSION
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def failed(cls, error: str) -> "ScoreBreakdown":
        """A hard zero: every signal unavailable, no penalties applied, ``final_score`` 0."""
        return cls(
            signals={name: None for name in C.SIGNAL_WEIGHTS},
            unavailable={name: f"clip not scored: {error}" for name in C.SIGNAL_WEIGHTS},
            penalties={name: 1.0 for name in C.PENALTIES},
            penalty_notes={},
            weights={name: 0.0 for name in C.SIGNAL_WEIGHTS},
            composite=0.0,
            final_score=0.0,
            error=error,
        )

    def strongest_signal(self) -> str | None:
        """Name of the highest available signal (ties: published order), or None."""
        return self._extreme(max)

    def weakest_signal(self) -> str | None:
        """Name of the lowest available signal (ties: published order), or None."""
        return self._extreme(min)

    def _extreme(self, pick) -> str | None:
        available = [(name, v) for name, v in self.signals.items() if v is not None]
        if not available:
            return None
        target = pick(v for _, v in available)
        return next(name for name, v in available if v == target)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with sorted keys and floats rounded to ``DECIMALS`` places."""
        out = {
            "scoring_version": int(self.scoring_version),
            "final_score": _round(self.final_score),
            "composite": _round(self.composite),
            "error": self.error,
            "signals": {k: _round(self.signals.get(k)) for k in sorted(self.signals)},
            "unavailable": {k: self.unavailable[k] for k in sorted(self.unavailable)},
            "penalties": {k: _round(self.penalties[k]) for k in sorted(self.penalties)},
            "penalty_notes": {k: self.penalty_notes[k] for k in sorted(self.penalty_notes)},
            "weights": {k: _round(self.weights[k]) for k in sorted(self.weights)},
        }
        if self.sources:
            out["sources"] = {k: self.sources[k] for k in sorted(self.sources)}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ScoreBreakdown":
        """Inverse of :meth:`to_dict` (raises KeyError/TypeError on a malformed dict)."""
        return cls(
            signals={k: (None if v is None else float(v)) for k, v in data["signals"].items()},
            unavailable={k: str(v) for k, v in data.get("unavailable", {}).items()},
            penalties={k: float(v) for k, v in data["penalties"].items()},
            penalty_notes={k: str(v) for k, v in data.get("penalty_notes", {}).items()},
            weights={k: float(v) for k, v in data.get("weights", {}).items()},
            composite=float(data["composite"]),
            final_score=float(data["final_score"]),
            error=data.get("error"),
            scoring_version=int(data.get("scoring_version", C.SCORING_VERSION)),
            sources={k: str(v) for k, v in data.get("sources", {}).items()},
        )
