"""The conditioning text MusicGen reads: a MusicSpec written out as one descriptive sentence.

MusicGen was trained on short tag-like descriptions ("lo-fi hip hop, mellow, electric piano,
80 bpm"), so every structured field the request carries is spelled out in that style and the
free-text prompt follows, giving the text encoder the genre, mood, instruments, tempo, key and
meter even when the prompt leaves them implicit.
"""

from tuneforge.spec import MusicSpec

__all__ = ["describe_spec"]


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def describe_spec(spec: MusicSpec) -> str:
    """One line such as ``"melancholic jazz featuring piano and upright bass, 92 BPM, in Eb minor, 3/4 time. <prompt>"``."""
    head = " ".join(w for w in (spec.mood, spec.genre) if w) or "music"
    if spec.instruments:
        head += " featuring " + _join(list(spec.instruments))
    parts = [
        head,
        f"{round(spec.tempo_bpm)} BPM",
        f"in {spec.key.name}",
        f"{spec.meter.name} time",
        "with vocals" if spec.vocals else "instrumental",
    ]
    text = ", ".join(parts) + "."
    prompt = (spec.prompt or "").strip()
    if prompt:
        text += " " + prompt
    return text
