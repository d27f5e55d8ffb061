"""The strict audio intake: decode time, `tuneforge score` peak memory on hostile files, float twins.

Three parts, each printing a table:

1. ``decode_audio_b64`` median wall time (base64 decode, header checks, bounded block decode,
   NaN/Inf scan, clipping) on a WAV just under the 20 MiB limit, 10 s / 30 s WAVs and a 30 s FLAC.
2. ``tuneforge score FILE`` run under ``/usr/bin/time -v``, one process per case, on crafted
   files: the issue-8 cases (1 Hz and 8 Hz WAVs, a FLAC whose STREAMINFO claims 10 h, a 600 s
   WAV) plus lying and extreme ones (unknown-length FLAC of 600 s, /dev/zero, a directory, a
   1 GB sparse file, float samples at 1e18) and the largest clips the intake accepts (20 MiB
   PCM16 and 8-bit WAVs, 180 s of 96 kHz stereo FLAC). Prints the exit status, the outcome
   (scored, or the rejection reason from stderr), wall time and peak RSS; the goal is every case
   under 1 GB or rejected.
3. A float32 clip at gains ×0.5 ... ×1e18 against its int16 twin (clip, then PCM16): the
   largest difference over every signal and penalty of ``Scorer.score``.
4. Where scoring's memory goes on the largest clip the intake accepts (180 s, 96 kHz stereo):
   the tracemalloc peak of each feature step and signal above what was held before it, and
   what it leaves cached, every step, largest first.

Usage: ``python bench/bench_intake.py [--skip-timing] [--skip-memory] [--skip-twins] [--skip-steps]``.
"""

import argparse
import io
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from scoring.intake import MAX_DECODED_BYTES, decode_audio_b64, decode_audio_bytes
from scoring.music_theory import Key
from scoring.request import ScoringRequest
from scoring.scorer import Scorer
from scoring.synth import render_piece
from tuneforge.audio.intake import encode_audio_b64

RUNS = 7
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# 1. decode time
# ---------------------------------------------------------------------------------------------


def _music(seconds: float, sr: int, channels: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    rows = [0.3 * np.sin(2 * np.pi * (220 + 55 * c) * t) + 0.02 * rng.standard_normal(t.size) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def _median_ms(payload: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        decode_audio_b64(payload)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def timing() -> None:
    # Largest stereo 44.1 kHz PCM16 WAV under the limit: (20 MiB - 44 B) / 4 B per frame ≈ 118.9 s.
    under_limit_s = (MAX_DECODED_BYTES - 44) // 4 / 44100
    cases = [
        ("WAV 44.1k stereo, just under 20 MiB", _music(under_limit_s, 44100, 2), 44100, "wav"),
        ("WAV 32k mono 10 s", _music(10, 32000, 1), 32000, "wav"),
        ("WAV 32k mono 30 s", _music(30, 32000, 1), 32000, "wav"),
        ("WAV 44.1k stereo 10 s", _music(10, 44100, 2), 44100, "wav"),
        ("WAV 44.1k stereo 30 s", _music(30, 44100, 2), 44100, "wav"),
        ("FLAC 44.1k stereo 30 s", _music(30, 44100, 2), 44100, "flac"),
    ]
    print(f"decode_audio_b64: median of {RUNS} runs")
    print(f"{'payload':40s} {'file MiB':>9s} {'b64 MiB':>8s} {'ms':>8s}")
    for label, samples, sr, fmt in cases:
        payload = encode_audio_b64(samples, sr, fmt=fmt)
        file_mib = len(payload) * 3 / 4 / 2**20
        print(f"{label:40s} {file_mib:9.2f} {len(payload) / 2**20:8.2f} {_median_ms(payload):8.1f}")


# ---------------------------------------------------------------------------------------------
# 2. `tuneforge score` peak RSS on crafted files
# ---------------------------------------------------------------------------------------------


def _wav_bytes(x: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(x).T, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def _flac_bytes(x: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(x).T, sr, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def _raw_wav(sample_rate: int, data_bytes: int) -> bytes:
    """A mono PCM16 WAV header at any sample rate, followed by quiet noise."""
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, (sample_rate * 2) & 0xFFFFFFFF, 2, 16)
    body = (np.random.default_rng(1).standard_normal(data_bytes // 2) * 3000).astype("<i2").tobytes()
    return (b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", len(body)) + body)


def _flac_total(flac: bytes, total: int) -> bytes:
    info = int.from_bytes(flac[18:26], "big")
    return flac[:18] + ((info & ~((1 << 36) - 1)) | total).to_bytes(8, "big") + flac[26:]


def _tiled_piece(seconds: float, sr: int, gain: float = 1.0, *, dual_mono: bool = False) -> np.ndarray:
    """20 s of ``render_piece`` repeated to ``seconds``: float32 ``(2, frames)``. ``dual_mono``
    copies the left channel to the right (FLAC then stores a silent side channel: 180 s of
    96 kHz stereo fits in 20 MiB)."""
    piece = render_piece(key=Key(9, "minor"), tempo_bpm=100, seconds=20, sample_rate=sr, seed=2) * gain
    if dual_mono:
        piece = np.repeat(piece[:1], 2, axis=0)
    reps = int(np.ceil(seconds / 20))
    return np.tile(piece, (1, reps))[:, : int(seconds * sr)]


def _cases(folder: Path) -> list[tuple[str, Path, float]]:
    """(label, path, requested duration) for every case, written under ``folder``."""
    out: list[tuple[str, Path, float]] = []

    def put(label: str, name: str, data: bytes, duration: float) -> None:
        path = folder / name
        path.write_bytes(data)
        out.append((label, path, duration))

    put("WAV at 1 Hz (1 MB of samples)", "rate1.wav", _raw_wav(1, 1_000_000), 10)
    put("WAV at 8 Hz (1 MB of samples)", "rate8.wav", _raw_wav(8, 1_000_000), 10)
    ten_s = _flac_bytes(_tiled_piece(10, 32000), 32000)
    put("FLAC 10 s, STREAMINFO claims 10 h", "claims10h.flac", _flac_total(ten_s, 10 * 3600 * 32000), 10)
    sixty = _flac_bytes(_tiled_piece(60, 44100), 44100)
    put("FLAC 60 s, STREAMINFO claims 1 h", "claims1h_60s.flac", _flac_total(sixty, 3600 * 44100), 60)
    put("WAV 600 s, 8 kHz mono PCM16 (9.6 MB)", "600s.wav", _wav_bytes(_tiled_piece(600, 8000)[:1], 8000), 30)
    quiet = np.zeros((1, 600 * 8000), np.float32)
    quiet[0, ::800] = 0.05
    put("FLAC 600 s, length unknown (0)", "600s_unknown.flac", _flac_total(_flac_bytes(quiet, 8000), 0), 30)
    put("FLAC 10 s, length unknown (0)", "10s_unknown.flac", _flac_total(ten_s, 0), 10)
    put("WAV float32, samples at 1e18", "float1e18.wav", _wav_bytes(_tiled_piece(10, 32000) * 1e18, 32000, "FLOAT"), 10)
    put("WAV IMA ADPCM 10 s", "ima.wav", _wav_bytes(_tiled_piece(10, 32000), 32000, "IMA_ADPCM"), 10)
    sparse = folder / "sparse1g.wav"
    with open(sparse, "wb") as fh:
        fh.write(_raw_wav(44100, 1000)[:44])
        fh.truncate(2**30)
    out.append(("sparse 1 GB file", sparse, 10))
    out.append(("/dev/zero", Path("/dev/zero"), 10))
    out.append(("a directory", folder, 10))
    frames = (MAX_DECODED_BYTES - 44) // 4
    put("WAV PCM16 44.1k stereo 118.9 s (20 MiB)", "max_pcm16.wav", _wav_bytes(_tiled_piece(frames / 44100, 44100), 44100), 119)
    frames8 = (MAX_DECODED_BYTES - 44) // 2
    put("WAV 8-bit 96k stereo 109 s (20 MiB)", "max_u8.wav", _wav_bytes(_tiled_piece(frames8 / 96000, 96000), 96000, "PCM_U8"), 109)
    flac48 = _flac_bytes(_tiled_piece(180, 48000, gain=0.5, dual_mono=True), 48000)
    put(f"FLAC 48k stereo 180 s ({len(flac48) / 2**20:.1f} MiB)", "flac48.flac", flac48, 180)
    big = _flac_bytes(_tiled_piece(180, 96000, gain=0.5, dual_mono=True), 96000)
    put(f"FLAC 96k stereo 180 s ({len(big) / 2**20:.1f} MiB)", "max_flac.flac", big, 180)
    return out


def _score_once(path: Path, duration: float) -> tuple[int, str, float, float]:
    """(exit status, outcome, wall s, peak RSS MB) of ``tuneforge score`` on one file."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "tuneforge.cli", "--log-level", "ERROR", "score", str(path),
           "--prompt", "music", "--duration", f"{duration:g}", "--json"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)
    wall = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    peak = int(rss.group(1)) / 1024 if rss else float("nan")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    if errors:
        outcome = "rejected " + errors[0].split(": ")[2]
    elif proc.returncode == 0 and proc.stdout.strip():
        outcome = "scored"
    else:
        outcome = "FAILED: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:60]
    return proc.returncode, outcome, wall, peak


def memory() -> None:
    print("\n`tuneforge score FILE` peak RSS, one process per case (/usr/bin/time -v); goal: < 1024 MB or rejected")
    print(f"{'case':46s} {'exit':>4s} {'outcome':32s} {'wall s':>7s} {'peak MB':>8s}")
    with tempfile.TemporaryDirectory(prefix="bench_intake_") as tmp:
        for label, path, duration in _cases(Path(tmp)):
            rc, outcome, wall, peak = _score_once(path, duration)
            print(f"{label:46s} {rc:4d} {outcome:32s} {wall:7.1f} {peak:8.0f}", flush=True)


# ---------------------------------------------------------------------------------------------
# 3. float clips against their int16 twins
# ---------------------------------------------------------------------------------------------


def twins() -> None:
    sr = 22050
    x = render_piece(key=Key(2, "minor"), tempo_bpm=96, seconds=6, sample_rate=sr, seed=3)
    request = ScoringRequest(prompt="dark folk", duration_seconds=6.0, tempo_bpm=96, key_signature="D minor")
    scorer = Scorer()
    print("\nfloat32 WAV at a gain vs its int16 twin (clip, then PCM16): largest |difference| after the intake")
    print(f"{'gain':>8s} {'clipped':>9s} {'final a':>8s} {'final b':>8s} {'max |d| signal':>15s} {'which':>12s} {'max |d| penalty':>16s}")
    for gain in (0.5, 1.0, 3.0, 10.0, 100.0, 1e18):
        loud = (x.astype(np.float64) * gain).astype(np.float32)
        a_clip = decode_audio_bytes(_wav_bytes(loud, sr, "FLOAT"))
        b_clip = decode_audio_bytes(_wav_bytes(np.clip(loud, -1, 1), sr, "PCM_16"))
        a = scorer.score(samples=a_clip.samples, sample_rate=sr, request=request)
        b = scorer.score(samples=b_clip.samples, sample_rate=sr, request=request)
        diffs = {n: abs(a.signals[n] - b.signals[n]) for n in a.signals if a.signals[n] is not None and b.signals[n] is not None}
        worst = max(diffs, key=diffs.get)
        pen = max(abs(a.penalties[n] - b.penalties[n]) for n in a.penalties)
        print(f"{gain:8.2g} {a_clip.clipped_samples:9d} {a.final_score:8.4f} {b.final_score:8.4f} "
              f"{diffs[worst]:15.2e} {worst:>12s} {pen:16.2e}")


# ---------------------------------------------------------------------------------------------
# 4. where scoring's memory goes on the largest accepted clip
# ---------------------------------------------------------------------------------------------


def memory_steps() -> None:
    """tracemalloc peak of each Features step and each signal/penalty on 180 s of 96 kHz stereo."""
    import tracemalloc

    from scoring.features import Features
    from scoring.penalties import PENALTIES
    from scoring.signals import SIGNALS
    from scoring.signals.base import SignalContext

    sr = 96000
    clip = decode_audio_bytes(_flac_bytes(_tiled_piece(180, sr, gain=0.5, dual_mono=True), sr))
    print(f"\nscoring memory by step, 180 s 96 kHz stereo (clip {clip.samples.nbytes / 2**20:.0f} MiB float32): "
          "tracemalloc peak above what was held before the step")
    tracemalloc.start()
    features = Features.from_audio(samples=clip.samples, sample_rate=clip.sample_rate)
    ctx = SignalContext(features=features, request=ScoringRequest(prompt="music", duration_seconds=180), models=None,
                        history=None, round=None, hotkey="", generation_seconds=None)
    steps = [(f"Features.{name}", lambda n=name: getattr(features, n)) for name in
             ("rms", "peak", "mono_original", "mono_rms", "mono", "loudness_lufs", "true_peak_dbfs",
              "short_term_loudness_db", "stft", "magnitude", "mel", "hpss")]
    steps += [(name, lambda fn=fn: fn(ctx)) for name, fn in [*SIGNALS.items(), *PENALTIES.items()]]
    rows = []
    for name, fn in steps:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            fn()
        except Exception:  # noqa: BLE001 - unavailable signals still count their allocations
            pass
        current, peak = tracemalloc.get_traced_memory()
        rows.append((name, (peak - base) / 2**20, (current - base) / 2**20))
    total_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {'step':30s} {'peak MiB':>9s} {'kept MiB':>9s}   (kept: cached results the step leaves behind)")
    for name, mib, kept in sorted(rows, key=lambda r: -r[1]):
        print(f"  {name:30s} {mib:+9.1f} {kept:+9.1f}")
    print(f"  traced peak over all steps (clip included): {total_peak / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-twins", action="store_true")
    parser.add_argument("--skip-steps", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.skip_timing:
        timing()
    if not args.skip_memory:
        memory()
    if not args.skip_twins:
        twins()
    if not args.skip_steps:
        memory_steps()


if __name__ == "__main__":
    main()
