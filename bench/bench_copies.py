"""Copy detection under disguise: detection rate per transform, false positives on honest pairs, cost.

Builds its own suite:

* **sources**: procedural clips (``tuneforge``'s procedural backend, a request turned into a
  ``MusicSpec`` as the miner does, several genres, tempi, keys, meters and durations 5-45 s)
  and, with ``--music-dir``, real recordings (every ``*.flac``/``*.wav`` there; one excerpt per
  track is a source);
* **copies**: every transform below applied to every source by this file's own code (gain,
  resampling, OGG Vorbis and MP3, delays and trims, noise, low-pass, polarity and channel tricks,
  phase-vocoder time-stretch, resample-style speed change, pitch-shift, combinations). Every copy
  is then clipped to [-1, 1] as the intake does with float samples beyond full scale;
* **honest pairs** (see :func:`honest_pairs`): different seeds of one request (same prompt,
  genre, tempo, key, meter and duration: shared harmony templates, grooves and form — the hard
  case), different requests, and, with ``--music-dir``, excerpts of *different* tracks (file
  names ``TRACK__10s.flac`` / ``TRACK__30s.flac`` share the part before the last ``__``). Seeds
  whose composer output is the same piece note for note are listed apart, not counted.

A copy is **caught** when its copy multiplier (the later deliverer's ``fingerprint_penalty``)
is ≤ 0.1; an honest pair is a **false positive** when its multiplier is below 1 (any penalty).
Prints the honest pairs' false positives and smallest evidence per kind, per transform the
detection rate, the worst multiplier and the largest evidence, and the cost on one core:
extraction, a round of 16 clips of one request (every pair), the history check of 16 miners ×
``FINGERPRINT_HISTORY_CLIPS`` past clips, and the total per clip.

Usage: ``python bench/bench_copies.py [--quick] [--music-dir /work/shared/corpus/real] [--only NAME,...]``
(full suite ~30 min on one core, most of it librosa's pitch-shift and time-stretch; ``--quick``
~3 min). Exit status 0 when both targets are met (≥ 99 % per transform, 0 false positives).
"""

import argparse
import io
import itertools
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

from scoring import constants as C
from scoring.copies import Fingerprint, compare
from scoring.history import MinerHistory

CAUGHT = 0.1  # a copy is caught when its multiplier is at most this

Audio = tuple[np.ndarray, int]  # float32 (channels, frames), sample rate
Transform = Callable[[np.ndarray, int], Audio]


# ---------------------------------------------------------------------------------------------
# transforms (the bench's own code)
# ---------------------------------------------------------------------------------------------


def _stereo(x: np.ndarray) -> np.ndarray:
    return x if x.shape[0] == 2 else np.vstack([x, x])


def gain(g: float) -> Transform:
    return lambda x, sr: ((x * g).astype(np.float32), sr)


def int16_gain(g: float) -> Transform:
    def f(x: np.ndarray, sr: int) -> Audio:
        return (np.round(np.clip(x * g, -1.0, 1.0) * 32767.0) / 32768.0).astype(np.float32), sr

    return f


def resample_roundtrip(mid: int) -> Transform:
    def f(x: np.ndarray, sr: int) -> Audio:
        y = soxr.resample(x.T, sr, mid, quality="HQ")
        return soxr.resample(y, mid, sr, quality="HQ").T.astype(np.float32), sr

    return f


def resample_to(rate: int) -> Transform:
    return lambda x, sr: (soxr.resample(x.T, sr, rate, quality="HQ").T.astype(np.float32), rate)


def ogg(quality: float | None = None) -> Transform:
    def f(x: np.ndarray, sr: int) -> Audio:
        buf = io.BytesIO()
        kwargs = {} if quality is None else {"compression_level": quality}
        sf.write(buf, np.clip(x, -1, 1).T, sr, format="OGG", subtype="VORBIS", **kwargs)
        buf.seek(0)
        y, rate = sf.read(buf, dtype="float32", always_2d=True)
        return np.ascontiguousarray(y.T), rate

    return f


def mp3(quality: float | None = None) -> Transform:
    """MP3 (LAME through libsndfile) and back; ``quality`` is soundfile's compression level (1 = smallest)."""

    def f(x: np.ndarray, sr: int) -> Audio:
        buf = io.BytesIO()
        kwargs = {} if quality is None else {"compression_level": quality}
        sf.write(buf, np.clip(x, -1, 1).T, sr, format="MP3", subtype="MPEG_LAYER_III", **kwargs)
        buf.seek(0)
        y, rate = sf.read(buf, dtype="float32", always_2d=True)
        return np.ascontiguousarray(y.T), rate

    return f


def delay(seconds: float) -> Transform:
    def f(x: np.ndarray, sr: int) -> Audio:
        pad = np.zeros((x.shape[0], int(round(seconds * sr))), np.float32)
        return np.concatenate([pad, x], axis=1)[:, : x.shape[1]], sr

    return f


def trim(seconds: float) -> Transform:
    return lambda x, sr: (np.ascontiguousarray(x[:, int(round(seconds * sr)) :]), sr)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    spec[1:] /= np.sqrt(freqs[1:])
    spec[0] = 0.0
    return np.fft.irfft(spec, n)


def noise(snr_db: float, kind: str, seed: int = 7) -> Transform:
    def f(x: np.ndarray, sr: int) -> Audio:
        rng = np.random.default_rng(seed)
        n = np.stack(
            [rng.standard_normal(x.shape[1]) if kind == "white" else _pink(x.shape[1], rng) for _ in x]
        )
        power = float(np.mean(np.square(x, dtype=np.float64)))
        n *= math.sqrt(power / 10 ** (snr_db / 10) / float(np.mean(n**2)))
        return (x + n).astype(np.float32), sr

    return f


def lowpass(hz: float) -> Transform:
    def f(x: np.ndarray, sr: int) -> Audio:
        sos = signal.butter(8, hz, fs=sr, output="sos")
        return signal.sosfiltfilt(sos, x, axis=1).astype(np.float32), sr

    return f


def polarity(x: np.ndarray, sr: int) -> Audio:
    return (-x).astype(np.float32), sr


def swap(x: np.ndarray, sr: int) -> Audio:
    return np.ascontiguousarray(_stereo(x)[::-1]), sr


def invert_one(x: np.ndarray, sr: int) -> Audio:
    y = _stereo(x).copy()
    y[1] = -y[1]
    return y, sr


def to_mono(x: np.ndarray, sr: int) -> Audio:
    return x.mean(axis=0, keepdims=True).astype(np.float32), sr


def mono_to_stereo(x: np.ndarray, sr: int) -> Audio:
    m = x.mean(axis=0)
    return np.stack([m, m]).astype(np.float32), sr


def stretch(rate: float) -> Transform:
    """Phase-vocoder time-stretch keeping pitch (``librosa.effects.time_stretch``); rate > 1 is faster."""

    def f(x: np.ndarray, sr: int) -> Audio:
        import librosa

        return np.stack([librosa.effects.time_stretch(c, rate=rate) for c in x]).astype(np.float32), sr

    return f


def speed(factor: float) -> Transform:
    """Resample-style speed change (tempo and pitch together); factor > 1 is faster and higher."""
    return lambda x, sr: (soxr.resample(x.T, sr, sr / factor, quality="HQ").T.astype(np.float32), sr)


def pitch(steps: float) -> Transform:
    """``librosa.effects.pitch_shift`` by ``steps`` semitones (tempo kept)."""

    def f(x: np.ndarray, sr: int) -> Audio:
        import librosa

        return np.stack([librosa.effects.pitch_shift(c, sr=sr, n_steps=steps) for c in x]).astype(
            np.float32
        ), sr

    return f


def chain(*steps: Transform) -> Transform:
    def f(x: np.ndarray, sr: int) -> Audio:
        for step in steps:
            x, sr = step(x, sr)
        return x, sr

    return f


TRANSFORMS: dict[str, Transform] = {
    "identity": lambda x, sr: (x, sr),
    "gain_x0.01": gain(0.01),
    "gain_x0.1": gain(0.1),
    "gain_x10_float": gain(10.0),
    "gain_x100_float": gain(100.0),
    "int16_x3_clipped": int16_gain(3.0),
    "resample_44.1-32-44.1k": resample_roundtrip(32_000),
    "resample_to_22.05k": resample_to(22_050),
    "resample_to_48k": resample_to(48_000),
    "ogg_vorbis": ogg(),
    "ogg_vorbis_low": ogg(0.9),
    **({"mp3": mp3(), "mp3_low": mp3(0.9)} if "MP3" in sf.available_formats() else {}),
    "delay_40ms": delay(0.04),
    "delay_250ms": delay(0.25),
    "delay_500ms": delay(0.5),
    "trim_250ms": trim(0.25),
    "trim_500ms": trim(0.5),
    "white_noise_20db": noise(20, "white"),
    "pink_noise_20db": noise(20, "pink"),
    "lowpass_4k": lowpass(4000),
    "lowpass_6k": lowpass(6000),
    "polarity": polarity,
    "swap_channels": swap,
    "invert_one_channel": invert_one,
    "stereo_to_mono": to_mono,
    "mono_to_stereo": mono_to_stereo,
    "stretch_0.95": stretch(0.95),
    "stretch_0.97": stretch(0.97),
    "stretch_1.03": stretch(1.03),
    "stretch_1.05": stretch(1.05),
    "speed_0.95": speed(0.95),
    "speed_0.97": speed(0.97),
    "speed_1.03": speed(1.03),
    "speed_1.05": speed(1.05),
    "pitch_-2": pitch(-2),
    "pitch_-1.5": pitch(-1.5),
    "pitch_-1": pitch(-1),
    "pitch_-0.5": pitch(-0.5),
    "pitch_+0.5": pitch(0.5),
    "pitch_+1": pitch(1),
    "pitch_+1.5": pitch(1.5),
    "pitch_+2": pitch(2),
    "combo_stretch+pitch+noise+gain": chain(stretch(1.04), pitch(1.5), noise(20, "pink"), gain(0.3)),
    "combo_speed+pitch+ogg+lowpass+delay": chain(speed(0.96), pitch(-1), ogg(), lowpass(5000), delay(0.3)),
    "combo_stretch+pitch+noise+invert+trim": chain(
        stretch(0.95), pitch(-2), noise(20, "white"), invert_one, trim(0.4)
    ),
    "combo_speed+pitch+mono+22k+x100": chain(
        speed(1.05), pitch(2), to_mono, resample_to(22_050), gain(100.0)
    ),
    "combo_stretch+pitch+int16x3+ogg": chain(stretch(1.05), pitch(-1.5), int16_gain(3.0), ogg()),
    "combo_pitch+speed+noise+lowpass": chain(pitch(1), speed(0.97), noise(20, "white"), lowpass(4000)),
}


def deliver(x: np.ndarray, sr: int) -> Audio:
    """What the validator's intake makes of a float clip: samples beyond full scale clipped."""
    return np.clip(x, -1.0, 1.0).astype(np.float32), sr


# ---------------------------------------------------------------------------------------------
# the suite
# ---------------------------------------------------------------------------------------------

#: (prompt, genre, tempo, key, meter, instruments, duration): requests as a validator issues them.
REQUESTS: list[tuple[str, str, float, str, str, tuple[str, ...], float]] = [
    ("upbeat pop with piano and drums", "pop", 128, "C major", "4/4", ("piano", "drums"), 30),
    (
        "driving rock with electric guitar, bass and drums",
        "rock",
        140,
        "E minor",
        "4/4",
        ("electric guitar", "bass guitar", "drums"),
        20,
    ),
    ("smooth jazz with saxophone and piano", "smooth jazz", 96, "F major", "4/4", ("saxophone", "piano"), 30),
    ("energetic house track", "house", 124, "A minor", "4/4", ("synthesizer",), 15),
    ("calm ambient pad soundscape", "ambient", 70, "D major", "4/4", (), 30),
    ("cinematic orchestral strings", "cinematic", 90, "D minor", "4/4", ("violin",), 45),
    ("acoustic folk with guitar", "folk", 100, "G major", "3/4", ("acoustic guitar",), 30),
    ("lo-fi hip hop beat", "lo-fi hip hop", 80, "Bb major", "4/4", (), 20),
    ("a gentle waltz on piano", "classical", 84, "Eb major", "3/4", ("piano",), 30),
    (
        "bossa nova with guitar and flute",
        "bossa nova",
        120,
        "A major",
        "4/4",
        ("acoustic guitar", "flute"),
        10,
    ),
    ("celtic jig with flute", "celtic", 116, "D major", "6/8", ("flute",), 30),
    ("dark techno", "techno", 132, "F# minor", "4/4", (), 30),
    ("funky groove with bass and organ", "funk", 104, "E major", "4/4", ("bass guitar", "organ"), 10),
    ("synthwave night drive", "synthwave", 110, "C# minor", "4/4", ("synthesizer",), 30),
    ("reggae with organ", "reggae", 76, "G minor", "4/4", ("organ",), 5),
    ("slow blues", "blues", 66, "A major", "12/8", ("electric guitar",), 30),
]


@dataclass
class Clip:
    name: str
    group: str  # honest pairs are drawn within a procedural group / across real tracks
    samples: np.ndarray
    sample_rate: int
    real: bool
    seed_index: int = -1  # procedural: which seed of its request
    composition: str = ""  # procedural: digest of the composed notes and drum hits (same digest: same piece)


def composition_digest(spec: object) -> str:
    """Digest of what the procedural composer writes for ``spec`` (every part's notes, the drum hits),
    without rendering: two seeds with the same digest are the same piece, note for note."""
    import hashlib

    from tuneforge.generation.procedural.composer import compose

    score = compose(spec, np.random.default_rng(int(spec.seed) & 0xFFFFFFFF))  # as the backend seeds it
    items = sorted(
        (p.role, round(n.start_q, 4), round(n.length_q, 4), n.pitch) for p in score.parts for n in p.notes
    )
    items += sorted(("drum:" + h.piece, round(h.start_q, 4), 0.0, 0) for h in score.drums)
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]


def procedural_clips(n_requests: int, n_seeds: int) -> list[Clip]:
    from tuneforge.generation import GenerationSettings, build_backend
    from tuneforge.spec import spec_from_fields

    backend = build_backend(GenerationSettings(backend="procedural"))
    out = []
    for r, (prompt, genre, tempo, key, meter, instruments, duration) in enumerate(REQUESTS[:n_requests]):
        for s in range(n_seeds):
            spec = spec_from_fields(
                prompt=prompt,
                genre=genre,
                tempo_bpm=tempo,
                key_signature=key,
                time_signature=meter,
                instruments=list(instruments),
                duration_seconds=duration,
                seed=(r * 7919 + s * 104_729 + 11) & 0xFFFFFFFF,
            )
            audio = backend.generate(spec)
            out.append(
                Clip(
                    f"{genre}/{duration:g}s/seed{s}",
                    f"req{r}",
                    audio.samples,
                    audio.sample_rate,
                    False,
                    seed_index=s,
                    composition=composition_digest(spec),
                )
            )
    return out


def real_clips(music_dir: Path, limit: int | None) -> list[Clip]:
    files = sorted([*music_dir.glob("*.flac"), *music_dir.glob("*.wav")])
    tracks = sorted({f.stem.rsplit("__", 1)[0] for f in files})[:limit]
    out = []
    for f in files:
        track = f.stem.rsplit("__", 1)[0]
        if track not in tracks:
            continue
        x, sr = sf.read(f, dtype="float32", always_2d=True)
        out.append(Clip(f.stem, track, np.ascontiguousarray(x.T), sr, True))
    return out


#: Different-prompt pairs: procedural clips of different requests with the same seed index below this.
PROMPT_PAIR_SEEDS = 3


def honest_pairs(clips: list[Clip]) -> dict[str, list[tuple[int, int]]]:
    """Pairs that must never collide, by kind: ``siblings`` (one request, different seeds: shared
    harmony templates, grooves and form — the hard case), ``prompts`` (different requests, seed
    index < ``PROMPT_PAIR_SEEDS``), ``real`` (excerpts of different real tracks); and
    ``same_piece``: siblings whose seeds composed the very same notes (the generator's doing, not
    two pieces: a copy detector must flag them, so they are reported apart, not counted)."""
    out: dict[str, list[tuple[int, int]]] = {"siblings": [], "prompts": [], "real": [], "same_piece": []}
    for i, j in itertools.combinations(range(len(clips)), 2):
        a, b = clips[i], clips[j]
        if a.real != b.real:
            continue
        if a.real:
            if a.group != b.group:
                out["real"].append((i, j))
        elif a.group == b.group:
            out["same_piece" if a.composition == b.composition else "siblings"].append((i, j))
        elif a.seed_index == b.seed_index < PROMPT_PAIR_SEEDS:
            out["prompts"].append((i, j))
    return out


# ---------------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:6.2f} %"


def _earned(samples: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """``(final_score, artifact_penalty)`` the weight-free scorer gives a missed copy on its own
    (no round, no history: what it earns when the copy check lets it through)."""
    from scoring.request import ScoringRequest
    from scoring.scorer import Scorer

    seconds = samples.shape[1] / sample_rate
    b = Scorer().score(
        samples=samples,
        sample_rate=sample_rate,
        request=ScoringRequest(prompt="music", duration_seconds=seconds),
    )
    return float(b.final_score), float(b.penalties["artifact_penalty"])


def run_detection(
    clips: list[Clip], prints: list[Fingerprint], names: list[str], score_misses: bool = False
) -> bool:
    sources = [i for i, c in enumerate(clips) if c.real or c.name.endswith("seed0")]
    real_sources = [i for i in sources if clips[i].real]
    if real_sources:  # one excerpt per real track (the longer one): the short one lies inside it
        longest: dict[str, int] = {}
        for i in real_sources:
            g = clips[i].group
            if g not in longest or clips[i].samples.shape[1] > clips[longest[g]].samples.shape[1]:
                longest[g] = i
        sources = [i for i in sources if not clips[i].real] + sorted(longest.values())
    print(
        f"\n== detection: {len(names)} transforms × {len(sources)} sources "
        f"({sum(not clips[i].real for i in sources)} procedural, {sum(clips[i].real for i in sources)} real); "
        f"caught = multiplier ≤ {CAUGHT}"
    )
    print(f"{'transform':40s} {'caught':>9s} {'worst mult':>10s} {'max evid':>9s} {'min match':>9s}")
    ok = True
    t_transform = 0.0
    caught = total = 0
    misses: list[tuple[str, str, float, float, float]] = []  # transform, source, multiplier, final, artifact
    for name in names:
        mults, evids, matches = [], [], []
        for i in sources:
            t0 = time.perf_counter()
            y, sr = deliver(*TRANSFORMS[name](clips[i].samples, clips[i].sample_rate))
            t_transform += time.perf_counter() - t0
            m = compare(prints[i], Fingerprint.from_samples(y, sr))
            mults.append(m.multiplier)
            evids.append(m.evidence)
            matches.append(m.match)
            if m.multiplier > CAUGHT and score_misses:
                misses.append((name, clips[i].name, m.multiplier, *_earned(y, sr)))
        rate = float(np.mean([v <= CAUGHT for v in mults]))
        caught += sum(v <= CAUGHT for v in mults)
        total += len(mults)
        ok &= rate >= 0.99
        print(f"{name:40s} {_pct(rate)} {max(mults):10.3f} {max(evids):9.2f} {min(matches):9.3f}", flush=True)
    print(
        f"all transforms: {caught} of {total} copies caught ({_pct(caught / max(1, total))}); "
        f"transforms took {t_transform:.1f} s"
    )
    if score_misses and misses:
        print("\n== what the missed copies still earn (weight-free scorer, no round or history)")
        print(f"{'transform':40s} {'source':44s} {'copy mult':>9s} {'final':>6s} {'artifact':>8s}")
        for name, src, mult, final, artifact in misses:
            print(f"{name:40s} {src[:44]:44s} {mult:9.3f} {final:6.3f} {artifact:8.3f}")
    return ok


def run_honest(clips: list[Clip], prints: list[Fingerprint]) -> bool:
    kinds = honest_pairs(clips)
    counted = sum(len(v) for k, v in kinds.items() if k != "same_piece")
    fps_total = 0
    print(
        f"\n== honest pairs: {counted} ({len(kinds['siblings'])} same-request siblings, {len(kinds['prompts'])} "
        f"different prompts, {len(kinds['real'])} different real tracks); false positive = multiplier < 1"
    )
    for kind in ("siblings", "prompts", "real", "same_piece"):
        pairs = kinds[kind]
        if not pairs:
            continue
        results = [(compare(prints[i], prints[j]), i, j) for i, j in pairs]
        fps = [r for r in results if r[0].multiplier < 1.0]
        ev = sorted(m.evidence for m, _, _ in results)
        if kind == "same_piece":
            print(
                f"  same piece (seeds that composed identical notes; not counted): {len(pairs)} pairs in "
                f"{sorted({clips[i].group for i, _ in pairs})}, flagged as copies: {len(fps)}"
            )
            continue
        fps_total += len(fps)
        print(
            f"  {kind}: {len(pairs)} pairs, false positives {len(fps)}; evidence min {ev[0]:.2f}, "
            f"1st pct {np.percentile(ev, 1):.2f}, median {np.median(ev):.2f}"
        )
        for m, i, j in sorted(results, key=lambda r: r[0].evidence)[:3]:
            print(
                f"    closest: {clips[i].name} vs {clips[j].name}: evidence {m.evidence:.2f}, match {m.match:.3f}, "
                f"multiplier {m.multiplier:.3f}"
            )
    print(f"false positives: {fps_total} of {counted} pairs ({_pct(fps_total / max(1, counted))})")
    return not fps_total


def run_timing(clips: list[Clip], prints: list[Fingerprint]) -> None:
    """Cost on one core as the validator pays it: prints built fresh (no derived array cached),
    each round pair compared once, history prints released after use (as the penalty does)."""
    print("\n== cost (one core)")
    long = [
        i for i, c in enumerate(clips) if not c.real and abs(c.samples.shape[1] / c.sample_rate - 30.0) < 0.1
    ]
    ext = []
    for i in long[:16]:
        t0 = time.perf_counter()
        Fingerprint.from_samples(clips[i].samples, clips[i].sample_rate)
        ext.append(time.perf_counter() - t0)
    print(
        f"extraction, 30 s stereo 44.1 kHz: median {1000 * statistics.median(ext):.1f} ms, max {1000 * max(ext):.1f} ms "
        f"({len(ext)} clips); stored size {prints[long[0]].nbytes / 1024:.1f} kB per 30 s"
    )

    def fresh(i: int) -> Fingerprint:
        return Fingerprint(prints[i].bins, prints[i].levels)

    # a round: 16 clips of 30 s answering one request (siblings: most pairs pass the pre-filter, the worst case)
    groups: dict[str, list[int]] = {}
    for i in long:
        groups.setdefault(clips[i].group, []).append(i)
    group = max(groups.values(), key=len)
    round_prints = [fresh(group[k % len(group)]) for k in range(16)]  # fewer seeds (--quick): reused
    t0 = time.perf_counter()
    pairs = list(itertools.combinations(round_prints, 2))
    passed = sum(compare(a, b).match >= C.FINGERPRINT_MATCH_MIN for a, b in pairs)
    t_round = time.perf_counter() - t0
    print(
        f"round of 16 clips of one 30 s request ({clips[group[0]].group}, {len(pairs)} pairs, {passed} past the "
        f"pre-filter): {t_round:.3f} s, {1000 * t_round / len(pairs):.1f} ms per pair"
    )
    # history: each of 16 miners has FINGERPRINT_HISTORY_CLIPS past clips of other requests; one new clip each
    hist = MinerHistory()
    others = [i for i in range(len(clips)) if not clips[i].real]
    n_past = C.FINGERPRINT_HISTORY_CLIPS
    for m in range(16):
        new_i = long[(m * 5) % len(long)]
        past = [i for i in others if clips[i].group != clips[new_i].group]
        for k in range(n_past):
            hist.add(f"m{m}", fingerprint=fresh(past[(m * 31 + k * 7) % len(past)]))
    t0 = time.perf_counter()
    n = passed_h = 0
    for m in range(16):
        new = fresh(long[(m * 5) % len(long)])
        for past_print in hist.fingerprints(f"m{m}"):
            passed_h += compare(new, past_print).match >= C.FINGERPRINT_MATCH_MIN
            past_print.release()
            n += 1
    t_hist = time.perf_counter() - t0
    print(
        f"history: 16 miners × {n_past} past clips of other requests ({n} comparisons, {passed_h} past the "
        f"pre-filter): {t_hist:.3f} s, {1000 * t_hist / n:.1f} ms each"
    )
    per_clip = (t_round + t_hist) / 16
    print(
        f"per clip in a round of 16 (its share of the round's pairs + its history): {1000 * per_clip:.0f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="6 requests × 4 seeds, 6 real tracks, fewer transforms"
    )
    ap.add_argument("--music-dir", type=Path, default=None, help="real recordings (*.flac, *.wav)")
    ap.add_argument("--only", default="", help="comma-separated transform names")
    ap.add_argument(
        "--score-misses",
        action="store_true",
        help="score every missed copy with the weight-free scorer (what it still earns)",
    )
    ap.add_argument("--requests", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None)
    args = ap.parse_args()
    n_req = args.requests or (6 if args.quick else len(REQUESTS))
    n_seeds = args.seeds or (4 if args.quick else 9)
    t0 = time.perf_counter()
    clips = procedural_clips(n_req, n_seeds)
    if args.music_dir is not None:
        clips += real_clips(args.music_dir, 6 if args.quick else None)
    print(
        f"suite: {len(clips)} clips ({sum(not c.real for c in clips)} procedural: {n_req} requests × {n_seeds} seeds; "
        f"{sum(c.real for c in clips)} real), built in {time.perf_counter() - t0:.1f} s"
    )
    prints = [Fingerprint.from_samples(c.samples, c.sample_rate) for c in clips]
    names = [n for n in args.only.split(",") if n] or list(TRANSFORMS)
    if args.quick and not args.only:
        names = [
            n
            for n in names
            if not n.startswith(
                (
                    "gain_x0.1",
                    "resample_to_48",
                    "ogg_vorbis_low",
                    "delay_250",
                    "trim_250",
                    "lowpass_6",
                    "stretch_0.97",
                    "speed_0.97",
                    "pitch_-0.5",
                    "pitch_+0.5",
                )
            )
        ]
    honest_ok = run_honest(clips, prints)
    detect_ok = run_detection(clips, prints, names, score_misses=args.score_misses)
    run_timing(clips, prints)
    print(
        f"\ntargets: ≥ 99 % caught per transform: {'met' if detect_ok else 'NOT met'}; "
        f"0 false positives: {'met' if honest_ok else 'NOT met'}"
    )
    return 0 if detect_ok and honest_ok else 1


if __name__ == "__main__":
    sys.exit(main())
