"""FAD math and reference files, the FAD penalty, encoder reference statistics, and the
preference head (training script, loading, weight, refusal of a mismatched head)."""

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
from scipy import linalg  # noqa: E402
from tiny_models import build_tiny_clap, build_tiny_encoder  # noqa: E402

from scoring import constants as C  # noqa: E402
from scoring.fad import (  # noqa: E402
    EncoderReference,
    FadReference,
    build_reference,
    frechet_distance,
    frechet_distance_sqrtm,
    gaussian_stats,
    ledoit_wolf,
)
from scoring.features import Features  # noqa: E402
from scoring.history import MinerHistory  # noqa: E402
from scoring.models import ModelLoadError, load_models  # noqa: E402
from scoring.models.preference import PreferenceHead, preference_weight_for  # noqa: E402
from scoring.penalties import fad as fad_penalty  # noqa: E402
from scoring.request import ScoringRequest  # noqa: E402
from scoring.scorer import Scorer  # noqa: E402
from scoring.signals import neural_quality, preference  # noqa: E402
from scoring.signals.base import ScoringError, SignalContext, Unavailable  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SR = 16_000


def _script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fad_models")
    build_tiny_clap(d)
    build_tiny_encoder(d)
    return d


def _random_psd(d: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.3 + rng.standard_normal(d)
    return x.mean(axis=0), np.cov(x, rowvar=False)


# --- math --------------------------------------------------------------------------------------
def test_eigen_route_matches_scipy_sqrtm():
    mu1, s1 = _random_psd(48, 300, 0)
    mu2, s2 = _random_psd(48, 300, 1)
    fast = frechet_distance(mu1, s1, mu2, s2)
    ref = frechet_distance_sqrtm(mu1, s1, mu2, s2)
    assert fast == pytest.approx(ref, rel=1e-8)
    # and the trace term itself against scipy
    r1 = linalg.sqrtm(s1)
    assert np.real(np.trace(linalg.sqrtm(r1 @ s2 @ r1))) == pytest.approx(np.real(np.trace(linalg.sqrtm(s1 @ s2))), rel=1e-8)


def test_identical_gaussians_have_zero_distance():
    mu, s = _random_psd(16, 100, 3)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(mu + 1.0, s, mu, s) == pytest.approx(16.0, rel=1e-6)


def test_ledoit_wolf_repairs_rank_deficient_covariance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 64))
    cov, shrink = ledoit_wolf(x)
    assert 0.0 < shrink <= 1.0
    assert np.linalg.eigvalsh(cov).min() > 0  # full rank although n < d
    assert np.linalg.matrix_rank(np.cov(x, rowvar=False)) < 64
    _, s = gaussian_stats(x)
    np.testing.assert_allclose(s, cov)
    _, big = gaussian_stats(rng.standard_normal((200, 8)))  # n > d: plain unbiased covariance
    assert big.shape == (8, 8)
    with pytest.raises(ScoringError):
        gaussian_stats(x[:1])


def test_frechet_rejects_shape_mismatch():
    mu, s = _random_psd(4, 50, 0)
    with pytest.raises(ScoringError):
        frechet_distance(mu, s, mu[:3], s[:3, :3])


# --- reference and penalty ------------------------------------------------------------------------
def _reference(dim: int = 16, n: int = 80, seed: int = 0, **kw) -> tuple[FadReference, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    return build_reference(x, model_name="m", model_identity="abc", **kw), rng


def test_reference_roundtrip_and_penalty_shape(tmp_path):
    ref, rng = _reference()
    path = tmp_path / "ref.npz"
    ref.save(path)
    back = FadReference.load(path)
    np.testing.assert_array_equal(back.sigma, ref.sigma)
    assert back.model_identity == "abc" and back.window_clips == C.FAD_WINDOW_CLIPS and back.baseline.size > 0
    real_like, _ = back.penalty(rng.standard_normal((C.FAD_WINDOW_CLIPS, 16)))
    far, fad_far = back.penalty(rng.standard_normal((C.FAD_WINDOW_CLIPS, 16)) * 0.2 + 3.0)
    assert real_like > 0.9 and far == pytest.approx(C.FAD_PENALTY_FLOOR, abs=1e-3) and fad_far > 0
    with pytest.raises(ScoringError):
        back.penalty(np.zeros((5, 16)))


def test_reference_needs_enough_clips_and_a_real_file(tmp_path):
    with pytest.raises(ScoringError, match="at least"):
        build_reference(np.zeros((10, 4)), model_name="m", model_identity="x")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ScoringError, match="not a FAD reference"):
        FadReference.load(bad)


def _write_music(folder: Path, n: int) -> None:
    folder.mkdir()
    t = np.arange(SR) / SR
    for k in range(n):
        f0 = 110.0 * 2 ** (k / 12)
        x = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2.01 * f0 * t)
        sf.write(folder / f"clip{k:03d}.wav", x.astype(np.float32), SR)


@pytest.mark.slow
def test_build_reference_script_and_fad_penalty(tmp_path, models_dir):
    music = tmp_path / "music"
    _write_music(music, 2 * C.FAD_WINDOW_CLIPS)
    out = models_dir / "fad_reference.npz"
    builder = _script("build_fad_reference")
    assert builder.main(["--music-dir", str(tmp_path / "nothing"), "--models-dir", str(models_dir), "--out", str(out)]) == 2
    assert builder.main(["--music-dir", str(music), "--models-dir", str(models_dir), "--out", str(out)]) == 0
    try:
        bundle = load_models(models_dir)
        ref = bundle.fad_reference
        assert ref.model_identity == bundle.clap.identity and ref.encoder is not None
        # neural_quality now uses the encoder reference
        f = Features.from_audio(samples=np.asarray(sf.read(music / "clip005.wav")[0], np.float32), sample_rate=SR)
        req = ScoringRequest(prompt="a tone", duration_seconds=1.0)
        ctx = SignalContext(features=f, request=req, models=bundle, history=MinerHistory(), hotkey="m")
        assert 0.0 <= neural_quality.compute(ctx) <= 1.0
        # FAD needs a full window of this miner's clips
        with pytest.raises(Unavailable, match=f"needs {C.FAD_WINDOW_CLIPS}"):
            fad_penalty.compute(ctx)
        emb = f.get_extra("clap_audio_embedding")
        for _ in range(C.FAD_WINDOW_CLIPS - 1):
            ctx.history.add("m", embedding=emb)
        value = fad_penalty.compute(ctx)
        assert C.FAD_PENALTY_FLOOR <= value <= 1.0
        # a reference built with another CLAP is refused with a clear message
        FadReference(**{**ref.__dict__, "model_identity": "0000000000000000"}).save(out)
        with pytest.raises(ModelLoadError, match="build_fad_reference"):
            load_models(models_dir)
    finally:
        out.unlink(missing_ok=True)


def test_encoder_reference_score():
    rng = np.random.default_rng(0)
    stack = rng.standard_normal((50, 3, 8))
    mean, std = stack.mean(axis=0), stack.std(axis=0)
    from scoring.fad import encoder_distance

    dists = np.array([encoder_distance(m, mean=mean, std=std) for m in stack])
    ref = EncoderReference(name="e", identity="i", mean=mean, std=std, distances=dists)
    assert ref.score(mean) == 1.0
    assert ref.score(mean + 50 * std) == 0.0


# --- preference ---------------------------------------------------------------------------------------
def _pairs_file(path: Path, *, dim: int, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(dim)
    with path.open("w") as fh:
        for _ in range(n):
            a, b = rng.standard_normal(dim), rng.standard_normal(dim)
            winner = "a" if a @ direction > b @ direction else "b"
            fh.write(json.dumps({"a_emb": a.tolist(), "b_emb": b.tolist(), "prompt": "x", "winner": winner}) + "\n")


def test_preference_weight_curve():
    assert preference_weight_for(0.45) == 0.0
    assert preference_weight_for(0.5) == pytest.approx(C.PREFERENCE_WEIGHT_MIN)
    assert preference_weight_for(0.65) == pytest.approx((C.PREFERENCE_WEIGHT_MIN + C.PREFERENCE_WEIGHT_MAX) / 2)
    assert preference_weight_for(0.95) == pytest.approx(C.PREFERENCE_WEIGHT_MAX)
    assert preference_weight_for(float("nan")) == 0.0


def test_train_preference_and_use_the_head(tmp_path, models_dir):
    trainer = _script("train_preference")
    pairs = tmp_path / "pairs.jsonl"
    _pairs_file(pairs, dim=16, n=400)
    head_path = models_dir / "preference_head.pt"
    try:
        args = ["--pairs", str(pairs), "--out", str(head_path), "--models-dir", str(models_dir), "--epochs", "40"]
        assert trainer.main(args) == 0
        head = PreferenceHead.load(head_path)
        assert head.val_accuracy > 0.8 and head.embedding_dim == 16
        bundle = load_models(models_dir)
        assert bundle.preference_weight() == pytest.approx(preference_weight_for(head.val_accuracy))
        assert bundle.preference_weight() > 0
        t = np.arange(2 * SR) / SR
        out = Scorer(models=bundle).score(samples=(0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32),
                                          sample_rate=SR, request=ScoringRequest(prompt="tone", duration_seconds=2.0))
        assert 0.0 < out.signals["preference"] < 1.0 and out.weights["preference"] > 0
        # same seed, same head
        head2 = tmp_path / "again.pt"
        assert trainer.main(args[:2] + ["--out", str(head2)] + args[4:]) == 0
        assert PreferenceHead.load(head2).val_accuracy == head.val_accuracy
        # a head for another embedding dimension is refused
        other = tmp_path / "pairs8.jsonl"
        _pairs_file(other, dim=8, n=60)
        assert trainer.main(["--pairs", str(other), "--out", str(head_path), "--embedding-model", "x",
                             "--epochs", "2"]) == 0
        with pytest.raises(ModelLoadError, match="train_preference"):
            load_models(models_dir)
    finally:
        head_path.unlink(missing_ok=True)


def test_train_preference_bad_input(tmp_path):
    trainer = _script("train_preference")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a_emb": [1, 2], "b_emb": [2, 1], "winner": "c"}\n')
    assert trainer.main(["--pairs", str(bad), "--out", str(tmp_path / "h.pt"), "--embedding-model", "x"]) == 2
    bad.write_text("not json\n")
    assert trainer.main(["--pairs", str(bad), "--out", str(tmp_path / "h.pt"), "--embedding-model", "x"]) == 2
    assert not (tmp_path / "h.pt").exists()
    with pytest.raises(ModelLoadError):
        PreferenceHead.load(bad)


def test_preference_unavailable_without_head():
    f = Features.from_audio(samples=np.zeros(SR, np.float32) + 0.1, sample_rate=SR)
    with pytest.raises(Unavailable, match="model absent: preference head"):
        preference.compute(SignalContext(features=f, request=ScoringRequest(prompt="", duration_seconds=1.0)))
