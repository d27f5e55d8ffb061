"""Challenges: space size, determinism, per-miner seeds, prompt/field agreement, ids, the store."""

import json
import re
import uuid

import pytest

from scoring.music_theory import KEY_NAMES
from scoring.request import ScoringRequest
from tuneforge.catalog import GENRES, INSTRUMENTS, METERS, MOODS, VOCAL_STYLES
from tuneforge.spec import parse_prompt
from tuneforge.validator.challenges import (
    DURATION_RANGE,
    Challenge,
    ChallengeGenerator,
    ChallengeStore,
    is_challenge_id,
    organic_challenge_id,
    space_size,
)

VOCAL_WORDS = re.compile(r"\b(vocals?|singing|singer|sung|lyrics|choir|rap(?:ping)?|vocalist|voice|sing)\b", re.I)
ROUNDS = range(400)


@pytest.fixture(scope="module")
def challenges():
    gen = ChallengeGenerator(b"test-secret")
    return [gen.generate(r) for r in ROUNDS]


def test_validation_durations_never_exceed_the_networks_30_s():
    """A default network miner caps at 30 s: no round challenge may ask for more (consensus)."""
    assert DURATION_RANGE == (5, 30)
    generator = ChallengeGenerator("duration-secret")
    drawn = {generator.generate(str(i)).duration_seconds for i in range(300)}
    assert max(drawn) == 30 and min(drawn) == 5


def test_space_is_at_least_a_billion():
    assert space_size() >= 10**9
    assert len(GENRES) >= 30 and len(MOODS) >= 30 and len(KEY_NAMES) == 24 and len(METERS) >= 5


def test_space_size_grows_with_the_catalogue(monkeypatch):
    """space_size is computed from the catalogue, not a constant."""
    before = space_size()
    monkeypatch.setitem(MOODS, "zany", MOODS["playful"])
    assert space_size() > before


def test_same_secret_and_round_give_the_same_challenge():
    a, b = ChallengeGenerator("s3cret"), ChallengeGenerator("s3cret")
    for r in (1, 2, "round-9"):
        assert a.generate(r).to_dict() == b.generate(r).to_dict()
    assert a.generate(1).challenge_id != a.generate(2).challenge_id
    assert ChallengeGenerator("other").generate(1).challenge_id != a.generate(1).challenge_id


def test_empty_secret_is_refused():
    with pytest.raises(ValueError):
        ChallengeGenerator(b"")


def test_draws_cover_the_catalogue(challenges):
    assert len({c.genre for c in challenges}) >= 30
    assert len({c.mood for c in challenges}) >= 30
    assert len({c.key_signature for c in challenges}) == 24
    assert len({c.time_signature for c in challenges}) >= 5
    assert len({c.template for c in challenges}) >= 6
    assert any(c.vocals_requested for c in challenges) and any(not c.vocals_requested for c in challenges)


def test_fields_come_from_the_catalogue(challenges):
    for c in challenges:
        info = GENRES[c.genre]
        assert c.mood in MOODS and c.key_signature in KEY_NAMES
        assert c.time_signature in info.meters and c.time_signature in METERS
        assert info.tempo[0] <= c.tempo_bpm <= info.tempo[1]
        assert 5 <= c.duration_seconds <= 30 and float(c.duration_seconds).is_integer()
        assert 1 <= len(c.instruments) <= 4 and set(c.instruments) <= set(info.instruments) <= set(INSTRUMENTS)
        if c.vocals_requested:
            assert c.vocal_style in VOCAL_STYLES and c.lyrics
        else:
            assert c.vocal_style is None and c.lyrics is None


def test_prompt_agrees_with_fields(challenges):
    for c in challenges:
        text = c.prompt
        assert f"{c.tempo_bpm} BPM" in text, text
        assert c.key_signature in text and c.time_signature in text, text
        assert c.genre in text.lower() and c.mood in text.lower(), text
        numbers = [int(n) for n in re.findall(r"(\d+) BPM", text)]
        assert numbers == [c.tempo_bpm], text
        parsed = parse_prompt(text)  # what a miner reading only the text would understand
        assert parsed.tempo_bpm == c.tempo_bpm, text
        assert parsed.key.name == c.key_signature, text
        assert parsed.meter.name == c.time_signature, text
        assert parsed.vocals == c.vocals_requested, text
        if "seconds" in text:
            assert parsed.duration_seconds == c.duration_seconds, text


def test_instrumental_prompts_carry_no_vocal_words(challenges):
    instrumental = [c for c in challenges if not c.vocals_requested]
    assert instrumental
    for c in instrumental:
        assert "instrumental" in c.prompt.lower()
        assert not VOCAL_WORDS.search(c.prompt), c.prompt
        assert "choir" not in c.instruments


def test_vocal_prompts_name_their_style(challenges):
    for c in challenges:
        if c.vocals_requested:
            assert c.vocal_style in c.prompt and "instrumental" not in c.prompt.lower()


def test_every_miner_gets_its_own_stable_seed(challenges):
    c = challenges[0]
    hotkeys = [f"hotkey-{i}" for i in range(50)]
    seeds = [c.seed_for(h) for h in hotkeys]
    assert len(set(seeds)) == len(seeds)
    assert seeds == [ChallengeGenerator(b"test-secret").generate(0).seed_for(h) for h in hotkeys]
    assert all(0 <= s < 2**32 for s in seeds)
    a, b = c.to_synapse("hk-a"), c.to_synapse("hk-b")
    assert a.prompt == b.prompt and a.challenge_id == b.challenge_id and a.seed != b.seed
    assert c.scoring_request("hk-a").seed == a.seed


def test_challenge_ids_look_alike_for_rounds_and_organic(challenges):
    organic = Challenge.from_request(ScoringRequest(prompt="dreamy synthwave with a warm pad", duration_seconds=12.0))
    for cid in [c.challenge_id for c in challenges[:20]] + [organic.challenge_id, organic_challenge_id()]:
        assert is_challenge_id(cid), cid
        assert uuid.UUID(hex=cid).version == 4
    assert not is_challenge_id("round-1") and not is_challenge_id("0" * 32)


def test_organic_wire_always_has_seed_and_meter():
    organic = Challenge.from_request(ScoringRequest(prompt="a waltz for strings", duration_seconds=8.0))
    syn = organic.to_synapse("hk")
    assert syn.is_organic and syn.seed is not None and syn.time_signature == "3/4"
    plain = Challenge.from_request(ScoringRequest(prompt="something nice", duration_seconds=8.0))
    assert plain.to_synapse("hk").time_signature == "4/4" and plain.to_synapse("hk").seed is not None
    fixed = Challenge.from_request(ScoringRequest(prompt="x", duration_seconds=8.0, time_signature="7/8", seed=5))
    assert fixed.to_synapse("a").time_signature == "7/8" and fixed.seed_for("a") != fixed.seed_for("b")


@pytest.mark.parametrize("seconds", [0.0, -3.0, 500.0, float("nan")])
def test_organic_request_with_impossible_duration_is_refused(seconds):
    with pytest.raises(ValueError, match="duration_seconds"):
        Challenge.from_request(ScoringRequest(prompt="x", duration_seconds=seconds))


def test_store_is_bounded_and_persists(tmp_path, challenges):
    path = tmp_path / "challenges.json"
    store = ChallengeStore(capacity=10, path=path)
    for c in challenges[:15]:
        store.put(c)
    assert len(store) == 10
    assert store.get(challenges[0].challenge_id) is None
    assert store.get(challenges[14].challenge_id) == challenges[14]
    with pytest.raises(KeyError, match="not issued"):
        store.require(challenges[0].challenge_id)
    assert store.save()
    again = ChallengeStore(capacity=10, path=path)
    assert len(again) == 10 and again.require(challenges[12].challenge_id).to_dict() == challenges[12].to_dict()


def test_corrupt_store_file_is_moved_aside(tmp_path):
    path = tmp_path / "challenges.json"
    path.write_text("{not json")
    store = ChallengeStore(path=path)
    assert len(store) == 0
    assert (tmp_path / "challenges.json.corrupt").read_text() == "{not json"
    path.write_text(json.dumps({"format": 1, "challenges": [{"prompt": "no id"}]}))
    assert len(ChallengeStore(path=path)) == 0


def test_challenge_round_trips_through_dict(challenges):
    for c in challenges[:30]:
        assert Challenge.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError):
        Challenge.from_dict({"prompt": "x"})


def test_a_miner_cannot_compute_a_competitors_seed(challenges):
    """Every miner receives the challenge id; the seed also hashes the validator's private per-round
    key, so knowing the id and a competitor's hotkey is not enough to render its clip."""
    import hashlib

    c = challenges[0]
    syn = c.to_synapse("hk-attacker")
    for guess_parts in ((syn.challenge_id, "hk-victim", ""), (syn.challenge_id, "hk-victim")):
        guess = int.from_bytes(hashlib.sha256("\x1f".join(("seed", *guess_parts)).encode()).digest()[:4], "little")
        assert guess != c.seed_for("hk-victim")
    assert c.seed_key and c.seed_key not in json.dumps(c.to_dict())  # never in the public form
    assert c.seed_key not in syn.model_dump_json()  # never on the wire
    other = ChallengeGenerator(b"another-secret").generate(0)
    assert other.seed_key != c.seed_key
    # Same secret, same round: same key, same seeds (a restarted validator grades the same way).
    assert ChallengeGenerator(b"test-secret").generate(0).seed_key == c.seed_key


def test_private_form_keeps_the_seeds_and_the_store_saves_it(tmp_path, challenges):
    c = challenges[3]
    back = Challenge.from_dict(json.loads(json.dumps(c.to_dict(private=True))))
    assert back.seed_key == c.seed_key and back.seed_for("hk") == c.seed_for("hk")
    public = Challenge.from_dict(c.to_dict())
    assert public.seed_for("hk") != c.seed_for("hk")  # why the store must keep the private form
    store = ChallengeStore(path=tmp_path / "challenges.json")
    store.put(c)
    assert store.save()
    assert ChallengeStore(path=tmp_path / "challenges.json").require(c.challenge_id).seed_for("hk") == c.seed_for("hk")
    fresh = ChallengeStore()
    assert fresh.restore(store.to_bytes()) == 1 and fresh.require(c.challenge_id).seed_key == c.seed_key


def test_organic_seeds_keep_their_documented_form():
    """Organic challenges carry no seed key: a miner's seed hashes the challenge id, its hotkey and
    the requester's seed, as before (the requester's seed still changes every miner's seed)."""
    import hashlib

    fixed = Challenge.from_request(ScoringRequest(prompt="x", duration_seconds=8.0, seed=5))
    assert fixed.seed_key is None
    expected = int.from_bytes(hashlib.sha256("\x1f".join(("seed", fixed.challenge_id, "a", "5")).encode()).digest()[:4], "little")
    assert fixed.seed_for("a") == expected
    other = Challenge.from_request(ScoringRequest(prompt="x", duration_seconds=8.0, seed=6), challenge_id=fixed.challenge_id)
    assert other.seed_for("a") != fixed.seed_for("a")
