"""Fréchet Audio Distance: Gaussian statistics, the Fréchet distance, and the reference file.

``frechet_distance`` uses the symmetric-eigen route: with ``S1 = V Λ Vᵀ``,
``tr √(S1 S2) = Σ √eig(√S1 · S2 · √S1)`` where the middle matrix is symmetric positive
semi-definite, so two ``eigh`` calls replace ``scipy.linalg.sqrtm`` (2–4× faster at d = 512 and
free of its complex round-off; ``frechet_distance_sqrtm`` keeps the scipy route for checks).

Covariances of fewer samples than dimensions are rank-deficient; ``gaussian_stats`` then applies
Ledoit–Wolf shrinkage towards a scaled identity (the optimal-shrinkage formula of Ledoit & Wolf
2004, as in scikit-learn). The small-sample bias of FAD is large (it falls like 1/n), so a
miner's FAD is always computed on exactly ``FAD_WINDOW_CLIPS`` clips and compared with the FAD of
equally many *real* clips: the reference file stores a bootstrap of that baseline (random
windows of reference clips against the statistics of the other reference clips).

Reference file (``.npz``, ``allow_pickle=False``): ``format``, ``model_name``, ``model_identity``,
``mu (d,)``, ``sigma (d, d)``, ``n_clips``, ``window_clips``, ``baseline (draws,)`` and, when the
builder had a music encoder, ``encoder_name``, ``encoder_identity``, ``encoder_mean (L, H)``,
``encoder_std (L, H)``, ``encoder_distances (n_clips,)``.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scoring import constants as C
from scoring.npz_file import save_npz_atomic
from scoring.signals.base import ScoringError

__all__ = [
    "FadReference",
    "EncoderReference",
    "ledoit_wolf",
    "gaussian_stats",
    "frechet_distance",
    "frechet_distance_sqrtm",
    "bootstrap_baseline",
    "build_reference",
    "encoder_distance",
    "REFERENCE_FORMAT",
]

logger = logging.getLogger(__name__)

REFERENCE_FORMAT = 1
BASELINE_DRAWS = 200


def ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit–Wolf shrunk covariance of ``x`` ``(n, d)``: ``((d, d) covariance, shrinkage in [0, 1])``."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    xc = x - x.mean(axis=0)
    emp = xc.T @ xc / n
    mu = np.trace(emp) / d
    x2 = xc**2
    beta_ = float(np.sum(x2.T @ x2))
    delta_ = float(np.sum(emp**2))  # = sum((XᵀX)²) / n²
    beta = (beta_ / n - delta_) / (d * n)
    delta = (delta_ - 2.0 * mu * np.trace(emp) + d * mu**2) / d
    beta = min(beta, delta)
    shrinkage = 0.0 if beta <= 0 or delta <= 0 else beta / delta
    cov = (1.0 - shrinkage) * emp
    cov[np.diag_indices(d)] += shrinkage * mu
    return cov, float(shrinkage)


def gaussian_stats(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and covariance ``(d, d)`` of ``embeddings`` ``(n, d)``, n ≥ 2: the unbiased
    sample covariance when n > d, the Ledoit–Wolf shrunk one when it would be rank-deficient."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ScoringError(f"need (n ≥ 2, d) embeddings, got shape {x.shape}")
    mu = x.mean(axis=0)
    if x.shape[0] <= x.shape[1]:
        return mu, ledoit_wolf(x)[0]
    return mu, np.cov(x, rowvar=False)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (symmetric-eigen route), ≥ 0."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ScoringError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {s1.shape}/{s2.shape}")
    r1 = _psd_sqrt(s1)
    middle = r1 @ s2 @ r1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    tr_covmean = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    diff = mu1 - mu2
    return max(0.0, float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean))


def frechet_distance_sqrtm(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The same distance through ``scipy.linalg.sqrtm(sigma1 @ sigma2)`` (slower; for checks)."""
    from scipy import linalg

    covmean = linalg.sqrtm(np.asarray(sigma1, np.float64) @ np.asarray(sigma2, np.float64))
    covmean = np.real(covmean)
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def bootstrap_baseline(embeddings: np.ndarray, *, window: int, draws: int = BASELINE_DRAWS, seed: int = 0) -> np.ndarray:
    """FAD of ``draws`` random windows of ``window`` reference clips against the statistics of
    the remaining clips: what a miner producing real music would score. ``(draws,)`` float64."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.shape[0] < 2 * window:
        raise ScoringError(f"a reference needs at least {2 * window} clips for its baseline, got {x.shape[0]}")
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for k in range(draws):
        perm = rng.permutation(x.shape[0])
        mu_w, s_w = gaussian_stats(x[perm[:window]])
        mu_r, s_r = gaussian_stats(x[perm[window:]])
        out[k] = frechet_distance(mu_w, s_w, mu_r, s_r)
    return out


def encoder_distance(layer_means: np.ndarray, *, mean: np.ndarray, std: np.ndarray) -> float:
    """How atypical a clip's encoder layer means ``(L, H)`` are for real music: the mean over
    layers of the RMS z-score against the reference ``mean``/``std`` ``(L, H)``."""
    z = (np.asarray(layer_means, np.float64) - mean) / np.maximum(std, 1e-6)
    return float(np.mean(np.sqrt(np.mean(z**2, axis=1))))


@dataclass(frozen=True)
class EncoderReference:
    """Real-music statistics of the music encoder's layer means (for ``neural_quality``)."""

    name: str
    identity: str
    mean: np.ndarray  # (L, H)
    std: np.ndarray  # (L, H)
    distances: np.ndarray  # (n_clips,) each reference clip's own encoder_distance

    def score(self, layer_means: np.ndarray) -> float:
        """1 at or below the median reference distance, falling linearly to 0 at the median plus
        three times the median-to-95th-percentile spread."""
        d = encoder_distance(layer_means, mean=self.mean, std=self.std)
        p50, p95 = np.percentile(self.distances, [50, 95])
        zero = p50 + 3.0 * max(p95 - p50, 1e-6)
        return float(np.clip((zero - d) / (zero - p50), 0.0, 1.0))


@dataclass(frozen=True)
class FadReference:
    """Reference statistics of real music in one embedding model's space."""

    model_name: str
    model_identity: str
    mu: np.ndarray
    sigma: np.ndarray
    n_clips: int
    window_clips: int
    baseline: np.ndarray
    encoder: EncoderReference | None = None

    @property
    def dim(self) -> int:
        return int(self.mu.size)

    def penalty(self, embeddings: np.ndarray) -> tuple[float, float]:
        """``(multiplier, fad)`` for a miner's ``window_clips`` embeddings ``(n, d)``.

        ``ratio = fad / median(baseline)``; multiplier = ``FLOOR + (1 − FLOOR) · min(1, s(ratio) / s(1))``
        with ``s(r) = σ(−(r − FAD_PENALTY_MID_RATIO) / FAD_PENALTY_SCALE)``: real-music-like windows
        keep 1.0, the multiplier halves its range at ``MID_RATIO`` and bottoms at ``FAD_PENALTY_FLOOR``."""
        x = np.asarray(embeddings, dtype=np.float64)
        if x.shape != (self.window_clips, self.dim):
            raise ScoringError(f"FAD needs ({self.window_clips}, {self.dim}) embeddings, got {x.shape}")
        mu, sigma = gaussian_stats(x)
        fad = frechet_distance(mu, sigma, self.mu, self.sigma)
        ratio = fad / max(float(np.median(self.baseline)), 1e-12)

        def s(r: float) -> float:
            return 1.0 / (1.0 + np.exp((r - C.FAD_PENALTY_MID_RATIO) / C.FAD_PENALTY_SCALE))

        mult = C.FAD_PENALTY_FLOOR + (1.0 - C.FAD_PENALTY_FLOOR) * min(1.0, s(ratio) / s(1.0))
        return float(mult), float(fad)

    def save(self, path: str | os.PathLike) -> None:
        """Write the reference atomically (temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "format": np.array(REFERENCE_FORMAT), "model_name": np.array(self.model_name),
            "model_identity": np.array(self.model_identity), "mu": self.mu.astype(np.float64),
            "sigma": self.sigma.astype(np.float64), "n_clips": np.array(self.n_clips),
            "window_clips": np.array(self.window_clips), "baseline": self.baseline.astype(np.float64),
        }
        if self.encoder is not None:
            arrays.update(
                encoder_name=np.array(self.encoder.name), encoder_identity=np.array(self.encoder.identity),
                encoder_mean=self.encoder.mean.astype(np.float64), encoder_std=self.encoder.std.astype(np.float64),
                encoder_distances=self.encoder.distances.astype(np.float64),
            )
        save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FadReference":
        """Read a reference written by :meth:`save`. Raises ScoringError when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != REFERENCE_FORMAT:
                    raise ScoringError(f"{path}: reference format {int(data['format'])}, expected {REFERENCE_FORMAT}")
                encoder = None
                if "encoder_mean" in data.files:
                    encoder = EncoderReference(
                        name=str(data["encoder_name"]), identity=str(data["encoder_identity"]),
                        mean=data["encoder_mean"], std=data["encoder_std"], distances=data["encoder_distances"],
                    )
                ref = cls(
                    model_name=str(data["model_name"]), model_identity=str(data["model_identity"]),
                    mu=data["mu"], sigma=data["sigma"], n_clips=int(data["n_clips"]),
                    window_clips=int(data["window_clips"]), baseline=data["baseline"], encoder=encoder,
                )
        except (KeyError, OSError, ValueError) as exc:
            raise ScoringError(f"not a FAD reference file: {path} ({exc})") from exc
        if ref.sigma.shape != (ref.dim, ref.dim) or ref.baseline.size == 0:
            raise ScoringError(f"{path}: inconsistent reference (mu {ref.mu.shape}, sigma {ref.sigma.shape})")
        return ref


def build_reference(
    embeddings: np.ndarray, *, model_name: str, model_identity: str, window: int = C.FAD_WINDOW_CLIPS,
    encoder: EncoderReference | None = None, seed: int = 0,
) -> FadReference:
    """Reference statistics of real-music clip embeddings ``(n, d)`` (n ≥ 2 × ``window``)."""
    x = np.asarray(embeddings, dtype=np.float64)
    baseline = bootstrap_baseline(x, window=window, seed=seed)
    mu, sigma = gaussian_stats(x)
    return FadReference(
        model_name=model_name, model_identity=model_identity, mu=mu, sigma=sigma, n_clips=int(x.shape[0]),
        window_clips=int(window), baseline=baseline, encoder=encoder,
    )
