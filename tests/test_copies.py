"""Copy detection (scoring.copies and the fingerprint penalty), attacked as a relaying miner would.

Clips come from the procedural backend (a request turned into a ``MusicSpec`` as the miner does)
and from numpy; the disguises are applied here. A copy is caught when its multiplier is ≤ 0.1;
an honest pair must keep exactly 1.0.
"""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr
from scipy import signal

from scoring import constants as C
from scoring.copies import Fingerprint, compare
from scoring.copies.align import inverse
from scoring.history import MinerHistory
from scoring.penalties.fingerprint import NAME as PENALTY
from scoring.request import ScoringRequest
from scoring.scorer import RoundEntry, Scorer

SR = 44_100
SECONDS = 12.0


@pytest.fixture(scope="module")
def backend():
    from tuneforge.generation import GenerationSettings, build_backend

    return build_backend(GenerationSettings(backend="procedural"))


def _clip(
    backend,
    seed: int,
    *,
    prompt="upbeat pop with piano and drums",
    genre="pop",
    tempo=124.0,
    key="A minor",
    seconds=SECONDS,
) -> np.ndarray:
    from tuneforge.spec import spec_from_fields

    spec = spec_from_fields(
        prompt=prompt,
        genre=genre,
        tempo_bpm=tempo,
        key_signature=key,
        time_signature="4/4",
        duration_seconds=seconds,
        seed=seed,
    )
    return backend.generate(spec).samples


@pytest.fixture(scope="module")
def originals(backend):
    """Two requests of different character: a dense pop band and a sparse ambient piece."""
    return [
        _clip(backend, 11),
        _clip(backend, 12, prompt="calm ambient pad", genre="ambient", tempo=72.0, key="D major"),
    ]


# --- disguises ------------------------------------------------------------------------------


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[1:] /= np.sqrt(np.fft.rfftfreq(n)[1:])
    spec[0] = 0.0
    return np.fft.irfft(spec, n)


def _noise(x, snr_db, kind):
    rng = np.random.default_rng(3)
    n = np.stack([rng.standard_normal(x.shape[1]) if kind == "white" else _pink(x.shape[1], rng) for _ in x])
    n *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / 10 ** (snr_db / 10) / np.mean(n**2))
    return x + n


def _ogg(x, sr):
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1).T, sr, format="OGG", subtype="VORBIS")
    buf.seek(0)
    y, rate = sf.read(buf, dtype="float32", always_2d=True)
    return y.T, rate


def _stretch(x, rate):
    import librosa

    return np.stack([librosa.effects.time_stretch(c, rate=rate) for c in x])


def _pitch(x, sr, steps):
    import librosa

    return np.stack([librosa.effects.pitch_shift(c, sr=sr, n_steps=steps) for c in x])


def _speed(x, sr, factor):
    return soxr.resample(x.T, sr, sr / factor, quality="HQ").T


def _lowpass(x, sr, hz):
    return signal.sosfiltfilt(signal.butter(8, hz, fs=sr, output="sos"), x, axis=1)


def _invert_one(x):
    y = x.copy()
    y[1] = -y[1]
    return y


DISGUISES = {
    # family: gain (float beyond full scale arrives clipped by the intake)
    "gain_x0.01": lambda x, sr: (x * 0.01, sr),
    "gain_x100_float_clipped": lambda x, sr: (np.clip(x * 100, -1, 1), sr),
    "int16_x3_clipped": lambda x, sr: (np.round(np.clip(x * 3, -1, 1) * 32767) / 32768, sr),
    # resampling, lossy re-encoding
    "resample_32k_roundtrip": lambda x, sr: (soxr.resample(soxr.resample(x.T, sr, 32_000), 32_000, sr).T, sr),
    "resample_to_22k": lambda x, sr: (soxr.resample(x.T, sr, 22_050).T, 22_050),
    "ogg_vorbis": _ogg,
    # delays
    "delay_500ms": lambda x, sr: (np.concatenate([np.zeros((2, sr // 2)), x], axis=1)[:, : x.shape[1]], sr),
    "trim_500ms": lambda x, sr: (x[:, sr // 2 :], sr),
    # noise, filtering
    "white_noise_20db": lambda x, sr: (_noise(x, 20, "white"), sr),
    "pink_noise_20db": lambda x, sr: (_noise(x, 20, "pink"), sr),
    "lowpass_4k": lambda x, sr: (_lowpass(x, sr, 4000), sr),
    # polarity and channel tricks
    "polarity": lambda x, sr: (-x, sr),
    "swap_channels": lambda x, sr: (x[::-1], sr),
    "invert_one_channel": lambda x, sr: (_invert_one(x), sr),
    "stereo_to_mono": lambda x, sr: (x.mean(axis=0, keepdims=True), sr),
    "mono_to_stereo": lambda x, sr: (np.repeat(x.mean(axis=0, keepdims=True), 2, axis=0), sr),
    # tempo and pitch
    "stretch_1.05": lambda x, sr: (_stretch(x, 1.05), sr),
    "stretch_0.95": lambda x, sr: (_stretch(x, 0.95), sr),
    "speed_1.05": lambda x, sr: (_speed(x, sr, 1.05), sr),
    "speed_0.95": lambda x, sr: (_speed(x, sr, 0.95), sr),
    "pitch_+1.5": lambda x, sr: (_pitch(x, sr, 1.5), sr),
    "pitch_-2": lambda x, sr: (_pitch(x, sr, -2.0), sr),
    # combined
    "stretch+pitch+noise+gain": lambda x, sr: (
        0.3 * _noise(_pitch(_stretch(x, 1.04), sr, 1.5), 20, "pink"),
        sr,
    ),
}


def _print(x, sr) -> Fingerprint:
    return Fingerprint.from_samples(np.clip(np.asarray(x, np.float32), -1, 1), sr)


#: Disguises the matcher is known to miss on these clips (see docs/scoring.md "Fingerprint": combined
#: phase-vocoder stretch + pitch-shift + noise is the weakest family in bench/bench_copies.py).
KNOWN_MISSES = {
    "stretch+pitch+noise+gain": "stretch 1.04 + pitch +1.5 + pink noise 20 dB: evidence 7.9 on the pop clip, "
    "multiplier 0.17 (partly penalised, not caught)",
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n]))
        if n in KNOWN_MISSES
        else n
        for n in DISGUISES
    ],
)
def test_disguised_copy_is_caught(originals, name):
    for x in originals:
        y, sr = DISGUISES[name](x, SR)
        m = compare(_print(x, SR), _print(y, sr))
        assert m.multiplier <= 0.1, (name, m)


def test_the_alignment_found_is_the_disguise(originals):
    x = originals[0]
    base = _print(x, SR)
    shifted = compare(base, _print(_pitch(x, SR, 2.0), SR)).alignment
    # within two steps of the tempo grid: on held notes a 1 % drift scores as well (the segment slide absorbs it)
    assert shifted is not None and shifted.shift == 6 and shifted.stretch == pytest.approx(1.0, abs=0.011)
    sped = compare(base, _print(_speed(x, SR, 1.05), SR)).alignment  # 5 % faster: 0.84 semitone up
    assert sped is not None and sped.shift in (2, 3) and sped.stretch == pytest.approx(1.05, abs=0.006)
    late = compare(base, _print(np.concatenate([np.zeros((2, SR // 2)), x], axis=1), SR)).alignment
    assert late is not None and late.offset == pytest.approx(0.5 / 0.064, abs=1.0)  # B starts later


def test_different_seeds_of_one_request_are_not_copies(backend):
    """Same prompt, genre, tempo, key and meter, different seeds: shared chords, grooves and intro."""
    for request in ({}, {"prompt": "calm ambient pad", "genre": "ambient", "tempo": 72.0, "key": "D major"}):
        prints = [_print(_clip(backend, seed, **request), SR) for seed in (101, 202, 303)]
        for i in range(3):
            for j in range(i + 1, 3):
                m = compare(prints[i], prints[j])
                assert m.multiplier == 1.0, (request, i, j, m)
                assert m.evidence >= C.FINGERPRINT_EVIDENCE_NONE, m


def test_unrelated_music_fails_the_prefilter(backend):
    a = _print(_clip(backend, 1), SR)
    b = _print(_clip(backend, 2, prompt="dark techno", genre="techno", tempo=132.0, key="F# minor"), SR)
    m = compare(a, b)
    assert m.multiplier == 1.0


def test_compare_is_symmetric_and_memoised(originals):
    x = originals[0]
    a, b = _print(x, SR), _print(_pitch(x, SR, -1.5), SR)
    ab, ba = compare(a, b), compare(b, a)
    assert ab.evidence == ba.evidence and ab.match == ba.match
    assert ab.alignment == inverse(ba.alignment)
    assert compare(a, b) is ab


def test_prints_are_gain_polarity_and_channel_invariant_exactly(originals):
    x = originals[0]
    base = _print(x, SR)
    for y in (x * 0.5, -x, x[::-1]):
        assert _print(y, SR) == base


def test_silence_and_short_clips_are_not_comparable():
    quiet = Fingerprint.from_samples(np.zeros((2, 5 * SR), np.float32), SR)
    short = Fingerprint.from_samples(np.ones((1, 100), np.float32) * 0.1, SR)
    assert quiet.active_frames == 0 and short.n_frames == 0
    assert compare(quiet, quiet).multiplier == 1.0 and not compare(short, quiet).comparable


def test_print_arrays_roundtrip_and_validation(originals):
    p = _print(originals[0], SR)
    assert Fingerprint.from_arrays(p.to_arrays()) == p
    assert p.nbytes <= 2 * C.FINGERPRINT_PEAKS_PER_FRAME * (SECONDS / 0.064 + 2)
    bad = p.to_arrays()
    bad["bins"] = bad["bins"].astype(np.int64)
    with pytest.raises(ValueError):
        Fingerprint.from_arrays(bad)
    bad = p.to_arrays()
    bad["bins"][0, 0] = 250  # out of range
    with pytest.raises(ValueError):
        Fingerprint.from_arrays(bad)


def test_same_penalty_in_a_fresh_process(originals, tmp_path):
    x = originals[0]
    y = _pitch(_stretch(x, 0.97), SR, 1.0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    here = compare(_print(x, SR), _print(y, SR))
    code = (
        "import json, sys, numpy as np\n"
        "from scoring.copies import Fingerprint, compare\n"
        "p = lambda n: Fingerprint.from_samples(np.clip(np.load(n).astype(np.float32), -1, 1), 44100)\n"
        "m = compare(p(sys.argv[1]), p(sys.argv[2]))\n"
        "print(json.dumps([m.match, m.evidence, m.alignment.shift, m.alignment.stretch, m.alignment.offset]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == [
        here.match,
        here.evidence,
        here.alignment.shift,
        here.alignment.stretch,
        here.alignment.offset,
    ]


# --- the penalty in a round -------------------------------------------------------------------


def _request() -> ScoringRequest:
    return ScoringRequest(prompt="upbeat pop with piano and drums", duration_seconds=SECONDS, genre="pop")


def test_first_deliverer_keeps_its_score_and_disguised_relays_pay(backend, originals):
    x = originals[0]
    honest = _clip(backend, 99)
    relay_pitch = np.clip(_pitch(x, SR, -1.0) * 2.0, -1, 1).astype(np.float32)  # shifted, louder
    relay_stretch = _noise(_stretch(x, 1.03), 20, "white").astype(np.float32)
    entries = [
        RoundEntry("hk_relay_a", relay_pitch, SR, _request(), generation_seconds=6.0),
        RoundEntry("hk_orig", x, SR, _request(), generation_seconds=5.0),
        RoundEntry("hk_relay_b", relay_stretch, SR, _request(), generation_seconds=5.5),
        RoundEntry("hk_honest", honest, SR, _request(), generation_seconds=4.0),
    ]
    relay_a, orig, relay_b, hon = Scorer().score_round(entries)
    assert orig.penalties[PENALTY] == 1.0
    assert hon.penalties[PENALTY] == 1.0
    assert relay_a.penalties[PENALTY] <= 0.1 and relay_b.penalties[PENALTY] <= 0.1


def test_tie_on_delivery_time_goes_to_the_smaller_hotkey(originals):
    x = originals[0]
    entries = [
        RoundEntry("hk_b", _noise(x, 30, "white").astype(np.float32), SR, _request(), generation_seconds=5.0),
        RoundEntry("hk_a", x, SR, _request(), generation_seconds=5.0),
    ]
    b, a = Scorer().score_round(entries)
    assert a.penalties[PENALTY] == 1.0 and b.penalties[PENALTY] <= 0.1


def test_reserving_own_clip_disguised_is_caught_through_history(backend, originals):
    history = MinerHistory()
    scorer = Scorer(history=history)
    x = originals[0]
    first = scorer.score(samples=x, sample_rate=SR, request=_request(), hotkey="hk")
    assert first.penalties[PENALTY] == 1.0  # never compared with itself
    other = scorer.score(samples=_clip(backend, 77), sample_rate=SR, request=_request(), hotkey="hk")
    assert other.penalties[PENALTY] == 1.0  # a fresh seed is not a re-serve
    again = scorer.score(
        samples=np.clip(_pitch(_speed(x, SR, 0.96), SR, 1.0) * 0.5, -1, 1).astype(np.float32),
        sample_rate=SR,
        request=_request(),
        hotkey="hk",
    )
    assert again.penalties[PENALTY] <= 0.1
    assert len(history.fingerprints("hk")) == 3
    # another miner's history is not this miner's
    elsewhere = scorer.score(samples=x, sample_rate=SR, request=_request(), hotkey="hk_other")
    assert elsewhere.penalties[PENALTY] == 1.0


# --- history files ----------------------------------------------------------------------------


def test_history_roundtrip_keeps_fingerprints(tmp_path, originals):
    h = MinerHistory(maxlen=3)
    p = _print(originals[0], SR)
    h.add("a", embedding=np.ones(4, np.float32), fingerprint=p)
    h.add("a", embedding=np.zeros(4, np.float32))
    h.save(tmp_path / "h.npz")
    back = MinerHistory.load(tmp_path / "h.npz")
    assert back.fingerprints("a") == [p] and back.embeddings("a").shape == (2, 4)
    with pytest.raises(TypeError):
        h.add("a", fingerprint=np.arange(5, dtype=np.uint32))  # a bare array is not a fingerprint


def _write_format1(path, entries: dict[str, list[tuple[np.ndarray | None, np.ndarray | None]]], maxlen=50):
    """A history file exactly as the format-1 writer (uint32 bit prints, no format key) made it."""
    arrays, index = {}, {}
    for h_i, (hotkey, rows) in enumerate(sorted(entries.items())):
        keys = []
        for e_i, (emb, fp) in enumerate(rows):
            k = [None, None]
            if emb is not None:
                k[0] = f"e{h_i}_{e_i}"
                arrays[k[0]] = emb
            if fp is not None:
                k[1] = f"f{h_i}_{e_i}"
                arrays[k[1]] = fp
            keys.append(k)
        index[hotkey] = keys
    arrays["__meta__"] = np.frombuffer(
        json.dumps({"maxlen": maxlen, "index": index}).encode(), dtype=np.uint8
    )
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_format1_history_loads_embeddings_and_drops_old_fingerprints(tmp_path, caplog):
    path = tmp_path / "old.npz"
    _write_format1(
        path,
        {
            "a": [
                (np.full(4, 1.0, np.float32), np.arange(300, dtype=np.uint32)),
                (None, np.arange(5, dtype=np.uint32)),
            ],
            "b": [(np.full(4, 2.0, np.float32), None)],
        },
        maxlen=7,
    )
    with caplog.at_level("INFO", logger="scoring.history"):
        h = MinerHistory.load(path)
    assert h.maxlen == 7 and h.hotkeys() == ["a", "b"]
    assert h.embeddings("a").shape == (1, 4) and h.fingerprints("a") == [] and len(h.entries("a")) == 2
    assert "2 fingerprints of an older format dropped" in caplog.text
    h.save(path)  # upgraded in place
    assert MinerHistory.load(path).embeddings("b")[0, 0] == 2.0


def test_unknown_history_format_is_refused(tmp_path):
    path = tmp_path / "future.npz"
    meta = json.dumps({"format": 99, "maxlen": 5, "index": {}}).encode()
    np.savez(path, __meta__=np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(ValueError, match="not a miner history file"):
        MinerHistory.load(path)
