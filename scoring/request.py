"""What a clip is graded against: the request as the validator stored it."""

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ScoringRequest"]


@dataclass(frozen=True)
class ScoringRequest:
    """A music request, as stored by the validator (never as echoed back by a miner).

    ``tempo_bpm`` counts quarter notes per minute in every meter (a 6/8 bar at 120 BPM lasts
    1.5 s); ``duration_seconds`` is the requested length; ``instruments`` are names from the
    prompt vocabulary (e.g. ``"piano"``, ``"electric guitar"``).
    """

    prompt: str
    duration_seconds: float
    genre: str = ""
    mood: str = ""
    tempo_bpm: float | None = None
    key_signature: str | None = None
    time_signature: str | None = None
    instruments: tuple[str, ...] = ()
    vocals_requested: bool = False
    lyrics: str | None = None
    seed: int | None = None
    challenge_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "duration_seconds": self.duration_seconds,
            "genre": self.genre,
            "mood": self.mood,
            "tempo_bpm": self.tempo_bpm,
            "key_signature": self.key_signature,
            "time_signature": self.time_signature,
            "instruments": list(self.instruments),
            "vocals_requested": self.vocals_requested,
            "lyrics": self.lyrics,
            "seed": self.seed,
            "challenge_id": self.challenge_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ScoringRequest":
        return cls(
            prompt=str(data.get("prompt", "")),
            duration_seconds=float(data["duration_seconds"]),
            genre=str(data.get("genre") or ""),
            mood=str(data.get("mood") or ""),
            tempo_bpm=None if data.get("tempo_bpm") is None else float(data["tempo_bpm"]),
            key_signature=data.get("key_signature"),
            time_signature=data.get("time_signature"),
            instruments=tuple(data.get("instruments") or ()),
            vocals_requested=bool(data.get("vocals_requested", False)),
            lyrics=data.get("lyrics"),
            seed=None if data.get("seed") is None else int(data["seed"]),
            challenge_id=str(data.get("challenge_id") or ""),
        )
