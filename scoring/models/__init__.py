"""Neural models used by scoring: CLAP, a self-supervised music encoder, Whisper, Audiobox
Aesthetics, a preference head and the FAD reference statistics, loaded once per process into a
:class:`ModelBundle`.

``load_models(models_dir)`` looks for ``clap/``, ``mert/`` (or ``encoder/``), ``whisper/``,
``audiobox-aesthetics/``, ``preference_head.pt`` and ``fad_reference.npz`` in the directory (default: where
``scripts/download_models.sh`` saves, ``$TUNEFORGE_MODELS_DIR`` or ``~/.cache/tuneforge/models``).
Nothing is downloaded. Each absent piece is None and its signals report
``Unavailable("model absent: ...")``; ``require=True`` raises :class:`ModelsMissing` instead. A
piece that is present but unusable (incomplete checkpoint, statistics built with another model)
raises :class:`ModelLoadError`. The scorer calls :meth:`ModelBundle.prepare` once per round: it
embeds every clip in batches and stores the results in each clip's ``Features`` extras, which
the signals then read.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C
from scoring.fad import FadReference
from scoring.models.aesthetics import AestheticsPredictor, AestheticsScores
from scoring.models.clap import ClapEmbedder
from scoring.models.encoder import EncoderSummary, MusicEncoder
from scoring.models.extras import (
    ERROR_PREFIX,
    EXTRA_AESTHETICS,
    EXTRA_CLAP_AUDIO,
    EXTRA_CLAP_SIMILARITY,
    EXTRA_ENCODER,
    EXTRA_INSTRUMENT_MATCH,
    EXTRA_TRANSCRIPT,
    PREPARED,
    clip_model,
)
from scoring.models.loading import ModelLoadError, ModelsMissing, default_models_dir
from scoring.models.preference import PreferenceHead
from scoring.models.whisper import Transcript, WhisperTranscriber
from scoring.request import ScoringRequest
from scoring.signals.base import ScoringError, Unavailable

if TYPE_CHECKING:
    from scoring.features import Features

__all__ = [
    "ModelBundle",
    "load_models",
    "ModelsMissing",
    "ModelLoadError",
    "describe_request",
    "EXTRA_CLAP_AUDIO",
    "EXTRA_CLAP_SIMILARITY",
    "EXTRA_INSTRUMENT_MATCH",
    "EXTRA_ENCODER",
    "EXTRA_TRANSCRIPT",
    "EXTRA_AESTHETICS",
    "AestheticsScores",
    "EncoderSummary",
    "Transcript",
    "instrument_match",
    "clip_model",
]

logger = logging.getLogger(__name__)


ENCODER_DIRS = ("mert", "encoder")
AESTHETICS_DIR = "audiobox-aesthetics"
PREFERENCE_FILE = "preference_head.pt"
FAD_FILE = "fad_reference.npz"


def describe_request(request: ScoringRequest) -> str:
    """The text CLAP compares a clip with: the prompt as the miner received it, or, when the
    prompt is empty, a description built from mood, genre and instruments."""
    if request.prompt.strip():
        return request.prompt.strip()
    words = " ".join(w for w in (request.mood, request.genre) if w).strip() or "a"
    text = f"{words} music"
    if request.instruments:
        text += " with " + ", ".join(request.instruments)
    return text


@dataclass
class ModelBundle:
    """The loaded models; every attribute may be None. ``missing`` maps absent pieces to why."""

    clap: ClapEmbedder | None = None
    encoder: MusicEncoder | None = None
    whisper: WhisperTranscriber | None = None
    aesthetics: AestheticsPredictor | None = None
    preference: PreferenceHead | None = None
    fad_reference: FadReference | None = None
    directory: Path | None = None
    missing: dict[str, str] = field(default_factory=dict)

    # --- what the scorer calls ------------------------------------------------------------
    def preference_weight(self) -> float:
        """Weight of the ``preference`` signal: 0 without a usable head (or without CLAP to feed
        it), else scaled by the head's validation accuracy."""
        if self.preference is None or self.clap is None:
            return 0.0
        return self.preference.weight

    def summary(self) -> str:
        """One line naming what is loaded, for logs."""
        parts = [f"{label}={obj.name if obj is not None else 'absent'}"
                 for label, obj in (("clap", self.clap), ("encoder", self.encoder), ("whisper", self.whisper),
                                    ("aesthetics", self.aesthetics))]
        if self.preference is not None:
            parts.append(f"preference=acc {self.preference.val_accuracy:.3f} weight {self.preference_weight():.3f}")
        parts.append("fad_reference=" + ("yes" if self.fad_reference is not None else "absent"))
        return ", ".join(parts)

    def absent(self, name: str) -> Unavailable:
        """The ``Unavailable`` a signal raises when model ``name`` is not loaded."""
        return Unavailable(f"model absent: {name}")

    def prepare(self, features_list: list["Features"], requests: list[ScoringRequest]) -> None:
        """Embed all clips of a round in batches and store the results in their extras.

        A model failing on the round is logged and recorded per clip (the signals then report
        ``error: ...``), so one model's failure does not stop the others or the round."""
        if len(features_list) != len(requests):
            raise ScoringError(f"{len(features_list)} clips but {len(requests)} requests")
        todo = [(f, r) for f, r in zip(features_list, requests) if not f.get_extra(PREPARED)]
        if not todo:
            return
        feats = [f for f, _ in todo]
        reqs = [r for _, r in todo]
        for name, step in (("clap", self._prepare_clap), ("encoder", self._prepare_encoder),
                           ("whisper", self._prepare_whisper), ("aesthetics", self._prepare_aesthetics)):
            try:
                step(feats, reqs)
            except Exception as exc:  # noqa: BLE001 - logged with traceback and recorded on each clip
                logger.exception("%s failed on a round of %d clips", name, len(feats))
                for f in feats:
                    f.set_extra(ERROR_PREFIX + name, f"{type(exc).__name__}: {exc}")
        for f in feats:
            f.set_extra(PREPARED, True)

    def ensure_prepared(self, features: "Features", request: ScoringRequest) -> None:
        """Prepare one clip when the scorer did not (standalone signal use)."""
        if not features.get_extra(PREPARED):
            self.prepare([features], [request])

    def failure(self, features: "Features", name: str) -> str | None:
        """Why model ``name`` failed on this clip, or None."""
        return features.get_extra(ERROR_PREFIX + name)

    # --- per-model batch work -----------------------------------------------------------------
    def _prepare_clap(self, feats: list["Features"], reqs: list[ScoringRequest]) -> None:
        if self.clap is None:
            return
        clap = self.clap
        audio = clap.embed_recordings([(f.mono_original, f.sample_rate) for f in feats])
        prompts = [describe_request(r) for r in reqs]
        instruments = sorted({i.strip().lower() for r in reqs for i in r.instruments if i.strip()})
        labels = sorted(set(instruments) | set(C.INSTRUMENT_DISTRACTORS))
        texts = clap.embed_texts(prompts + [C.INSTRUMENT_PROMPT.format(i) for i in labels])
        text_prompt, text_labels = texts[: len(prompts)], texts[len(prompts):]
        label_index = {lab: k for k, lab in enumerate(labels)}
        for f, r, a, t in zip(feats, reqs, audio, text_prompt):
            f.set_extra(EXTRA_CLAP_AUDIO, a)
            f.set_extra(EXTRA_CLAP_SIMILARITY, float(np.dot(a, t)))
            wanted = [i.strip().lower() for i in r.instruments if i.strip()]
            if wanted:
                sims = text_labels @ a
                f.set_extra(EXTRA_INSTRUMENT_MATCH, instrument_match(
                    sims=sims, label_index=label_index, wanted=wanted,
                ))

    def _prepare_encoder(self, feats: list["Features"], reqs: list[ScoringRequest]) -> None:
        if self.encoder is None:
            return
        summaries = self.encoder.summarize_recordings([(f.mono_original, f.sample_rate) for f in feats])
        for f, s in zip(feats, summaries):
            f.set_extra(EXTRA_ENCODER, s)

    def _prepare_whisper(self, feats: list["Features"], reqs: list[ScoringRequest]) -> None:
        if self.whisper is None:
            return
        wanted = [k for k, r in enumerate(reqs) if r.vocals_requested]
        if not wanted:
            return
        w = self.whisper
        transcripts = w.transcribe([w.resample(feats[k].mono_original, sample_rate=feats[k].sample_rate) for k in wanted])
        for k, t in zip(wanted, transcripts):
            feats[k].set_extra(EXTRA_TRANSCRIPT, t)

    def _prepare_aesthetics(self, feats: list["Features"], reqs: list[ScoringRequest]) -> None:
        if self.aesthetics is None:
            return
        scores = self.aesthetics.predict_recordings([(f.mono_original, f.sample_rate) for f in feats])
        for f, s in zip(feats, scores):
            f.set_extra(EXTRA_AESTHETICS, s)


def instrument_match(*, sims: np.ndarray, label_index: dict[str, int], wanted: list[str]) -> float:
    """Zero-shot instrument credit in [0, 1]: for each requested instrument, the share of the
    distractor instruments (``INSTRUMENT_DISTRACTORS`` not requested) whose prompt is less
    similar to the clip than the requested one's; the mean over requested instruments.
    0.5 is what an unrelated clip earns on average; 1.0 = every requested instrument beats
    every distractor."""
    distractors = [label_index[d] for d in C.INSTRUMENT_DISTRACTORS if d not in wanted]
    credits = []
    for inst in wanted:
        s = sims[label_index[inst]]
        below = sum(1.0 if sims[d] < s else 0.5 if sims[d] == s else 0.0 for d in distractors)
        credits.append(below / max(1, len(distractors)))
    return float(np.mean(credits))


def _load_piece(name: str, path: Path, loader, missing: dict[str, str]):
    if not path.exists():
        missing[name] = f"not found at {path}"
        return None
    return loader(path)


def load_models(models_dir: str | Path | None, *, device: str = "cpu", require: bool = False) -> ModelBundle:
    """Load every scoring model found in ``models_dir`` (default :func:`default_models_dir`).

    Raises:
        ModelsMissing: ``require`` is set and a piece is absent (the message lists them all).
        ModelLoadError: a piece is present but unusable, or the FAD reference / preference head
            were built with another CLAP than the one loaded.
    """
    directory = Path(models_dir).expanduser() if models_dir else default_models_dir()
    missing: dict[str, str] = {}
    if not directory.is_dir():
        missing.update({k: f"models directory {directory} does not exist" for k in
                        ("clap", "encoder", "whisper", "aesthetics", "preference", "fad_reference")})
        if require:
            raise ModelsMissing(missing)
        logger.warning("scoring models directory %s does not exist; neural signals are unavailable", directory)
        return ModelBundle(directory=directory, missing=missing)

    clap = _load_piece("clap", directory / "clap", lambda p: ClapEmbedder.from_dir(p, device=device), missing)
    enc_dir = next((directory / d for d in ENCODER_DIRS if (directory / d).exists()), directory / ENCODER_DIRS[0])
    encoder = _load_piece("encoder", enc_dir, lambda p: MusicEncoder.from_dir(p, device=device), missing)
    whisper = _load_piece("whisper", directory / "whisper", lambda p: WhisperTranscriber.from_dir(p, device=device), missing)
    aesthetics = _load_piece("aesthetics", directory / AESTHETICS_DIR,
                             lambda p: AestheticsPredictor.from_dir(p, device=device), missing)
    head = _load_piece("preference", directory / PREFERENCE_FILE, PreferenceHead.load, missing)
    reference = _load_piece("fad_reference", directory / FAD_FILE, _load_reference, missing)

    if head is not None and clap is not None:
        head.check_embedder(name=clap.name, identity=clap.identity, dim=clap.dim)
    if head is not None and clap is None:
        logger.warning("preference head present but CLAP is absent: the head is unused")
    if reference is not None:
        _check_reference(reference, clap=clap, encoder=encoder, path=directory / FAD_FILE)
    if require and missing:
        raise ModelsMissing(missing)
    for name, why in sorted(missing.items()):
        logger.info("scoring model %s absent (%s): its signals are unavailable", name, why)
    bundle = ModelBundle(clap=clap, encoder=encoder, whisper=whisper, aesthetics=aesthetics, preference=head, fad_reference=reference,
                         directory=directory, missing=missing)
    logger.info("scoring models loaded from %s: %s", directory, bundle.summary())
    return bundle


def _load_reference(path: Path) -> FadReference:
    try:
        return FadReference.load(path)
    except ScoringError as exc:
        raise ModelLoadError(str(exc)) from exc


def _check_reference(ref: FadReference, *, clap: ClapEmbedder | None, encoder: MusicEncoder | None, path: Path) -> None:
    if clap is not None and (ref.model_identity != clap.identity or ref.dim != clap.dim):
        raise ModelLoadError(
            f"{path} was built with {ref.model_name} (identity {ref.model_identity}, dim {ref.dim}) but the loaded "
            f"CLAP is {clap.name} (identity {clap.identity}, dim {clap.dim}); rebuild it with scripts/build_fad_reference.py"
        )
    if ref.window_clips != C.FAD_WINDOW_CLIPS:
        raise ModelLoadError(
            f"{path} has a baseline for {ref.window_clips}-clip windows but FAD_WINDOW_CLIPS is {C.FAD_WINDOW_CLIPS}; rebuild it"
        )
    if ref.encoder is not None and encoder is not None and ref.encoder.identity != encoder.identity:
        raise ModelLoadError(
            f"{path} holds encoder statistics of {ref.encoder.name} (identity {ref.encoder.identity}) but the loaded "
            f"encoder is {encoder.name} (identity {encoder.identity}); rebuild it with scripts/build_fad_reference.py"
        )
