"""Train the preference head (Bradley–Terry on CLAP audio embeddings) from human preference pairs.

Input: JSON lines ``{"a": path, "b": path, "prompt": ..., "winner": "a"|"b"}`` (audio paths
relative to the JSONL's folder or absolute; embedded with the scoring CLAP from ``--models-dir``
exactly as the scorer does) or with precomputed embeddings ``{"a_emb": [...], "b_emb": [...],
"winner": ...}`` (then ``--embedding-model`` and ``--embedding-identity`` name what made them,
or ``--models-dir`` is read for the CLAP's name and identity). Pairs are shuffled with
``--seed`` and ``--val-share`` of them held out; the loss is ``−log σ(r_w − r_l)``; the file records
the validation accuracy, which sets the head's weight in the composite.

    python scripts/train_preference.py --pairs pairs.jsonl --models-dir M --out M/preference_head.pt
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scoring.audio import AudioLoadError, load_audio  # noqa: E402
from scoring.models import load_models  # noqa: E402
from scoring.models.preference import build_mlp, preference_weight_for, save_head  # noqa: E402
from scoring.signals.base import ScoringError  # noqa: E402

log = logging.getLogger("train_preference")


class PairsError(ValueError):
    """A malformed pairs file (the message names the line)."""


def read_pairs(path: Path) -> list[dict]:
    pairs = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PairsError(f"{path}:{n}: not JSON ({exc})") from exc
            if not isinstance(row, dict) or row.get("winner") not in ("a", "b"):
                raise PairsError(f"{path}:{n}: needs \"winner\": \"a\" or \"b\"")
            has_emb = "a_emb" in row and "b_emb" in row
            has_audio = "a" in row and "b" in row
            if not (has_emb or has_audio):
                raise PairsError(f"{path}:{n}: needs \"a\"/\"b\" audio paths or \"a_emb\"/\"b_emb\" embeddings")
            pairs.append(row)
    if not pairs:
        raise PairsError(f"{path}: no pairs")
    return pairs


def embed_pairs(pairs: list[dict], *, base: Path, clap) -> tuple[np.ndarray, np.ndarray]:
    """(winner embeddings (n, d), loser embeddings (n, d)) float32."""
    cache: dict[str, np.ndarray] = {}

    def emb_of(row: dict, side: str) -> np.ndarray:
        if f"{side}_emb" in row:
            return np.asarray(row[f"{side}_emb"], dtype=np.float32)
        if clap is None:
            raise PairsError("pairs name audio files but no CLAP was loaded (--models-dir)")
        path = Path(row[side])
        path = path if path.is_absolute() else base / path
        key = str(path)
        if key not in cache:
            samples, sr = load_audio(path)
            cache[key] = clap.embed_recordings([(samples.mean(axis=0), sr)])[0]
        return cache[key]

    win, lose = [], []
    for row in pairs:
        a, b = emb_of(row, "a"), emb_of(row, "b")
        w, lo = (a, b) if row["winner"] == "a" else (b, a)
        win.append(w)
        lose.append(lo)
    dims = {v.size for v in win + lose}
    if len(dims) != 1:
        raise PairsError(f"embeddings of different dimensions: {sorted(dims)}")
    return np.stack(win), np.stack(lose)


def train_head(win: np.ndarray, lose: np.ndarray, *, hidden: int, epochs: int, lr: float, seed: int,
               val_share: float) -> tuple[object, float, float, float, int]:
    """Train on a seeded split; returns (mlp, val accuracy, reward mean, reward std, n train)."""
    n = win.shape[0]
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_val = max(1, int(round(n * val_share)))
    if n - n_val < 1:
        raise PairsError(f"{n} pairs are too few for a held-out split")
    val, tr = order[:n_val], order[n_val:]
    torch.manual_seed(seed)
    mlp = build_mlp(dim=win.shape[1], hidden=hidden)
    opt = torch.optim.AdamW(mlp.parameters(), lr=lr, weight_decay=1e-2)
    wt, lt = torch.as_tensor(win[tr]), torch.as_tensor(lose[tr])
    gen = torch.Generator().manual_seed(seed)
    batch = 64
    for epoch in range(epochs):
        perm = torch.randperm(len(tr), generator=gen)
        total = 0.0
        for s in range(0, len(tr), batch):
            idx = perm[s : s + batch]
            margin = mlp(wt[idx]).squeeze(-1) - mlp(lt[idx]).squeeze(-1)
            loss = torch.nn.functional.softplus(-margin).mean()  # −log σ(r_w − r_l)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if epoch % max(1, epochs // 5) == 0 or epoch == epochs - 1:
            log.info("epoch %d: train loss %.4f", epoch, total / len(tr))
    mlp.eval()
    with torch.no_grad():
        margin_val = (mlp(torch.as_tensor(win[val])) - mlp(torch.as_tensor(lose[val]))).squeeze(-1).numpy()
        rewards = mlp(torch.as_tensor(np.concatenate([win[tr], lose[tr]]))).squeeze(-1).numpy()
    accuracy = float(np.mean(margin_val > 0))
    return mlp, accuracy, float(rewards.mean()), float(rewards.std()), len(tr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--models-dir", type=Path, default=None, help="scoring models folder (its clap/ embeds audio)")
    p.add_argument("--embedding-model", default=None, help="name of the model that made precomputed embeddings")
    p.add_argument("--embedding-identity", default="", help="its identity (scoring.models.loading.model_identity)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--val-share", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not 0.0 < args.val_share < 1.0:
        print("--val-share must be in (0, 1)", file=sys.stderr)
        return 2
    try:
        pairs = read_pairs(args.pairs)
        clap = None
        if args.models_dir is not None:
            clap = load_models(args.models_dir).clap
        name = args.embedding_model or (clap.name if clap is not None else None)
        identity = args.embedding_identity or (clap.identity if clap is not None else "")
        if name is None:
            raise PairsError("give --models-dir (with clap/) or --embedding-model to name the embedding model")
        win, lose = embed_pairs(pairs, base=args.pairs.parent, clap=clap)
        if clap is not None and win.shape[1] != clap.dim:
            raise PairsError(f"embeddings have dimension {win.shape[1]} but the CLAP's is {clap.dim}")
        mlp, acc, mean, std, n_train = train_head(win, lose, hidden=args.hidden, epochs=args.epochs, lr=args.lr,
                                                  seed=args.seed, val_share=args.val_share)
    except (OSError, PairsError, AudioLoadError, ScoringError) as exc:
        print(f"train_preference: {exc}", file=sys.stderr)
        return 2
    save_head(args.out, mlp=mlp, hidden=args.hidden, embedding_model=name, embedding_identity=identity,
              embedding_dim=win.shape[1], val_accuracy=acc, reward_mean=mean, reward_std=std,
              extra={"train_pairs": n_train, "val_pairs": len(pairs) - n_train, "seed": args.seed})
    print(f"wrote {args.out}: {len(pairs)} pairs ({n_train} train), validation accuracy {acc:.3f}, "
          f"composite weight {preference_weight_for(acc):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
