"""What do the musicnn taggers say about real music vs noise, tones, beeps, loops, reversal?

For every excerpt in ``--music-dir`` (default ``../shared/corpus/real``, pattern ``*__10s.flac``)
and for broken versions of it (``scripts/eval_scoring.py``'s ``degrade``: the same generators and
per-clip seeded parameters the scoring evaluation and ``basic_pitch_probe.py`` use), the clip is
mixed to mono, resampled once to 16 kHz (soxr HQ) and run through both taggers
(``scoring.wheel_models.musicnn.analyse_all``, every 3 s patch). It prints:

1. the top tags of each real track's 30 s excerpt (``--top-pattern``), with the manifest's title
   and style hint -- e.g. "Metal madness" should lean rock / metal / guitar;
2. per category, the mean probability of a few telling tags of each tagger, the mean of the
   largest tag probability (``max``), and the mean over patches of the taggram's standard
   deviation over time (``var``: does the tagger hear the piece change?);
3. the ROC AUC of real vs each category for those two statistics (1 = real always higher);
4. the distance of each clip's embedding to the real-music mean -- RMS over dimensions of the
   z-score against the real clips' per-dimension mean and std (std floored at a tenth of its
   median over dimensions; real clips measured leave-one-track-out, so a real clip is not
   compared with its own statistics) -- per category (median) and as ROC AUC real vs category
   (1 = every real clip closer than every broken one), for the penultimate features of each
   tagger, both together, and the mid-end ``max_pool`` of MTT.

    python scripts/musicnn_probe.py [--music-dir ../shared/corpus/real] [--pattern '*__10s.flac']
        [--top-pattern '*__30s.flac'] [--max-patches N] [--json out.json]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_scoring import degrade, load_manifest, track_stem  # noqa: E402

from scoring.wheel_models import musicnn as mnn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = (
    "real", "white_noise", "pink_noise", "sine", "beeps", "short_loop", "reversal", "lowpass_2k",
    "steady_chord", "added_noise", "clipping", "dropouts",
)  # fmt: skip
SHOW = {
    "MTT_musicnn": ("guitar", "drums", "rock", "metal", "techno", "electronic", "classical", "piano",
                    "ambient", "quiet", "loud", "weird", "no vocals", "vocal"),
    "MSD_musicnn": ("rock", "metal", "electronic", "instrumental", "ambient", "experimental", "pop",
                    "jazz"),
}  # fmt: skip
EMBEDDINGS = ("MTT_pen", "MSD_pen", "both_pen", "MTT_maxpool")


def load_mono_16k(path: Path) -> tuple[np.ndarray, int]:
    """(channels, frames) float32 and its rate."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.T), sr


def to_16k(y: np.ndarray, sr: int) -> np.ndarray:
    return soxr.resample(y.mean(axis=0).astype(np.float32), sr, mnn.SAMPLE_RATE, quality="HQ").astype(np.float32)


def describe(out: dict[str, mnn.MusicnnOutput]) -> dict:
    """One clip's numbers: tag means, summary statistics and embeddings (as lists, for --json)."""
    row: dict = {}
    for name, res in out.items():
        short = name.split("_")[0]
        row[f"{short}_tags"] = res.tags.tolist()
        row[f"{short}_max"] = float(res.tags.max())
        row[f"{short}_var"] = float(res.taggram.std(axis=0).mean()) if res.taggram.shape[0] > 1 else 0.0
    row["MTT_pen"] = out["MTT_musicnn"].embedding.tolist()
    row["MSD_pen"] = out["MSD_musicnn"].embedding.tolist()
    row["both_pen"] = row["MTT_pen"] + row["MSD_pen"]
    row["MTT_maxpool"] = out["MTT_musicnn"].max_pool.mean(axis=0).tolist()
    return row


def auc(pos: list[float], neg: list[float]) -> float:
    """P(a value from ``pos`` > one from ``neg``), ties half."""
    p, q = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean((p > q) + 0.5 * (p == q)))


def distances(rows: list[dict], key: str) -> np.ndarray:
    """Per row: RMS z-score of its embedding against the real rows of the *other* tracks."""
    emb = np.array([r[key] for r in rows], dtype=np.float64)
    real = np.array([r["category"] == "real" for r in rows])
    tracks = np.array([r["track"] for r in rows])
    out = np.empty(len(rows))
    for i in range(len(rows)):
        ref = emb[real & (tracks != tracks[i])]
        sd = ref.std(axis=0)
        # dimensions nearly constant over real music (ReLU'd mid-end features) would dominate
        sd = np.maximum(sd, 0.1 * float(np.median(sd)) + 1e-9)
        mu = ref.mean(axis=0)
        out[i] = float(np.sqrt(np.mean(((emb[i] - mu) / sd) ** 2)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--music-dir", type=Path, default=ROOT.parent / "shared" / "corpus" / "real")
    p.add_argument("--pattern", default="*__10s.flac")
    p.add_argument("--top-pattern", default="*__30s.flac", help="excerpts whose top tags are listed")
    p.add_argument("--max-patches", type=int, default=None)
    p.add_argument("--seed", type=int, default=0, help="seed of the degradations' parameters")
    p.add_argument("--json", type=Path, help="write every clip's numbers here")
    args = p.parse_args(argv)
    files = sorted(args.music_dir.glob(args.pattern))
    if not files:
        print(f"no files match {args.music_dir}/{args.pattern}", file=sys.stderr)
        return 2
    manifest = load_manifest(args.music_dir)
    labels = {n: mnn.MusicnnTagger.load(n).labels for n in mnn.TAGGERS}

    print("top tags of the real excerpts (MTT: MagnaTagATune, MSD: Million Song Dataset)")
    for path in sorted(args.music_dir.glob(args.top_pattern)):
        x, sr = load_mono_16k(path)
        out = mnn.analyse_all(to_16k(x, sr), max_patches=args.max_patches)
        entry = manifest.get(path.name, {})
        title = f"{entry.get('source_title', path.stem)} [{entry.get('style_hint', '?')}]"
        mtt = ", ".join(f"{t} {v:.2f}" for t, v in out["MTT_musicnn"].top(5))
        msd = ", ".join(f"{t} {v:.2f}" for t, v in out["MSD_musicnn"].top(3))
        print(f"  {title[:58]:58s} MTT: {mtt}\n  {'':58s} MSD: {msd}")

    rows: list[dict] = []
    t0 = time.perf_counter()
    for i, path in enumerate(files):
        x, sr = load_mono_16k(path)
        rng = np.random.default_rng([args.seed, i])
        for cat in CATEGORIES:
            y = x if cat == "real" else degrade(cat, x, sr, rng)
            out = mnn.analyse_all(to_16k(y, sr), max_patches=args.max_patches)
            rows.append({"file": path.name, "track": track_stem(path), "category": cat, **describe(out)})
    print(f"\n{len(files)} clips x {len(CATEGORIES)} versions tagged in {time.perf_counter() - t0:.0f} s")

    by_cat = {c: [r for r in rows if r["category"] == c] for c in CATEGORIES}
    for name, shown in SHOW.items():
        short = name.split("_")[0]
        idx = [labels[name].index(t) for t in shown]
        print(f"\n{name}: mean tag probability per category (max: largest tag; var: taggram std over time)")
        print(f"{'category':13s}" + "".join(f"{t[:9]:>10s}" for t in shown) + f"{'max':>7s}{'var':>7s}")
        for cat in CATEGORIES:
            tags = np.mean([r[f"{short}_tags"] for r in by_cat[cat]], axis=0)
            mx = np.mean([r[f"{short}_max"] for r in by_cat[cat]])
            var = np.mean([r[f"{short}_var"] for r in by_cat[cat]])
            print(f"{cat:13s}" + "".join(f"{tags[j]:10.3f}" for j in idx) + f"{mx:7.3f}{var:7.3f}")

    stats = ("MTT_max", "MTT_var", "MSD_max", "MSD_var")
    print("\nROC AUC real vs category of the tag statistics (1 = real always higher)")
    print(f"{'category':13s}" + "".join(f"{k:>10s}" for k in stats))
    for cat in CATEGORIES[1:]:
        print(f"{cat:13s}" + "".join(
            f"{auc([r[k] for r in by_cat['real']], [r[k] for r in by_cat[cat]]):10.2f}" for k in stats))

    dist = {key: distances(rows, key) for key in EMBEDDINGS}
    cats = np.array([r["category"] for r in rows])
    print("\nembedding distance to the real-music mean (RMS z-score; real: leave-one-track-out)")
    print("median per category, and ROC AUC real vs category (1 = every real clip is closer)")
    print(f"{'category':13s}" + "".join(f"{k:>12s}" for k in EMBEDDINGS) + "".join(f"{'AUC ' + k[:7]:>13s}" for k in EMBEDDINGS))
    for cat in CATEGORIES:
        med = [float(np.median(dist[k][cats == cat])) for k in EMBEDDINGS]
        aucs = [auc(list(-dist[k][cats == "real"]), list(-dist[k][cats == cat])) if cat != "real" else float("nan")
                for k in EMBEDDINGS]
        print(f"{cat:13s}" + "".join(f"{m:12.2f}" for m in med) + "".join(f"{a:13.2f}" for a in aucs))
    print(f"{'all broken':13s}" + " " * 12 * len(EMBEDDINGS) + "".join(
        f"{auc(list(-dist[k][cats == 'real']), list(-dist[k][cats != 'real'])):13.2f}" for k in EMBEDDINGS))
    if args.json:
        for i, r in enumerate(rows):
            for k in EMBEDDINGS:
                r[f"dist_{k}"] = float(dist[k][i])
        args.json.write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
