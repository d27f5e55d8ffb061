"""The note evidence on real music, its degradations and the procedural backend: the figures behind
the thresholds in ``scoring/constants.py``'s note-evidence block (docs/scoring.md "Note evidence").

For every clip in ``--music-dir`` it builds the degraded versions of ``scripts/eval_scoring.py``
(same generators, same seeds), optionally the procedural backend's render of the clip's fitting
request, and measures on each: attack/decay asymmetry, exact-repeat share, partial count, chroma
variety, hiss floor and spread, note coverage and changes (``artifact.measure``), the evidence
multipliers (``artifact.evidence_multipliers``) and the transcribed-note statistics
(``NoteStats``). It prints each measure's distribution per kind (min, 10th percentile, median,
max) and every real clip's (and procedural render's) evidence multipliers, flagging any below 1:
no real recording may be penalised by the evidence.

    python scripts/note_evidence_probe.py --music-dir ../shared/corpus/real [--pattern '*__10s.flac']
        [--kinds reversal,long_loop] [--procedural] [--json out.json]
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval_scoring as E  # noqa: E402
import numpy as np  # noqa: E402

from scoring.audio import load_audio  # noqa: E402
from scoring.features import Features  # noqa: E402
from scoring.note_stats import note_stats  # noqa: E402
from scoring.penalties import artifact  # noqa: E402

MEASURES = (
    "asymmetry", "repeat_share", "partials", "chroma_variety", "hiss_floor_db", "hiss_spread_db",
    "note_coverage", "note_changes_per_s",
)  # fmt: skip
SKIPPED = {"silence", "truncation"}  # hard zeros before any evidence is read


def measure(samples: np.ndarray, sample_rate: int) -> dict:
    """Evidence measures, multipliers and note statistics of one clip."""
    f = Features.from_audio(samples=samples, sample_rate=sample_rate)
    m = artifact.measure(f)
    stats = note_stats(f)
    return {
        "measures": {k: m[k] for k in MEASURES if k in m},
        "multipliers": artifact.evidence_multipliers(m),
        "notes": {} if stats is None else stats.as_dict(),
    }


def _row(label: str, values: list[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return f"  {label:<14} —"
    q = np.percentile(v, [0, 10, 50, 100])
    return f"  {label:<14} min {q[0]:8.3f}  p10 {q[1]:8.3f}  med {q[2]:8.3f}  max {q[3]:8.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music-dir", required=True, type=Path)
    parser.add_argument("--pattern", default="*.flac")
    parser.add_argument("--kinds", default=None, help="comma-separated degradations (default: all)")
    parser.add_argument("--procedural", action="store_true", help="also the procedural backend's renders")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    files = sorted(args.music_dir.glob(args.pattern))
    if not files:
        print(f"no files matching {args.pattern} in {args.music_dir}", file=sys.stderr)
        return 1
    kinds = set(args.kinds.split(",")) if args.kinds else set(E.DEGRADATIONS)
    manifest = E.load_manifest(args.music_dir)
    prompts = json.loads(E.PROMPTS_FILE.read_text())["tracks"] if E.PROMPTS_FILE.is_file() else {}
    rows: list[dict] = []
    for fi, path in enumerate(files):
        x, sr = load_audio(path)
        rng = np.random.default_rng(1000 + fi)  # as eval_scoring.py, so the versions are the same
        versions = {"clean": x}
        for name in E.DEGRADATIONS:
            y = E.degrade(name, x, sr, rng)
            if name in kinds and name not in SKIPPED:
                versions[name] = y
        for kind, audio in versions.items():
            rows.append({"file": path.name, "kind": kind} | measure(audio, sr))
        entry = prompts.get(E.track_stem(path))
        if args.procedural and entry is not None:
            meta = manifest.get(path.name, {})
            request = E.make_request(
                entry["fitting"],
                duration=x.shape[1] / sr,
                tempo=meta.get("tempo_bpm_est"),
                key=meta.get("key_est"),
            )
            y, ysr = E.render_procedural(request, seed=7 + fi)
            rows.append({"file": path.name, "kind": "procedural"} | measure(y, ysr))
        print(f"[{fi + 1}/{len(files)}] {path.name}", file=sys.stderr)

    order = (
        ["clean"] + (["procedural"] if args.procedural else []) + [k for k in E.DEGRADATIONS if k in kinds]
    )
    order = [k for k in order if any(r["kind"] == k for r in rows)]
    names = list(MEASURES) + sorted({k for r in rows for k in r["notes"]})
    for name in names:
        print(f"== {name}")
        for kind in order:
            vals = [r["measures"].get(name, r["notes"].get(name, np.nan)) for r in rows if r["kind"] == kind]
            print(_row(kind, vals))
    print("== evidence multipliers (product) per kind")
    for kind in order:
        print(
            _row(kind, [float(np.prod(list(r["multipliers"].values()))) for r in rows if r["kind"] == kind])
        )
    for kind in ("clean", "procedural"):
        picked = [r for r in rows if r["kind"] == kind]
        if not picked:
            continue
        hit = [r for r in picked if min(r["multipliers"].values()) < 1.0]
        print(f"{kind}: {len(picked) - len(hit)} of {len(picked)} clips keep every evidence multiplier at 1")
        for r in hit:
            low = {k: round(v, 3) for k, v in r["multipliers"].items() if v < 1.0}
            print(f"  {r['file']}: {low}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
