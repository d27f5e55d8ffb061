"""Audiobox Aesthetics behind ``learned_mos`` and ``neural_quality``: parity of our port with the
original package (outputs stored by scripts/aesthetics_reference.py), tiny random models saved in
both checkpoint layouts and loaded through ``scoring.models.load_models``, windowing, batching,
the signals and the breakdown's ``sources``, determinism, and broken or hostile checkpoints.

Random weights say nothing about music: these tests check the plumbing, not what scores mean.
"""

import hashlib
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from tiny_models import TINY_AESTHETICS_WAVLM, build_tiny_aesthetics  # noqa: E402

from scoring import listeners  # noqa: E402
from scoring.breakdown import ScoreBreakdown  # noqa: E402
from scoring.curves import ramp  # noqa: E402
from scoring.features import Features  # noqa: E402
from scoring.models import EXTRA_AESTHETICS, ModelLoadError, ModelsMissing, load_models  # noqa: E402
from scoring.models.aesthetics import AXES, AestheticsScores, inference_windows  # noqa: E402
from scoring.models.wavlm import ConfigError, WavLMConfig, parse_conv_layers  # noqa: E402
from scoring.request import ScoringRequest  # noqa: E402
from scoring.scorer import RoundEntry, Scorer  # noqa: E402
from scoring.signals import learned_mos, neural_quality  # noqa: E402
from scoring.signals.base import SignalContext, Unavailable  # noqa: E402

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
SR = 32_000
AES = "audiobox-aesthetics"


def _load_script():
    spec = importlib.util.spec_from_file_location("aesthetics_reference", REPO / "scripts" / "aesthetics_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = _load_script()


def _tone(seconds: float, *, f0: float = 220.0, seed: int = 0, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.02 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def _request(**kw) -> ScoringRequest:
    base = dict(prompt="calm piano with strings", duration_seconds=6.0)
    base.update(kw)
    return ScoringRequest(**base)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("aes_models")
    build_tiny_aesthetics(root)
    return root


@pytest.fixture(scope="module")
def bundle(tiny_dir):
    return load_models(tiny_dir)


def _reference_dir(tmp_path: Path, model: str) -> Path:
    meta = json.loads((DATA / "aesthetics_reference.json").read_text())["models"][model]
    target = tmp_path / model / AES
    target.mkdir(parents=True)
    shutil.copy(DATA / meta["checkpoint"], target / "checkpoint.pt")
    return tmp_path / model


# --- parity with the original package ---------------------------------------------------------
def test_reference_data_is_intact():
    meta = json.loads((DATA / "aesthetics_reference.json").read_text())
    assert set(meta["models"]) == set(REF.MODELS)
    assert [c["name"] for c in meta["clips"]] == [c[0] for c in REF.CLIPS]
    for model in meta["models"].values():
        assert hashlib.sha256((DATA / model["checkpoint"]).read_bytes()).hexdigest() == model["sha256"]


@pytest.mark.parametrize("model", sorted(REF.MODELS))
def test_port_matches_the_package_on_its_own_checkpoints(tmp_path, model):
    """The package's checkpoint.pt (its own training-checkpoint format), read by our loader,
    gives the package's per-clip axes through our windowing, weighting and de-standardising;
    stereo goes through ``Features``' channel mean and ``prepare`` as the scorer runs it."""
    meta = json.loads((DATA / "aesthetics_reference.json").read_text())["models"][model]
    b = load_models(_reference_dir(tmp_path, model))
    assert b.aesthetics is not None
    feats = [Features.from_audio(samples=REF.reference_clip(n, ch, seed), sample_rate=REF.SR)
             for _, n, ch, seed in REF.CLIPS]
    b.prepare(feats, [_request()] * len(feats))
    for (name, n, _, _), f in zip(REF.CLIPS, feats):
        got = f.get_extra(EXTRA_AESTHETICS)
        want = meta["batched"][name]
        assert got.windows == len(inference_windows(n))
        for axis in AXES:
            assert got.axis(axis) == pytest.approx(want[axis], abs=2e-6), (name, axis)


def test_parity_would_catch_a_wrong_window_weight(tmp_path):
    """The reference separates a correct pipeline from one that weighs every window equally (the
    stereo clip's 2.5 s tail window weighs 0.25): the parity test can fail."""
    meta = json.loads((DATA / "aesthetics_reference.json").read_text())["models"]["released"]
    predictor = load_models(_reference_dir(tmp_path, "released")).aesthetics
    _, n, ch, seed = next(c for c in REF.CLIPS if c[0] == "stereo")
    mono = REF.reference_clip(n, ch, seed).mean(axis=0)
    window = 10 * REF.SR
    parts = [predictor.predict([mono[s : s + length]])[0] for s, length in inference_windows(n)]
    equal = {a: float(np.mean([p.axis(a) for p in parts])) for a in AXES}
    assert max(abs(equal[a] - meta["batched"]["stereo"][a]) for a in AXES) > 1e-4
    weighted = {a: (parts[0].axis(a) * 1.0 + parts[1].axis(a) * (n - window) / window) / (1 + (n - window) / window)
                for a in AXES}
    assert max(abs(weighted[a] - meta["batched"]["stereo"][a]) for a in AXES) < 2e-6


@pytest.mark.skipif(importlib.util.find_spec("audiobox_aesthetics") is None and not os.environ.get("AUDIOBOX_AESTHETICS_PATH"),
                    reason="audiobox-aesthetics package not importable (set AUDIOBOX_AESTHETICS_PATH to its directory)")
def test_live_parity_with_the_package_forward():
    """When the package is importable: its AesMultiOutput and ours, same random state dict,
    same padded batch, give the same standardised predictions."""
    if os.environ.get("AUDIOBOX_AESTHETICS_PATH"):
        sys.path.insert(0, os.environ["AUDIOBOX_AESTHETICS_PATH"])
    from audiobox_aesthetics.model import aes
    from audiobox_aesthetics.model import wavlm as pkg_wavlm

    from scoring.models.aesthetics_model import AesMultiOutput, HeadConfig

    for spec in REF.MODELS.values():
        theirs, tt = REF.build_reference_model(aes, pkg_wavlm, spec)
        ours = AesMultiOutput(HeadConfig.from_dict(spec["head"], tt), WavLMConfig.from_dict(spec["wavlm_config"])).eval()
        ours.load_state_dict(theirs.state_dict(), strict=True)
        rng = np.random.default_rng(5)
        wav = torch.from_numpy((0.1 * rng.standard_normal((3, 160_000))).astype(np.float32))
        mask = torch.ones(3, 160_000, dtype=torch.bool)
        mask[1, 70_000:] = False
        mask[2, 500:] = False
        wav[~mask] = 0.0
        with torch.inference_mode():
            a = theirs({"wav": wav[:, None], "mask": mask[:, None]})
            b = ours(wav, mask)
        for axis in AXES:
            torch.testing.assert_close(b[axis], a[axis], atol=1e-6, rtol=0)


# --- loading ----------------------------------------------------------------------------------------
def test_both_layouts_load_the_same_model(tmp_path):
    hub = load_models(build_tiny_aesthetics(tmp_path / "hub", seed=3).parent).aesthetics
    ckpt = load_models(build_tiny_aesthetics(tmp_path / "ckpt", seed=3, layout="checkpoint").parent).aesthetics
    assert (tmp_path / "hub" / AES / "model.safetensors").is_file() and (tmp_path / "ckpt" / AES / "checkpoint.pt").is_file()
    clip = [(_tone(4.0), SR)]
    assert hub.predict_recordings(clip) == ckpt.predict_recordings(clip)
    assert len(hub.identity) == 16 and hub.name == AES


def test_safetensors_layout_is_preferred_over_the_pickle(tmp_path):
    """With both layouts present the pickle is never opened (here it is garbage)."""
    d = build_tiny_aesthetics(tmp_path)
    (d / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert load_models(tmp_path).aesthetics is not None


def test_absent_model_is_listed_and_required(tmp_path, tiny_dir):
    empty = load_models(tmp_path)
    assert empty.aesthetics is None and "aesthetics" in empty.missing
    assert empty.absent("aesthetics").reason == "model absent: aesthetics"
    with pytest.raises(ModelsMissing, match="aesthetics"):
        load_models(tmp_path / "nowhere", require=True)
    with pytest.raises(ModelsMissing) as err:
        load_models(tiny_dir, require=True)  # aesthetics is there; the others are not
    assert "aesthetics" not in err.value.missing and "clap" in err.value.missing


def _corrupt(tmp_path: Path, how: str) -> Path:
    layout = "checkpoint" if how in ("truncated_pt", "foreign_pickle", "no_state_dict") else "safetensors"
    d = build_tiny_aesthetics(tmp_path, layout=layout)
    if how == "truncated_pt":
        data = (d / "checkpoint.pt").read_bytes()
        (d / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    elif how == "no_state_dict":
        torch.save({"weights": {}}, d / "checkpoint.pt")
    elif how == "truncated_safetensors":
        data = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(data[: len(data) // 3])
    elif how == "bad_json":
        (d / "config.json").write_text("{not json")
    elif how == "no_targets":
        cfg = json.loads((d / "config.json").read_text())
        del cfg["target_transform"]
        (d / "config.json").write_text(json.dumps(cfg))
    elif how == "zero_std":
        cfg = json.loads((d / "config.json").read_text())
        cfg["target_transform"]["PQ"]["std"] = 0.0
        (d / "config.json").write_text(json.dumps(cfg))
    elif how == "other_architecture":
        cfg = json.loads((d / "config.json").read_text())
        cfg["wavlm_config"] = dict(cfg["wavlm_config"], encoder_embed_dim=48, encoder_attention_heads=4)
        (d / "config.json").write_text(json.dumps(cfg))
    elif how == "default_architecture":
        cfg = json.loads((d / "config.json").read_text())
        del cfg["wavlm_config"]  # the real checkpoint's case: full-size encoder; tiny weights do not fit
        cfg["nth_layer"] = 13
        (d / "config.json").write_text(json.dumps(cfg))
    elif how == "nan_weights":
        from safetensors.torch import load_file, save_file

        state = load_file(str(d / "model.safetensors"))
        state["proj_layer.PQ.0.weight"][0, 0] = float("nan")
        save_file(state, str(d / "model.safetensors"))
    elif how == "missing_files":
        (d / "model.safetensors").unlink()
    elif how == "code_in_config":
        cfg = json.loads((d / "config.json").read_text())
        cfg["wavlm_config"] = dict(cfg["wavlm_config"], conv_feature_layers="__import__('os').system('true') or []")
        (d / "config.json").write_text(json.dumps(cfg))
    elif how == "nth_layer":
        cfg = json.loads((d / "config.json").read_text())
        cfg["nth_layer"] = 2
        (d / "config.json").write_text(json.dumps(cfg))
    return tmp_path


@pytest.mark.parametrize(("how", "message"), [
    ("truncated_pt", "cannot read"),
    ("no_state_dict", "no 'state_dict'"),
    ("truncated_safetensors", "cannot read"),
    ("bad_json", "cannot read"),
    ("no_targets", "target_transform"),
    ("zero_std", "std > 0"),
    ("other_architecture", "does not match"),
    ("default_architecture", "does not match"),
    ("nan_weights", "non-finite"),
    ("missing_files", "holds neither"),
    ("code_in_config", "unsupported expression"),
    ("nth_layer", "one weight per layer output"),
])
def test_broken_checkpoint_is_a_clear_error(tmp_path, how, message):
    with pytest.raises(ModelLoadError, match=message):
        load_models(_corrupt(tmp_path, how))


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch " + str(_Payload.marker),))


def test_pickled_code_in_checkpoint_is_refused_not_run(tmp_path):
    """A checkpoint.pt carrying a pickled call (what a tampered download could hold) is refused
    by ``weights_only`` loading, and the call never runs."""
    _Payload.marker = tmp_path / "pwned"
    d = tmp_path / "models" / AES
    d.mkdir(parents=True)
    torch.save({"state_dict": {}, "model_cfg": {}, "target_transform": _Payload()}, d / "checkpoint.pt",
               pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(ModelLoadError, match="cannot read"):
        load_models(tmp_path / "models")
    assert not _Payload.marker.exists()


def test_corrupt_aesthetics_stops_a_validator_with_required_models(tmp_path):
    from test_validator_doubles import NETUID, FakeDendrite, local_chain

    from tuneforge.validator.config import ValidatorConfig
    from tuneforge.validator.neuron import Validator, ValidatorStartupError

    models = _corrupt(tmp_path / "models", "truncated_pt")
    chain, wallet, behaviours, _ = local_chain(["good"])
    config = ValidatorConfig(netuid=NETUID, network="localchain", state_dir=str(tmp_path / "state"), api_off=True,
                             require_models=True, models_dir=str(models))
    validator = Validator(config, wallet=wallet, subtensor=chain, dendrite=FakeDendrite(behaviours))
    with pytest.raises(ValidatorStartupError, match="checkpoint.pt"):
        validator.setup()


def test_wavlm_config_parsing():
    assert parse_conv_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2") == WavLMConfig().conv_feature_layers
    assert WavLMConfig().downsample == 320
    assert parse_conv_layers([[8, 4, 2]]) == ((8, 4, 2),)
    for bad in ("[(1,2)]", "open('x')", "[(1,2,3)] * 1000", "[(0,2,2)]", "[]"):
        with pytest.raises(ConfigError):
            parse_conv_layers(bad)
    with pytest.raises(ConfigError, match="unknown"):
        WavLMConfig.from_dict({"encoder_layer": 3})
    with pytest.raises(ConfigError, match="batch"):
        WavLMConfig.from_dict({"normalize": True})
    assert WavLMConfig.from_dict({"dropout": 0.3, "mask_prob": 0.5}) == WavLMConfig()  # training-only keys


# --- windowing and prediction -------------------------------------------------------------------
def test_inference_windows_follow_infer_py():
    w = 160_000
    assert inference_windows(48_000) == [(0, 48_000)]
    assert inference_windows(w) == [(0, w)]
    assert inference_windows(w + 1) == [(0, w), (w, 1)]
    assert inference_windows(3 * w) == [(0, w), (w, w), (2 * w, w)]
    assert len(inference_windows(180 * 16_000)) == 18
    with pytest.raises(ValueError):
        inference_windows(0)


def test_scores_have_four_axes_and_window_counts(bundle):
    a = bundle.aesthetics
    out = a.predict_recordings([(_tone(3.0), SR), (_tone(25.0, seed=1), SR), (_tone(10.0, seed=2), 48_000)])
    assert [s.windows for s in out] == [1, 3, 1]
    for s in out:
        assert isinstance(s, AestheticsScores) and set(s.as_dict()) == set(AXES)
        assert all(np.isfinite(v) and -5.0 < v < 15.0 for v in s.as_dict().values())
    assert len({s.PQ for s in out}) == 3  # different clips, different scores
    with pytest.raises(KeyError):
        out[0].axis("XX")


def test_hostile_audio_gives_finite_axes(bundle):
    """What a miner can send past the intake (finite, within full scale) gives finite axes: a
    window of exact digital silence (zero conv output into the group norm), a full-scale square
    wave, pure DC, a lone click, a clip of a few milliseconds (one real 20 ms frame)."""
    n = 12 * SR
    half_silent = np.concatenate([_tone(2.0), np.zeros(n - 2 * SR, np.float32)])
    square = np.where(np.arange(n) % 64 < 32, 1.0, -1.0).astype(np.float32)
    dc = np.full(n, 0.5, np.float32)
    click = np.zeros(n, np.float32)
    click[n // 2] = 1.0
    tiny = _tone(0.004)
    out = bundle.aesthetics.predict_recordings([(x, SR) for x in (half_silent, square, dc, click, tiny)])
    assert [s.windows for s in out] == [2, 2, 2, 2, 1]
    for s in out:
        assert all(np.isfinite(v) for v in s.as_dict().values())


def test_resampling_reaches_16k_once(bundle):
    a = bundle.aesthetics
    x = _tone(2.0, sr=44_100)
    y = a.resample(x, sample_rate=44_100)
    assert y.dtype == np.float32 and abs(y.shape[0] - 32_000) <= 1
    np.testing.assert_array_equal(a.resample(y, sample_rate=16_000), y)  # already at 16 kHz: untouched
    with pytest.raises(ValueError):
        a.resample(np.zeros((2, 100), np.float32), sample_rate=16_000)


def test_a_round_mate_cannot_move_a_clips_scores(bundle):
    """Batched over a round equals clip by clip, exactly: what another miner sends in the same
    round does not change this clip's aesthetics (windows run one at a time on the CPU)."""
    a = bundle.aesthetics
    mine = (_tone(12.0, seed=3), SR)
    others = [(np.random.default_rng(9).standard_normal(SR * 7).astype(np.float32), SR), (_tone(31.0, f0=90.0), SR)]
    alone = a.predict_recordings([mine])[0]
    assert a.predict_recordings([others[0], mine, others[1]])[1] == alone
    assert a.predict_recordings([mine] + others)[0] == alone


def test_multi_window_batches_agree_with_one_window_passes(tiny_dir):
    """The off-CPU route (several windows per forward pass, padded tails masked) gives what one
    window per pass gives, up to float rounding: padding in a batch mate never leaks into a clip."""
    a = load_models(tiny_dir).aesthetics
    recordings = [(_tone(12.5, seed=6), SR), (_tone(3.0, seed=7), SR), (_tone(21.0, f0=150.0, seed=8), SR)]
    one = a.predict_recordings(recordings)
    a.batch_windows = 4  # 6 windows: a batch of 4 (two of them padded tails) and a batch of 2
    try:
        many = a.predict_recordings(recordings)
    finally:
        a.batch_windows = 1
    assert [s.windows for s in many] == [s.windows for s in one] == [2, 1, 3]
    for x, y in zip(one, many):
        for axis in AXES:
            assert y.axis(axis) == pytest.approx(x.axis(axis), abs=1e-5)


def test_prepare_batch_equals_clip_by_clip(tiny_dir):
    b = load_models(tiny_dir)
    clips = [_tone(5.0, seed=k, f0=200.0 + 50 * k) for k in range(3)]
    together = [Features.from_audio(samples=c, sample_rate=SR) for c in clips]
    b.prepare(together, [_request()] * 3)
    for c, f in zip(clips, together):
        solo = Features.from_audio(samples=c, sample_rate=SR)
        b.prepare([solo], [_request()])
        assert solo.get_extra(EXTRA_AESTHETICS) == f.get_extra(EXTRA_AESTHETICS)


def test_deterministic_across_loads_and_processes(tiny_dir):
    clip = [(_tone(11.0, seed=4), SR)]
    first = load_models(tiny_dir).aesthetics.predict_recordings(clip)[0]
    second = load_models(tiny_dir).aesthetics.predict_recordings(clip)[0]
    assert first == second
    code = (
        "import json, sys; import numpy as np; sys.path.insert(0, 'tests');"
        "from test_scoring_aesthetics import _tone, SR; from scoring.models import load_models;"
        f"s = load_models({str(tiny_dir)!r}).aesthetics.predict_recordings([(_tone(11.0, seed=4), SR)])[0];"
        "print(json.dumps(s.as_dict()))"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == first.as_dict()


# --- signals and breakdown ------------------------------------------------------------------------
def test_signals_map_the_axes(bundle):
    f = Features.from_audio(samples=_tone(6.0), sample_rate=SR)
    ctx = SignalContext(features=f, request=_request(), models=bundle)
    mos, nq = learned_mos.compute(ctx), neural_quality.compute(ctx)
    s = f.get_extra(EXTRA_AESTHETICS)
    assert mos == pytest.approx(ramp(0.5 * s.PQ + 0.5 * s.CE, 3.0, 8.0))
    assert nq == pytest.approx(ramp(0.75 * s.PQ + 0.25 * s.PC, 3.0, 7.0))
    assert 0.0 < mos < 1.0 and 0.0 < nq < 1.0  # the tiny model lands inside both ramps: not a clipped constant


def test_axis_maps_on_known_scores():
    def scores(**axes):
        return AestheticsScores(**{a: axes.get(a, 5.0) for a in AXES}, windows=1)

    assert learned_mos.from_aesthetics(scores(PQ=8.0, CE=8.0)) == 1.0
    assert learned_mos.from_aesthetics(scores(PQ=3.0, CE=3.0)) == 0.0
    assert learned_mos.from_aesthetics(scores(PQ=6.0, CE=5.0)) == pytest.approx(0.5)
    assert learned_mos.from_aesthetics(scores(PQ=11.0, CE=11.0)) == 1.0  # beyond the scale: clipped
    assert neural_quality.from_aesthetics(scores(PQ=7.0, PC=7.0)) == 1.0
    assert neural_quality.from_aesthetics(scores(PQ=7.5, PC=1.0)) == pytest.approx((0.75 * 7.5 + 0.25 - 3) / 4)
    # content usefulness never enters either signal
    assert learned_mos.from_aesthetics(scores(CU=1.0)) == learned_mos.from_aesthetics(scores(CU=10.0))


def test_scorer_reports_which_model_produced_the_values(bundle):
    out = Scorer(models=bundle).score(samples=_tone(6.0), sample_rate=SR, request=_request())
    assert out.signals["learned_mos"] is not None and out.signals["neural_quality"] is not None
    src = f"{AES} ({bundle.aesthetics.identity})"
    assert out.sources["learned_mos"] == src and out.sources["neural_quality"] == src
    # the other signals' sources are the wheel listeners' (or none)
    assert set(out.sources.values()) - {src} <= {listeners.MUSICNN_SOURCE, listeners.NOTES_SOURCE}
    d = out.to_dict()
    assert d["sources"] == out.sources and ScoreBreakdown.from_dict(d).sources == out.sources


def test_without_aesthetics_the_weight_free_routes_stay(tmp_path):
    f = Features.from_audio(samples=_tone(6.0), sample_rate=SR)
    plain = learned_mos.compute(SignalContext(features=f, request=_request()))
    assert plain == learned_mos.score(learned_mos.measure(f))
    empty = load_models(tmp_path)
    out = Scorer(models=empty).score(samples=_tone(6.0), sample_rate=SR, request=_request())
    assert out.signals["learned_mos"] == pytest.approx(plain, abs=1e-12)
    # no aesthetics and no MERT: neural_quality is the musicnn typicality; learned_mos keeps its formula
    assert out.sources.get("neural_quality") == listeners.MUSICNN_SOURCE and "learned_mos" not in out.sources
    assert "learned_mos" not in Scorer().score(samples=_tone(6.0), sample_rate=SR, request=_request()).sources


def test_a_failing_aesthetics_model_is_an_error_not_a_silent_fallback(tiny_dir, monkeypatch):
    b = load_models(tiny_dir)

    def boom(recordings):
        raise RuntimeError("aesthetics exploded")

    monkeypatch.setattr(b.aesthetics, "predict_recordings", boom)
    out = Scorer(models=b).score(samples=_tone(5.0), sample_rate=SR, request=_request())
    assert out.unavailable["learned_mos"] == "error: aesthetics: RuntimeError: aesthetics exploded"
    assert out.unavailable["neural_quality"] == "error: aesthetics: RuntimeError: aesthetics exploded"
    assert "learned_mos" not in out.sources and "neural_quality" not in out.sources and out.final_score > 0
    with pytest.raises(Unavailable, match="error: aesthetics"):
        f = Features.from_audio(samples=_tone(3.0), sample_rate=SR)
        learned_mos.compute(SignalContext(features=f, request=_request(), models=b))


def test_round_scores_equal_solo_scores(bundle):
    scorer = Scorer(models=bundle)
    req = _request()
    entries = [RoundEntry(hotkey=f"hk{i}", samples=_tone(6.0, f0=f, seed=i), sample_rate=SR, request=req,
                          generation_seconds=3.0) for i, f in enumerate((220.0, 330.0, 440.0))]
    round_out = scorer.score_round(entries)
    for e, r in zip(entries, round_out):
        solo = Scorer(models=bundle).score(samples=e.samples, sample_rate=SR, request=req)
        assert r.signals["learned_mos"] == solo.signals["learned_mos"]
        assert r.signals["neural_quality"] == solo.signals["neural_quality"]


def test_download_script_names_aesthetics():
    script = REPO / "scripts" / "download_models.sh"
    text = script.read_text()
    assert "facebook/audiobox-aesthetics" in text and AES in text
    res = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "aesthetics" in res.stdout


def test_tiny_model_shape_is_the_released_structure():
    cfg = WavLMConfig.from_dict(TINY_AESTHETICS_WAVLM)
    full = WavLMConfig()
    for key in ("extractor_mode", "layer_norm_first", "relative_position_embedding", "gru_rel_pos", "activation_fn"):
        assert getattr(cfg, key) == getattr(full, key)
    assert cfg.downsample == full.downsample == 320  # same 20 ms frames
