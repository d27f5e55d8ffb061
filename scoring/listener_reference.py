"""Real-music statistics in the musicnn taggers' embedding space, shipped with the package.

``scoring/data/musicnn_reference.npz`` is a :class:`~scoring.fad.FadReference` (same file format
as the CLAP reference) whose model is the pair of musicnn taggers: ``mu``/``sigma`` of the 400-d
:attr:`Features.musicnn_embedding` over real-music segments, a bootstrap of the FAD real music gets
in ``MUSICNN_FAD_WINDOW_CLIPS``-clip windows, and an :class:`~scoring.fad.EncoderReference`
holding the per-dimension mean/std of each tagger's 200-d embedding (``(2, 200)``) with every
reference segment's typicality distance measured *leave one recording out* (its own recording's
segments excluded from the statistics; the corpus names a recording by its source, so a game's
whole soundtrack is left out together), so the distances a new recording is compared with are
those of unseen music, not of the statistics' own members.

Used weight-free (no CLAP / MERT loaded) by ``fad_penalty`` (a miner's window of musicnn
embeddings against the reference).

``scoring/data/musicnn_typicality.npz`` (:class:`Typicality`) serves ``neural_quality``: how
typical one clip is of real music, as the Mahalanobis distance of its pooled mid-level features
(both taggers' 753-d mid-end means, 1506-d) under a Ledoit–Wolf covariance of the real segments,
against the same leave-one-source-out distances. Measured (docs/scoring.md): of the embeddings,
tag log-odds and pooled features, with a per-dimension z-score or Mahalanobis, this one separates
noise, tones, beeps and clicks from unseen real music most (e.g. a held chord sits 3× further past
the real median than real music's 95th percentile; with the 400-d embedding, 0.8×).
Both files are built by ``python scripts/build_fad_reference.py --listener musicnn --music-dir
DIR --out FILE`` (the typicality file beside it).
"""

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scoring import constants as C
from scoring.fad import EncoderReference, FadReference, build_reference, encoder_distance
from scoring.npz_file import save_npz_atomic
from scoring.signals.base import ScoringError

__all__ = [
    "REFERENCE_PATH",
    "TYPICALITY_PATH",
    "Typicality",
    "build_musicnn_reference",
    "build_typicality",
    "layer_view",
    "pooled_features",
]

logger = logging.getLogger(__name__)

#: The reference shipped inside the package.
REFERENCE_PATH = Path(__file__).with_name("data") / "musicnn_reference.npz"
TYPICALITY_PATH = Path(__file__).with_name("data") / "musicnn_typicality.npz"
TYPICALITY_FORMAT = 1
N_TAGGERS = 2
EMBED_DIM = 200
#: Each dimension's std is floored at this share of its tagger's median std: a dimension nearly
#: constant over the reference (one is, at 0.001) would otherwise turn any music into an outlier.
STD_FLOOR_SHARE = 0.25


def _floored(std: np.ndarray) -> np.ndarray:
    return np.maximum(std, STD_FLOOR_SHARE * np.median(std, axis=1, keepdims=True))


def layer_view(embedding: np.ndarray) -> np.ndarray:
    """A 400-d musicnn embedding as ``(2, 200)``: one row per tagger (MTT, MSD)."""
    x = np.asarray(embedding, dtype=np.float64).ravel()
    if x.size != N_TAGGERS * EMBED_DIM:
        raise ScoringError(f"musicnn embedding must have {N_TAGGERS * EMBED_DIM} values, got {x.size}")
    return x.reshape(N_TAGGERS, EMBED_DIM)


def build_musicnn_reference(
    embeddings: np.ndarray,
    recordings: Sequence[str],
    *,
    identity: str,
    seed: int = 0,
    window: int = C.MUSICNN_FAD_WINDOW_CLIPS,
) -> FadReference:
    """Reference from ``embeddings`` ``(n, 400)`` of real-music segments; ``recordings[i]`` names
    the recording segment ``i`` was cut from (typicality distances leave that recording out).
    Needs at least 2 × ``window`` segments and 3 recordings."""
    x = np.asarray(embeddings, dtype=np.float64)
    rec = np.asarray(list(recordings))
    if x.ndim != 2 or x.shape[1] != N_TAGGERS * EMBED_DIM or x.shape[0] != rec.size:
        raise ScoringError(
            f"need (n, 400) embeddings with one recording name each, got {x.shape}, {rec.size}"
        )
    if np.unique(rec).size < 3:
        raise ScoringError("a musicnn reference needs segments of at least 3 recordings")
    layers = x.reshape(-1, N_TAGGERS, EMBED_DIM)
    distances = np.empty(x.shape[0])
    for name in np.unique(rec):
        own = rec == name
        mean, std = layers[~own].mean(axis=0), _floored(layers[~own].std(axis=0))
        for i in np.flatnonzero(own):
            distances[i] = encoder_distance(layers[i], mean=mean, std=std)
    encoder = EncoderReference(
        name="musicnn",
        identity=identity,
        mean=layers.mean(axis=0),
        std=_floored(layers.std(axis=0)),
        distances=distances,
    )
    return build_reference(
        x, model_name="musicnn", model_identity=identity, window=window, encoder=encoder, seed=seed
    )


def pooled_features(outputs) -> np.ndarray:
    """A clip's pooled mid-level features ``(1506,)`` float64: each tagger's ``mean_pool``
    ``(P, 753)`` averaged over patches, MTT then MSD (``outputs``: ``Features.musicnn``)."""
    from scoring.wheel_models.musicnn import TAGGERS

    return np.concatenate([np.asarray(outputs[name].mean_pool, np.float64).mean(axis=0) for name in TAGGERS])


class Typicality:
    """Real-music statistics for one clip's typicality (Mahalanobis, Ledoit–Wolf covariance).

    The covariance ``C = (1 − s)·XᵀX/n + s·m·I`` (``X`` ``(n, d)`` the centred reference rows,
    ``s`` the Ledoit–Wolf shrinkage, ``m`` the mean variance) is never formed: the Woodbury
    identity gives ``vᵀC⁻¹v`` from ``X`` alone. ``distances``: each reference segment's distance
    with its own source left out. :meth:`score` is 1 at or below their median and falls linearly
    to 0 at the median plus three times the median-to-95th-percentile spread.
    """

    def __init__(
        self,
        *,
        mean: np.ndarray,
        rows: np.ndarray,
        shrinkage: float,
        distances: np.ndarray,
        identity: str,
        sources: Sequence[str] = (),
    ) -> None:
        self.sources = tuple(str(x) for x in sources)  # per row: the source it was cut from (may be empty)
        self.mean = np.asarray(mean, np.float64)
        self.rows = np.asarray(rows, np.float64)
        self.shrinkage = float(shrinkage)
        self.distances = np.asarray(distances, np.float64)
        self.identity = identity
        n, d = self.rows.shape
        self._a = self.shrinkage * float(np.sum(self.rows**2)) / (n * d)  # s·m: the identity part
        b = (1.0 - self.shrinkage) / n
        if self._a <= 0:
            raise ScoringError("typicality reference has no variance")
        # C⁻¹ = (I − Xᵀ (a/b·I + XXᵀ)⁻¹ X) / a
        self._inner = (
            np.linalg.inv(self._a / b * np.eye(n) + self.rows @ self.rows.T) if b > 0 else np.zeros((n, n))
        )

    def distance(self, features: np.ndarray) -> float:
        """RMS Mahalanobis distance (``sqrt(vᵀC⁻¹v / d)``) of pooled features ``(d,)``."""
        v = np.asarray(features, np.float64).ravel() - self.mean
        if v.size != self.mean.size:
            raise ScoringError(f"typicality needs {self.mean.size} features, got {v.size}")
        xv = self.rows @ v
        quad = (float(v @ v) - float(xv @ self._inner @ xv)) / self._a
        return float(np.sqrt(max(quad, 0.0) / v.size))

    def without(self, source: str) -> "Typicality":
        """The same statistics refitted without ``source``'s rows (distances kept): what the
        reference would be had that source never been in it. For evaluating on the reference's
        own music (``scripts/eval_scoring.py``); the scorer never calls it."""
        if len(self.sources) != self.rows.shape[0]:
            raise ScoringError("this typicality file does not record its rows' sources")
        keep = np.array([s != source for s in self.sources])
        mean, rows, shrinkage = _fit(self.rows[keep] + self.mean)
        return Typicality(
            mean=mean,
            rows=rows,
            shrinkage=shrinkage,
            distances=self.distances,
            identity=self.identity,
            sources=[s for s, k in zip(self.sources, keep) if k],
        )

    def score(self, features: np.ndarray) -> float:
        p50, p95 = np.percentile(self.distances, [50, 95])
        zero = p50 + 3.0 * max(p95 - p50, 1e-6)
        return float(np.clip((zero - self.distance(features)) / (zero - p50), 0.0, 1.0))

    def save(self, path: str | Path) -> None:
        """Write the statistics atomically (:func:`scoring.npz_file.save_npz_atomic`)."""
        save_npz_atomic(
            path,
            {
                "format": np.array(TYPICALITY_FORMAT),
                "identity": np.array(self.identity),
                "mean": self.mean.astype(np.float32),
                "rows": self.rows.astype(np.float32),
                "shrinkage": np.array(self.shrinkage),
                "distances": self.distances,
                "sources": np.array(self.sources, dtype=str),
            },
            compressed=True,
        )

    @classmethod
    def load(cls, path: str | Path) -> "Typicality":
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != TYPICALITY_FORMAT:
                    raise ScoringError(
                        f"{path}: typicality format {int(data['format'])}, expected {TYPICALITY_FORMAT}"
                    )
                return cls(
                    mean=data["mean"],
                    rows=data["rows"],
                    shrinkage=float(data["shrinkage"]),
                    distances=data["distances"],
                    identity=str(data["identity"]),
                    sources=[str(x) for x in data["sources"]] if "sources" in data.files else [],
                )
        except (KeyError, OSError, ValueError) as exc:
            raise ScoringError(f"not a typicality file: {path} ({exc})") from exc


def _fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    from scoring.fad import ledoit_wolf

    mean = x.mean(axis=0)
    rows = x - mean
    # shrinkage from the same formula the FAD covariances use; the matrix itself is not kept
    _, shrinkage = ledoit_wolf(rows) if rows.shape[1] <= 2048 else (None, 0.5)
    return mean, rows, shrinkage


def build_typicality(pooled: np.ndarray, recordings: Sequence[str], *, identity: str) -> Typicality:
    """Typicality statistics from pooled features ``(n, d)`` of real segments; ``recordings[i]``
    names segment ``i``'s source (left out of the statistics its distance is measured with)."""
    x = np.asarray(pooled, dtype=np.float64)
    rec = np.asarray(list(recordings))
    if x.ndim != 2 or x.shape[0] != rec.size or np.unique(rec).size < 3:
        raise ScoringError("typicality needs (n, d) features from at least 3 sources")
    distances = np.empty(x.shape[0])
    for name in np.unique(rec):
        own = rec == name
        mean, rows, shrinkage = _fit(x[~own])
        loo = Typicality(mean=mean, rows=rows, shrinkage=shrinkage, distances=np.ones(1), identity=identity)
        for i in np.flatnonzero(own):
            distances[i] = loo.distance(x[i])
    mean, rows, shrinkage = _fit(x)
    return Typicality(
        mean=mean, rows=rows, shrinkage=shrinkage, distances=distances, identity=identity, sources=list(rec)
    )
