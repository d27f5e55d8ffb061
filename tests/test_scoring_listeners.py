"""The wheel listeners behind the weight-free routes: musicnn embedding, typicality, FAD window,
diversity and the history embedding; fallbacks when a listener is absent; determinism."""

import json
import subprocess
import sys

import numpy as np
import pytest

from scoring import constants as C
from scoring import listeners
from scoring.features import Features
from scoring.history import MinerHistory
from scoring.listener_reference import Typicality, build_musicnn_reference, build_typicality, layer_view
from scoring.penalties import fad as fad_penalty
from scoring.request import ScoringRequest
from scoring.scorer import history_embedding
from scoring.signals import diversity, neural_quality
from scoring.signals.base import SignalContext, Unavailable

SR = 22_050
pytestmark = pytest.mark.skipif(not listeners.status().complete, reason=listeners.status().describe())


def _piece(seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    """A plucked arpeggio with a bass and a hi-hat: decaying harmonic notes on a beat grid."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    beat = SR // 2
    roots = [48, 53, 55, 48]
    for k, start in enumerate(range(0, n - beat, beat // 2)):
        midi = roots[(k // 8) % 4] + (0, 4, 7, 12)[k % 4] + 12
        t = np.arange(min(beat, n - start)) / SR
        f = 440.0 * 2 ** ((midi - 69) / 12)
        tone = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 6)) * np.exp(-t / 0.25)
        out[start : start + t.size] += 0.2 * tone
        hat = rng.standard_normal(t.size) * np.exp(-t / 0.02) * 0.05
        out[start : start + t.size] += hat
    return out.astype(np.float32)


def _features(x: np.ndarray) -> Features:
    return Features(samples=x[None, :], sample_rate=SR)


def _ctx(features: Features, **kw) -> SignalContext:
    return SignalContext(features=features, request=ScoringRequest(prompt="an arpeggio", duration_seconds=8.0), **kw)


def test_musicnn_embedding_is_400_finite_and_both_taggers_tag() -> None:
    f = _features(_piece())
    emb = f.musicnn_embedding
    assert emb.shape == (400,) and emb.dtype == np.float32 and np.all(np.isfinite(emb))
    assert set(f.musicnn) == {"MTT_musicnn", "MSD_musicnn"}
    for out in f.musicnn.values():
        assert out.tags.shape == (50,) and np.all((out.tags >= 0) & (out.tags <= 1))
        assert out.taggram.shape[0] <= C.MUSICNN_MAX_PATCHES
    assert f.transcription is not None and len(f.transcription.notes) > 5
    assert f.transcription.analysed_s <= C.NOTES_MAX_SECONDS + 1e-6


def test_history_embedding_prefers_clap_then_musicnn_then_dsp(monkeypatch: pytest.MonkeyPatch) -> None:
    f = _features(_piece())
    assert history_embedding(f).shape == (400,)
    f.set_extra("clap_audio_embedding", np.ones(512, dtype=np.float32) / np.sqrt(512))
    assert history_embedding(f).shape == (512,)
    g = _features(_piece())
    g.__dict__["musicnn_embedding"] = None  # musicnn absent for this clip
    assert history_embedding(g).shape == (C.DSP_EMBEDDING_DIM,)


def test_shipped_references_load_and_match_the_installed_musicnn() -> None:
    ref = listeners.musicnn_reference()
    typical = listeners.musicnn_typicality()
    assert ref is not None and typical is not None
    assert ref.window_clips == C.MUSICNN_FAD_WINDOW_CLIPS and ref.dim == 400
    assert ref.n_clips >= 2 * ref.window_clips
    assert typical.mean.shape == (1506,) and typical.distances.size >= 32


def test_typicality_a_pure_sine_is_far_from_real_music() -> None:
    t = np.arange(8 * SR) / SR
    piece = _features(_piece())
    sine = _features((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    noise = _features((0.1 * np.random.default_rng(1).standard_normal(t.size)).astype(np.float32))
    value = {name: neural_quality.compute(_ctx(f)) for name, f in (("piece", piece), ("sine", sine), ("noise", noise))}
    assert all(0.0 <= v <= 1.0 for v in value.values())
    assert value["sine"] < 0.1 and value["sine"] < value["piece"] and value["sine"] < value["noise"]
    ctx = _ctx(piece)
    neural_quality.compute(ctx)
    assert piece.get_extra("signal_source:neural_quality") == listeners.MUSICNN_SOURCE


def test_neural_quality_without_musicnn_is_unavailable_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listeners, "musicnn_typicality", lambda: None)
    with pytest.raises(Unavailable, match="model absent"):
        neural_quality.compute(_ctx(_features(_piece())))


def test_woodbury_mahalanobis_matches_the_explicit_inverse() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20, 12)) @ rng.standard_normal((12, 30))
    typical = build_typicality(x, [f"s{i % 4}" for i in range(20)], identity="test")
    from scoring.fad import ledoit_wolf

    cov, _ = ledoit_wolf(x - x.mean(axis=0))
    v = rng.standard_normal(30)
    d = v - x.mean(axis=0)
    explicit = float(np.sqrt(d @ np.linalg.solve(cov, d) / d.size))
    assert typical.distance(v) == pytest.approx(explicit, rel=1e-6)
    assert np.all(np.isfinite(typical.distances))


def test_typicality_file_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, 8))
    t = build_typicality(x, ["a", "a", "b", "b", "c", "c"] * 2, identity="id")
    t.save(tmp_path / "t.npz")
    u = Typicality.load(tmp_path / "t.npz")
    v = rng.standard_normal(8)
    assert u.distance(v) == pytest.approx(t.distance(v), rel=1e-5)
    (tmp_path / "bad.npz").write_bytes(b"not a file")
    with pytest.raises(Exception, match="not a typicality file"):
        Typicality.load(tmp_path / "bad.npz")


def test_loo_distances_leave_the_source_out() -> None:
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3, 400))
    # three sources, six near-identical segments each: in-sample distances would be tiny
    emb = np.concatenate([base[k] + 0.01 * rng.standard_normal((12, 400)) for k in range(3)])
    rec = [f"src{k}" for k in range(3) for _ in range(12)]
    ref = build_musicnn_reference(emb, rec, identity="x", window=8)
    in_sample = np.array([np.sqrt(np.mean(((layer_view(e) - ref.encoder.mean) / ref.encoder.std) ** 2)) for e in emb])
    assert np.median(ref.encoder.distances) > 3 * np.median(in_sample)


def test_fad_penalty_musicnn_window_from_history() -> None:
    history = MinerHistory(maxlen=64)
    clips = [_features(_piece(seed=k)) for k in range(2)]
    ctx = _ctx(clips[0], history=history, hotkey="m")
    with pytest.raises(Unavailable, match="musicnn-embedded clips"):
        fad_penalty.compute(ctx)
    for k in range(C.MUSICNN_FAD_WINDOW_CLIPS - 1):
        history.add("m", embedding=history_embedding(clips[k % 2]))
    value = fad_penalty.compute(ctx)
    assert C.FAD_PENALTY_FLOOR <= value <= 1.0
    assert clips[0].get_extra("signal_source:fad_penalty") == listeners.MUSICNN_SOURCE


def test_diversity_uses_musicnn_and_never_mixes_kinds() -> None:
    from scoring.signals.base import RoundContext

    a, b = _features(_piece(seed=0)), _features(_piece(seed=1))
    t = np.arange(8 * SR) / SR
    c = _features((0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32))
    vec, kind = diversity.clip_embedding(a)
    assert kind == "musicnn" and vec.shape == (400,)
    same = diversity.compute(_ctx(a, round=RoundContext(entries={"b": b})))
    far = diversity.compute(_ctx(a, round=RoundContext(entries={"c": c})))
    assert 0.0 <= same < far <= 1.0
    d = _features(_piece(seed=2))
    d.set_extra("clap_audio_embedding", np.ones(512, dtype=np.float32) / np.sqrt(512))
    with pytest.raises(Unavailable):  # a CLAP clip has no same-kind neighbour here
        diversity.compute(_ctx(d, round=RoundContext(entries={"a": a})))


def test_listener_outputs_identical_across_processes(tmp_path) -> None:
    x = _piece(seconds=6.0)
    np.save(tmp_path / "x.npy", x)
    code = (
        "import json, sys, numpy as np\n"
        "from scoring.features import Features\n"
        "f = Features(samples=np.load(sys.argv[1])[None, :], sample_rate=22050)\n"
        "print(json.dumps({'emb': f.musicnn_embedding.tobytes().hex(),"
        " 'notes': [(n.start_s, n.end_s, n.midi_pitch, n.amplitude) for n in f.transcription.notes]}))\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.npy")], capture_output=True, text=True,
                           check=True) for _ in range(2)]
    outs = [json.loads(r.stdout.strip().splitlines()[-1]) for r in runs]
    assert outs[0] == outs[1]
    here = _features(x)
    assert here.musicnn_embedding.tobytes().hex() == outs[0]["emb"]


def test_typicality_without_a_source_refits_as_if_never_seen() -> None:
    rng = np.random.default_rng(6)
    x = np.concatenate([rng.standard_normal((5, 10)) + 5.0 * k for k in range(4)])
    rec = [f"s{k}" for k in range(4) for _ in range(5)]
    full = build_typicality(x, rec, identity="t")
    held = full.without("s3")
    direct = build_typicality(x[:15], rec[:15], identity="t")
    probe = x[-1]
    assert held.distance(probe) == pytest.approx(direct.distance(probe), rel=1e-9)
    assert held.distance(probe) > full.distance(probe)
    assert "s3" not in held.sources and len(held.sources) == 15
