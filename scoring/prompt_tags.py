"""Prompt adherence heard by the musicnn taggers: the genre, mood, instruments and vocals parts of
the ``attribute`` signal.

Raw tag probabilities are biased (``MTT:techno`` reads 0.2 on average real music, ``MSD:happy``
0.002), so a tag is judged by how it reads on real music: each tag's log-odds is turned into a
z-score with the mean and standard deviation of that tag's log-odds over real recordings
(:class:`TagPriors`, shipped as ``scoring/data/musicnn_tag_priors.json``, built by
``scripts/build_tag_priors.py``). A catalogue term's evidence is the weighted mean of the
z-scores of the tags it maps onto (``scoring.tag_vocabulary``; contrary tags with negative
weight). Then:

- **genre, mood, instruments** — each requested term is ranked against the other terms of its
  vocabulary (every distinct tag map: 42 genres, 44 moods and tempo / loudness words, 31
  instrument sounds) by evidence: the share of them the clip shows less evidence for (ties half).
  "This clip sounds more like metal than like 90 % of the genres" is a judgement the biased raw
  probabilities cannot give, and it does not move when every tag reads a little higher. The
  credit is ``PROMPT_RANK_SHARE`` × that rank + the rest × ``Φ(evidence / PROMPT_Z_SCALE)`` (the
  normal CDF: is the term's own evidence above what real music shows), so a clip that is simply
  unlike everything is not credited by rank alone. A part is the mean over the requested terms
  the map covers (terms in ``UNMAPPED`` give nothing either way); a part with no covered term is
  absent.
- **vocals** — present when the request asks for vocals (``vocals_requested`` or a vocal word in
  the prompt) or says "instrumental": ``Φ(±(voice − no voice) / PROMPT_Z_SCALE)`` from the voice
  and no-voice tags, averaged with the credit of a named vocal style ("female vocals").

The requested terms are the request's fields and the catalogue words its prompt names
(:func:`requested_terms`). Everything here is arithmetic on the clip's cached tagger outputs
(``Features.musicnn``): microseconds per clip, deterministic.
"""

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scoring import constants as C
from scoring import tag_vocabulary as V
from scoring.request import ScoringRequest
from scoring.signals.base import ScoringError

if TYPE_CHECKING:
    from scoring.wheel_models.musicnn import MusicnnOutput

__all__ = [
    "PRIORS_FILE",
    "RequestedTerms",
    "TagPriors",
    "clip_logits",
    "default_priors",
    "evidence",
    "genre_credit",
    "instrument_credit",
    "mood_credit",
    "prompt_parts",
    "rank_credit",
    "requested_terms",
    "vocals_credit",
]

PRIORS_FILE = "musicnn_tag_priors.json"
#: Tagger name in ``Features.musicnn`` → the prefix of its tags in ``tag_vocabulary``.
_TAGGER_PREFIX = {"MTT_musicnn": "MTT", "MSD_musicnn": "MSD"}
_INDEX = {tag: i for i, tag in enumerate(V.TAGS)}
_VOCAL_RE = re.compile(r"\b(vocals?|singing|singer|sung|lyrics|rap(?:ping)?|vocalist|voice)\b", re.I)
_INSTRUMENTAL_RE = re.compile(r"\b(instrumental|no vocals|without vocals|no singing)\b", re.I)


class TagPriorsError(ScoringError):
    """The tag priors file is missing, malformed or built for other tags."""


@dataclass(frozen=True)
class TagPriors:
    """How each tag reads on real music: ``mean`` and ``std`` ``(K,)`` float64 of the tag's
    log-odds over ``recordings`` real recordings, in ``tag_vocabulary.TAGS`` order (``std``
    already floored at ``PROMPT_PRIOR_STD_FLOOR``)."""

    mean: np.ndarray
    std: np.ndarray
    recordings: int

    def z(self, logits: np.ndarray) -> np.ndarray:
        """``(K,)`` log-odds in ``TAGS`` order → z-scores against real music."""
        return (np.asarray(logits, dtype=np.float64) - self.mean) / self.std

    @classmethod
    def from_logits(cls, logits: np.ndarray) -> "TagPriors":
        """Priors from ``(R, K)`` per-recording log-odds (one row per recording, ``TAGS`` order)."""
        x = np.asarray(logits, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(V.TAGS) or x.shape[0] < 2:
            raise TagPriorsError(f"need (R >= 2, {len(V.TAGS)}) log-odds, got {x.shape}")
        std = np.maximum(x.std(axis=0, ddof=1), C.PROMPT_PRIOR_STD_FLOOR)
        return cls(mean=x.mean(axis=0), std=std, recordings=int(x.shape[0]))

    @classmethod
    def from_json(cls, data: Mapping) -> "TagPriors":
        """Read the priors file's content (see ``scripts/build_tag_priors.py``)."""
        try:
            tags = [str(t) for t in data["tags"]]
            mean = np.array([float(data["mean"][t]) for t in tags])
            std = np.array([float(data["std"][t]) for t in tags])
            recordings = int(data["recordings"])
            floor = float(data["tag_floor"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TagPriorsError(f"malformed tag priors: {type(exc).__name__}: {exc}") from exc
        if floor != C.PROMPT_TAG_FLOOR:
            raise TagPriorsError(
                f"tag priors were built with tag floor {floor}, not PROMPT_TAG_FLOOR "
                f"{C.PROMPT_TAG_FLOOR}: rebuild them (scripts/build_tag_priors.py)"
            )
        if tuple(tags) != V.TAGS:
            raise TagPriorsError("tag priors were built for other tags than scoring.tag_vocabulary.TAGS")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std >= 0)):
            raise TagPriorsError("tag priors hold non-finite means or negative deviations")
        return cls(mean=mean, std=np.maximum(std, C.PROMPT_PRIOR_STD_FLOOR), recordings=recordings)


@functools.cache
def default_priors() -> TagPriors:
    """The shipped priors (``scoring/data/musicnn_tag_priors.json``), read once per process."""
    try:
        text = resources.files("scoring").joinpath("data", PRIORS_FILE).read_text(encoding="utf-8")
    except OSError as exc:
        raise TagPriorsError(f"cannot read scoring/data/{PRIORS_FILE}: {exc}") from exc
    return TagPriors.from_json(json.loads(text))


def load_priors(path: str | Path) -> TagPriors:
    """Priors from a file written by ``scripts/build_tag_priors.py``."""
    return TagPriors.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def clip_logits(outputs: "Mapping[str, MusicnnOutput]") -> np.ndarray:
    """Both taggers' clip-level tag probabilities (mean over patches) as log-odds, ``(K,)``
    float64 in ``TAGS`` order; probabilities are clipped to ``[PROMPT_TAG_FLOOR, 1 − PROMPT_TAG_FLOOR]``
    first (below 1 % a tag says "absent"; how far below is noise, not evidence)."""
    out = np.empty(len(V.TAGS), dtype=np.float64)
    seen = 0
    for name, prefix in _TAGGER_PREFIX.items():
        result = outputs[name]
        for label, p in zip(result.labels, np.asarray(result.tags, dtype=np.float64)):
            i = _INDEX.get(f"{prefix}:{label}")
            if i is None:
                raise TagPriorsError(f"{name} has a tag {label!r} the vocabulary does not know")
            q = min(max(float(p), C.PROMPT_TAG_FLOOR), 1.0 - C.PROMPT_TAG_FLOOR)
            out[i] = math.log(q / (1.0 - q))
            seen += 1
    if seen != len(V.TAGS):
        raise TagPriorsError(f"the taggers gave {seen} tags, the vocabulary has {len(V.TAGS)}")
    return out


def evidence(z: np.ndarray, tag_map: V.TagMap) -> float:
    """A term's evidence: ``Σ w·z / Σ |w|`` over its tags (z-scores ``(K,)`` in ``TAGS`` order)."""
    total = sum(abs(w) for w in tag_map.values())
    return float(sum(w * z[_INDEX[t]] for t, w in tag_map.items()) / total)


def _map_key(tag_map: V.TagMap) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(tag_map.items()))


@dataclass(frozen=True)
class _Competitors:
    """A vocabulary's distinct tag maps (several names share one: "synth", "synthesizer"):
    ``keys`` ``(M,)`` and ``weights`` ``(M, K)``, each row a map's weights over ``TAGS`` divided by
    its Σ |w|, so ``weights @ z`` is every map's :func:`evidence` at once."""

    keys: tuple[tuple, ...]
    weights: np.ndarray

    @classmethod
    def of(cls, maps: Mapping[str, V.TagMap]) -> "_Competitors":
        distinct: dict[tuple, V.TagMap] = {}
        for m in maps.values():
            distinct.setdefault(_map_key(m), m)
        weights = np.zeros((len(distinct), len(V.TAGS)))
        for row, m in enumerate(distinct.values()):
            total = sum(abs(w) for w in m.values())
            for tag, w in m.items():
                weights[row, _INDEX[tag]] = w / total
        return cls(keys=tuple(distinct), weights=weights)


_COMPETITORS = {category: _Competitors.of(maps) for category, maps in V.TERM_MAPS.items()}


def rank_credit(value: float, others: Sequence[float]) -> float:
    """Share of ``others`` below ``value`` (ties count half); 0.5 with no others."""
    if not others:
        return 0.5
    below = sum(1.0 if o < value else 0.5 if o == value else 0.0 for o in others)
    return below / len(others)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _category_credit(z: np.ndarray, category: str, terms: Sequence[str]) -> float | None:
    """Mean over the covered ``terms`` of ``PROMPT_RANK_SHARE`` × rank among the category's other
    distinct maps + the rest × ``Φ(evidence / PROMPT_Z_SCALE)``; None when no term is covered."""
    maps = V.TERM_MAPS[category]
    known = [t for t in terms if t in maps]
    if not known:
        return None
    competitors = _COMPETITORS[category]
    scores = competitors.weights @ np.asarray(z, dtype=np.float64)
    share = C.PROMPT_RANK_SHARE
    credits = []
    for term in known:
        row = competitors.keys.index(_map_key(maps[term]))
        own = float(scores[row])
        rank = rank_credit(own, [float(v) for i, v in enumerate(scores) if i != row])
        credits.append(share * rank + (1.0 - share) * _phi(own / C.PROMPT_Z_SCALE))
    return float(np.mean(credits))


def genre_credit(z: np.ndarray, genres: Sequence[str]) -> float | None:
    """Mean credit of the requested genres the map covers, in [0, 1]; None when it covers none."""
    return _category_credit(z, "genre", genres)


def mood_credit(z: np.ndarray, moods: Sequence[str]) -> float | None:
    """Mean credit of the requested moods (and tempo / loudness words); None when none is covered."""
    return _category_credit(z, "mood", moods)


def instrument_credit(z: np.ndarray, instruments: Sequence[str]) -> float | None:
    """Mean credit of the requested instruments the taggers can hear; None when they hear none."""
    return _category_credit(z, "instruments", instruments)


def vocals_credit(z: np.ndarray, *, vocals: bool, styles: Sequence[str] = ()) -> float:
    """Voice (``vocals``) or no voice asked for: ``Φ(±(voice − no voice) / PROMPT_Z_SCALE)``,
    averaged with the credit of each named vocal style the map covers (vocals only)."""
    voice = evidence(z, V.VOCAL_TAGS) - evidence(z, V.INSTRUMENTAL_TAGS)
    credit = _phi((voice if vocals else -voice) / C.PROMPT_Z_SCALE)
    if not vocals:
        return credit
    style = _category_credit(z, "vocal_style", styles)
    return credit if style is None else 0.5 * (credit + style)


@dataclass(frozen=True)
class RequestedTerms:
    """Catalogue terms a request asks for: its fields first, then the words its prompt names.
    ``vocals``: True (a voice asked for), False ("instrumental"), None (not said)."""

    genres: tuple[str, ...]
    moods: tuple[str, ...]
    instruments: tuple[str, ...]
    vocal_styles: tuple[str, ...]
    vocals: bool | None


def _merge(fields: Sequence[str], words: Sequence[str], category: str) -> tuple[str, ...]:
    out: list[str] = []
    for term in fields:
        for name in V.find_terms(term, category) or [term.strip().lower()]:
            if name and name not in out:
                out.append(name)
    for name in words:
        if name not in out:
            out.append(name)
    return tuple(out)


def requested_terms(request: ScoringRequest) -> RequestedTerms:
    """The genres, moods, instruments, vocal styles and vocals a request asks for."""
    text = request.prompt or ""
    styles = tuple(V.find_terms(text, "vocal_style"))
    if request.vocals_requested or styles:
        vocals: bool | None = True
    elif _INSTRUMENTAL_RE.search(text):
        vocals = False
    elif _VOCAL_RE.search(text):
        vocals = True
    else:
        vocals = None
    return RequestedTerms(
        genres=_merge([request.genre] if request.genre else [], V.find_terms(text, "genre"), "genre"),
        moods=_merge([request.mood] if request.mood else [], V.find_terms(text, "mood"), "mood"),
        instruments=_merge(list(request.instruments), V.find_terms(text, "instruments"), "instruments"),
        vocal_styles=styles,
        vocals=vocals,
    )


def prompt_parts(
    outputs: "Mapping[str, MusicnnOutput]", request: ScoringRequest, *, priors: TagPriors | None = None
) -> dict[str, float]:
    """The attribute parts the taggers can judge for ``request``: any of ``genre``, ``mood``,
    ``instruments``, ``vocals`` (each in [0, 1]); parts the request does not ask for, or whose
    terms the map does not cover, are left out."""
    z = (priors or default_priors()).z(clip_logits(outputs))
    terms = requested_terms(request)
    parts: dict[str, float] = {}
    for name, value in (
        ("genre", genre_credit(z, terms.genres)),
        ("mood", mood_credit(z, terms.moods)),
        ("instruments", instrument_credit(z, terms.instruments)),
        (
            "vocals",
            None
            if terms.vocals is None
            else vocals_credit(z, vocals=terms.vocals, styles=terms.vocal_styles),
        ),
    ):
        if value is not None:
            parts[name] = min(1.0, max(0.0, value))
    return parts
