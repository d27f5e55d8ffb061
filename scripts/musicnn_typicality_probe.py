"""Which musicnn features and which distance tell unseen real music from noise, tones and beeps?

For three feature sets of both taggers (the 400-d penultimate embedding, the 100 tag log-odds,
the 1506-d pooled mid-end features) and two distances (per-dimension z-score RMS; Mahalanobis
under a Ledoit–Wolf covariance), it measures every real 10 s segment of ``--music-dir``'s 30 s
excerpts leave one source out (the file name up to ``__``), then prints where synthetic attacks
land in units of real music's median-to-95th-percentile spread past the median (0 = a median real
segment, 1 = the 95th percentile). ``neural_quality``'s weight-free route uses the row that
separates best (docs/scoring.md, "Listeners").

    python scripts/musicnn_typicality_probe.py --music-dir ../shared/corpus/real
"""

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from scoring.audio import load_audio
from scoring.fad import ledoit_wolf
from scoring.features import Features

TAGGERS = ("MTT_musicnn", "MSD_musicnn")
log = logging.getLogger("musicnn_typicality_probe")


def feature_sets(x: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    f = Features(samples=x.astype(np.float32), sample_rate=sr)
    m = f.musicnn
    tags = np.clip(np.concatenate([m[k].tags for k in TAGGERS]), 1e-4, 1 - 1e-4)
    return {
        "400-d embedding": f.musicnn_embedding.astype(np.float64),
        "100 tag log-odds": np.log(tags / (1 - tags)),
        "1506-d pooled": np.concatenate([m[k].mean_pool.mean(axis=0) for k in TAGGERS]).astype(np.float64),
    }


def distance(v: np.ndarray, ref: np.ndarray, method: str) -> float:
    mu = ref.mean(axis=0)
    if method == "z-score":
        sd = ref.std(axis=0)
        sd = np.maximum(sd, 0.25 * np.median(sd))
        return float(np.sqrt(np.mean(((v - mu) / sd) ** 2)))
    cov, _ = ledoit_wolf(ref - mu)
    d = v - mu
    return float(np.sqrt(d @ np.linalg.solve(cov, d) / d.size))


def attacks(sr: int, seconds: float = 10.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    pink = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(np.maximum(np.fft.rfftfreq(n), 1e-5)), n=n)
    arp = np.array([261.6, 329.6, 392.0, 523.3])[(t * 4).astype(int) % 4]
    return {
        "white": 0.1 * rng.standard_normal(n),
        "pink": 0.1 * pink / pink.std(),
        "sine": 0.3 * np.sin(2 * np.pi * 440 * t),
        "held chord": 0.1 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)),
        "beeps": 0.3 * np.sin(2 * np.pi * 880 * t) * ((t % 0.5) < 0.1),
        "clicks": (np.arange(n) % (sr // 2) == 0).astype(np.float64),
        "arpeggio of sines": 0.3 * np.sin(2 * np.pi * arp * t),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--music-dir", required=True, type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows, sources = [], []
    for path in sorted(args.music_dir.glob("*__30s.flac")):
        x, sr = load_audio(path)
        step = 10 * sr
        for k in range(x.shape[1] // step):
            rows.append(feature_sets(x[:, k * step : (k + 1) * step], sr))
            sources.append(path.name.split("__")[0])
    if len(set(sources)) < 3:
        print("need 30 s excerpts of at least 3 sources", file=sys.stderr)
        return 2
    src = np.array(sources)
    fake = {name: feature_sets(y[None, :], 32_000) for name, y in attacks(32_000).items()}
    print(f"{len(rows)} real segments of {len(set(sources))} sources; attack distance past the real median "
          "in units of the real p50->p95 spread (leave one source out)")
    print(f"{'features, distance':<32}" + "".join(f"{k:>18}" for k in fake))
    for key in rows[0]:
        x = np.array([r[key] for r in rows])
        for method in ("z-score", "Mahalanobis"):
            loo = np.array([distance(x[i], x[src != src[i]], method) for i in range(len(x))])
            p50, p95 = np.percentile(loo, [50, 95])
            cells = [(distance(v[key], x, method) - p50) / (p95 - p50) for v in fake.values()]
            print(f"{key + ', ' + method:<32}" + "".join(f"{c:18.2f}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
