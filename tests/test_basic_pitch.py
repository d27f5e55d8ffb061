"""basic-pitch note transcription (scoring.wheel_models.basic_pitch): parity with the original
package's outputs stored by scripts/basic_pitch_reference.py, ground truth on synthesized notes,
bounded work on long clips, determinism across processes, and bad input."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scoring.wheel_models import basic_pitch as bp
from scoring.wheel_models.note_events import frame_notes, model_frames_to_time

DATA = Path(__file__).parent / "data"
SR = bp.SAMPLE_RATE
FRAME_S = 1.0 / bp.FRAME_RATE_HZ

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("basic_pitch") is None, reason="basic-pitch wheel not installed"
)


@pytest.fixture(scope="module")
def reference():
    meta = json.loads((DATA / "basic_pitch_reference.json").read_text())
    with np.load(DATA / "basic_pitch_reference.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    return meta, arrays


@pytest.fixture(scope="module")
def transcriber():
    return bp.NoteTranscriber.load()


def _clip(arrays, name):
    return arrays[f"{name}/clip"].astype(np.float32) / np.float32(32768)


def tone(midi: int, seconds: float, *, partials=(1.0, 0.2, 0.08), decay_per_s: float = 2.5) -> np.ndarray:
    """A plucked harmonic tone (5 ms attack, exponential decay, 10 ms release), float64."""
    t = np.arange(int(round(seconds * SR))) / SR
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    env = np.minimum(1.0, t / 0.005) * np.exp(-decay_per_s * t) * np.minimum(1.0, (seconds - t) / 0.01)
    return sum(a * np.sin(2 * np.pi * (h + 1) * f0 * t) for h, a in enumerate(partials)) * env


TUNE = [
    (57, 0.5),
    (60, 0.25),
    (64, 0.25),
    (69, 0.5),
    (67, 0.25),
    (65, 0.25),
    (64, 0.75),
    (62, 0.25),
    (60, 0.5),
    (59, 0.5),
    (57, 1.0),
]


def tune_audio(partials=(1.0, 0.2, 0.08), transpose: int = 0) -> np.ndarray:
    return (0.3 * np.concatenate([tone(m + transpose, d, partials=partials) for m, d in TUNE])).astype(
        np.float32
    )


# --- parity with the original package ------------------------------------------------------------


@pytest.mark.parametrize("name", ["melody", "chords", "procedural", "pink_noise", "silence"])
def test_posteriorgrams_match_original(reference, transcriber, name):
    meta, arrays = reference
    note, onset, contour = transcriber.posteriorgrams(mono_22050=_clip(arrays, name))
    scale = meta["posteriorgram_scale"]
    assert note.shape == (meta["n_frames"][name], 88) and contour.shape == (meta["n_frames"][name], 264)
    assert note.dtype == onset.dtype == contour.dtype == np.float32
    ours = {"note": note, "onset": onset, "contour": contour}
    keys = ["note", "onset"] + (["contour"] if name in meta["contour_clips"] else [])
    for key in keys:
        ref = arrays[f"{name}/{key}"].astype(np.float64) / scale
        assert ref.shape == ours[key].shape
        assert np.abs(ours[key] - ref).max() <= 1e-4, key


@pytest.mark.parametrize("name", ["melody", "chords", "procedural", "pink_noise", "silence"])
def test_note_events_match_original(reference, transcriber, name):
    meta, arrays = reference
    ours = transcriber.transcribe(_clip(arrays, name)).notes
    ref = sorted(meta["note_events"][name], key=lambda n: (n[0], n[2], n[1]))
    assert len(ours) == len(ref)
    for got, (start, end, pitch, amplitude) in zip(ours, ref, strict=True):
        assert got.midi_pitch == pitch
        assert abs(got.start_s - start) <= FRAME_S and abs(got.end_s - end) <= FRAME_S
        assert abs(got.amplitude - amplitude) <= 1e-3


def test_reference_clips_have_notes_where_music_is(reference):
    """The stored reference exercises the note creation (a parity test on empty outputs proves little)."""
    meta, _ = reference
    counts = {name: len(events) for name, events in meta["note_events"].items()}
    assert counts["melody"] >= 8 and counts["chords"] >= 9 and counts["procedural"] >= 5
    assert counts["silence"] == 0
    assert meta["meta"]["model_sha256"] == bp.MODEL_SHA256


@pytest.mark.parametrize("seed_index", [0, 1])
def test_note_creation_matches_original_on_stress_posteriorgrams(reference, seed_index):
    """Made-up 8-bit posteriorgrams (ties for the melodia argmax, notes without onsets): the
    original's note events, in the original's order, with identical times and amplitudes."""
    meta, arrays = reference
    seed = meta["synthetic_seeds"][seed_index]
    note = arrays[f"synthetic/{seed}/note"].astype(np.float32) / np.float32(255)
    onset = arrays[f"synthetic/{seed}/onset"].astype(np.float32) / np.float32(255)
    note_before = note.copy()
    events = frame_notes(note=note, onset=onset)
    assert np.array_equal(note, note_before)  # inputs untouched
    times = model_frames_to_time(note.shape[0])
    ours = [
        [float(times[e.start_frame]), float(times[e.end_frame]), e.midi_pitch, e.amplitude] for e in events
    ]
    ref = meta["synthetic_note_events"][str(seed)]
    assert len(ref) > 80
    assert ours == ref
    # the melodia trick found a good share of them
    assert len(frame_notes(note=note, onset=onset, melodia_trick=False)) < 0.6 * len(ref)


# --- ground truth -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partials", "transpose"),
    [((1.0, 0.2, 0.08), 0), ((1.0,), 0), ((1.0, 0.4, 0.2, 0.1, 0.05), 0), ((1.0, 0.2, 0.08), 7)],
)
def test_known_melody_is_transcribed_to_its_notes(transcriber, partials, transpose):
    t = transcriber.transcribe(tune_audio(partials, transpose))
    starts = np.cumsum([0.0] + [d for _, d in TUNE[:-1]])
    assert [n.midi_pitch for n in t.notes] == [m + transpose for m, _ in TUNE]
    for got, start, (_, dur) in zip(t.notes, starts, TUNE, strict=True):
        assert abs(got.start_s - start) <= 0.035
        assert abs(got.end_s - (start + dur)) <= 0.1
        assert 0.5 < got.amplitude <= 1.0


def test_held_triad_gives_its_three_pitches(transcriber):
    """Polyphony: a held C major triad of sines is C4, E4, G4 from start to end (a held note may be
    split where two model windows meet, at 1.64 s: basic-pitch does the same)."""
    y = (0.2 * sum(tone(m, 2.0, partials=(1.0,), decay_per_s=0.8) for m in (60, 64, 67))).astype(np.float32)
    t = transcriber.transcribe(y)
    assert sorted({n.midi_pitch for n in t.notes}) == [60, 64, 67]
    for pitch in (60, 64, 67):
        mine = sorted((n.start_s, n.end_s) for n in t.notes if n.midi_pitch == pitch)
        assert mine[0][0] < 0.05 and mine[-1][1] > 1.9
        assert all(b[0] - a[1] < 0.05 for a, b in zip(mine, mine[1:]))  # no gaps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_and_a_held_sine_are_not_melodies(transcriber, seed):
    """What a lazy miner sends: white noise reads as (almost) no notes; a held sine as one note
    of its own pitch lasting the whole clip."""
    rng = np.random.default_rng(seed)
    noise = transcriber.transcribe((0.1 * rng.standard_normal(5 * SR)).astype(np.float32))
    assert len(noise.notes) / 5.0 < 0.5
    freq = rng.uniform(110.0, 1760.0)
    sine = transcriber.transcribe(
        (0.3 * np.sin(2 * np.pi * freq * np.arange(5 * SR) / SR)).astype(np.float32)
    )
    assert [n.midi_pitch for n in sine.notes] == [int(round(69 + 12 * np.log2(freq / 440.0)))]
    assert sine.notes[0].end_s - sine.notes[0].start_s > 4.8


def test_silence_and_tiny_clips(transcriber):
    t = transcriber.transcribe(np.zeros(SR, dtype=np.float32))
    assert t.notes == () and t.note_posteriorgram.shape == (86, 88)
    tiny = transcriber.transcribe(np.full(100, 0.1, dtype=np.float32))
    assert (
        tiny.notes == ()
        and tiny.note_posteriorgram.shape == (0, 88)
        and tiny.contour_posteriorgram.shape == (0, 264)
    )


# --- long clips: bounded work, evenly spaced excerpts -----------------------------------------------------


class CountingSession:
    def __init__(self, session):
        self.session, self.windows = session, 0

    def run(self, names, feeds):
        self.windows += next(iter(feeds.values())).shape[0]
        return self.session.run(names, feeds)


def test_max_seconds_bounds_the_model_windows_of_a_long_clip(transcriber):
    y = np.tile(tune_audio(), 36)[: 180 * SR]  # 180 s, a miner's longest clip
    counting = CountingSession(transcriber._session)
    t = bp.NoteTranscriber(counting).transcribe(y, max_seconds=14.3)
    assert counting.windows == 3 * bp.EXCERPT_WINDOWS
    assert len(t.excerpts) == 3 and abs(t.analysed_s - 3 * bp.EXCERPT_SAMPLES / SR) < 1e-9
    # each excerpt is centred in its third of the clip
    for k, (start, end) in enumerate(t.excerpts):
        assert abs((start + end) / 2 - (k + 0.5) * y.shape[0] / SR / 3) < 1e-4
    assert t.note_posteriorgram.shape[0] == t.frame_times_s.shape[0]
    assert np.all(np.diff(t.frame_times_s) > 0)


def test_excerpt_notes_are_the_excerpts_own_notes_at_clip_times(transcriber):
    y = np.concatenate([tune_audio(transpose=k) for k in range(4)])  # 20 s
    t = transcriber.transcribe(y, max_seconds=10.0)
    assert len(t.excerpts) == 2
    expected = []
    for start_s, end_s in t.excerpts:
        start = int(round(start_s * SR))
        part = transcriber.transcribe(y[start : start + bp.EXCERPT_SAMPLES])
        expected += [(n.start_s + start / SR, n.end_s + start / SR, n.midi_pitch) for n in part.notes]
    got = [(n.start_s, n.end_s, n.midi_pitch) for n in t.notes]
    assert got == sorted(expected, key=lambda e: (e[0], e[2], e[1]))
    assert all(any(a <= n.start_s < b for a, b in t.excerpts) for n in t.notes)


def test_short_clip_with_max_seconds_is_transcribed_whole(transcriber):
    y = tune_audio()
    whole = transcriber.transcribe(y)
    bounded = transcriber.transcribe(y, max_seconds=5.0)  # one 4.75 s excerpt < 5 s clip: excerpt
    assert len(bounded.excerpts) == 1 and bounded.excerpts[0][1] - bounded.excerpts[0][0] < 5.0
    same = transcriber.transcribe(y, max_seconds=9.6)  # two excerpts would cover the clip: whole
    assert same.excerpts == ((0.0, y.shape[0] / SR),) and same.notes == whole.notes
    with pytest.raises(bp.BasicPitchError):
        transcriber.transcribe(y, max_seconds=0)


# --- determinism, loading, bad input -----------------------------------------------------------------


_DIGEST = """
def digest(t):
    import hashlib
    h = hashlib.sha256()
    for a in (t.note_posteriorgram, t.onset_posteriorgram, t.contour_posteriorgram):
        h.update(a.tobytes())
    h.update(repr(t.notes).encode())
    return h.hexdigest()
"""


def test_identical_in_a_fresh_process(reference, transcriber):
    _, arrays = reference
    scope: dict = {}
    exec(_DIGEST, scope)
    here = scope["digest"](transcriber.transcribe(_clip(arrays, "procedural")))
    code = _DIGEST + (
        "import sys, numpy as np\n"
        "from scoring.wheel_models import basic_pitch as bp\n"
        "y = np.load(sys.argv[1])['procedural/clip'].astype(np.float32) / np.float32(32768)\n"
        "print(digest(bp.NoteTranscriber.load().transcribe(y)))\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(root))
    out = subprocess.run(
        [sys.executable, "-c", code, str(DATA / "basic_pitch_reference.npz")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=root,
    )
    assert out.stdout.strip() == here


def test_session_is_loaded_once_per_process():
    a, b = bp.NoteTranscriber.load(), bp.NoteTranscriber.load()
    assert a._session is b._session


def test_missing_wheel_and_foreign_model(monkeypatch, tmp_path):
    monkeypatch.setattr(bp.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(bp.BasicPitchMissing, match="pip install --no-deps basic-pitch"):
        bp.model_path()
    fake = tmp_path / "nmp.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(bp.BasicPitchMissing, match="not basic-pitch 0.4.0's model"):
        bp._check_identity(fake)


@pytest.mark.parametrize(
    "audio",
    [
        np.zeros((2, SR), dtype=np.float32),
        np.zeros(0, dtype=np.float32),
        np.zeros(SR, dtype=np.int16),
        np.array([0.0, np.nan, 0.0] * 1000, dtype=np.float32),
        np.array([0.0, np.inf] * 1000),
    ],
    ids=["stereo", "empty", "int16", "nan", "inf"],
)
def test_bad_input_is_refused(transcriber, audio):
    with pytest.raises(bp.BasicPitchError):
        transcriber.transcribe(audio)


def test_float64_input_equals_float32(transcriber):
    y = tune_audio()
    assert transcriber.transcribe(y.astype(np.float64)).notes == transcriber.transcribe(y).notes
