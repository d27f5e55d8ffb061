"""Tests of General-MIDI soundfont rendering: SF2 parsing and its errors, pitch, loops, envelopes,
velocity and attenuation, pan, and the procedural backend rendering through a font.

Every font here is written by the test itself (tests/sf2_writer.py); nothing depends on a
system soundfont package.
"""

import math

import numpy as np
import pytest
from sf2_writer import Instrument, Preset, Sample, sf2_bytes

from tuneforge.generation.base import BackendUnavailable, GenerationSettings, build_backend
from tuneforge.generation.procedural import ProceduralBackend
from tuneforge.generation.procedural import soundfont as soundfont_module
from tuneforge.generation.procedural.composer import compose
from tuneforge.generation.procedural.drumkit import KIT_PIECES
from tuneforge.generation.procedural.loudness import integrated_loudness, true_peak_dbtp
from tuneforge.generation.procedural.mixer import render_score
from tuneforge.generation.procedural.sf2 import (
    G_ATTACK_VOL,
    G_ATTENUATION,
    G_COARSE_TUNE,
    G_DECAY_VOL,
    G_HOLD_VOL,
    G_INSTRUMENT,
    G_KEY_RANGE,
    G_OVERRIDING_ROOT_KEY,
    G_PAN,
    G_RELEASE_VOL,
    G_SAMPLE_ID,
    G_SAMPLE_MODES,
    G_SUSTAIN_VOL,
    SoundFontError,
    load_soundfont,
)
from tuneforge.generation.procedural.sf2_voice import render_note
from tuneforge.generation.procedural.soundfont import SoundFontVoices, resolve_soundfont_path
from tuneforge.generation.procedural.timbres import midi_to_hz
from tuneforge.spec import spec_from_fields

SR = 44_100
SAMPLE_SR = 22_050
PERIOD = 84  # frames per cycle at 22.05 kHz = 262.5 Hz: MIDI 60 plus 5.8 cents
CORRECTION = -6  # cents, written in the sample header so the samples play at MIDI 60


def tc(seconds: float) -> int:
    """Seconds → SF2 timecents."""
    return int(round(1200.0 * math.log2(seconds)))


def _periodic(harmonics: int, periods: int) -> np.ndarray:
    t = np.arange(PERIOD * periods) / PERIOD
    x = sum(np.sin(2 * np.pi * k * t) / k for k in range(1, harmonics + 1))
    return np.round(0.5 * 32767 * x / np.max(np.abs(x))).astype(np.int16)


def tiny_font_bytes() -> bytes:
    noise = np.random.default_rng(0).standard_normal(int(0.15 * SAMPLE_SR))
    noise *= np.exp(-np.arange(noise.size) / (0.03 * SAMPLE_SR))
    samples = [
        Sample("sine", _periodic(1, 200), SAMPLE_SR, pitch=60, correction=CORRECTION, loop=(20 * PERIOD, 200 * PERIOD)),
        # The header's pitch is wrong on purpose: the zone overrides the root key to 60.
        Sample("saw", _periodic(6, 100), SAMPLE_SR, pitch=72, correction=CORRECTION, loop=(10 * PERIOD, 100 * PERIOD)),
        Sample("noise", np.round(0.8 * 32767 * noise / np.max(np.abs(noise))).astype(np.int16), SAMPLE_SR),
        Sample("sine+tail", _periodic(1, 60), SAMPLE_SR, pitch=60, correction=CORRECTION, loop=(10 * PERIOD, 40 * PERIOD)),
    ]
    instruments = [
        Instrument("Sine-Saw", [
            {G_RELEASE_VOL: tc(0.2), G_ATTACK_VOL: tc(0.01), G_SAMPLE_MODES: 1},  # global zone
            {G_KEY_RANGE: (0, 71), G_SAMPLE_ID: 0},
            {G_KEY_RANGE: (72, 127), G_OVERRIDING_ROOT_KEY: 60, G_SAMPLE_ID: 1},
        ]),
        Instrument("Noise kit", [{G_KEY_RANGE: (35, 82), G_RELEASE_VOL: tc(0.05), G_SAMPLE_ID: 2}]),
        Instrument("Decaying", [{G_SAMPLE_MODES: 1, G_HOLD_VOL: -12000, G_DECAY_VOL: tc(0.5), G_SUSTAIN_VOL: 200,
                                 G_PAN: -500, G_SAMPLE_ID: 0}]),
        Instrument("Loop until release", [{G_SAMPLE_MODES: 3, G_RELEASE_VOL: tc(2.0), G_SAMPLE_ID: 3}]),
    ]
    presets = [
        Preset("Tiny Piano", 0, 0, [{G_COARSE_TUNE: 0}, {G_INSTRUMENT: 0}]),
        Preset("Octave Up", 0, 1, [{G_COARSE_TUNE: 12, G_KEY_RANGE: (0, 100), G_INSTRUMENT: 0}]),
        Preset("Decay Left", 0, 2, [{G_INSTRUMENT: 2}]),
        Preset("Quieter", 0, 3, [{G_ATTENUATION: 60}, {G_INSTRUMENT: 0}]),
        Preset("Tiny Bass", 0, 33, [{G_INSTRUMENT: 0}]),
        Preset("Release Tail", 0, 4, [{G_INSTRUMENT: 3}]),
        Preset("Tiny Kit", 128, 0, [{G_INSTRUMENT: 1}]),
    ]
    return sf2_bytes(samples, instruments, presets, name="tiny test font")


@pytest.fixture(scope="module")
def font_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("sf2") / "tiny.sf2"
    path.write_bytes(tiny_font_bytes())
    return str(path)


@pytest.fixture(scope="module")
def font(font_path):
    return load_soundfont(font_path)


def _note(font, program: int, key: int, *, seconds: float = 1.0, velocity: int = 100) -> np.ndarray:
    zones = [z for z in font.zones(0, program) if z.matches(key, velocity)]
    assert zones, f"no zone for key {key}"
    return render_note(font, zones, key=key, velocity=velocity, sustain_frames=int(seconds * SR), sample_rate=SR)


def _peak_hz(x: np.ndarray) -> float:
    n = 1 << 20
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1: k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / n


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# --- parsing -------------------------------------------------------------------------------

def test_parse_presets_zones_ranges_and_root_keys(font):
    assert font.name == "tiny test font"
    assert {k: p.name for k, p in font.presets.items()} == {
        (0, 0): "Tiny Piano", (0, 1): "Octave Up", (0, 2): "Decay Left", (0, 3): "Quieter", (0, 33): "Tiny Bass",
        (0, 4): "Release Tail", (128, 0): "Tiny Kit"}
    low, high = font.zones(0, 0)
    assert (low.key_lo, low.key_hi, high.key_lo, high.key_hi) == (0, 71, 72, 127)
    assert (low.root_key, high.root_key) == (60, 60)  # header pitch for one, overridingRootKey for the other
    assert font.sample_headers[high.sample].pitch == 72
    # The instrument's global zone reaches both local zones.
    assert low.release_tc == high.release_tc == tc(0.2) and low.loop_mode == high.loop_mode == 1
    assert (low.tune_cents, low.attenuation_cb) == (CORRECTION, 0)
    assert low.loop_end - low.loop_start == 180 * PERIOD
    # Preset generators add to the instrument's; preset key ranges intersect.
    up_low, up_high = font.zones(0, 1)
    assert up_low.tune_cents == 1200 + CORRECTION and up_high.key_hi == 100
    assert all(z.attenuation_cb == 60 for z in font.zones(0, 3))
    (kit,) = font.zones(128, 0)
    assert (kit.key_lo, kit.key_hi, kit.loop_mode, kit.release_tc) == (35, 82, 0, tc(0.05))
    assert font.zones(0, 99) == ()


@pytest.mark.parametrize("key", [36, 48, 60, 67, 71, 72, 79, 84, 96])
def test_rendered_pitch_matches_the_key(font, key):
    wave = _note(font, 0, key)
    f = _peak_hz(wave[0, int(0.2 * SR): SR])
    assert abs(1200 * math.log2(f / midi_to_hz(key))) < 3.0, f


@pytest.mark.parametrize("key", [55, 60, 67])
def test_looped_sine_stays_pure_across_the_loop_seam(font, key):
    """Cubic interpolation that wraps at the loop end leaves only int16 noise (about -95 dB);
    linear interpolation (-74 dB) or a seam read past the loop end (-60 to -67 dB) would not."""
    x = _note(font, 0, key)[0, SR // 2: SR].astype(np.float64)
    t = np.arange(x.size) / SR
    hz = _peak_hz(x)
    basis = np.stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t), np.ones_like(t)], axis=1)
    residual = x - basis @ np.linalg.lstsq(basis, x, rcond=None)[0]
    assert 20 * math.log10(_rms(residual) / _rms(x)) < -85.0


def test_preset_coarse_tune_adds_an_octave(font):
    f = _peak_hz(_note(font, 1, 60)[0, int(0.2 * SR): SR])
    assert abs(1200 * math.log2(f / midi_to_hz(72))) < 3.0


def test_looped_sustain_holds_and_release_decays(font):
    sustain = 3 * SR
    wave = _note(font, 0, 60, seconds=3.0)[0]
    release = wave.size - sustain
    assert abs(release - 0.2 * 0.96 * SR) <= 3  # 1000 cB per 0.2 s down to -96 dB
    early, late = _rms(wave[int(0.5 * SR): SR]), _rms(wave[int(2.5 * SR): sustain])
    assert early > 0.2 and abs(late / early - 1.0) < 0.02
    quarter = release // 4
    tail = [_rms(wave[sustain + i * quarter: sustain + (i + 1) * quarter]) for i in range(4)]
    assert all(b < a for a, b in zip(tail, tail[1:], strict=False)) and tail[-1] < 0.01 * early
    assert wave[0] == 0.0 and wave[-1] == 0.0


def test_loop_until_release_then_play_the_tail(font):
    looped, until_release = _note(font, 0, 60)[0], _note(font, 4, 60)[0]
    held = slice(int(0.5 * SR), SR)
    assert abs(_rms(until_release[held]) / _rms(looped[held]) - 1.0) < 0.02  # the loop holds like sampleModes 1
    # After note-off the read position leaves the loop and runs off the sample's end (at most 50
    # periods of 84 frames at half speed, about 0.19 s), long before the 2 s release is over.
    after = SR + int(0.2 * SR)
    assert until_release.size > SR + SR  # the envelope's release is still running
    assert _rms(until_release[SR: SR + int(0.05 * SR)]) > 0.1 and not np.any(until_release[after:])


def test_one_shot_sample_stops_at_its_end(font):
    (zone,) = font.zones(128, 0)
    out = render_note(font, [zone], key=60, velocity=100, sustain_frames=SR, sample_rate=SR)
    end = int(0.15 * SR) + 2
    assert _rms(out[:, : end]) > 0.01
    assert not np.any(out[:, end:])


def test_decay_to_sustain_level_and_zone_pan(font):
    plain = _note(font, 0, 60)
    decayed = _note(font, 2, 60)
    ratio = _rms(decayed[0, int(0.5 * SR): SR]) / _rms(plain[0, int(0.5 * SR): SR])
    # Sustain at 200 cB (-20 dB); the decaying zone is hard left (x sqrt 2) while the plain one is centred.
    assert abs(ratio / math.sqrt(2.0) - 0.1) < 0.005
    assert not np.any(decayed[1]) and _rms(decayed[0, : int(0.05 * SR)]) > 2 * _rms(decayed[0, int(0.5 * SR): SR])


def test_velocity_and_attenuation_scale_amplitude(font):
    loud = _rms(_note(font, 0, 60, velocity=127)[0, SR // 2: SR])
    soft = _rms(_note(font, 0, 60, velocity=64)[0, SR // 2: SR])
    assert abs(soft / loud - (64 / 127) ** 2) < 0.01
    quieter = _rms(_note(font, 3, 60, velocity=127)[0, SR // 2: SR])
    assert abs(quieter / loud - 10 ** (-60 / 200)) < 0.01


def test_voices_follow_the_synth_note_contract(font):
    voices = SoundFontVoices(font, SR)
    assert voices.has_timbre("piano") and voices.has_timbre("bass") and not voices.has_timbre("strings")
    assert voices.programs["piano"] == (0, 0) and voices.drum_preset == (128, 0)
    ref = voices.synthesize_note("piano", pitch=60, sustain_frames=SR // 2)
    assert ref.dtype == np.float32 and ref.shape[0] == 2 and ref.shape[1] > SR // 2
    assert abs(float(np.max(np.abs(ref))) - 1.0) < 1e-5
    assert not np.any(ref[:, 0]) and not np.any(ref[:, -1])
    with pytest.raises(KeyError, match="strings"):
        voices.synthesize_note("strings", pitch=60, sustain_frames=100)
    assert set(voices.kit) == set(KIT_PIECES)
    for piece, sound in voices.kit.items():
        assert sound.ndim == 1 and sound.dtype == np.float32, piece
        assert abs(float(np.max(np.abs(sound))) - 1.0) < 1e-6 and sound[0] == 0.0 and sound[-1] == 0.0
    assert _peak_hz(voices.kit["kick"]) != _peak_hz(voices.kit["cowbell"])  # pitched from different keys


# --- corrupt files -------------------------------------------------------------------------

def _corrupt(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


def _bad_index_font(kind: str) -> bytes:
    sample = Sample("s", np.zeros(100, dtype=np.int16), SAMPLE_SR)
    if kind == "sample":
        return sf2_bytes([sample], [Instrument("i", [{G_SAMPLE_ID: 9}])], [Preset("p", 0, 0, [{G_INSTRUMENT: 0}])])
    return sf2_bytes([sample], [Instrument("i", [{G_SAMPLE_ID: 0}])], [Preset("p", 0, 0, [{G_INSTRUMENT: 7}])])


@pytest.mark.parametrize("case, match", [
    ("empty", "too short for a RIFF header"),
    ("not_riff", "not a RIFF file"),
    ("wave", "RIFF form is b'WAVE', not b'sfbk'"),
    ("truncated", "truncated"),
    ("chunk_past_end", "chunk 'pgen' at byte .* claims 65535 bytes"),
    ("sample_past_pool", "sample 0 \\('sine'\\) spans frames 0-9999999, outside the"),
    ("sample_index", "igen record 0: sample index 9 is past the 1 samples"),
    ("instrument_index", "pgen record 0: instrument index 7 is past the 1 instruments"),
    ("record_size", "shdr chunk size .* is not a multiple of its 46-byte record"),
    ("missing_chunk", "no 'pdta' LIST chunk"),
])
def test_corrupt_files_raise_a_specific_error(tmp_path, case, match):
    good = tiny_font_bytes()
    shdr = good.index(b"shdr")
    data = {
        "empty": b"",
        "not_riff": b"MThd this is a MIDI file, honest" * 2,
        "wave": _corrupt(good, 8, b"WAVE"),
        "truncated": good[: len(good) // 2],
        "chunk_past_end": _corrupt(good, good.index(b"pgen") + 4, (65535).to_bytes(4, "little")),
        "sample_past_pool": _corrupt(good, shdr + 8 + 24, (9_999_999).to_bytes(4, "little")),
        "sample_index": _bad_index_font("sample"),
        "instrument_index": _bad_index_font("instrument"),
        "record_size": _corrupt(good, shdr + 4, (int.from_bytes(good[shdr + 4: shdr + 8], "little") - 2)
                                .to_bytes(4, "little")),
        "missing_chunk": _corrupt(good, good.index(b"pdta"), b"junk"),
    }[case]
    path = tmp_path / f"{case}.sf2"
    path.write_bytes(data)
    with pytest.raises(SoundFontError, match=match) as err:
        load_soundfont(path)
    assert str(path) in str(err.value)


def test_random_damage_only_ever_raises_soundfont_error(tmp_path):
    good = tiny_font_bytes()
    hydra = good.index(b"LIST", good.index(b"sdta"))
    rng = np.random.default_rng(5)
    path = tmp_path / "damaged.sf2"
    outcomes = {"ok": 0, "error": 0}
    cuts = [int(c) for c in rng.integers(0, len(good), 40)]
    for i in range(120):
        if i < len(cuts):
            data = good[: cuts[i]]
        else:
            at = int(rng.integers(hydra, len(good) - 4))
            data = _corrupt(good, at, rng.integers(0, 256, 4, dtype=np.uint8).tobytes())
        path.write_bytes(data)
        try:
            loaded = load_soundfont(path)
            for bank, program in loaded.presets:
                loaded.zones(bank, program)
            outcomes["ok"] += 1
        except SoundFontError:
            outcomes["error"] += 1
    assert outcomes["error"] >= len(cuts) and outcomes["ok"] > 0


# --- the backend ---------------------------------------------------------------------------

BACKEND_SR = 22_050


def _spec(**kw):
    base = dict(genre="pop", tempo_bpm=100, key_signature="C major", time_signature="4/4", duration_seconds=8,
                seed=11, instruments=["piano", "strings", "bass", "drums"])
    base.update(kw)
    return spec_from_fields(**base)


def test_backend_renders_through_the_font(font_path):
    backend = ProceduralBackend(sample_rate=BACKEND_SR, soundfont=font_path)
    assert backend.voices is not None and backend.model_id == "tuneforge-procedural-v1+sf2:tiny"
    spec = _spec()
    out = backend.generate(spec)
    x = out.samples
    assert x.shape == (2, 8 * BACKEND_SR) and x.dtype == np.float32 and np.all(np.isfinite(x))
    assert out.model_id == backend.model_id
    assert abs(integrated_loudness(x, sample_rate=BACKEND_SR) + 14.0) < 0.5 and true_peak_dbtp(x) <= -0.99
    again = ProceduralBackend(sample_rate=BACKEND_SR, soundfont=font_path).generate(spec).samples
    assert x.tobytes() == backend.generate(spec).samples.tobytes() == again.tobytes()
    builtin = ProceduralBackend(sample_rate=BACKEND_SR).generate(spec).samples
    assert _rms(x - builtin) > 0.1 * _rms(builtin)
    assert backend.generate(_spec(seed=12)).samples.tobytes() != x.tobytes()
    odd = backend.generate(_spec(duration_seconds=3.3, time_signature="7/8")).samples
    assert odd.shape == (2, round(3.3 * BACKEND_SR))


def test_mixer_uses_the_font_only_for_the_timbres_it_has(font_path):
    voices = SoundFontVoices.from_path(font_path, BACKEND_SR)
    score = compose(_spec(), np.random.default_rng(11))
    kw = dict(sample_rate=BACKEND_SR, n_frames=4 * BACKEND_SR, seed=11)
    for part in score.parts:
        one = type(score)(**{**score.__dict__, "parts": [part], "drums": []})
        plain, with_font = render_score(one, **kw), render_score(one, **kw, voices=voices)
        same = plain.tobytes() == with_font.tobytes()
        assert same != voices.has_timbre(part.timbre), part.timbre
    with pytest.raises(ValueError, match="22050 Hz"):
        render_score(score, sample_rate=BACKEND_SR * 2, n_frames=100, seed=1, voices=voices)


def test_soundfont_option_resolution(font_path, tmp_path, monkeypatch):
    assert resolve_soundfont_path(None) is None and resolve_soundfont_path("") is None
    monkeypatch.setattr(soundfont_module, "STANDARD_PATHS", (str(tmp_path / "absent.sf2"),))
    assert resolve_soundfont_path("auto") is None
    default = ProceduralBackend(sample_rate=BACKEND_SR)
    auto = ProceduralBackend(sample_rate=BACKEND_SR, soundfont="auto")
    assert auto.voices is None and auto.model_id == default.model_id == "tuneforge-procedural-v1"
    spec = _spec(duration_seconds=2)
    assert auto.generate(spec).samples.tobytes() == default.generate(spec).samples.tobytes()
    monkeypatch.setattr(soundfont_module, "STANDARD_PATHS", (str(tmp_path / "absent.sf2"), font_path))
    assert ProceduralBackend(sample_rate=BACKEND_SR, soundfont="auto").voices is not None
    built = build_backend(GenerationSettings(sample_rate=BACKEND_SR, soundfont=font_path))
    assert built.model_id.endswith("+sf2:tiny")
    with pytest.raises(BackendUnavailable, match="absent.sf2: no such file"):
        ProceduralBackend(soundfont=str(tmp_path / "absent.sf2"))
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    with pytest.raises(BackendUnavailable, match="not b'sfbk'"):
        ProceduralBackend(soundfont=str(bad))
