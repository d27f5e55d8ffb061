"""Prompt adherence on real recordings, with tag priors that never saw the recording judged.

For each clean clip in ``--music-dir`` that has an entry in ``scripts/data/eval_prompts.json``,
the clip is scored (full weight-free score, in-wheel listeners included) against its track's
fitting request and its far one, with the full requests (genre, mood, instruments, prompt) and
with the genre and prompt text only, exactly as ``scripts/eval_scoring.py``'s prompt-adherence
part builds them. It prints the share of clips whose fitting request wins, for the final score
and for the ``attribute`` signal alone, twice:

- **shipped priors**: ``scoring/data/musicnn_tag_priors.json`` as shipped (built from this same
  corpus, so every clip judged also helped set the priors);
- **leave one recording out**: priors rebuilt from every other recording of ``--music-dir``
  (``scripts/build_tag_priors.py``'s ``recording_logits``), so neither excerpt of the judged
  recording is in them. This is the figure to expect on music the priors never saw.

    python scripts/eval_prompt_adherence.py --music-dir ../shared/corpus/real [--pattern '*__10s.flac']
        [--json out.json] [-v]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_tag_priors import recording_logits, recording_of  # noqa: E402
from eval_scoring import PROMPTS_FILE, make_request  # noqa: E402

from scoring import prompt_tags  # noqa: E402
from scoring.audio import load_audio  # noqa: E402
from scoring.scorer import Scorer  # noqa: E402

MODES = ("full", "text")
PRIORS = ("shipped", "loo")


def score_pairs(scorer: Scorer, x: np.ndarray, sr: int, entry: dict) -> dict[str, float]:
    """``{mode}_{side}_{final|attribute}`` for one clip under the priors currently in use."""
    duration = x.shape[1] / sr
    out: dict[str, float] = {}
    for mode in MODES:
        for side in ("fitting", "far"):
            req = make_request(entry[side], duration=duration, tempo=None, key=None, text_only=mode == "text")
            b = scorer.score(samples=x, sample_rate=sr, request=req)
            out[f"{mode}_{side}_final"] = b.final_score
            out[f"{mode}_{side}_attribute"] = b.signals.get("attribute") or 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music-dir", required=True, type=Path)
    parser.add_argument("--pattern", default="*.flac")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per clip")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    prompts = json.loads(PROMPTS_FILE.read_text())["tracks"]
    files = [p for p in sorted(args.music_dir.glob(args.pattern)) if recording_of(p) in prompts]
    if not files:
        print(f"no files matching {args.pattern} with eval prompts in {args.music_dir}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    # LOO priors come from every recording of the directory (all excerpts), not only the pattern's
    per_recording = recording_logits(sorted(args.music_dir.glob("*.flac")))
    shipped = prompt_tags.default_priors()
    scorer = Scorer()
    rows: list[dict] = []
    original = prompt_tags.default_priors
    try:
        for i, path in enumerate(files):
            x, sr = load_audio(path)
            track = recording_of(path)
            row: dict = {"file": path.name}
            loo = prompt_tags.TagPriors.from_logits(
                np.stack([v for k, v in per_recording.items() if k != track])
            )
            for label, priors in (("shipped", shipped), ("loo", loo)):
                prompt_tags.default_priors = lambda p=priors: p  # the attribute signal reads the default
                row[label] = score_pairs(scorer, x, sr, prompts[track])
            rows.append(row)
            if args.verbose:
                s, lo = row["shipped"], row["loo"]
                print(
                    f"[{i + 1}/{len(files)}] {path.name[:48]:<48} full {s['full_fitting_final']:.3f}/"
                    f"{s['full_far_final']:.3f} (loo {lo['full_fitting_final']:.3f}/{lo['full_far_final']:.3f}) "
                    f"text {s['text_fitting_final']:.3f}/{s['text_far_final']:.3f}",
                    file=sys.stderr,
                )
    finally:
        prompt_tags.default_priors = original
    summary: dict = {"clips": len(rows), "seconds": time.perf_counter() - t0}
    print(f"prompt adherence on {len(rows)} clips ({args.pattern}), fitting request vs far request:")
    print(f"{'priors':<26} {'request':<22} {'final wins':>10} {'final gap':>10} {'attribute wins':>15}")
    for label, name in (("shipped", "shipped"), ("loo", "leave one recording out")):
        for mode, text in (("full", "genre, mood, instruments"), ("text", "genre + prompt text")):
            final = [r[label][f"{mode}_fitting_final"] - r[label][f"{mode}_far_final"] for r in rows]
            attr = [r[label][f"{mode}_fitting_attribute"] - r[label][f"{mode}_far_attribute"] for r in rows]
            wins, gap, attr_wins = (
                float(np.mean(np.array(final) > 0)),
                float(np.mean(final)),
                float(np.mean(np.array(attr) > 0)),
            )
            summary[f"{label}_{mode}"] = {"final_wins": wins, "final_gap": gap, "attribute_wins": attr_wins}
            print(f"{name:<26} {text:<22} {wins:>10.1%} {gap:>+10.3f} {attr_wins:>15.1%}")
    if args.json:
        summary["rows"] = rows
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
