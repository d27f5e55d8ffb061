"""The `production` signal: loudness, peaks, dynamics, spectral balance and stereo image.

Targets depend on the genre family (``constants.GENRE_FAMILY``; taken from the request's genre,
else from a genre named in the prompt). Parts: BS.1770 integrated loudness against the family's
target; true peak (≤ −1 dBTP is clean, overs cost); peak-to-loudness ratio (dynamics) in the
family's range; spectral tilt of the long-term spectrum (dB per octave, 100 Hz-8 kHz; mixes sit
around −3 to −9, white noise at 0); stereo correlation for stereo clips (out-of-phase costs,
fake stereo is neutral).
"""

from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C
from scoring.chunked import pairwise_sums
from scoring.curves import plateau, ramp
from scoring.request import ScoringRequest
from scoring.signals.base import SignalContext

if TYPE_CHECKING:  # signals are imported by scoring.features' import chain
    from scoring.features import Features

NAME = "production"


def genre_family(request: ScoringRequest) -> str:
    """Genre family of the request: its genre, else the longest genre name found in the prompt."""
    genre = request.genre.strip().lower()
    if genre in C.GENRE_FAMILY:
        return C.GENRE_FAMILY[genre]
    prompt = f" {request.prompt.lower()} "
    for name in sorted(C.GENRE_FAMILY, key=len, reverse=True):
        if f" {name} " in prompt or f" {name}," in prompt or f" {name}." in prompt:
            return C.GENRE_FAMILY[name]
    return C.DEFAULT_FAMILY


def spectral_tilt(f: "Features") -> float:
    """Slope (dB per octave) of a line fitted to the long-term power spectrum, 100 Hz-8 kHz."""
    freqs = f.frequencies
    band = (freqs >= 100) & (freqs <= 8000)
    ltas = 10 * np.log10(f.power[band].mean(axis=1) + 1e-12)
    slope, _ = np.polyfit(np.log2(freqs[band]), ltas, 1)
    return float(slope)


def stereo_correlation(f: "Features") -> float | None:
    """Zero-lag correlation of left and right over the whole clip (−1..1); None for mono or when a
    channel is silent. The three float64 sums are made chunk by chunk in numpy's pairwise order
    (:func:`scoring.chunked.pairwise_sums`): the same bits as summing float64 copies of both
    channels, without the copies (≈ 0.4 GiB for 180 s of 96 kHz stereo)."""
    st = f.stereo
    if st is None:
        return None

    def leaf_sums(start: int, stop: int) -> np.ndarray:
        left, right = st[0, start:stop].astype(np.float64), st[1, start:stop].astype(np.float64)
        return np.array([np.sum(left**2), np.sum(right**2), np.sum(left * right)])

    left_energy, right_energy, cross = pairwise_sums(leaf_sums, st.shape[1])
    denom = np.sqrt(left_energy * right_energy)
    return float(cross / denom) if denom > 0 else None


def measure(f: "Features") -> dict[str, float]:
    out = {
        "loudness_lufs": f.loudness_lufs,
        "true_peak_dbfs": f.true_peak_dbfs,
        "plr_db": f.true_peak_dbfs - f.loudness_lufs,
        "tilt_db_per_octave": spectral_tilt(f),
    }
    corr = stereo_correlation(f)
    if corr is not None:
        out["stereo_correlation"] = corr
    return out


def score(m: dict[str, float], *, family: str) -> float:
    target, tol = C.FAMILY_LOUDNESS_LUFS[family]
    plr_lo, plr_hi = C.FAMILY_PLR_DB[family]
    parts = [
        plateau(m["loudness_lufs"], target - tol, target + tol, C.LOUDNESS_FALLOFF_LU),
        ramp(m["true_peak_dbfs"], 2.0, -1.0) * 0.7 + 0.3 * ramp(m["true_peak_dbfs"], 6.0, 0.0),
        plateau(m["plr_db"], plr_lo, plr_hi, C.PLR_FALLOFF_DB),
        plateau(m["tilt_db_per_octave"], -9.0, -3.0, 4.0),
    ]
    if "stereo_correlation" in m:
        c = m["stereo_correlation"]
        parts.append(0.8 if c > 0.995 else ramp(c, -0.2, 0.3))
    return float(np.mean(parts))


def compute(ctx: SignalContext) -> float:
    return score(measure(ctx.features), family=genre_family(ctx.request))
