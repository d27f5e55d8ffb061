"""How far our 16 kHz input for Audiobox Aesthetics (soxr HQ) is from the package's (torchaudio).

The package's ``infer.py`` resamples with ``torchaudio.functional.resample`` at its defaults
(Hann-windowed sinc, ``lowpass_filter_width=6``, ``rolloff=0.99``); torchaudio has no build for our
torch, so ``scoring.models.aesthetics`` uses soxr HQ. This script rebuilds torchaudio's default
kernel in numpy (the same formula as ``torchaudio.functional.functional._get_sinc_resample_kernel``
and ``_apply_sinc_resample_kernel``, BSD-2-Clause) and prints, per clip of a folder, the
difference between the two 16 kHz signals: overall SNR, and SNR below 7 kHz (where both filters
pass) — the rest of the difference sits in the 7–8 kHz transition bands, where the filters differ
by design.

    python scripts/aesthetics_resampling.py ../shared/corpus/real [--limit 8]
"""

import argparse
import logging
import math
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import fftconvolve

logger = logging.getLogger("aesthetics_resampling")

TARGET = 16_000


def torchaudio_resample(x: np.ndarray, orig: int, new: int, *, width_zeros: int = 6, rolloff: float = 0.99) -> np.ndarray:
    """torchaudio's default ``resample`` of mono ``x`` (float64 ``(n,)``) from ``orig`` to ``new`` Hz."""
    g = math.gcd(orig, new)
    o, n = orig // g, new // g
    base = min(o, n) * rolloff
    width = math.ceil(width_zeros * o / base)
    idx = np.arange(-width, width + o, dtype=np.float64)[None, :] / o
    t = (np.arange(0, -n, -1, dtype=np.float64)[:, None] / n + idx) * base
    t = np.clip(t, -width_zeros, width_zeros)
    window = np.cos(t * math.pi / width_zeros / 2) ** 2
    t = t * math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        kern = np.where(t == 0, 1.0, np.sin(t) / t)
    kern = kern * window * base / o  # (n phases, taps)
    padded = np.pad(x, (width, width + o))
    # conv1d with stride o: output frame j, phase p = sum_k padded[j*o + k] * kern[p, k]
    frames = (padded.size - kern.shape[1]) // o + 1
    out = np.empty((frames, n))
    for p in range(n):
        full = fftconvolve(padded, kern[p, ::-1], mode="valid")  # correlation with kern[p]
        out[:, p] = full[: frames * o : o]
    return out.reshape(-1)[: math.ceil(n * x.size / o)]


def snr_db(ref: np.ndarray, other: np.ndarray, *, below_hz: float | None = None) -> float:
    m = min(ref.size, other.size)
    a, b = ref[:m], other[:m]
    if below_hz is not None:
        fa, fb = np.fft.rfft(a), np.fft.rfft(b)
        keep = np.fft.rfftfreq(m, 1 / TARGET) < below_hz
        a, b = fa[keep], fb[keep]
    num, den = float(np.sum(np.abs(a) ** 2)), float(np.sum(np.abs(a - b) ** 2))
    return 10 * math.log10(num / den) if den > 0 else math.inf


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--limit", type=int, default=8)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    files = sorted(args.folder.glob("*.flac"))[: args.limit]
    if not files:
        logger.error("no .flac files in %s", args.folder)
        return 2
    rows = []
    for path in files:
        x, sr = sf.read(str(path), dtype="float64", always_2d=True)
        mono = x.mean(axis=1)
        ours = soxr.resample(mono.astype(np.float32), sr, TARGET, quality="HQ").astype(np.float64)
        theirs = torchaudio_resample(mono, sr, TARGET)
        rows.append((snr_db(theirs, ours), snr_db(theirs, ours, below_hz=7000.0)))
        logger.info("%-48s %5d Hz  SNR %6.1f dB  below 7 kHz %6.1f dB  (lengths %d / %d)",
                    path.name[:48], sr, *rows[-1], ours.size, theirs.size)
    arr = np.array(rows)
    logger.info("median over %d clips: SNR %.1f dB, below 7 kHz %.1f dB; worst %.1f / %.1f dB",
                len(rows), *np.median(arr, axis=0), *arr.min(axis=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
