"""What do basic-pitch's transcriptions say about real music vs noise, tones, beeps, loops, reversal?

For every excerpt in ``--music-dir`` (default ``../shared/corpus/real``, pattern ``*__10s.flac``)
and for broken versions of it (``scripts/eval_scoring.py``'s ``degrade``: the same generators and
per-clip seeded parameters the scoring evaluation uses), the clip is mixed to mono, resampled once
to 22 050 Hz (soxr HQ) and transcribed whole (``NoteTranscriber.transcribe``, basic-pitch's
defaults; ``--max-seconds`` transcribes its evenly spaced excerpts instead). Per clip it computes:

- ``notes/s``: notes per second of audio;
- ``range``: pitch range of the notes, 5th to 95th percentile, semitones;
- ``pc_ent``: entropy (bits) of the duration-weighted pitch-class histogram (0 = one pitch class;
  log2 12 = 3.58 = all equally);
- ``len_s``: median note length, seconds;
- ``poly``: mean number of sounding notes over frames with any note;
- ``onset``: median over notes of the onset activation peak at the note's start (±2 frames): how
  sharp the attacks are;
- ``contrast``: median over notes of the onset activation at the start minus the onset activation
  at the end (±2 frames each): struck notes begin sharply and do not end with an attack;
- ``slope``: median over notes of ≥ 8 STFT frames (≈ 0.1 s) of the slope, in dB/s, of a
  least-squares line through the note's own partial: the STFT magnitude (2048-point, hop 256, at
  22 050 Hz) at the note's fundamental (max of 3 bins) over the note's frames. Plucked, struck and
  sung notes fade after the attack (negative); time-reversed notes swell (positive);
- ``loop``: the largest cosine similarity of the (frames, 88) note posteriorgram with itself
  shifted by 0.25-2 s: a tiled short loop repeats exactly.

It prints the median of each statistic per category, then the ROC AUC of real vs each category
for each statistic (0.5 = no separation; AUC < 0.5 means the category scores higher; the best
direction is marked). ``--json`` writes every clip's numbers.

    python scripts/basic_pitch_probe.py [--music-dir ../shared/corpus/real] [--pattern '*__10s.flac']
        [--max-seconds S] [--json out.json]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402
from scipy.signal import stft  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_scoring import degrade  # noqa: E402

from scoring.wheel_models.basic_pitch import SAMPLE_RATE, NoteTranscriber, Transcription  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = (
    "real", "white_noise", "pink_noise", "sine", "beeps", "short_loop", "reversal", "lowpass_2k",
    "steady_chord", "added_noise", "clipping", "dropouts",
)  # fmt: skip
STATS = ("notes/s", "range", "pc_ent", "len_s", "poly", "onset", "contrast", "slope", "loop")


def partial_slopes(t: Transcription, mono_22050: np.ndarray) -> list[float]:
    """dB/s slope of each note's fundamental partial over the note (notes of ≥ 8 STFT frames)."""
    _, frame_s, spec = stft(
        mono_22050, fs=SAMPLE_RATE, nperseg=2048, noverlap=2048 - 256, boundary=None, padded=False
    )
    db = 20 * np.log10(np.abs(spec) + 1e-5)
    slopes = []
    for n in t.notes:
        k = int(round(440.0 * 2 ** ((n.midi_pitch - 69) / 12) * 2048 / SAMPLE_RATE))
        a, b = int(np.searchsorted(frame_s, n.start_s)), int(np.searchsorted(frame_s, n.end_s))
        if b - a < 8:
            continue
        env = db[max(k - 1, 0) : k + 2, a:b].max(axis=0)
        slopes.append(float(np.polyfit(frame_s[a:b] - frame_s[a], env, 1)[0]))
    return slopes


def stats(t: Transcription, mono_22050: np.ndarray) -> dict[str, float]:
    """The probe's statistics of one transcription of ``mono_22050`` (NaN where there are no notes)."""
    notes = t.notes
    out = {k: float("nan") for k in STATS}
    out["notes/s"] = len(notes) / t.analysed_s
    n_frames = t.note_posteriorgram.shape[0]
    if notes:
        pitches = np.array([n.midi_pitch for n in notes])
        lengths = np.array([n.end_s - n.start_s for n in notes])
        p5, p95 = np.percentile(pitches, [5, 95])
        out["range"] = float(p95 - p5)
        hist = np.bincount(pitches % 12, weights=lengths, minlength=12)
        p = hist[hist > 0] / hist.sum()
        out["pc_ent"] = float(-(p * np.log2(p)).sum())
        out["len_s"] = float(np.median(lengths))
        roll = np.zeros((n_frames, 88), dtype=bool)
        onset_start, contrast = [], []
        times = t.frame_times_s
        for n in notes:
            a = int(np.searchsorted(times, n.start_s - 1e-9))
            b = int(np.searchsorted(times, n.end_s - 1e-9))
            col = n.midi_pitch - 21
            roll[a:b, col] = True
            at_start = float(t.onset_posteriorgram[max(a - 2, 0) : a + 3, col].max())
            onset_start.append(at_start)
            if b < n_frames:
                contrast.append(at_start - float(t.onset_posteriorgram[max(b - 2, 0) : b + 3, col].max()))
        sounding = roll.sum(axis=1)
        out["poly"] = float(sounding[sounding > 0].mean())
        out["onset"] = float(np.median(onset_start))
        out["contrast"] = float(np.median(contrast)) if contrast else float("nan")
        slopes = partial_slopes(t, mono_22050)
        out["slope"] = float(np.median(slopes)) if slopes else float("nan")
    g = t.note_posteriorgram.astype(np.float64)
    lo, hi = int(0.25 * t.frame_rate_hz), int(2.0 * t.frame_rate_hz)
    best = 0.0
    for lag in range(lo, min(hi, n_frames - 1) + 1):
        a, b = g[:-lag].ravel(), g[lag:].ravel()
        denom = np.linalg.norm(a) * np.linalg.norm(b)
        if denom > 0:
            best = max(best, float(a @ b / denom))
    out["loop"] = best
    return out


def auc(pos: list[float], neg: list[float]) -> float:
    """P(a real clip's value > a broken clip's value), ties half; NaN values dropped."""
    pos = [v for v in pos if np.isfinite(v)]
    neg = [v for v in neg if np.isfinite(v)]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--music-dir", type=Path, default=ROOT.parent / "shared" / "corpus" / "real")
    p.add_argument("--pattern", default="*__10s.flac")
    p.add_argument("--json", type=Path, help="write every clip's statistics here")
    p.add_argument("--seed", type=int, default=0, help="seed of the degradations' parameters")
    p.add_argument(
        "--max-seconds", type=float, help="transcribe evenly spaced excerpts (NoteTranscriber's max_seconds)"
    )
    args = p.parse_args(argv)
    files = sorted(args.music_dir.glob(args.pattern))
    if not files:
        print(f"no files match {args.music_dir}/{args.pattern}", file=sys.stderr)
        return 2
    transcriber = NoteTranscriber.load()
    rows: list[dict] = []
    t0 = time.perf_counter()
    for i, path in enumerate(files):
        x, sr = sf.read(path, dtype="float32", always_2d=True)
        x = np.ascontiguousarray(x.T)  # (channels, frames)
        rng = np.random.default_rng([args.seed, i])
        for cat in CATEGORIES:
            y = x if cat == "real" else degrade(cat, x, sr, rng)
            mono = soxr.resample(y.mean(axis=0).astype(np.float32), sr, SAMPLE_RATE, quality="HQ")
            mono = mono.astype(np.float32)
            rows.append(
                {
                    "file": path.name,
                    "category": cat,
                    **stats(transcriber.transcribe(mono, max_seconds=args.max_seconds), mono),
                }
            )
    elapsed = time.perf_counter() - t0
    print(f"{len(files)} clips x {len(CATEGORIES)} versions transcribed in {elapsed:.0f} s")

    by_cat = {c: [r for r in rows if r["category"] == c] for c in CATEGORIES}
    print("\nmedian per category")
    print(f"{'category':13s}" + "".join(f"{s:>10s}" for s in STATS))
    for cat in CATEGORIES:
        vals = [
            np.nanmedian([r[s] for r in by_cat[cat]])
            if any(np.isfinite(r[s]) for r in by_cat[cat])
            else np.nan
            for s in STATS
        ]
        print(f"{cat:13s}" + "".join(f"{v:10.2f}" for v in vals))

    print("\nROC AUC real vs category (1 = every real clip higher, 0 = every real clip lower)")
    print(f"{'category':13s}" + "".join(f"{s:>10s}" for s in STATS) + "   best")
    for cat in CATEGORIES[1:]:
        aucs = [auc([r[s] for r in by_cat["real"]], [r[s] for r in by_cat[cat]]) for s in STATS]
        sep = [abs(a - 0.5) if np.isfinite(a) else -1 for a in aucs]
        best = STATS[int(np.argmax(sep))]
        print(f"{cat:13s}" + "".join(f"{a:10.2f}" for a in aucs) + f"   {best}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
