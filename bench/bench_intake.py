"""Decode + validate time of the strict audio intake on a ~20 MiB payload and on typical clips.

Prints the median wall time of several runs of ``decode_audio_b64`` (base64 decode, header
checks, libsndfile decode, NaN/Inf scan) for: a WAV just under the 20 MiB limit, 10 s and 30 s
of 32 kHz mono and 44.1 kHz stereo WAV, and 30 s stereo FLAC. Usage: ``python bench/bench_intake.py``.
"""

import statistics
import time

import numpy as np

from tuneforge.audio.intake import MAX_DECODED_BYTES, decode_audio_b64, encode_audio_b64

RUNS = 7


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


def main() -> None:
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


if __name__ == "__main__":
    main()
