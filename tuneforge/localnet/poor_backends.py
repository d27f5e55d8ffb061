"""Deliberately poor generation backends for the local network demo.

They make the scoring visibly separate miners: one returns noise instead of music, one returns
music of the wrong length. Both are honest backends in every other respect (seeded, exact
sample rate), so the validator must catch them through its signals and penalties.
"""

import numpy as np

from tuneforge.generation.base import GeneratedAudio, GenerationBackend
from tuneforge.spec import MusicSpec

__all__ = ["NoiseBackend", "TruncatingBackend", "POOR_KINDS", "make_poor_backend"]


class NoiseBackend:
    """Returns seeded pink-ish noise of the requested length instead of music."""

    name = "noise"
    model_id = "localnet-noise"
    device = "cpu"
    max_duration_seconds = 180.0

    def __init__(self, sample_rate: int = 44_100) -> None:
        self.sample_rate = int(sample_rate)

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        frames = int(round(spec.duration_seconds * self.sample_rate))
        rng = np.random.default_rng(spec.seed)
        white = rng.standard_normal((2, frames))
        # One-pole low-pass tilts white noise towards pink so loudness looks plausible.
        spectrum = np.fft.rfft(white, axis=1)
        freqs = np.fft.rfftfreq(frames, d=1.0 / self.sample_rate)
        spectrum /= np.sqrt(np.maximum(freqs, 20.0))[None, :]
        noise = np.fft.irfft(spectrum, n=frames, axis=1)
        noise *= 0.25 / (np.max(np.abs(noise)) + 1e-9)
        return GeneratedAudio(samples=noise.astype(np.float32), sample_rate=self.sample_rate, model_id=self.model_id)

    def supported_genres(self) -> list[str]:
        return []


class TruncatingBackend:
    """Wraps a real backend and returns only the first 40 % of what was asked for."""

    name = "truncating"
    device = "cpu"
    max_duration_seconds = 180.0

    def __init__(self, inner: GenerationBackend, fraction: float = 0.4) -> None:
        self.inner = inner
        self.fraction = float(fraction)
        self.sample_rate = inner.sample_rate
        self.model_id = f"{inner.model_id}-truncated"

    def generate(self, spec: MusicSpec) -> GeneratedAudio:
        full = self.inner.generate(spec)
        keep = max(int(full.samples.shape[1] * self.fraction), int(0.6 * full.sample_rate))
        return GeneratedAudio(samples=full.samples[:, :keep], sample_rate=full.sample_rate, model_id=self.model_id)

    def supported_genres(self) -> list[str]:
        return self.inner.supported_genres()


POOR_KINDS = ("noise", "truncating")


def make_poor_backend(kind: str, inner: GenerationBackend) -> GenerationBackend:
    """A poor backend of ``kind`` ("noise" | "truncating")."""
    if kind == "noise":
        return NoiseBackend(sample_rate=inner.sample_rate)
    if kind == "truncating":
        return TruncatingBackend(inner)
    raise ValueError(f"unknown poor backend kind {kind!r} ({', '.join(POOR_KINDS)})")
