"""Prompt adherence from the musicnn tags: the vocabulary map, the part credits and their wiring
into the ``attribute`` signal. Tag readings are synthesised (no audio through the taggers, no
corpus): a clip "sounds like" a term when the tags of that term's map read above real music."""

import importlib.util
import json
from types import SimpleNamespace

import numpy as np
import pytest

from scoring import constants as C
from scoring import prompt_tags as P
from scoring import tag_vocabulary as V
from scoring.features import Features
from scoring.listeners import MUSICNN_SOURCE
from scoring.models.extras import EXTRA_INSTRUMENT_MATCH, SOURCE_PREFIX
from scoring.request import ScoringRequest
from scoring.signals import attribute
from scoring.signals.base import SignalContext
from tuneforge import catalog

SR = 22_050
PRIORS = P.default_priors()


# --- helpers ------------------------------------------------------------------------------------
def _outputs(logits: np.ndarray) -> dict[str, SimpleNamespace]:
    """MusicnnOutput-like readings (``labels``, ``tags``) from log-odds ``(K,)`` in TAGS order."""
    probs = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
    n = len(V.MTT_TAGS)
    return {
        "MTT_musicnn": SimpleNamespace(labels=V.MTT_TAGS, tags=probs[:n].astype(np.float32)),
        "MSD_musicnn": SimpleNamespace(labels=V.MSD_TAGS, tags=probs[n:].astype(np.float32)),
    }


def _sounding_like(*maps: V.TagMap, strength: float = 2.0) -> np.ndarray:
    """Log-odds of a clip at the real-music mean on every tag, ``strength`` deviations above it on
    the evidence tags of ``maps`` and as far below on their contrary tags."""
    logits = PRIORS.mean.copy()
    index = {t: i for i, t in enumerate(V.TAGS)}
    for tag_map in maps:
        for tag, w in tag_map.items():
            logits[index[tag]] += np.sign(w) * strength * PRIORS.std[index[tag]]
    return logits


def _z(logits: np.ndarray) -> np.ndarray:
    return PRIORS.z(P.clip_logits(_outputs(logits)))


def _request(**fields) -> ScoringRequest:
    return ScoringRequest(
        prompt=fields.pop("prompt", "a piece"), duration_seconds=fields.pop("duration_seconds", 2.0), **fields
    )


def _features() -> Features:
    t = np.arange(2 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)[None, :]
    return Features.from_audio(samples=tone, sample_rate=SR)


# --- the vocabulary map ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "names, category",
    [(catalog.GENRES, "genre"), (catalog.MOODS, "mood"), (catalog.INSTRUMENTS, "instruments"),
     (catalog.VOCAL_STYLES, "vocal_style")],
)  # fmt: skip
def test_every_catalogue_term_is_mapped_or_says_why_not(names, category: str) -> None:
    maps = V.TERM_MAPS[category]
    missing = [n for n in names if n not in maps and n not in V.UNMAPPED]
    assert not missing, f"{category} terms neither mapped nor in UNMAPPED: {missing}"
    assert not set(maps) & set(V.UNMAPPED)
    assert all(V.UNMAPPED[n] for n in names if n not in maps)


def test_most_of_the_catalogue_is_heard() -> None:
    """The taggers hear most of what challenges ask for: only 2 genres and the instruments
    without a tag (bass, brass, organ, tuned percussion) are unmapped."""
    assert sum(g in V.GENRE_TAGS for g in catalog.GENRES) >= len(catalog.GENRES) - 2
    assert all(m in V.MOOD_TAGS for m in catalog.MOODS)
    assert sum(i in V.INSTRUMENT_TAGS for i in catalog.INSTRUMENTS) >= 0.6 * len(catalog.INSTRUMENTS)


def test_mood_plane_is_the_catalogues() -> None:
    assert V.MOOD_PLANE == {m: (info.valence, info.energy) for m, info in catalog.MOODS.items()}


def test_maps_use_known_tags_and_have_positive_evidence() -> None:
    for category, maps in V.TERM_MAPS.items():
        for term, tag_map in maps.items():
            assert tag_map, (category, term)
            assert set(tag_map) <= set(V.TAGS), (category, term)
            assert any(w > 0 for w in tag_map.values()), (category, term)
    assert len(set(V.TAGS)) == 100


@pytest.mark.skipif(importlib.util.find_spec("musicnn") is None, reason="musicnn not installed")
def test_tag_names_are_the_wheels() -> None:
    from scoring.wheel_models.musicnn import _labels, musicnn_dir

    assert _labels(musicnn_dir(), "MTT_musicnn") == V.MTT_TAGS
    assert _labels(musicnn_dir(), "MSD_musicnn") == V.MSD_TAGS


@pytest.mark.parametrize(
    "text, category, expected",
    [
        (
            "heavy metal with distorted electric guitars and pounding drums",
            "instruments",
            ["electric guitar", "drums"],
        ),
        ("heavy metal with distorted electric guitars and pounding drums", "genre", ["metal"]),
        ("heavy metal with distorted electric guitars and pounding drums", "mood", ["heavy"]),
        ("fast drum and bass with heavy breakbeats", "instruments", []),  # "bass" belongs to the genre
        ("fast drum and bass with heavy breakbeats", "genre", ["drum and bass"]),
        ("a gentle piano solo", "instruments", ["piano"]),
        ("a gentle piano solo", "genre", ["piano solo"]),
        ("Hip-Hop beat with an 808 and synths", "genre", ["hip hop"]),
        ("Hip-Hop beat with an 808 and synths", "instruments", ["808", "synth"]),
        ("jazz trio: upright bass, piano and a saxophone", "instruments", ["piano"]),  # bass, sax: no tag
        ("Dark, tense cinematic cue with female vocals", "vocal_style", ["female vocals"]),
        ("Dark, tense cinematic cue with female vocals", "mood", ["dark", "tense"]),
        ("a mysterious reggae tune", "genre", []),  # reggae: unmapped
    ],
)
def test_find_terms(text: str, category: str, expected: list[str]) -> None:
    assert V.find_terms(text, category) == expected


def test_markdown_listing_lists_every_term() -> None:
    listing = V.markdown_listing()
    for maps in V.TERM_MAPS.values():
        for term in maps:
            assert f"| {term} |" in listing
    for term in V.UNMAPPED:
        assert f"| {term} |" in listing


def test_docs_carry_the_generated_listing() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "scoring.md").read_text(encoding="utf-8")
    assert V.markdown_listing() in docs, "regenerate the map in docs/scoring.md (markdown_listing())"


# --- priors -------------------------------------------------------------------------------------
def test_shipped_priors_load_and_match_the_vocabulary() -> None:
    assert PRIORS.mean.shape == PRIORS.std.shape == (len(V.TAGS),)
    assert np.all(PRIORS.std >= C.PROMPT_PRIOR_STD_FLOOR)
    assert PRIORS.recordings >= 10
    assert P.default_priors() is PRIORS  # read once per process


def test_priors_refuse_other_tags_and_stale_floors() -> None:
    doc = {"tags": list(V.TAGS), "mean": {t: -3.0 for t in V.TAGS}, "std": {t: 1.0 for t in V.TAGS},
           "recordings": 3, "tag_floor": C.PROMPT_TAG_FLOOR}  # fmt: skip
    assert P.TagPriors.from_json(doc).recordings == 3
    with pytest.raises(P.TagPriorsError, match="other tags"):
        P.TagPriors.from_json(doc | {"tags": list(reversed(V.TAGS))})
    with pytest.raises(P.TagPriorsError, match="rebuild"):
        P.TagPriors.from_json(doc | {"tag_floor": C.PROMPT_TAG_FLOOR / 2})
    with pytest.raises(P.TagPriorsError, match="malformed"):
        P.TagPriors.from_json({k: v for k, v in doc.items() if k != "std"})
    with pytest.raises(P.TagPriorsError, match="negative"):
        P.TagPriors.from_json(doc | {"std": {t: -1.0 for t in V.TAGS}})


def test_priors_from_logits_floor_the_deviation() -> None:
    rows = np.zeros((3, len(V.TAGS)))
    rows[:, 0] = [-1.0, 0.0, 1.0]
    priors = P.TagPriors.from_logits(rows)
    assert priors.std[0] == pytest.approx(1.0) and priors.std[1] == C.PROMPT_PRIOR_STD_FLOOR
    with pytest.raises(P.TagPriorsError):
        P.TagPriors.from_logits(rows[:1])


def test_clip_logits_floor_and_order() -> None:
    logits = np.linspace(-12.0, 12.0, len(V.TAGS))
    out = P.clip_logits(_outputs(logits))
    lo = np.log(C.PROMPT_TAG_FLOOR / (1 - C.PROMPT_TAG_FLOOR))
    assert out.min() == pytest.approx(lo) and out.max() == pytest.approx(-lo)
    inside = np.abs(logits) < -lo - 0.1
    assert np.allclose(out[inside], logits[inside], atol=1e-5)  # float32 tags round-trip
    bad = _outputs(logits)
    bad["MSD_musicnn"] = SimpleNamespace(labels=("not a tag",) + V.MSD_TAGS[1:], tags=bad["MSD_musicnn"].tags)
    with pytest.raises(P.TagPriorsError):
        P.clip_logits(bad)


# --- credits ------------------------------------------------------------------------------------
def test_credits_stay_in_unit_interval_on_any_reading() -> None:
    rng = np.random.default_rng(0)
    genres, moods, instruments = list(V.GENRE_TAGS), list(V.MOOD_TAGS), list(V.INSTRUMENT_TAGS)
    for _ in range(40):
        z = _z(rng.normal(-3.0, 4.0, len(V.TAGS)))
        for value in (
            P.genre_credit(z, rng.choice(genres, 2)), P.mood_credit(z, rng.choice(moods, 2)),
            P.instrument_credit(z, rng.choice(instruments, 3)),
            P.vocals_credit(z, vocals=True, styles=("female vocals",)), P.vocals_credit(z, vocals=False),
        ):  # fmt: skip
            assert value is not None and 0.0 <= value <= 1.0


def test_unmapped_terms_give_no_part() -> None:
    z = _z(PRIORS.mean)
    assert P.genre_credit(z, ["reggae"]) is None
    assert P.instrument_credit(z, ["bass guitar", "trumpet"]) is None
    assert P.instrument_credit(z, ["bass guitar", "piano"]) == P.instrument_credit(z, ["piano"])


def test_rank_credit() -> None:
    assert P.rank_credit(1.0, [0.0, 2.0]) == 0.5
    assert P.rank_credit(1.0, [1.0, 0.0]) == 0.75
    assert P.rank_credit(5.0, []) == 0.5


#: (fitting, far) pairs across genre families, as a listener would call them plainly different.
GENRE_PAIRS = [
    ("metal", "classical"), ("classical", "metal"), ("techno", "folk"), ("ambient", "punk"),
    ("jazz", "techno"), ("country", "house"), ("hip hop", "new age"), ("piano solo", "drum and bass"),
    ("world", "rock"), ("gospel", "dubstep"), ("disco", "ambient"), ("blues", "trance"),
]  # fmt: skip


@pytest.mark.parametrize("fitting, far", GENRE_PAIRS)
def test_a_clip_sounding_like_a_genre_credits_it_above_a_far_one(fitting: str, far: str) -> None:
    z = _z(_sounding_like(V.GENRE_TAGS[fitting]))
    fit, other = P.genre_credit(z, [fitting]), P.genre_credit(z, [far])
    assert fit >= 0.8 and fit - other >= 0.3


@pytest.mark.parametrize(
    "fitting, far",
    [
        ("aggressive", "calm"),
        ("calm", "energetic"),
        ("sad", "happy"),
        ("happy", "somber"),
        ("energetic", "meditative"),
    ],
)
def test_a_clip_sounding_like_a_mood_credits_it_above_a_far_one(fitting: str, far: str) -> None:
    z = _z(_sounding_like(V.MOOD_TAGS[fitting]))
    assert P.mood_credit(z, [fitting]) - P.mood_credit(z, [far]) >= 0.3


@pytest.mark.parametrize(
    "fitting, far",
    [
        ("piano", "electric guitar"),
        ("violin", "drum machine"),
        ("harp", "synth"),
        ("drums", "flute"),
        ("sitar", "choir"),
    ],
)
def test_a_clip_sounding_like_an_instrument_credits_it_above_a_far_one(fitting: str, far: str) -> None:
    z = _z(_sounding_like(V.INSTRUMENT_TAGS[fitting]))
    assert P.instrument_credit(z, [fitting]) - P.instrument_credit(z, [far]) >= 0.3


def test_vocals_credit_follows_the_voice_tags() -> None:
    singing = _z(_sounding_like(V.VOCAL_TAGS, {t: -w for t, w in V.INSTRUMENTAL_TAGS.items()}))
    instrumental = _z(_sounding_like(V.INSTRUMENTAL_TAGS, {t: -w for t, w in V.VOCAL_TAGS.items()}))
    assert P.vocals_credit(singing, vocals=True) >= 0.9 >= 0.1 >= P.vocals_credit(singing, vocals=False)
    assert (
        P.vocals_credit(instrumental, vocals=False)
        >= 0.9
        >= 0.1
        >= P.vocals_credit(instrumental, vocals=True)
    )
    female = _z(_sounding_like(V.VOCAL_TAGS, V.VOCAL_STYLE_TAGS["female vocals"]))
    assert P.vocals_credit(female, vocals=True, styles=["female vocals"]) > P.vocals_credit(
        female, vocals=True, styles=["male vocals"]
    )


def test_evidence_is_a_weighted_mean_of_z() -> None:
    z = np.zeros(len(V.TAGS))
    z[V.TAGS.index("MTT:piano")] = 2.0
    z[V.TAGS.index("MTT:drums")] = 1.0
    assert P.evidence(z, V.GENRE_TAGS["piano solo"]) == pytest.approx((1.0 * 2.0 - 0.5 * 1.0) / 3.0)


# --- requests -----------------------------------------------------------------------------------
def test_requested_terms_merge_fields_and_prompt_words() -> None:
    req = _request(prompt="Dark cinematic cue with strings and taiko, instrumental", genre="Orchestral",
                   mood="tense", instruments=("French Horn", "strings"))  # fmt: skip
    terms = P.requested_terms(req)
    assert terms.genres == ("orchestral", "cinematic")
    assert terms.moods == ("tense", "dark")
    assert terms.instruments == ("french horn", "strings", "taiko")
    assert terms.vocals is False and terms.vocal_styles == ()


@pytest.mark.parametrize(
    "fields, vocals",
    [({"prompt": "a pop song with male vocals"}, True), ({"prompt": "pop", "vocals_requested": True}, True),
     ({"prompt": "an instrumental pop piece"}, False), ({"prompt": "a pop piece"}, None)],
)  # fmt: skip
def test_requested_vocals(fields: dict, vocals: bool | None) -> None:
    assert P.requested_terms(_request(**fields)).vocals is vocals


def test_prompt_parts_fitting_request_beats_far_one() -> None:
    """A clip whose tags say metal, aggressive, guitar and drums, no voice: the metal request
    beats the harp one on every part, and only the parts asked for are present."""
    clip = _outputs(_sounding_like(V.GENRE_TAGS["metal"], V.MOOD_TAGS["aggressive"], V.INSTRUMENT_TAGS["electric guitar"],
                                   V.INSTRUMENT_TAGS["drums"], V.INSTRUMENTAL_TAGS))  # fmt: skip
    fitting = _request(prompt="heavy metal with distorted electric guitars and drums, instrumental", genre="metal",
                       mood="aggressive", instruments=("electric guitar", "drums"))  # fmt: skip
    far = _request(prompt="a calm classical piece for solo harp with female vocals", genre="classical", mood="calm",
                   instruments=("harp",))  # fmt: skip
    a, b = P.prompt_parts(clip, fitting), P.prompt_parts(clip, far)
    assert set(a) == set(b) == {"genre", "mood", "instruments", "vocals"}
    for part in a:
        assert a[part] > b[part], part
    assert P.prompt_parts(clip, _request(prompt="something")) == {}


def test_prompt_parts_are_deterministic() -> None:
    clip = _outputs(_sounding_like(V.GENRE_TAGS["jazz"]))
    req = _request(prompt="smooth jazz with piano, relaxed", genre="jazz")
    first = P.prompt_parts(clip, req)
    assert all(P.prompt_parts(clip, req) == first for _ in range(3))
    assert json.dumps(first, sort_keys=True) == json.dumps(P.prompt_parts(clip, req), sort_keys=True)


# --- wiring into attribute ----------------------------------------------------------------------
def test_attribute_without_musicnn_has_no_tag_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Features, "musicnn", property(lambda self: None))
    f = _features()
    req = _request(
        prompt="heavy metal with drums, instrumental",
        genre="metal",
        mood="aggressive",
        instruments=("drums",),
    )
    ctx = SignalContext(features=f, request=req)
    parts = attribute.parts(ctx)
    assert set(parts) == {"duration"}
    assert 0.0 <= attribute.compute(ctx) <= 1.0
    assert f.get_extra(SOURCE_PREFIX + attribute.NAME) is None


def test_attribute_with_tags_adds_parts_and_names_musicnn(monkeypatch: pytest.MonkeyPatch) -> None:
    clip = _outputs(_sounding_like(V.GENRE_TAGS["metal"], V.INSTRUMENT_TAGS["drums"]))
    monkeypatch.setattr(Features, "musicnn", property(lambda self: clip))
    f = _features()
    fitting = SignalContext(
        features=f, request=_request(genre="metal", mood="aggressive", instruments=("drums",))
    )
    far = SignalContext(features=f, request=_request(genre="classical", mood="calm", instruments=("harp",)))
    parts = attribute.parts(fitting)
    assert set(parts) == {"duration", "genre", "mood", "instruments"}
    assert f.get_extra(SOURCE_PREFIX + attribute.NAME) == MUSICNN_SOURCE
    assert attribute.compute(fitting) > attribute.compute(far)
    weights = {n: C.ATTRIBUTE_PART_WEIGHTS.get(n, 1.0) for n in parts}
    expected = sum(weights[n] * v for n, v in parts.items()) / sum(weights.values())
    assert attribute.compute(fitting) == pytest.approx(expected)


def test_attribute_averages_clap_and_tag_instrument_credits(monkeypatch: pytest.MonkeyPatch) -> None:
    clip = _outputs(_sounding_like(V.INSTRUMENT_TAGS["piano"]))
    monkeypatch.setattr(Features, "musicnn", property(lambda self: clip))
    f = _features()
    req = _request(instruments=("piano",))
    tagged = P.prompt_parts(clip, req)["instruments"]
    f.set_extra(EXTRA_INSTRUMENT_MATCH, 0.2)
    assert attribute.parts(SignalContext(features=f, request=req))["instruments"] == pytest.approx(
        0.5 * (0.2 + tagged)
    )
    brass = _request(instruments=("trumpet",))  # the taggers hear no brass: CLAP's credit alone
    assert attribute.parts(SignalContext(features=f, request=brass))["instruments"] == pytest.approx(0.2)
