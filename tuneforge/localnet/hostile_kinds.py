"""The names of the hostile miners ``tuneforge localnet --hostile`` can add (no heavy imports:
the CLI lists them in its help). What each one does: :mod:`tuneforge.localnet.hostile`."""

__all__ = ["HOSTILE_KINDS", "parse_hostile_kinds"]

HOSTILE_KINDS = (
    "oversized-float", "disguised-copy", "late", "garbage-base64", "rewritten-echo", "wrong-length", "crash",
    "mute-in-mono",
)


def parse_hostile_kinds(text: str | None) -> tuple[str, ...]:
    """``"late,crash"`` → ``("late", "crash")``; ``"all"`` → every kind. Raises ValueError naming an unknown kind."""
    if not text:
        return ()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts == ["all"]:
        return HOSTILE_KINDS
    unknown = [p for p in parts if p not in HOSTILE_KINDS]
    if unknown:
        raise ValueError(f"unknown --hostile kind {', '.join(unknown)} (kinds: all, {', '.join(HOSTILE_KINDS)})")
    return tuple(parts)
