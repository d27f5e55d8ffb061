"""MusicGen backend: tiny random checkpoints saved to disk and loaded through the production loader.

The models are random, so the audio is not music: these tests pin length, dtype, sample rate,
channel count, seeded determinism, the windowed continuation path, loading offline (directory,
the download script's folder, the Hugging Face cache) and every configuration error.
"""

import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_musicgen import build_tiny_musicgen

import tuneforge.generation.musicgen as musicgen_module
from tuneforge.audio.intake import encode_audio_b64
from tuneforge.catalog import GENRES
from tuneforge.generation.base import BackendUnavailable, GenerationBackend, GenerationSettings, build_backend
from tuneforge.generation.musicgen import MusicGenBackend
from tuneforge.generation.musicgen_chroma import chroma_features
from tuneforge.generation.musicgen_text import describe_spec
from tuneforge.generation.musicgen_windows import (
    WindowPlan,
    equal_power_crossfade,
    fit_length,
    tokens_for_frames,
)
from tuneforge.spec import MusicSpec, parse_prompt, spec_from_fields

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SMALL_WINDOW = {"window_seconds": 2.0, "overlap_seconds": 0.5, "crossfade_seconds": 0.25}


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("musicgen")
    return {v: build_tiny_musicgen(root, variant=v) for v in ("mono", "stereo", "melody")}


def _backend(path: Path, **extra) -> MusicGenBackend:
    settings = GenerationSettings(backend="musicgen", model=str(path), device="cpu", precision="auto", extra=extra)
    return MusicGenBackend.from_settings(settings)


@pytest.fixture(scope="session")
def mono(checkpoints) -> MusicGenBackend:
    return _backend(checkpoints["mono"], **SMALL_WINDOW)


def _spec(seconds: float, seed: int = 7, **kw) -> MusicSpec:
    return spec_from_fields(prompt="happy jazz with piano", duration_seconds=seconds, seed=seed, **kw)


# ---------------------------------------------------------------------------------------------
# Output contract
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1.0, 1.37])
def test_exact_length_dtype_rate(mono, seconds):
    audio = mono.generate(_spec(seconds))
    assert audio.sample_rate == 32000 == mono.sample_rate
    assert audio.samples.shape == (1, round(seconds * 32000))
    assert audio.samples.dtype == np.float32
    assert np.all(np.isfinite(audio.samples))
    assert np.abs(audio.samples).max() <= 1.0
    assert audio.model_id == mono.model_id == "tiny-musicgen-mono"


def test_backend_attributes(mono):
    assert isinstance(mono, GenerationBackend)
    assert mono.name == "musicgen" and mono.device == "cpu" and mono.variant == "mono"
    assert mono.supported_genres() == list(GENRES)


def test_same_seed_identical_different_seed_differs(mono):
    a = mono.generate(_spec(1.0, seed=11))
    b = mono.generate(_spec(1.0, seed=11))
    c = mono.generate(_spec(1.0, seed=12))
    assert np.array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)


def test_global_rng_untouched(mono):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    mono.generate(_spec(1.0))
    assert torch.equal(torch.rand(3), expected)


def test_sampling_settings_reach_generate(mono, monkeypatch):
    seen = []
    real = mono._loaded.model.generate

    def spy(**kwargs):
        seen.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(mono._loaded.model, "generate", spy)
    mono.generate(_spec(1.0))
    (call,) = seen
    assert call["top_k"] == 250 and call["guidance_scale"] == 3.0 and call["do_sample"] is True
    assert call["max_new_tokens"] == 50 * 1 + 3  # 50 frames/s · 1 s + (4 codebooks − 1)


def test_windowed_continuation_exact_length_and_seams(mono, monkeypatch):
    calls, fades = [], []
    real_generate = mono._loaded.model.generate
    real_fade = musicgen_module.equal_power_crossfade

    def spy_generate(**kwargs):
        calls.append({k: (tuple(v.shape) if hasattr(v, "shape") else v) for k, v in kwargs.items()})
        return real_generate(**kwargs)

    def spy_fade(tail, head):
        fades.append(tail.shape)
        return real_fade(tail, head)

    monkeypatch.setattr(mono._loaded.model, "generate", spy_generate)
    monkeypatch.setattr(musicgen_module, "equal_power_crossfade", spy_fade)
    audio = mono.generate(_spec(5.0, seed=3))
    assert audio.samples.shape == (1, 5 * 32000)
    assert np.all(np.isfinite(audio.samples))
    # 2 s window, then two continuations of 1.5 s each, prompted with 0.5 s (25 codec frames).
    assert len(calls) == 3
    assert "decoder_input_ids" not in calls[0]
    assert [c["decoder_input_ids"] for c in calls[1:]] == [(4, 25), (4, 25)]
    assert [c["max_new_tokens"] for c in calls] == [103, 78, 78]
    assert fades == [(1, 8000), (1, 8000)]  # 0.25 s equal-power seams
    again = mono.generate(_spec(5.0, seed=3))
    assert np.array_equal(audio.samples, again.samples)


def test_continuation_keeps_first_window(mono):
    """The first window's audio survives the continuation up to the seam (no re-generation of it)."""
    short = mono.generate(_spec(2.0, seed=5)).samples
    long = mono.generate(_spec(3.0, seed=5)).samples
    seam_start = 2 * 32000 - 8000
    np.testing.assert_array_equal(long[:, :seam_start], short[:, :seam_start])


def test_stereo_checkpoint_gives_two_channels(checkpoints):
    backend = _backend(checkpoints["stereo"], **SMALL_WINDOW)
    assert backend.variant == "stereo" and backend.channels == 2
    audio = backend.generate(_spec(2.6, seed=1))  # crosses the 2 s window: interleaved L/R prompt
    assert audio.samples.shape == (2, round(2.6 * 32000))
    assert audio.samples.dtype == np.float32 and np.all(np.isfinite(audio.samples))
    assert not np.array_equal(audio.samples[0], audio.samples[1])


def test_melody_checkpoint_uses_reference_chroma(checkpoints, monkeypatch):
    backend = _backend(checkpoints["melody"])
    assert backend.variant == "melody"
    seen = []
    real = backend._loaded.model.generate

    def spy(**kwargs):
        seen.append(kwargs.get("input_features"))
        return real(**kwargs)

    monkeypatch.setattr(backend._loaded.model, "generate", spy)
    t = np.arange(2 * 16000) / 16000
    reference = encode_audio_b64(0.5 * np.sin(2 * np.pi * 440.0 * t), 16000)  # A4 for 2 s
    with_ref = backend.generate(_spec(1.0, reference_audio=reference))
    text_only = backend.generate(_spec(1.0))
    assert seen[1] is None
    chroma = seen[0]
    assert chroma.shape[0] == 1 and chroma.shape[2] == 12
    assert torch.all(chroma.sum(dim=-1) == 1)  # one-hot per frame
    assert chroma[0, :, 9].sum() == chroma.shape[1]  # A is pitch class 9 in every frame
    assert with_ref.samples.shape == text_only.samples.shape == (1, 32000)


def test_melody_bad_reference_falls_back_to_text(checkpoints, caplog):
    backend = _backend(checkpoints["melody"])
    # bittensor (imported by other test modules) raises existing loggers to CRITICAL: set ours.
    with caplog.at_level(logging.WARNING, logger="tuneforge.generation.musicgen_chroma"):
        audio = backend.generate(_spec(1.0, reference_audio="not base64!!"))
    assert audio.samples.shape == (1, 32000)
    assert "reference audio rejected (bad_base64)" in caplog.text


def test_chroma_features_tracks_pitch_class():
    sr = 32000
    t = np.arange(sr) / sr
    chroma = chroma_features(np.sin(2 * np.pi * 261.63 * t), sample_rate=sr)  # C4
    assert chroma.shape == (1, 1 + sr // 4096, 12)
    assert chroma[0, :, 0].sum() == chroma.shape[1]


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def test_build_backend_factory(checkpoints):
    backend = build_backend(GenerationSettings(backend="musicgen", model=str(checkpoints["mono"]), device="cpu"))
    assert isinstance(backend, MusicGenBackend)


def test_hub_id_from_download_script_folder(checkpoints, tmp_path, monkeypatch):
    shutil.copytree(checkpoints["mono"], tmp_path / "musicgen-small")
    monkeypatch.setenv("TUNEFORGE_MODELS_DIR", str(tmp_path))
    backend = _backend("facebook/musicgen-small")
    assert backend.model_id == "musicgen-small"
    assert backend.generate(_spec(1.0)).samples.shape == (1, 32000)


def test_hub_id_from_hugging_face_cache(checkpoints, tmp_path, monkeypatch):
    import huggingface_hub.constants

    snapshot = tmp_path / "hub" / "models--facebook--musicgen-small" / "snapshots" / ("a" * 40)
    shutil.copytree(checkpoints["mono"], snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TUNEFORGE_MODELS_DIR", str(tmp_path / "empty"))
    assert _backend("facebook/musicgen-small").model_id == "musicgen-small"


def test_missing_hub_model_names_download_script(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TUNEFORGE_MODELS_DIR", str(tmp_path / "models"))
    with pytest.raises(BackendUnavailable) as err:
        _backend("facebook/musicgen-small")
    message = str(err.value)
    assert "\n" not in message
    assert "facebook/musicgen-small" in message
    assert "scripts/download_models.sh musicgen-small" in message


def test_missing_directory_names_download_script(tmp_path):
    with pytest.raises(BackendUnavailable, match="scripts/download_models.sh"):
        _backend(tmp_path / "nowhere" / "musicgen-medium")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendUnavailable, match="scripts/download_models.sh empty"):
        _backend(tmp_path / "empty")


def test_incomplete_tokenizer_is_refused(checkpoints, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(checkpoints["mono"], broken)
    # The trap in AUDIO-NOTES: a tokenizer that loads but holds (almost) nothing.
    from transformers import T5TokenizerFast

    T5TokenizerFast(extra_ids=0).save_pretrained(broken)  # built with no vocabulary: 4 tokens
    with pytest.raises(BackendUnavailable, match="tokenizer .* has \\d+ tokens but the text encoder expects 103"):
        _backend(broken)


def test_not_a_musicgen_checkpoint(tmp_path):
    from transformers import T5Config

    T5Config(vocab_size=10, d_model=8, num_layers=1, num_heads=1, d_kv=8, d_ff=8).save_pretrained(tmp_path)
    with pytest.raises(BackendUnavailable, match="not MusicGen"):
        _backend(tmp_path)


@pytest.mark.parametrize(
    ("device", "precision", "match"),
    [
        ("gpu0", "auto", "invalid --generation.device 'gpu0'"),
        ("cuda:x", "auto", "invalid --generation.device"),
        ("cpu", "int8", "invalid --generation.precision 'int8'"),
        ("cpu", "fp16", "fp16 needs a CUDA device"),
        ("cpu", "bf16", "bf16 needs a CUDA device"),
    ],
)
def test_bad_device_or_precision(checkpoints, device, precision, match):
    settings = GenerationSettings(backend="musicgen", model=str(checkpoints["mono"]), device=device, precision=precision)
    with pytest.raises(BackendUnavailable, match=match):
        MusicGenBackend.from_settings(settings)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_requested_without_cuda(checkpoints):
    settings = GenerationSettings(backend="musicgen", model=str(checkpoints["mono"]), device="cuda:3")
    with pytest.raises(BackendUnavailable, match="CUDA is not available"):
        MusicGenBackend.from_settings(settings)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"window_seconds": 2.0, "overlap_seconds": 2.0}, "bad MusicGen window settings"),
        ({"crossfade_seconds": 20.0}, "bad MusicGen window settings"),
        ({"window_seconds": 100.0, "overlap_seconds": 10.0}, "needs .* positions"),
        ({"top_k": 0}, "top_k >= 1"),
        ({"engine": "onnx"}, "unknown MusicGen engine"),
    ],
)
def test_bad_extra_settings(checkpoints, extra, match):
    with pytest.raises(BackendUnavailable, match=match):
        _backend(checkpoints["mono"], **extra)


def test_audiocraft_engine_absent_is_explained(checkpoints):
    try:
        import audiocraft  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable, match="audiocraft"):
            _backend(checkpoints["mono"], engine="audiocraft")
    else:
        pytest.skip("audiocraft is installed; this checks the message when it is not")


def test_duration_out_of_range(mono):
    with pytest.raises(ValueError, match="duration_seconds"):
        mono.generate(MusicSpec(duration_seconds=181.0))
    with pytest.raises(ValueError, match="duration_seconds"):
        mono.generate(MusicSpec(duration_seconds=0.0))


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


def test_describe_spec_carries_every_field():
    spec = parse_prompt("melancholic jazz with piano and upright bass at 92 bpm in Eb minor, 3/4 time")
    text = describe_spec(spec)
    for part in ("melancholic jazz", "piano and upright bass", "92 BPM", "Eb minor", "3/4 time", "instrumental"):
        assert part in text
    assert text.endswith(spec.prompt)
    assert "with vocals" in describe_spec(spec_from_fields(prompt="pop", vocals_requested=True))


def test_tokens_for_frames():
    assert tokens_for_frames(50 * 30, codebook_delay=3) == 1503
    with pytest.raises(ValueError):
        tokens_for_frames(0, codebook_delay=3)


def test_equal_power_crossfade_keeps_power():
    ones = np.ones((2, 1000), dtype=np.float32)
    mixed_power = equal_power_crossfade(ones, np.zeros_like(ones)) ** 2 + equal_power_crossfade(
        np.zeros_like(ones), ones
    ) ** 2
    np.testing.assert_allclose(mixed_power, 1.0, atol=1e-6)
    faded = equal_power_crossfade(ones, np.zeros_like(ones))
    assert faded[0, 0] > 0.99 and faded[0, -1] < 0.01
    with pytest.raises(ValueError):
        equal_power_crossfade(ones, ones[:, :10])


def test_fit_length_trims_and_pads_with_fade():
    x = np.ones((1, 100), dtype=np.float32)
    assert fit_length(x, frames=60, sample_rate=1000).shape == (1, 60)
    padded = fit_length(x, frames=150, sample_rate=1000, fade_seconds=0.01)
    assert padded.shape == (1, 150)
    assert np.all(padded[0, :90] == 1.0) and np.all(padded[0, 100:] == 0.0)
    assert np.all(np.diff(padded[0, 89:101]) <= 0)  # faded down, not cut


@pytest.mark.parametrize("bad", [(2.0, 2.0, 0.5), (2.0, 0.5, 0.0), (2.0, 0.5, 1.0), (float("nan"), 0.5, 0.1)])
def test_window_plan_rejects(bad):
    with pytest.raises(ValueError):
        WindowPlan(*bad)


def test_download_script_syntax_and_bad_target():
    script = REPO / "scripts" / "download_models.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    res = subprocess.run(["bash", str(script), "not-a-model"], capture_output=True, text=True)
    assert res.returncode == 2
    assert "unknown target 'not-a-model'" in res.stderr
