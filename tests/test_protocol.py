"""The JSON wire contract of the synapses (PROTOCOL.md): names, types, defaults, bounds, body hash.

Every expectation here is written from PROTOCOL.md, not read from the code, so any change to
the wire format (a renamed field, a new field, a changed default or bound, a non-empty hash
field set) fails a test.
"""

import base64
import hashlib
import json

import bittensor as bt
import numpy as np
import pytest
from network_synapses import network_class
from pydantic import ValidationError

from tuneforge.audio.intake import AudioRejected
from tuneforge.protocol import (
    HealthReportSynapse,
    MusicGenerationSynapse,
    PingSynapse,
    duration_bounds,
    served_durations,
)

BASE_FIELDS = set(bt.Synapse.model_fields)

STR, INT, FLOAT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}


def opt(t: dict) -> dict:
    return {"anyOf": [t, {"type": "null"}]}


def arr(t: dict) -> dict:
    return {"type": "array", "items": t}


# field → (JSON-schema type, default, bounds {"minimum"/"maximum"})
MUSIC = {
    "prompt": (STR, "", {}),
    "genre": (STR, "", {}),
    "mood": (STR, "", {}),
    "tempo_bpm": (INT, 120, {"minimum": 20, "maximum": 300}),
    "duration_seconds": (FLOAT, 10.0, {"minimum": 1.0, "maximum": 180.0}),
    "key_signature": (opt(STR), None, {}),
    "time_signature": (opt(STR), None, {}),
    "instruments": (opt(arr(STR)), None, {}),
    "reference_audio": (opt(STR), None, {}),
    "seed": (opt(INT), None, {}),
    "challenge_id": (STR, "", {}),
    "lyrics": (opt(STR), None, {}),
    "vocals_requested": (BOOL, False, {}),
    "is_organic": (BOOL, False, {}),
    "audio_b64": (opt(STR), None, {}),
    "sample_rate": (opt(INT), None, {}),
    "generation_time_ms": (opt(INT), None, {}),
    "model_id": (opt(STR), None, {}),
}
PING = {
    "version_check": (opt(STR), None, {}),
    "is_available": (BOOL, False, {}),
    "supported_genres": (opt(arr(STR)), None, {}),
    "supported_durations": (opt(arr(FLOAT)), None, {}),
    "gpu_model": (opt(STR), None, {}),
    "max_concurrent": (opt(INT), None, {}),
    "version": (opt(STR), None, {}),
}
# HealthReportSynapse: plain numbers with zero defaults, never null (the network's class).
HEALTH = {
    "gpu_utilization": (FLOAT, 0.0, {"minimum": 0, "maximum": 100}),
    "gpu_memory_used_mb": (FLOAT, 0.0, {"minimum": 0}),
    "cpu_percent": (FLOAT, 0.0, {"minimum": 0, "maximum": 100}),
    "memory_percent": (FLOAT, 0.0, {"minimum": 0, "maximum": 100}),
    "generations_completed": (INT, 0, {"minimum": 0}),
    "average_generation_time_ms": (FLOAT, 0.0, {"minimum": 0}),
    "uptime_seconds": (FLOAT, 0.0, {"minimum": 0}),
    "errors_last_hour": (INT, 0, {"minimum": 0}),
}
CONTRACTS = [(MusicGenerationSynapse, MUSIC), (PingSynapse, PING), (HealthReportSynapse, HEALTH)]
EMPTY_BODY_HASH = hashlib.sha3_256(b"").hexdigest()


def _schema_type(prop: dict) -> dict:
    keep = ("type", "items", "anyOf", "minimum", "maximum")
    if "anyOf" in prop:
        return {"anyOf": [{k: v for k, v in alt.items() if k in keep} for alt in prop["anyOf"]]}
    return {k: v for k, v in prop.items() if k in ("type", "items")}


def test_health_report_is_never_null_on_the_wire():
    """The network's peers rebuild the report with numeric fields: a null would be a 422/500 there."""
    body = json.loads(HealthReportSynapse().model_dump_json())
    for name in HEALTH:
        assert body[name] == 0 and body[name] is not None, name


def test_health_report_reads_the_old_null_form_as_zero():
    """Earlier TuneForge miners sent null for what they could not measure; our validator reads 0."""
    old = {name: None for name in HEALTH} | {"generations_completed": 4, "uptime_seconds": 12.5}
    report = HealthReportSynapse.model_validate_json(json.dumps(old))
    assert report.generations_completed == 4 and report.uptime_seconds == 12.5
    assert report.gpu_utilization == 0.0 and report.average_generation_time_ms == 0.0
    assert type(report.gpu_utilization) is float and type(report.errors_last_hour) is int


@pytest.mark.parametrize(("cls", "contract"), CONTRACTS, ids=lambda x: getattr(x, "__name__", ""))
def test_field_names_exact(cls, contract):
    assert set(cls.model_fields) - BASE_FIELDS == set(contract)


@pytest.mark.parametrize(("cls", "contract"), CONTRACTS, ids=lambda x: getattr(x, "__name__", ""))
def test_field_types_defaults_bounds(cls, contract):
    props = cls.model_json_schema()["properties"]
    instance = cls()
    for name, (schema_type, default, bounds) in contract.items():
        prop = props[name]
        assert _schema_type(prop) == schema_type, name
        assert prop.get("default") == default, name
        assert getattr(instance, name) == default, name
        assert type(getattr(instance, name)) is type(default), name
        for bound, value in bounds.items():
            assert prop[bound] == value, (name, bound)
        if not bounds:
            assert "minimum" not in prop and "maximum" not in prop, name


@pytest.mark.parametrize(
    ("cls", "field", "bad", "good"),
    [
        (MusicGenerationSynapse, "tempo_bpm", [19, 301, -1], [20, 300, 120]),
        (MusicGenerationSynapse, "duration_seconds", [0.99, 180.01, 0.0], [1.0, 180.0, 30.5]),
        (HealthReportSynapse, "gpu_utilization", [-0.1, 100.1], [0.0, 100.0]),
        (HealthReportSynapse, "cpu_percent", [-1, 101], [0, 100]),
        (HealthReportSynapse, "memory_percent", [-1, 100.5], [0, 99.9]),
        (HealthReportSynapse, "gpu_memory_used_mb", [-1.0], [0.0, 80000.0]),
        (HealthReportSynapse, "generations_completed", [-1], [0, 10**9]),
        (HealthReportSynapse, "average_generation_time_ms", [-0.5], [0.0]),
        (HealthReportSynapse, "uptime_seconds", [-1.0], [0.0]),
        (HealthReportSynapse, "errors_last_hour", [-1], [0, 7]),
    ],
)
def test_bounds_enforced(cls, field, bad, good):
    for value in bad:
        with pytest.raises(ValidationError):
            cls(**{field: value})
        with pytest.raises(ValidationError):
            cls.model_validate_json(json.dumps({field: value}))
    for value in good:
        assert getattr(cls(**{field: value}), field) == value


def test_wrong_types_rejected():
    with pytest.raises(ValidationError):
        MusicGenerationSynapse(tempo_bpm="fast")
    with pytest.raises(ValidationError):
        MusicGenerationSynapse(instruments="piano")
    with pytest.raises(ValidationError):
        HealthReportSynapse(generations_completed=1.5)


@pytest.mark.parametrize("cls", [MusicGenerationSynapse, PingSynapse, HealthReportSynapse])
def test_no_hash_fields_and_empty_body_hash(cls):
    assert cls.required_hash_fields == ()
    assert "required_hash_fields" not in cls.model_fields
    assert cls().body_hash == EMPTY_BODY_HASH


def test_body_hash_ignores_every_field():
    syn = MusicGenerationSynapse(prompt="jazz", tempo_bpm=90, seed=3, audio_b64="AAAA", challenge_id="c1")
    assert syn.body_hash == EMPTY_BODY_HASH
    assert syn.to_headers()["computed_body_hash"] == EMPTY_BODY_HASH


def test_headers_round_trip():
    syn = MusicGenerationSynapse(prompt="jazz", timeout=30.0)
    headers = syn.to_headers()
    assert headers["name"] == "MusicGenerationSynapse"
    assert float(headers["timeout"]) == 30.0
    inputs = MusicGenerationSynapse.parse_headers_to_inputs(headers)
    assert inputs["name"] == "MusicGenerationSynapse"
    assert float(inputs["timeout"]) == 30.0
    assert inputs["computed_body_hash"] == EMPTY_BODY_HASH


@pytest.mark.parametrize(
    "syn",
    [
        MusicGenerationSynapse(
            prompt="tense cinematic", genre="cinematic", mood="tense", tempo_bpm=100, duration_seconds=45.0,
            key_signature="F# minor", time_signature="6/8", instruments=["strings", "taiko"], seed=99,
            challenge_id="ch-1", lyrics=None, vocals_requested=False, is_organic=True,
            audio_b64="UklGRg==", sample_rate=32000, generation_time_ms=1234, model_id="musicgen-small",
        ),
        PingSynapse(version_check="1.0", is_available=True, supported_genres=["jazz"],
                    supported_durations=[5.0, 10.0, 15.0, 20.0, 30.0], gpu_model="H100", max_concurrent=2, version="0.1"),
        HealthReportSynapse(gpu_utilization=55.5, gpu_memory_used_mb=1024.0, cpu_percent=12.0,
                            memory_percent=40.0, generations_completed=10, average_generation_time_ms=800.0,
                            uptime_seconds=3600.0, errors_last_hour=0),
    ],
    ids=["music", "ping", "health"],
)
def test_json_round_trip(syn):
    body = syn.model_dump_json()
    back = type(syn).model_validate_json(body)
    assert back.model_dump() == syn.model_dump()
    assert json.loads(body)["name"] == type(syn).__name__


def test_attach_and_read_audio_round_trip():
    sr = 16000
    t = np.arange(sr) / sr
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 220 * t), 0.25 * np.sin(2 * np.pi * 330 * t)]).astype(np.float32)
    syn = MusicGenerationSynapse()
    syn.attach_audio(stereo, sr)
    assert syn.sample_rate == sr
    assert base64.b64decode(syn.audio_b64)[:4] == b"RIFF"
    clip = MusicGenerationSynapse.model_validate_json(syn.model_dump_json()).read_audio()
    assert clip.sample_rate == sr and clip.samples.shape == (2, sr) and clip.container == "wav"
    np.testing.assert_allclose(clip.samples, stereo, atol=1.0 / 32767 + 1e-6)


def test_read_audio_without_audio_is_rejected():
    with pytest.raises(AudioRejected) as err:
        MusicGenerationSynapse().read_audio()
    assert err.value.reason == "missing"


@pytest.mark.parametrize("cls", [MusicGenerationSynapse, PingSynapse, HealthReportSynapse])
def test_deserialize_returns_self(cls):
    syn = cls()
    assert syn.deserialize() is syn


# -- the network's form (tests/network_synapses.py holds the network's class definitions) ---------


@pytest.mark.parametrize("cls", [PingSynapse, HealthReportSynapse], ids=lambda c: c.__name__)
def test_same_fields_defaults_and_schema_as_the_network(cls):
    theirs = network_class(cls.__name__)
    assert set(cls.model_fields) == set(theirs.model_fields)
    ours_schema, their_schema = cls.model_json_schema()["properties"], theirs.model_json_schema()["properties"]
    for name in set(cls.model_fields) - BASE_FIELDS:
        assert _schema_type(ours_schema[name]) == _schema_type(their_schema[name]), name
        assert ours_schema[name].get("default") == their_schema[name].get("default"), name


def test_our_health_report_parses_as_the_networks_and_back():
    ours = HealthReportSynapse(cpu_percent=12.5, memory_percent=40.0, generations_completed=3,
                               average_generation_time_ms=812.0, uptime_seconds=99.0)
    theirs = network_class("HealthReportSynapse").model_validate_json(ours.model_dump_json())
    assert theirs.cpu_percent == 12.5 and theirs.gpu_utilization == 0.0 and theirs.generations_completed == 3
    back = HealthReportSynapse.model_validate_json(theirs.model_dump_json())
    assert back.model_dump() == ours.model_dump()
    # A default report (nothing measured yet) is valid on the network's side too.
    network_class("HealthReportSynapse").model_validate_json(HealthReportSynapse().model_dump_json())


def test_our_ping_parses_as_the_networks_and_back():
    ours = PingSynapse(is_available=True, supported_durations=served_durations(30.0), gpu_model="N/A",
                       supported_genres=["jazz"], max_concurrent=1, version="0.1.0")
    theirs = network_class("PingSynapse").model_validate_json(ours.model_dump_json())
    assert theirs.supported_durations == [5.0, 10.0, 15.0, 20.0, 30.0] and theirs.is_available is True
    assert PingSynapse.model_validate_json(theirs.model_dump_json()).model_dump() == ours.model_dump()


@pytest.mark.parametrize(
    ("max_seconds", "expected"),
    [
        (30.0, [5.0, 10.0, 15.0, 20.0, 30.0]),
        (47.0, [5.0, 10.0, 15.0, 20.0, 30.0]),
        (180.0, [5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0]),
        (10.0, [5.0, 10.0]),
        (3.0, [3.0]),
    ],
)
def test_served_durations_are_the_networks_discrete_lengths_capped(max_seconds, expected):
    assert served_durations(max_seconds) == expected


@pytest.mark.parametrize(
    ("supported", "expected"),
    [
        ([5, 10, 15, 20, 30], (5.0, 30.0)),  # the network's form
        ([1.0, 30.0], (1.0, 30.0)),  # our earlier [min, max] form
        ([30.0, 1.0], (1.0, 30.0)),
        ([10.0], (10.0, 10.0)),
        (None, None),
        ([], None),
        ([5.0, float("nan")], None),
        ([5.0, float("inf")], None),
        ([-5.0, 30.0], None),
        ([5.0, 1e9], None),  # beyond the protocol's 180 s: not a real capability
    ],
)
def test_duration_bounds_read_both_forms_and_refuse_nonsense(supported, expected):
    assert duration_bounds(supported) == expected
