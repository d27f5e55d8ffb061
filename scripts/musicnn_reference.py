"""Run the ORIGINAL musicnn (its TF1 graph and ``extractor``) on fixed clips; store the outputs as test data.

``tests/test_musicnn.py`` holds our numpy implementation (``scoring/wheel_models/musicnn.py``) to
what this script records, and ``tests/test_tf_checkpoint.py`` holds our checkpoint reader to
TensorFlow's own ``NewCheckpointReader``. Run it once, in a throwaway venv (TensorFlow must never
enter the project's venv)::

    python3.11 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 "tf-keras~=2.21.0" librosa soundfile
    /tmp/tfvenv/bin/pip install "numpy==1.26.4" "ml_dtypes==0.5.1"
    /tmp/tfvenv/bin/pip install --no-deps musicnn==0.1.0
    PYTHONPATH=. /tmp/tfvenv/bin/python scripts/musicnn_reference.py   # from the repository root

Why numpy 1.26: musicnn's ``batch_data`` computes ``np.log10(10000 * mel.astype(np.float16) + 1)``.
Under the numpy the wheel pins (<1.17, and 1.x generally) ``10000 * float16_array`` is promoted to
float32; NumPy 2 (NEP 50) keeps float16, so every mel value above 6.55 overflows to ``inf`` and
the network returns NaN on loud music. 1.26 is the last numpy with the original promotion rules
that TensorFlow 2.21 still runs on, so the original code runs unpatched with the semantics it was
written for. The script checks this and refuses to run under NumPy 2. ``tf.compat.v1.layers``,
which musicnn's graph uses, needs Keras 2: the ``tf-keras`` package with
``TF_USE_LEGACY_KERAS=1``, which this script sets.

The clips are synthesised deterministically (a procedural-backend render when ``tuneforge`` is
importable, a numpy chord sequence with drums, pink noise, a loud two-tone sine, very quiet
noise) and stored as 16 kHz int16 together with their generating parameters; the clip is
written to a PCM-16 WAV and read back by musicnn's own ``librosa.load`` path, so the float
samples are exactly ``int16 / 32768`` on both sides.
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

SR = 16_000
TAGGERS = ("MTT_musicnn", "MSD_musicnn")
CHECKPOINTS = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")
#: Clips whose float16 mel spectrogram is stored too, to test the input pipeline on its own.
MEL_CLIPS = ("loud_sine", "quiet_noise")


def _to_int16(x: np.ndarray, peak: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x * (peak / max(float(np.max(np.abs(x))), 1e-12))
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def _harmonic_tone(f0: float, n: int, *, partials: int = 8, decay_s: float = 0.9) -> np.ndarray:
    t = np.arange(n) / SR
    tone = sum((0.6**k) * np.sin(2 * np.pi * f0 * (k + 1) * t) for k in range(partials))
    env = np.minimum(1.0, t / 0.01) * np.exp(-t / decay_s)
    return tone * env


def chords_drums(seconds: float, bpm: float, seed: int) -> tuple[np.ndarray, dict]:
    """I-V-vi-IV in C of harmonic tones, one chord per bar, with kick, snare and hi-hat (4/4)."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR))
    beat = int(round(60.0 / bpm * SR))
    out = np.zeros(n + 4 * beat)
    chords = [[60, 64, 67], [55, 59, 62], [57, 60, 64], [53, 57, 60]]
    for bar in range(n // (4 * beat) + 1):
        start = bar * 4 * beat
        for midi in chords[bar % 4]:
            f0 = 440.0 * 2 ** ((midi - 69) / 12)
            out[start : start + 4 * beat] += 0.25 * _harmonic_tone(f0, 4 * beat)
        bass = 440.0 * 2 ** ((chords[bar % 4][0] - 12 - 69) / 12)
        out[start : start + 4 * beat] += 0.4 * _harmonic_tone(bass, 4 * beat, partials=4, decay_s=0.5)
    t = np.arange(beat) / SR
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.15)
    snare = rng.standard_normal(beat) * np.exp(-t / 0.08) * 0.5
    hat = np.diff(rng.standard_normal(beat + 1)) * np.exp(-t / 0.02) * 0.15
    for b in range(n // beat + 1):
        s = b * beat
        out[s : s + beat] += kick if b % 2 == 0 else snare
        half = s + beat // 2
        out[s : s + beat] += hat
        out[half : half + beat] += hat
    return out[:n], {"kind": "chords_drums", "seconds": seconds, "bpm": bpm, "seed": seed,
                     "progression": "C G Am F", "peak": 0.8}


def procedural(seconds: float, seed: int) -> tuple[np.ndarray, dict] | None:
    """A render of TuneForge's procedural backend at 16 kHz (None when tuneforge is not importable)."""
    try:
        from scoring.music_theory import Key
        from tuneforge.generation.procedural import ProceduralBackend
        from tuneforge.spec import MusicSpec
    except ImportError:
        return None
    spec = MusicSpec(genre="rock", mood="energetic", tempo_bpm=126.0, key=Key(9, "minor"),
                     instruments=("electric guitar", "bass", "drums"), duration_seconds=seconds, seed=seed)
    audio = ProceduralBackend(sample_rate=SR).generate(spec)
    return audio.samples.mean(axis=0), {"kind": "procedural", "seconds": seconds, "seed": seed, "genre": "rock",
                                        "mood": "energetic", "tempo_bpm": 126.0, "key": "A minor",
                                        "instruments": list(spec.instruments), "peak": 0.9}


def pink_noise(seconds: float, seed: int) -> tuple[np.ndarray, dict]:
    n = int(round(seconds * SR))
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spec[1:] /= np.sqrt(np.arange(1, spec.size))
    spec[0] = 0.0
    return np.fft.irfft(spec, n), {"kind": "pink_noise", "seconds": seconds, "seed": seed, "peak": 0.7}


def loud_sine(seconds: float) -> tuple[np.ndarray, dict]:
    t = np.arange(int(round(seconds * SR))) / SR
    x = 0.6 * np.sin(2 * np.pi * 110.0 * t) + 0.4 * np.sin(2 * np.pi * 440.0 * t)
    return x, {"kind": "loud_sine", "seconds": seconds, "hz": [110.0, 440.0], "peak": 0.99}


def quiet_noise(seconds: float, seed: int) -> tuple[np.ndarray, dict]:
    x = np.random.default_rng(seed).standard_normal(int(round(seconds * SR)))
    return x, {"kind": "quiet_noise", "seconds": seconds, "seed": seed, "peak": 10 ** (-70 / 20)}


def make_clips() -> dict[str, tuple[np.ndarray, dict]]:
    """name → (int16 samples at 16 kHz, generating parameters)."""
    raw: dict[str, tuple[np.ndarray, dict]] = {}
    rendered = procedural(6.2, seed=20240611)
    if rendered is not None:
        raw["procedural_rock"] = rendered
    raw["chords_drums"] = chords_drums(6.2, 120.0, seed=3)
    raw["pink_noise"] = pink_noise(3.2, seed=11)
    raw["loud_sine"] = loud_sine(3.2)
    raw["quiet_noise"] = quiet_noise(3.2, seed=5)
    return {name: (_to_int16(x, params["peak"]), params) for name, (x, params) in raw.items()}


def _check_numpy_promotion() -> None:
    dtype = (10000 * np.ones(1, dtype=np.float16)).dtype
    if dtype != np.float32:
        sys.exit(
            f"numpy {np.__version__} computes 10000 * float16 as {dtype}; musicnn's extractor was written for "
            "numpy 1.x promotion (float32). Install numpy==1.26.4 (and ml_dtypes==0.5.1) in this venv."
        )


def checkpoint_digests(musicnn_dir: Path) -> tuple[dict, list[str]]:
    """Per checkpoint and tensor: [dtype, shape, sha256 of TF's bytes]; and our reader's mismatches."""
    import tensorflow as tf

    from scoring.wheel_models.tf_checkpoint import read_checkpoint

    digests: dict[str, dict[str, list]] = {}
    problems: list[str] = []
    for name in CHECKPOINTS:
        prefix = str(musicnn_dir / name) + "/"
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
        ours = read_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        if set(shapes) != set(ours):
            problems.append(f"{name}: tensor names differ: {sorted(set(shapes) ^ set(ours))}")
        table = {}
        for tensor in sorted(shapes):
            value = np.asarray(reader.get_tensor(tensor))
            le = value.astype(value.dtype.newbyteorder("<"))
            table[tensor] = [str(value.dtype), list(value.shape), hashlib.sha256(le.tobytes()).hexdigest()]
            mine = ours.get(tensor)
            if mine is None or mine.dtype != value.dtype or mine.shape != value.shape or not np.array_equal(mine, value):
                problems.append(f"{name}/{tensor}: our reader differs from NewCheckpointReader")
        digests[name] = table
    return digests, problems


def run_original(clips: dict[str, tuple[np.ndarray, dict]], workdir: Path) -> dict[str, np.ndarray]:
    import librosa
    import soundfile as sf
    from musicnn import configuration
    from musicnn import extractor as mx

    # extractor() runs BATCH_SIZE (1) patches per session call and, for every call after the
    # first, appends the FIRST call's penultimate features again (it unpacks the new ones into
    # ``backend_`` but concatenates ``penultimate_``). One call for all patches sidesteps that bug;
    # batch norm runs on the moving statistics, so the batch size changes nothing else.
    configuration.BATCH_SIZE = 1024
    out: dict[str, np.ndarray] = {}
    for clip, (pcm, _) in clips.items():
        wav = workdir / f"{clip}.wav"
        sf.write(wav, pcm, SR, subtype="PCM_16")
        loaded, sr = librosa.load(str(wav), sr=SR)
        if sr != SR or not np.array_equal(loaded, pcm.astype(np.float32) / 32768.0):
            raise SystemExit(f"{clip}: librosa.load did not return int16/32768 exactly")
        if clip in MEL_CLIPS:
            mel = librosa.feature.melspectrogram(y=loaded, sr=SR, hop_length=256, n_fft=512, n_mels=96).T
            out[f"{clip}/mel_float16"] = mel.astype(np.float16)
            batch, _ = mx.batch_data(str(wav), 187, 187)
            out[f"{clip}/batch"] = batch.astype(np.float32)
        for model in TAGGERS:
            with contextlib.redirect_stdout(io.StringIO()):
                taggram, labels, features = mx.extractor(str(wav), model=model, input_length=3,
                                                         input_overlap=False, extract_features=True)
            out[f"{clip}/{model}/taggram"] = np.asarray(taggram, dtype=np.float32)
            out[f"{clip}/{model}/tags"] = np.asarray(taggram, dtype=np.float32).mean(axis=0)
            for key in ("penultimate", "mean_pool", "max_pool"):
                out[f"{clip}/{model}/{key}"] = np.asarray(features[key], dtype=np.float32)
            out[f"{model}/labels"] = np.asarray(labels)
    return out


def short_clip_behaviour(workdir: Path) -> str:
    """What the original extractor does with a clip shorter than one 187-frame patch."""
    import soundfile as sf
    from musicnn import extractor as mx

    wav = workdir / "short.wav"
    sf.write(wav, np.zeros(SR * 2, dtype=np.int16), SR, subtype="PCM_16")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            mx.extractor(str(wav), model="MTT_musicnn", extract_features=False)
    except Exception as exc:  # recorded, not hidden: the test data says how the original fails
        return f"{type(exc).__name__}: {exc}"
    return "no error"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tests/data/musicnn_reference.npz")
    args = parser.parse_args()
    _check_numpy_promotion()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf.compat.v1.layers needs Keras 2 (tf-keras)
    import importlib.util

    import librosa
    import tensorflow as tf

    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("musicnn is not installed in this venv (pip install --no-deps musicnn==0.1.0)")
    musicnn_dir = Path(list(spec.submodule_search_locations)[0])

    clips = make_clips()
    digests, problems = checkpoint_digests(musicnn_dir)
    if problems:
        sys.exit("checkpoint reader disagrees with TensorFlow:\n  " + "\n  ".join(problems[:20]))
    with tempfile.TemporaryDirectory() as tmp:
        outputs = run_original(clips, Path(tmp))
        short = short_clip_behaviour(Path(tmp))

    meta = {
        "clips": {name: params for name, (_, params) in clips.items()},
        "taggers": list(TAGGERS),
        "sample_rate": SR,
        "versions": {"tensorflow": tf.__version__, "numpy": np.__version__, "librosa": librosa.__version__,
                     "python": sys.version.split()[0]},
        "reader_matched_tensorflow": True,
        "short_clip_original": short,
    }
    arrays = {f"{name}/pcm16": pcm for name, (pcm, _) in clips.items()}
    arrays.update(outputs)
    arrays["meta_json"] = np.asarray(json.dumps(meta, sort_keys=True))
    arrays["checkpoint_digests_json"] = np.asarray(json.dumps(digests, sort_keys=True))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB): {len(clips)} clips, "
          f"{sum(len(t) for t in digests.values())} checkpoint tensors matched NewCheckpointReader; "
          f"short clip in the original: {short}")
    for name in clips:
        for model in TAGGERS:
            tags = outputs[f"{name}/{model}/tags"]
            labels = outputs[f"{model}/labels"]
            top = ", ".join(f"{labels[i]} {tags[i]:.2f}" for i in np.argsort(tags)[::-1][:3])
            print(f"  {name:16s} {model}: {outputs[f'{name}/{model}/taggram'].shape[0]} patches; top {top}")


if __name__ == "__main__":
    main()
