"""What the local network writes and prints: localnet.json, leaderboard.json, rounds/, the table."""

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_json", "leaderboard_rows", "format_leaderboard", "save_round"]

log = logging.getLogger(__name__)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename) so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def leaderboard_rows(
    snapshot: list[dict[str, Any]],
    chain_weights: dict[int, float],
    last_breakdowns: dict[str, dict[str, Any]],
    backends: dict[str, str],
) -> list[dict[str, Any]]:
    """One row per miner, best EMA first.

    ``chain_weights``: uid → normalised weight read back from the chain; ``last_breakdowns``:
    hotkey → the last round's ``ScoreBreakdown.to_dict()``; ``backends``: hotkey → backend name.
    """
    rows = []
    for entry in snapshot:
        hotkey = entry["hotkey"]
        breakdown = last_breakdowns.get(hotkey) or {}
        signals = {k: v for k, v in (breakdown.get("signals") or {}).items() if v is not None}
        strongest = max(signals.items(), key=lambda kv: kv[1]) if signals else None
        weakest = min(signals.items(), key=lambda kv: kv[1]) if signals else None
        rows.append(
            {
                "uid": int(entry["uid"]),
                "hotkey": hotkey,
                "backend": backends.get(hotkey, "?"),
                "ema": float(entry["ema"]),
                "weight_on_chain": float(chain_weights.get(int(entry["uid"]), 0.0)),
                "rounds": int(entry.get("rounds", 0)),
                "last_final_score": float(entry.get("last_score") or 0.0),
                "strongest_signal": None if strongest is None else {"name": strongest[0], "value": strongest[1]},
                "weakest_signal": None if weakest is None else {"name": weakest[0], "value": weakest[1]},
                "last_error": breakdown.get("error"),
            }
        )
    rows.sort(key=lambda r: (-r["ema"], r["uid"]))
    return rows


def _signal_cell(sig: dict[str, Any] | None) -> str:
    return "-" if not sig else f"{sig['name']} {sig['value']:.2f}"


def format_leaderboard(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of :func:`leaderboard_rows`."""
    header = f"{'uid':>3}  {'hotkey':<14} {'backend':<11} {'EMA':>6} {'weight':>7} {'last':>6}  {'strongest':<22} {'weakest':<22}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['uid']:>3}  {r['hotkey'][:12] + '..':<14} {r['backend'][:11]:<11} {r['ema']:>6.3f} "
            f"{r['weight_on_chain']:>7.3f} {r['last_final_score']:>6.3f}  "
            f"{_signal_cell(r['strongest_signal']):<22} {_signal_cell(r['weakest_signal']):<22}"
        )
    return "\n".join(lines)


def save_round(out_dir: Path, round_index: int, result: Any) -> Path:
    """Write one round's clips (as received) and breakdowns under ``out_dir/rounds/round_NNN/``.

    ``result`` is the validator's ``RoundResult``; returns the round's directory.
    """
    rdir = out_dir / "rounds" / f"round_{round_index:03d}"
    rdir.mkdir(parents=True, exist_ok=True)
    summary = result.to_dict()
    for item, miner in zip(summary["miners"], result.miners):
        item["clip"] = None
        if miner.audio_bytes:
            clip = rdir / f"uid{miner.uid:03d}.{miner.audio_format or 'wav'}"
            clip.write_bytes(miner.audio_bytes)
            item["clip"] = clip.name
    write_json(rdir / "round.json", summary)
    return rdir
