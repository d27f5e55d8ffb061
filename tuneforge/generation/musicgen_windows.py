"""Window planning and seams for long MusicGen renders: token counts, equal-power crossfades, exact length.

MusicGen attends over a bounded window (30 s for the released checkpoints). A longer clip is
rendered as a first window and then continuations, each prompted with the codes of the last
``overlap`` seconds of audio; the continuation re-renders that overlap, and the seam between
the old audio and the new window is an equal-power crossfade at the end of the overlap. This
module holds the arithmetic and the numpy parts of that, so they are testable without a model.
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["WindowPlan", "tokens_for_frames", "equal_power_crossfade", "fit_length"]


@dataclass(frozen=True)
class WindowPlan:
    """Windowing parameters in seconds, validated.

    ``window_seconds``: most audio one generate call may hold (prompt + new);
    ``overlap_seconds``: audio fed back as the prompt of each continuation;
    ``crossfade_seconds``: length of the equal-power seam, at most ``overlap_seconds``.
    """

    window_seconds: float = 30.0
    overlap_seconds: float = 10.0
    crossfade_seconds: float = 1.5

    def __post_init__(self) -> None:
        w, o, x = self.window_seconds, self.overlap_seconds, self.crossfade_seconds
        if not all(math.isfinite(v) for v in (w, o, x)):
            raise ValueError(f"window settings must be finite, got window={w} overlap={o} crossfade={x}")
        if not 0.0 < x <= o < w:
            raise ValueError(
                f"need 0 < crossfade ({x}) <= overlap ({o}) < window ({w}) seconds for windowed continuation"
            )


def tokens_for_frames(frames: int, *, codebook_delay: int) -> int:
    """Decoder steps that yield ``frames`` codec frames under MusicGen's delay pattern.

    Each channel's ``k`` codebooks are offset by one step each, so ``codebook_delay = k - 1``
    extra steps are needed (``50·s + 3`` tokens for ``s`` seconds of a 4-codebook, 50 Hz model).
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    return int(frames) + int(codebook_delay)


def equal_power_crossfade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Blend ``tail`` (fading out) into ``head`` (fading in) with cos/sin gains (constant power).

    Args:
        tail, head: float arrays of the same shape ``(channels, frames)``.

    Returns:
        float32 array ``(channels, frames)``: ``tail·cos(πt/2) + head·sin(πt/2)``, t from 0 to 1.
    """
    if tail.shape != head.shape:
        raise ValueError(f"crossfade needs equal shapes, got {tail.shape} and {head.shape}")
    n = tail.shape[-1]
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    fade_out = np.cos(0.5 * np.pi * t).astype(np.float32)
    fade_in = np.sin(0.5 * np.pi * t).astype(np.float32)
    return (tail * fade_out + head * fade_in).astype(np.float32)


def fit_length(samples: np.ndarray, *, frames: int, sample_rate: int, fade_seconds: float = 0.05) -> np.ndarray:
    """Trim or pad ``samples`` ``(channels, n)`` to exactly ``frames`` frames.

    Trimming cuts the end. Padding (a model that stopped early) first fades the last
    ``fade_seconds`` out, then appends zeros at the end only, so no gap opens inside the clip.
    """
    channels, n = samples.shape
    if n >= frames:
        return np.ascontiguousarray(samples[:, :frames], dtype=np.float32)
    out = np.zeros((channels, frames), dtype=np.float32)
    out[:, :n] = samples
    fade = min(n, max(1, int(round(fade_seconds * sample_rate))))
    out[:, n - fade : n] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out
