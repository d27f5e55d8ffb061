"""Does the scorer rank real music above broken audio? ROC AUC and per-degradation win rates.

For every clip in ``--music-dir`` this builds degraded versions (clipping, a 0.5 s loop tiled,
dropouts, a 3 kHz low-pass, white noise at 10 dB SNR, time reversal, truncation to 40 %,
silence, a plain sine, random beeps), scores everything weight-free against the request the
clean clip would answer (prompt = the manifest description when a ``manifest.jsonl`` sits in the
folder or its parent, else a generic prompt; duration = the clean clip's; tempo and key = the
manifest's estimates when present), and prints the ROC AUC of final scores (real vs degraded)
and, per degradation, the share of pairs in which the clean clip scores higher (ties count ½).

    python scripts/eval_scoring.py --music-dir ../shared/corpus/real --limit 21 --json eval.json
"""

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.signal import butter, sosfiltfilt  # noqa: E402

from scoring.audio import load_audio  # noqa: E402
from scoring.request import ScoringRequest  # noqa: E402
from scoring.scorer import Scorer  # noqa: E402

DEGRADATIONS = ("clipping", "short_loop", "dropouts", "lowpass", "noise", "reversal", "truncation", "silence", "sine", "beeps")


def degrade(name: str, x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A broken version of ``x`` (float32 ``(channels, frames)``)."""
    n = x.shape[1]
    if name == "clipping":
        return np.clip(x * (0.99 / (np.abs(x).max() + 1e-9)) * 4.0, -1.0, 1.0)
    if name == "short_loop":
        seg = x[:, n // 2 : n // 2 + sr // 2]
        return np.tile(seg, (1, n // seg.shape[1] + 1))[:, :n]
    if name == "dropouts":
        y = x.copy()
        for _ in range(6):
            length = int(rng.uniform(0.15, 0.4) * sr)
            start = int(rng.integers(0, max(1, n - length)))
            y[:, start : start + length] = 0.0
        return y
    if name == "lowpass":
        sos = butter(8, 3000.0, btype="low", fs=sr, output="sos")
        return sosfiltfilt(sos, x, axis=1).astype(np.float32)
    if name == "noise":
        rms = float(np.sqrt(np.mean(x**2)))
        return (x + rng.standard_normal(x.shape).astype(np.float32) * rms / np.sqrt(10.0)).astype(np.float32)
    if name == "reversal":
        return np.ascontiguousarray(x[:, ::-1])
    if name == "truncation":
        return x[:, : int(0.4 * n)]
    if name == "silence":
        return np.zeros_like(x)
    if name == "sine":
        t = np.arange(n) / sr
        return np.tile(0.25 * np.sin(2 * np.pi * 440.0 * t), (x.shape[0], 1)).astype(np.float32)
    if name == "beeps":
        y = np.zeros(n, dtype=np.float32)
        t = 0
        while t < n:
            length = int(rng.uniform(0.05, 0.3) * sr)
            freq = float(rng.uniform(200, 2000))
            amp = float(rng.uniform(0.05, 0.4))
            seg = amp * np.sin(2 * np.pi * freq * np.arange(min(length, n - t)) / sr)
            y[t : t + seg.size] += seg
            t += length + int(rng.uniform(0.0, 0.4) * sr)
        return np.tile(y, (x.shape[0], 1))
    raise ValueError(name)


def load_manifest(music_dir: Path) -> dict[str, dict]:
    for candidate in (music_dir / "manifest.jsonl", music_dir.parent / "manifest.jsonl"):
        if candidate.is_file():
            rows = [json.loads(line) for line in candidate.read_text().splitlines() if line.strip()]
            return {Path(r["path"]).name: r for r in rows if "path" in r}
    return {}


def auc(pos: list[float], neg: list[float]) -> float:
    p, q = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean((p > q) + 0.5 * (p == q)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music-dir", required=True, type=Path)
    parser.add_argument("--limit", type=int, default=None, help="score at most N clean clips")
    parser.add_argument("--pattern", default="*.flac", help="glob for clean clips (e.g. '*__10s.flac')")
    parser.add_argument("--json", type=Path, default=None, help="write every score to this file")
    parser.add_argument("--signals", action="store_true", help="also print mean signal values per kind")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    files = sorted(args.music_dir.glob(args.pattern))
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"no files matching {args.pattern} in {args.music_dir}", file=sys.stderr)
        return 1
    manifest = load_manifest(args.music_dir)
    scorer = Scorer()
    rows = []
    t0 = time.perf_counter()
    for fi, path in enumerate(files):
        x, sr = load_audio(path)
        meta = manifest.get(path.name, {})
        request = ScoringRequest(
            prompt=meta.get("description") or "an instrumental piece of music",
            duration_seconds=x.shape[1] / sr,
            tempo_bpm=meta.get("tempo_bpm_est"),
            key_signature=meta.get("key_est"),
        )
        rng = np.random.default_rng(1000 + fi)
        versions = {"clean": x} | {d: degrade(d, x, sr, rng) for d in DEGRADATIONS}
        for kind, audio in versions.items():
            b = scorer.score(samples=audio, sample_rate=sr, request=request)
            rows.append({"file": path.name, "kind": kind, "final": b.final_score, "breakdown": b.to_dict()})
        print(f"[{fi + 1}/{len(files)}] {path.name}: clean {rows[-len(versions)]['final']:.3f}", file=sys.stderr)
    elapsed = time.perf_counter() - t0

    clean = {r["file"]: r["final"] for r in rows if r["kind"] == "clean"}
    degraded = [r for r in rows if r["kind"] != "clean"]
    total_auc = auc(list(clean.values()), [r["final"] for r in degraded])
    print(f"clips: {len(clean)}  versions scored: {len(rows)}  time: {elapsed:.1f} s")
    print(f"ROC AUC real vs degraded: {total_auc:.4f}")
    print(f"{'kind':<12} {'mean final':>10} {'clean wins':>11}")
    print(f"{'clean':<12} {np.mean(list(clean.values())):>10.3f} {'':>11}")
    per_kind = {}
    for kind in DEGRADATIONS:
        ks = [r for r in degraded if r["kind"] == kind]
        wins = np.mean([1.0 if clean[r["file"]] > r["final"] else 0.5 if clean[r["file"]] == r["final"] else 0.0 for r in ks])
        per_kind[kind] = {"mean_final": float(np.mean([r["final"] for r in ks])), "clean_wins": float(wins)}
        print(f"{kind:<12} {per_kind[kind]['mean_final']:>10.3f} {wins:>10.1%}")
    if args.signals:
        names = list(rows[0]["breakdown"]["signals"]) + list(rows[0]["breakdown"]["penalties"])
        print("mean signal / penalty values per kind (— = unavailable):")
        print(f"{'':<16}" + "".join(f"{k[:8]:>9}" for k in ("clean",) + DEGRADATIONS))
        for name in names:
            cells = []
            for kind in ("clean",) + DEGRADATIONS:
                vals = [
                    (r["breakdown"]["signals"].get(name) if name in r["breakdown"]["signals"] else r["breakdown"]["penalties"].get(name))
                    for r in rows if r["kind"] == kind
                ]
                vals = [v for v in vals if v is not None]
                cells.append(f"{np.mean(vals):>9.3f}" if vals else f"{'—':>9}")
            print(f"{name[:16]:<16}" + "".join(cells))
    if args.json:
        args.json.write_text(json.dumps({"auc": total_auc, "per_kind": per_kind, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
