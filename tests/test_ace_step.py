"""ACE-Step 1.5 backend: a tiny random pipeline saved to disk and loaded through the production loader.

The model is random, so the audio is not music: these tests pin the sample rate, channel count,
exact lengths, seeding, the prompt ACE-Step receives (caption, lyrics, language, metadata),
batching (per-request prompts, metadata and seeds in one call; halving on out-of-memory),
loading offline (directory, the download script's folder), precision selection and the CLI
entry points (``tuneforge generate --backend ace_step``, ``tuneforge miner --self-check``).
"""

import os
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="the ace_step backend needs diffusers (the models extra)")

import torch  # noqa: E402
from tiny_ace_step import build_tiny_ace_step  # noqa: E402

from tuneforge import cli  # noqa: E402
from tuneforge.generation.ace_step import AceStepBackend, AceStepSampling, fade_cut  # noqa: E402
from tuneforge.generation.ace_step_loading import (  # noqa: E402
    ace_step_dtype_name,
    cap_vram,
    resolve_ace_step_dir,
)
from tuneforge.generation.ace_step_pipeline import TuneForgeAceStepPipeline, per_item  # noqa: E402
from tuneforge.generation.base import (  # noqa: E402
    BackendUnavailable,
    BatchingBackend,
    GenerationBackend,
    GenerationSettings,
    build_backend,
)
from tuneforge.spec import MusicSpec, spec_from_fields  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SR = 48_000


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return build_tiny_ace_step(tmp_path_factory.mktemp("ace"))


@pytest.fixture(scope="module")
def backend(checkpoint) -> AceStepBackend:
    built = build_backend(
        GenerationSettings(backend="ace_step", model=str(checkpoint), device="cpu", max_batch=4)
    )
    assert isinstance(built, AceStepBackend)
    return built


class _PipeSpy:
    """Stands in for the loaded pipeline: records each call's keyword arguments, then runs it."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self.pipe(**kwargs)


@pytest.fixture
def spy(backend):
    original = backend._loaded.pipe
    recorder = _PipeSpy(original)
    backend._loaded.pipe = recorder
    yield recorder
    backend._loaded.pipe = original


def _spec(seconds: float, seed: int = 7, **kw) -> MusicSpec:
    return spec_from_fields(
        prompt=kw.pop("prompt", "mellow jazz with piano"), duration_seconds=seconds, seed=seed, **kw
    )


# ---------------------------------------------------------------------------------------------
# rendering


def test_renders_48k_stereo_of_the_exact_length(backend):
    assert isinstance(backend, GenerationBackend) and isinstance(backend, BatchingBackend)
    audio = backend.generate(_spec(12.5))
    assert (audio.sample_rate, audio.samples.shape, audio.samples.dtype) == (SR, (2, 600_000), np.float32)
    assert np.all(np.isfinite(audio.samples)) and np.abs(audio.samples).max() <= 1.0
    assert audio.samples.std() > 0.01  # not silence
    assert audio.model_id == backend.model_id == "tiny-ace-step"
    assert (backend.name, backend.device, backend.channels) == ("ace_step", "cpu", 2)


def test_same_seed_same_audio_and_the_seed_matters(backend):
    a = backend.generate(_spec(10.0, seed=3)).samples
    b = backend.generate(_spec(10.0, seed=3)).samples
    c = backend.generate(_spec(10.0, seed=4)).samples
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_short_request_is_the_start_of_a_ten_second_render_faded_at_the_cut(backend):
    long = backend.generate(_spec(10.0, seed=11)).samples
    short = backend.generate(_spec(3.0, seed=11)).samples
    assert short.shape == (2, 3 * SR)
    fade = int(0.25 * SR)
    np.testing.assert_array_equal(short[:, : 3 * SR - fade], long[:, : 3 * SR - fade])
    assert np.abs(short[:, -1]).max() < 1e-6 < np.abs(long[:, 3 * SR - 1]).max()


def test_fade_cut_only_fades_a_real_cut():
    audio = np.ones((2, 1000), dtype=np.float32)
    np.testing.assert_array_equal(fade_cut(audio, frames=998, sample_rate=1000), audio[:, :998])  # 2 ms cut
    cut = fade_cut(audio, frames=800, sample_rate=1000)
    assert cut.shape == (2, 800) and cut[0, 549] == 1.0 and cut[0, -1] == 0.0
    assert np.all(np.diff(cut[0, 550:]) <= 0)


def test_the_pipeline_gets_captions_lyrics_language_and_metadata(backend, spy):
    sung = spec_from_fields(
        prompt="indie pop ballad",
        genre="pop",
        mood="happy",
        tempo_bpm=96,
        key_signature="F# minor",
        time_signature="3/4",
        instruments=["piano", "strings"],
        duration_seconds=10,
        seed=1,
        vocals_requested=True,
        lyrics="Städte leuchten\nWir singen",
    )
    plain = spec_from_fields(
        prompt="drum and bass",
        tempo_bpm=174,
        key_signature="C major",
        time_signature="7/8",
        duration_seconds=10,
        seed=2,
    )
    backend.generate(sung)
    backend.generate(plain)
    first, second = spy.calls
    assert first["lyrics"] == ["[Verse]\nStädte leuchten\nWir singen"] and first["vocal_language"] == ["en"]
    assert (first["bpm"], first["keyscale"], first["timesignature"]) == ([96], ["F# minor"], ["3"])
    assert first["prompt"][0].startswith(
        "pop, happy, piano, strings, vocals, 96 bpm, F# minor, 3/4 time. indie pop"
    )
    assert second["lyrics"] == ["[Instrumental]"] and "instrumental" in second["prompt"][0]
    assert second["timesignature"] == [None] and "7/8 time" in second["prompt"][0]  # ACE-Step's metas lack 7
    for call in (first, second):
        assert (call["audio_duration"], call["num_inference_steps"], call["guidance_scale"]) == (10.0, 8, 1.0)


def test_sampling_defaults_follow_the_checkpoint_and_bad_values_are_refused():
    turbo, base = AceStepSampling({}, turbo=True), AceStepSampling({}, turbo=False)
    assert (turbo.steps, turbo.guidance_scale, base.steps, base.guidance_scale) == (8, 1.0, 32, 7.0)
    assert AceStepSampling({"guidance_scale": 9.0}, turbo=True).guidance_scale == 1.0  # distilled: no CFG
    for extra in ({"steps": 0}, {"shift": 0.0}, {"guidance_scale": 0.5}):
        with pytest.raises(BackendUnavailable):
            AceStepSampling(extra, turbo=False)


@pytest.mark.parametrize("seconds", [0.0, -1.0, 181.0, float("nan")])
def test_bad_durations_are_refused(backend, seconds):
    with pytest.raises(ValueError, match="duration_seconds"):
        backend.generate(MusicSpec(duration_seconds=seconds))


# ---------------------------------------------------------------------------------------------
# batching


def test_a_batch_keeps_each_requests_prompt_metadata_and_seed(backend, spy):
    specs = [
        _spec(10.0, seed=1, tempo_bpm=90, key_signature="Eb minor"),
        _spec(
            9.5,
            seed=2,
            prompt="rock anthem with guitar",
            lyrics="we will rise\ntonight",
            vocals_requested=True,
        ),
        _spec(10.0, seed=3, time_signature="6/8"),
    ]
    assert len({backend.batch_key(s) for s in specs}) == 1
    batch = backend.generate_batch(specs)
    (call,) = spy.calls
    assert call["bpm"] == [90, specs[1].tempo_bpm, specs[2].tempo_bpm]
    assert call["keyscale"][0] == "Eb minor" and call["timesignature"][2] == "6"
    assert call["lyrics"][1] == "[Verse]\nwe will rise\ntonight" and call["lyrics"][0] == "[Instrumental]"
    assert [g.initial_seed() for g in call["generator"]] == [1, 2, 3]
    assert [a.samples.shape for a in batch] == [(2, 480_000), (2, 456_000), (2, 480_000)]
    solo = backend.generate(specs[2]).samples
    assert np.abs(batch[2].samples - solo).max() < np.abs(batch[0].samples - solo).max()


def test_a_batch_of_mixed_render_lengths_is_refused(backend):
    with pytest.raises(ValueError, match="one length"):
        backend.generate_batch([_spec(10.0), _spec(12.0)])
    with pytest.raises(ValueError):
        backend.generate_batch([])


def test_out_of_memory_halves_the_batch_and_lowers_the_limit(backend, monkeypatch):
    real = AceStepBackend._render
    sizes: list[int] = []

    def render(self, prompts, seeds):
        sizes.append(len(prompts))
        if len(prompts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, prompts, seeds)

    monkeypatch.setattr(AceStepBackend, "_render", render)
    monkeypatch.setattr(backend, "max_batch", 4)
    clips = backend.generate_batch([_spec(10.0, seed=s) for s in range(4)])
    assert len(clips) == 4 and sizes == [4, 2, 1, 1, 2, 1, 1]
    assert backend.max_batch == 1


def test_per_item_metadata_encodes_each_prompt_as_diffusers_does_alone(backend):
    pipe = backend._loaded.pipe
    assert isinstance(pipe, TuneForgeAceStepPipeline)
    args = dict(device="cpu", audio_duration=10.0)
    both = pipe.encode_prompt(
        ["jazz", "a much longer rock caption"],
        ["[Instrumental]", "[Verse]\nla la"],
        bpm=[90, 140],
        keyscale=["C major", "A minor"],
        timesignature=["4", None],
        **args,
    )
    for i, (caption, lyric, bpm, key, meter) in enumerate(
        [
            ("jazz", "[Instrumental]", 90, "C major", "4"),
            ("a much longer rock caption", "[Verse]\nla la", 140, "A minor", None),
        ]
    ):
        alone = super(TuneForgeAceStepPipeline, pipe).encode_prompt(
            caption, lyric, bpm=bpm, keyscale=key, timesignature=meter, **args
        )
        n = int(alone[1].sum())
        assert int(both[1][i].sum()) == n  # same tokens, right-padded in the batch
        torch.testing.assert_close(both[0][i, :n], alone[0][0, :n])
    with pytest.raises(ValueError, match="bpm: 1 values for 2 prompts"):
        pipe.encode_prompt(["a", "b"], "", bpm=[90], **args)
    assert per_item("x", 3, "k") == ["x", "x", "x"]


# ---------------------------------------------------------------------------------------------
# loading


def test_hub_id_resolves_to_the_download_scripts_folder(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEFORGE_MODELS_DIR", str(tmp_path))
    shutil.copytree(checkpoint, tmp_path / "acestep-tiny")
    assert resolve_ace_step_dir("some-org/acestep-tiny") == tmp_path / "acestep-tiny"


def test_missing_or_wrong_checkpoints_say_how_to_fix(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEFORGE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(BackendUnavailable, match="download_models.sh ace-step"):
        resolve_ace_step_dir("some-org/not-here")
    with pytest.raises(BackendUnavailable, match="download_models.sh ace-step"):
        resolve_ace_step_dir(str(tmp_path))  # a folder without model_index.json
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    shutil.rmtree(broken / "transformer")
    with pytest.raises(BackendUnavailable, match="incomplete.*transformer"):
        resolve_ace_step_dir(str(broken))
    (broken / "model_index.json").write_text('{"_class_name": "StableAudioPipeline"}')
    with pytest.raises(BackendUnavailable, match="not AceStepPipeline"):
        resolve_ace_step_dir(str(broken))


@pytest.mark.parametrize(
    "precision, device, bf16, expected",
    [
        ("auto", "cpu", False, "float32"),
        ("auto", "cuda:0", True, "bfloat16"),
        ("auto", "cuda:0", False, "float16"),
        ("fp16", "cuda:1", True, "float16"),
        ("bf16", "cuda:0", True, "bfloat16"),
        ("fp32", "cuda:0", True, "float32"),
        ("fp32", "cpu", False, "float32"),
    ],
)
def test_precision_choice(precision, device, bf16, expected):
    assert ace_step_dtype_name(precision, device, bf16_supported=bf16) == expected


@pytest.mark.parametrize(
    "precision, device, bf16, message",
    [
        ("fp16", "cpu", False, "needs a CUDA device"),
        ("bf16", "cuda:0", False, "no native bfloat16"),
        ("int8", "cuda:0", True, "invalid"),
    ],
)
def test_unworkable_precision_is_refused(precision, device, bf16, message):
    with pytest.raises(BackendUnavailable, match=message):
        ace_step_dtype_name(precision, device, bf16_supported=bf16)


def test_half_precision_on_cpu_and_bad_batch_limits_fail_at_build(checkpoint):
    with pytest.raises(BackendUnavailable, match="needs a CUDA device"):
        build_backend(
            GenerationSettings(backend="ace_step", model=str(checkpoint), device="cpu", precision="bf16")
        )
    with pytest.raises(BackendUnavailable, match="max_batch"):
        build_backend(
            GenerationSettings(backend="ace_step", model=str(checkpoint), device="cpu", max_batch=0)
        )


def test_vram_bound_applies_to_cuda_only():
    assert cap_vram("cpu", None) is None and cap_vram("cpu", 8.0) is None
    with pytest.raises(BackendUnavailable, match="max_vram_gb"):
        cap_vram("cuda:0", 0.0)


# ---------------------------------------------------------------------------------------------
# entry points


def test_tuneforge_generate_with_the_ace_step_backend(checkpoint, tmp_path, capsys):
    out = tmp_path / "song.wav"
    status = cli.main(
        [
            "generate",
            "--backend",
            "ace_step",
            "--model",
            str(checkpoint),
            "--device",
            "cpu",
            "--prompt",
            "indie pop",
            "--duration",
            "4",
            "--seed",
            "9",
            "--vocals",
            "--lyrics",
            "[Chorus]\nhold on",
            "--out",
            str(out),
        ]
    )
    assert status == 0, capsys.readouterr().err
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (SR, 2, 4 * SR)
    assert "model tiny-ace-step" in capsys.readouterr().out


def test_miner_self_check_runs_the_ace_step_backend(checkpoint, capsys):
    status = cli.main(
        [
            "miner",
            "--self-check",
            "--generation.backend",
            "ace_step",
            "--generation.model",
            str(checkpoint),
            "--generation.device",
            "cpu",
            "--check.duration",
            "2",
            "--check.lyrics",
            "la la la",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "ace_step  ok" in out and "2 / 2.000" in out
