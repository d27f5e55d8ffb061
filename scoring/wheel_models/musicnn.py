"""musicnn's trained music taggers (MagnaTagATune and Million Song Dataset), run by our numpy code.

The ``musicnn`` wheel (0.1.0, ISC licence; Pons & Serra 2019) ships two ~790k-parameter taggers
as TF1 checkpoints: ``MTT_musicnn`` (50 MagnaTagATune tags: instruments, genres, moods, vocals /
no vocals, tempo words) and ``MSD_musicnn`` (50 Last.fm tags of the Million Song Dataset: genres,
decades, moods). Its own code imports TensorFlow, which is not our runtime, so this module finds
the installed package without importing it, reads the checkpoints with
:mod:`scoring.wheel_models.tf_checkpoint`, and evaluates the network with
:mod:`scoring.wheel_models.musicnn_net`. ``scripts/musicnn_reference.py`` ran the original on
fixed clips; ``tests/test_musicnn.py`` holds this implementation to its outputs.

Input pipeline, as ``musicnn/extractor.py`` does it: mono audio at 16 kHz; librosa mel
spectrogram (512-point FFT, hop 256, 96 bands, power 2, centred frames); cast to float16; then
``log10(10000·x + 1)`` in float32 (what the numpy the wheel was written for computes -- see the
reference script on NumPy 2's float16 overflow); cut into consecutive, non-overlapping 187-frame
(3 s) patches from the start, the last partial patch dropped. Two deliberate differences, both
where the original has no answer: mel values are saturated at float16's largest finite value
before the cast (the original turns them into ``inf`` and returns NaN tags, e.g. for float input
far above full scale), and a clip shorter than one patch has its frames repeated to fill one (the
original raises ``UnboundLocalError``; the models were trained with this "repeat-pad").

Taggers load once per process (:meth:`MusicnnTagger.load` is cached). :func:`analyse_all` runs
several taggers on one clip sharing its mel spectrogram.
"""

import ast
import importlib.util
import logging
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from scoring.signals.base import ScoringError
from scoring.wheel_models.musicnn_net import N_FRAMES, N_MELS, MusicnnEnsemble, MusicnnNet
from scoring.wheel_models.tf_checkpoint import list_checkpoint, read_checkpoint

__all__ = [
    "FFT_HOP",
    "FFT_SIZE",
    "N_FRAMES",
    "N_MELS",
    "SAMPLE_RATE",
    "TAGGERS",
    "MusicnnError",
    "MusicnnMissing",
    "MusicnnOutput",
    "MusicnnTagger",
    "analyse_all",
    "log_mel",
    "musicnn_dir",
    "patch_starts",
]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # Hz (musicnn/configuration.py SR)
FFT_SIZE = 512
FFT_HOP = 256
TAGGERS = ("MTT_musicnn", "MSD_musicnn")
_LABELS = {"MTT_musicnn": "MTT_LABELS", "MSD_musicnn": "MSD_LABELS"}
_FLOAT16_MAX = float(np.finfo(np.float16).max)


class MusicnnError(ScoringError):
    """musicnn cannot analyse this input, or its weights are unusable."""


class MusicnnMissing(MusicnnError):
    """The ``musicnn`` package (which holds the weights) is not installed."""


def musicnn_dir() -> Path:
    """The installed ``musicnn`` package directory, located without importing it (its modules
    import TensorFlow). Raises :class:`MusicnnMissing` when it is not installed."""
    spec = importlib.util.find_spec("musicnn")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise MusicnnMissing("the musicnn package is not installed (pip install --no-deps musicnn==0.1.0)")
    return Path(locations[0])


def _labels(package: Path, name: str) -> tuple[str, ...]:
    """The tag names of ``name``, read from ``configuration.py`` as literals (nothing executed)."""
    source = (package / "configuration.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == _LABELS[name] for t in node.targets):
            labels = ast.literal_eval(node.value)
            if isinstance(labels, list) and all(isinstance(x, str) for x in labels):
                return tuple(labels)
    raise MusicnnError(f"{package / 'configuration.py'} defines no {_LABELS[name]} list")


def log_mel(mono_16k: np.ndarray) -> np.ndarray:
    """musicnn's input representation of a clip.

    ``mono_16k``: ``(n,)`` samples at 16 kHz, nominally in [-1, 1] (cast to float32, as
    ``librosa.load`` returns). Returns ``(1 + n // 256, 96)`` float32 ``log10(10000·mel + 1)``,
    mel quantised to float16 first. Raises :class:`MusicnnError` for empty or non-finite input.
    """
    import librosa  # the scorer imports it anyway; kept local so importing this module stays cheap

    y = np.asarray(mono_16k, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise MusicnnError(f"musicnn needs non-empty mono audio, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise MusicnnError("audio contains NaN or infinite samples")
    mel = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, hop_length=FFT_HOP, n_fft=FFT_SIZE, n_mels=N_MELS).T
    half = np.minimum(mel, _FLOAT16_MAX).astype(np.float16)
    return np.log10(np.float32(10000.0) * half.astype(np.float32) + np.float32(1.0))


def patch_starts(n_frames: int, *, max_patches: int | None = None) -> np.ndarray:
    """First frame of each 187-frame patch the tagger reads, ``(P,)`` int64.

    All consecutive whole patches from frame 0 (the extractor's batching); ``max_patches`` keeps
    that many of them, evenly spaced from the first to the last. A clip shorter than one patch
    gives ``[0]`` (its frames are repeated to fill it).
    """
    if max_patches is not None and max_patches < 1:
        raise ValueError(f"max_patches must be >= 1, got {max_patches}")
    total = max(1, n_frames // N_FRAMES)
    starts = np.arange(total, dtype=np.int64) * N_FRAMES
    if max_patches is not None and total > max_patches:
        starts = starts[np.round(np.linspace(0, total - 1, max_patches)).astype(np.int64)]
    return starts


def _patches(rep: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``rep (frames, 96)`` -> ``(P, 187, 96)`` float32; a short clip's frames repeat to 187."""
    if rep.shape[0] < N_FRAMES:
        rep = np.resize(rep, (N_FRAMES, N_MELS))  # np.resize repeats the rows in order
    return np.stack([rep[s : s + N_FRAMES] for s in starts]).astype(np.float32, copy=False)


@dataclass(frozen=True)
class MusicnnOutput:
    """One tagger's reading of one clip.

    ``taggram``: ``(P, 50)`` tag probabilities in [0, 1] per 3 s patch; ``tags``: ``(50,)`` their
    mean over patches (musicnn's ``top_tags``); ``labels``: the 50 tag names; ``penultimate``:
    ``(P, 200)`` back-end features; ``mean_pool``/``max_pool``: ``(P, 753)`` mid-end features
    pooled over each patch; ``embedding``: ``(200,)`` mean of ``penultimate`` over patches;
    ``patch_starts_s``: ``(P,)`` start of each patch in seconds; ``padded``: the clip was shorter
    than one patch and its frames were repeated.
    """

    name: str
    labels: tuple[str, ...]
    taggram: np.ndarray
    tags: np.ndarray
    penultimate: np.ndarray
    mean_pool: np.ndarray
    max_pool: np.ndarray
    embedding: np.ndarray
    patch_starts_s: np.ndarray
    padded: bool

    def tag(self, label: str) -> float:
        """Mean probability of one tag (KeyError for a label this tagger does not have)."""
        try:
            return float(self.tags[self.labels.index(label)])
        except ValueError:
            raise KeyError(f"{self.name} has no tag {label!r}") from None

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable tags, best first (ties by label order)."""
        order = np.argsort(-self.tags, kind="stable")[:k]
        return [(self.labels[i], float(self.tags[i])) for i in order]


@dataclass(frozen=True)
class MusicnnTagger:
    """A musicnn tagger loaded from the installed wheel. Build with :meth:`load` (cached)."""

    name: str
    labels: tuple[str, ...]
    net: MusicnnNet

    @classmethod
    def load(cls, name: str) -> "MusicnnTagger":
        """``name``: ``"MTT_musicnn"`` or ``"MSD_musicnn"``. Loaded once per process.

        Raises :class:`MusicnnMissing` when the package is absent, :class:`MusicnnError` (a
        ``CheckpointError`` for a corrupt checkpoint) when it is unusable."""
        if name not in _LABELS:
            raise ValueError(f"unknown musicnn tagger {name!r}; choose from {TAGGERS}")
        return _load(name)

    def analyse(self, mono_16k: np.ndarray, *, max_patches: int | None = None) -> MusicnnOutput:
        """Tag a clip: ``mono_16k`` ``(n,)`` samples at 16 kHz. See :func:`analyse_all`."""
        return analyse_all(mono_16k, taggers=(self.name,), max_patches=max_patches)[self.name]

    def analyse_log_mel(self, rep: np.ndarray, *, max_patches: int | None = None) -> MusicnnOutput:
        """Tag a clip from its :func:`log_mel` ``(frames, 96)``."""
        return analyse_log_mel(rep, taggers=(self.name,), max_patches=max_patches)[self.name]


@cache
def _load(name: str) -> MusicnnTagger:
    package = musicnn_dir()
    prefix = str(package / name) + "/"
    names = [n for n in list_checkpoint(prefix) if "/Adam" not in n and not n.startswith("beta")]
    net = MusicnnNet.from_tensors(read_checkpoint(prefix, names=names))
    labels = _labels(package, name)
    if len(labels) != net.n_tags:
        raise MusicnnError(f"{name}: {len(labels)} labels for {net.n_tags} outputs")
    logger.info("loaded %s from %s (%d tags)", name, package, len(labels))
    return MusicnnTagger(name=name, labels=labels, net=net)


@lru_cache(maxsize=8)
def _ensemble(names: tuple[str, ...]) -> MusicnnEnsemble:
    return MusicnnEnsemble([_load(n).net for n in names])


def analyse_log_mel(
    rep: np.ndarray, *, taggers: tuple[str, ...] = TAGGERS, max_patches: int | None = None
) -> dict[str, MusicnnOutput]:
    """Run ``taggers`` on a clip's :func:`log_mel` ``rep`` ``(frames, 96)`` float32.

    Returns tagger name → :class:`MusicnnOutput`. ``max_patches`` bounds the work on long clips
    (evenly spaced patches; ~20 ms per patch per tagger on one core).
    """
    rep = np.asarray(rep, dtype=np.float32)
    if rep.ndim != 2 or rep.shape[1] != N_MELS or rep.shape[0] == 0:
        raise MusicnnError(f"log-mel must have shape (frames, {N_MELS}), got {rep.shape}")
    if not np.all(np.isfinite(rep)):
        raise MusicnnError("log-mel contains NaN or infinite values")
    for name in taggers:
        MusicnnTagger.load(name)  # validates the name, loads once
    starts = patch_starts(rep.shape[0], max_patches=max_patches)
    patches = _patches(rep, starts)
    # one tagger at a time: faster on one core than their front-ends side by side (musicnn_net)
    results = [_ensemble((name,)).forward(patches)[0] for name in taggers]
    seconds = starts * (FFT_HOP / SAMPLE_RATE)
    out: dict[str, MusicnnOutput] = {}
    for name, res in zip(taggers, results, strict=True):
        out[name] = MusicnnOutput(
            name=name,
            labels=_load(name).labels,
            taggram=res.taggram,
            tags=res.taggram.mean(axis=0),
            penultimate=res.penultimate,
            mean_pool=res.mean_pool,
            max_pool=res.max_pool,
            embedding=res.penultimate.mean(axis=0),
            patch_starts_s=seconds,
            padded=rep.shape[0] < N_FRAMES,
        )
    return out


def analyse_all(
    mono_16k: np.ndarray, *, taggers: tuple[str, ...] = TAGGERS, max_patches: int | None = None
) -> dict[str, MusicnnOutput]:
    """Run ``taggers`` (default both musicnn taggers) on one clip, sharing its mel spectrogram.

    ``mono_16k``: ``(n,)`` samples at 16 kHz (resample once, e.g. with soxr, before calling).
    ``max_patches``: at most this many 3 s patches, evenly spaced (None: every whole patch, as
    the original). Returns tagger name → :class:`MusicnnOutput`. Deterministic: the same samples
    give bit-identical outputs in every process on the same machine.
    """
    return analyse_log_mel(log_mel(mono_16k), taggers=taggers, max_patches=max_patches)

