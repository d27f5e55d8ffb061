"""Run the ORIGINAL basic-pitch on fixed clips and store its outputs for our parity test.

Two halves in one file. Run it with the project's venv: it synthesizes the clips
deterministically (a melody of harmonic tones with known MIDI notes, a chord sequence, a
procedural-backend render via ``tuneforge.generation``, pink noise, digital silence), writes them
as 16-bit 22 050 Hz WAVs to a temporary folder, and runs itself with ``--worker`` under the Python
of a throwaway venv that holds the original package and what its ONNX path needs::

    python3.11 -m venv /tmp/bpvenv
    /tmp/bpvenv/bin/pip install numpy scipy librosa resampy pretty_midi mir_eval onnxruntime soundfile
    /tmp/bpvenv/bin/pip install --no-deps basic-pitch==0.4.0
    python scripts/basic_pitch_reference.py --bp-python /tmp/bpvenv/bin/python

The worker calls ``basic_pitch.inference.predict(wav)`` with its defaults (there is no
TensorFlow, CoreML or TFLite in that venv, so the package picks ``nmp.onnx`` and onnxruntime) and
saves the model outputs and note events; it also runs ``basic_pitch.note_creation.model_output_to_notes``
(with ``predict``'s arguments) alone on made-up 8-bit posteriorgrams that stress the note
creation (:func:`synthetic_posteriorgrams`). The result goes to
``tests/data/basic_pitch_reference.npz`` (the clips as int16; the note and onset posteriorgrams of
every clip and the contour posteriorgram of ``CONTOUR_CLIPS``, quantized to uint16 steps of
1/65535: ≤ 7.7e-6 error, well inside the test's 1e-4; the made-up posteriorgrams as uint8; all
under 1 MB) and ``tests/data/basic_pitch_reference.json`` (note events, clip recipes, versions).
No patch to the package was needed with the versions recorded in the JSON.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "tests" / "data"
QUANT = 65535.0

#: name → recipe; every clip's length is chosen so its last model window is partly padding.
CLIPS = {
    "melody": "harmonic tones (0.55^h partials, 8 ms attack, exponential decay), C major scale, 0.45 s per note",
    "chords": "three triads with a bass note (C, F, G7), 0.8 s each, soft attack, 0.1 s tail",
    "procedural": "tuneforge procedural backend, genre pop, 100 bpm, seed 11, 3.0 s, mixed to mono",
    "pink_noise": "pink noise (1/f power), seeds 5 and 6, 1.2 s, RMS 0.1",
    "silence": "0.5 s of digital silence (basic-pitch's 0/0 onset path)",
}
MELODY_NOTES = [60, 62, 64, 65, 67, 69, 71, 72]
CHORDS = [(48, 60, 64, 67), (53, 60, 65, 69), (55, 59, 65, 67)]
#: Clips whose contour posteriorgram is stored too (it is 60 % of the bytes; the same forward pass).
CONTOUR_CLIPS = ("melody",)


def harmonic_tone(
    midi: int, seconds: float, *, attack_s: float = 0.008, decay_per_s: float = 3.0
) -> np.ndarray:
    """A harmonic tone: 8 partials of amplitude 0.55^h, linear attack, exponential decay; float64."""
    t = np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    tone = sum(
        0.55**h * np.sin(2 * np.pi * (h + 1) * f0 * t) for h in range(8) if (h + 1) * f0 < SAMPLE_RATE / 2
    )
    env = np.minimum(1.0, t / attack_s) * np.exp(-decay_per_s * t)
    return tone * env


def melody_clip() -> np.ndarray:
    parts = [harmonic_tone(m, 0.45) for m in MELODY_NOTES]
    return 0.4 * np.concatenate(parts)


def chords_clip() -> np.ndarray:
    parts = [sum(harmonic_tone(m, 0.8, attack_s=0.03, decay_per_s=1.5) for m in chord) for chord in CHORDS]
    return 0.15 * np.concatenate(parts + [np.zeros(int(0.1 * SAMPLE_RATE))])


def procedural_clip() -> np.ndarray:
    from tuneforge.generation.procedural import ProceduralBackend
    from tuneforge.spec import spec_from_fields

    spec = spec_from_fields(genre="pop", tempo_bpm=100, duration_seconds=3.0, seed=11)
    out = ProceduralBackend(sample_rate=SAMPLE_RATE).generate(spec)
    return out.samples.astype(np.float64).mean(axis=0)


def pink_noise_clip() -> np.ndarray:
    n = int(1.2 * SAMPLE_RATE)
    real = np.random.default_rng(5).standard_normal(n // 2 + 1)
    imag = np.random.default_rng(6).standard_normal(n // 2 + 1)
    spec = real + 1j * imag
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spec[1:] /= np.sqrt(freqs[1:])
    spec[0] = 0
    y = np.fft.irfft(spec, n)
    return 0.1 * y / np.sqrt(np.mean(y**2))


def silence_clip() -> np.ndarray:
    return np.zeros(int(0.5 * SAMPLE_RATE))


def synthetic_posteriorgrams(seed: int, n_frames: int = 430) -> tuple[np.ndarray, np.ndarray]:
    """Made-up ``(note, onset)`` activations, uint8 (value / 255), that stress the note creation.

    Overlapping note blobs (random pitch, start, 4-70 frames, level 0.2-0.95, some without an
    onset so the melodia trick must find them) on a noise floor hovering around the 0.3 frame
    threshold, and onset-less three-note chords whose notes share one envelope; 8-bit levels and
    the chords make ties for the melodia argmax common, within a frame and across frames.
    """
    rng = np.random.default_rng(seed)
    note = rng.uniform(0.0, 0.36, size=(n_frames, 88)) * (rng.uniform(size=(n_frames, 88)) < 0.3)
    onset = rng.uniform(0.0, 0.3, size=(n_frames, 88)) * (rng.uniform(size=(n_frames, 88)) < 0.1)
    for _ in range(90):
        pitch = int(rng.integers(0, 88))
        start = int(rng.integers(0, n_frames - 4))
        length = int(rng.integers(4, 71))
        level = rng.uniform(0.2, 0.95)
        stop = min(n_frames, start + length)
        decay = np.exp(-np.arange(stop - start) / rng.uniform(15, 80))
        note[start:stop, pitch] = np.maximum(note[start:stop, pitch], level * decay)
        if rng.uniform() < 0.7:
            onset[start, pitch] = max(onset[start, pitch], rng.uniform(0.3, 1.0))
    for _ in range(15):  # chords with one envelope: exact ties within a frame, for the argmax
        pitches = rng.choice(88, size=3, replace=False)
        start = int(rng.integers(0, n_frames - 20))
        stop = min(n_frames, start + int(rng.integers(15, 60)))
        env = rng.uniform(0.4, 0.9) * np.exp(-np.arange(stop - start) / rng.uniform(20, 80))
        for pitch in pitches:
            note[start:stop, pitch] = env
    return np.round(note * 255).astype(np.uint8), np.round(onset * 255).astype(np.uint8)


#: Seeds of the synthetic posteriorgram cases (note creation alone, no model).
POSTERIORGRAM_SEEDS = (21, 22)


def to_int16(y: np.ndarray) -> np.ndarray:
    return np.round(np.clip(y, -1.0, 1.0) * 32767).astype(np.int16)


def synthesize() -> dict[str, np.ndarray]:
    makers = {
        "melody": melody_clip,
        "chords": chords_clip,
        "procedural": procedural_clip,
        "pink_noise": pink_noise_clip,
        "silence": silence_clip,
    }
    return {name: to_int16(make()) for name, make in makers.items()}


# --- worker: runs inside the throwaway venv with the original package ---------------------------------


def worker(folder: Path) -> int:
    import hashlib
    from importlib.metadata import version

    import onnxruntime
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import predict

    if Path(ICASSP_2022_MODEL_PATH).suffix != ".onnx":
        print(f"basic-pitch picked {ICASSP_2022_MODEL_PATH}, not the ONNX model", file=sys.stderr)
        return 2
    from basic_pitch.note_creation import model_output_to_notes

    names = json.loads((folder / "clips.json").read_text())
    grams: dict[str, np.ndarray] = {}
    events: dict[str, list] = {}
    for name in names:
        model_output, _midi, note_events = predict(folder / f"{name}.wav")
        for key in ("note", "onset", "contour"):
            grams[f"{name}/{key}"] = np.asarray(model_output[key], dtype=np.float32)
        events[name] = [[float(s), float(e), int(p), float(a)] for s, e, p, a, _bends in note_events]
    cases = np.load(folder / "posteriorgram_cases.npz")
    synthetic: dict[str, list] = {}
    for seed in POSTERIORGRAM_SEEDS:
        note = cases[f"{seed}/note"].astype(np.float32) / np.float32(255)
        onset = cases[f"{seed}/onset"].astype(np.float32) / np.float32(255)
        contour = np.zeros((note.shape[0], 264), dtype=np.float32)
        # the arguments basic_pitch.inference.predict passes with its defaults
        _midi, note_events = model_output_to_notes(
            {"note": note, "onset": onset, "contour": contour},
            onset_thresh=0.5,
            frame_thresh=0.3,
            min_note_len=int(np.round(127.70 / 1000 * (22050 / 256))),
            min_freq=None,
            max_freq=None,
            multiple_pitch_bends=False,
            melodia_trick=True,
            midi_tempo=120,
        )
        synthetic[str(seed)] = [[float(s), float(e), int(p), float(a)] for s, e, p, a, _bends in note_events]
    np.savez(folder / "outputs.npz", **grams)
    meta = {
        "basic_pitch": version("basic-pitch"),
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "librosa": version("librosa"),
        "scipy": version("scipy"),
        "model_file": Path(ICASSP_2022_MODEL_PATH).name,
        "model_sha256": hashlib.sha256(Path(ICASSP_2022_MODEL_PATH).read_bytes()).hexdigest(),
        "python": sys.version.split()[0],
    }
    (folder / "events.json").write_text(json.dumps({"events": events, "synthetic": synthetic, "meta": meta}))
    return 0


# --- main: synthesize, run the worker, store ----------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--bp-python", default="/tmp/bpvenv/bin/python", help="Python of the venv with basic-pitch"
    )
    p.add_argument("--out-dir", type=Path, default=OUT_DIR)
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        return worker(args.worker)

    import soundfile as sf

    clips = synthesize()
    with tempfile.TemporaryDirectory(prefix="bpref-") as tmp:
        folder = Path(tmp)
        for name, pcm in clips.items():
            sf.write(folder / f"{name}.wav", pcm, SAMPLE_RATE, subtype="PCM_16")
        (folder / "clips.json").write_text(json.dumps(list(clips)))
        cases = {}
        for seed in POSTERIORGRAM_SEEDS:
            cases[f"{seed}/note"], cases[f"{seed}/onset"] = synthetic_posteriorgrams(seed)
        np.savez(folder / "posteriorgram_cases.npz", **cases)
        run = subprocess.run(
            [args.bp_python, str(Path(__file__).resolve()), "--worker", str(folder)], check=False
        )
        if run.returncode != 0:
            print(f"the basic-pitch worker failed (exit {run.returncode})", file=sys.stderr)
            return 1
        outputs = dict(np.load(folder / "outputs.npz"))
        result = json.loads((folder / "events.json").read_text())

    arrays: dict[str, np.ndarray] = {}
    for name, pcm in clips.items():
        arrays[f"{name}/clip"] = pcm
        for key in ("note", "onset", "contour"):
            if key == "contour" and name not in CONTOUR_CLIPS:
                continue
            gram = outputs[f"{name}/{key}"]
            if gram.min() < 0 or gram.max() > 1:
                print(f"{name}/{key} leaves [0, 1]: cannot quantize", file=sys.stderr)
                return 1
            arrays[f"{name}/{key}"] = np.round(gram * QUANT).astype(np.uint16)
    for key, value in cases.items():
        arrays[f"synthetic/{key}"] = value
    args.out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out_dir / "basic_pitch_reference.npz", **arrays)
    doc = {
        "about": "basic_pitch.inference.predict outputs on fixed clips; made by scripts/basic_pitch_reference.py",
        "sample_rate": SAMPLE_RATE,
        "posteriorgram_scale": QUANT,
        "contour_clips": list(CONTOUR_CLIPS),
        "n_frames": {name: int(outputs[f"{name}/note"].shape[0]) for name in clips},
        "clips": CLIPS,
        "melody_notes": MELODY_NOTES,
        "note_events": result["events"],
        "synthetic_seeds": list(POSTERIORGRAM_SEEDS),
        "synthetic_note_events": result["synthetic"],
        "meta": result["meta"],
    }
    (args.out_dir / "basic_pitch_reference.json").write_text(json.dumps(doc, indent=1) + "\n")
    for name in clips:
        n_frames = outputs[f"{name}/note"].shape[0]
        print(
            f"{name:12s} {clips[name].shape[0] / SAMPLE_RATE:5.2f} s  {n_frames:4d} frames  {len(result['events'][name]):3d} notes"
        )
    for seed in POSTERIORGRAM_SEEDS:
        print(
            f"synthetic {seed}  {cases[f'{seed}/note'].shape[0]:4d} frames  {len(result['synthetic'][str(seed)]):3d} notes"
        )
    size = sum((args.out_dir / f"basic_pitch_reference.{ext}").stat().st_size for ext in ("npz", "json"))
    print(f"wrote {args.out_dir}/basic_pitch_reference.{{npz,json}} ({size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
