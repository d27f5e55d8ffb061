"""What the local network writes and prints: localnet.json, leaderboard.json, rounds/, the table.

Every file is written atomically and durably (temp file, fsync, rename: ``tuneforge.fsutil``), so
a crash or a full disk never leaves half a clip or half a JSON file. Round folders are named by
the validator's round id, which goes on counting across restarts with the same ``--out``, so a
restart never overwrites an earlier round's folder.
"""

import logging
import re
from pathlib import Path
from typing import Any

from tuneforge.fsutil import atomic_write_bytes, atomic_write_json

__all__ = ["write_json", "leaderboard_rows", "format_leaderboard", "save_round", "save_round_logged", "round_dir_name"]

log = logging.getLogger(__name__)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically and durably so a reader never sees half a file (raises ``WriteFailed``)."""
    atomic_write_json(path, data)


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


def round_dir_name(round_id: str) -> str:
    """``"7"`` → ``"round_007"``; a non-numeric id keeps its safe characters (``round_<id>``)."""
    text = str(round_id).strip()
    if text.isdigit():
        return f"round_{int(text):03d}"
    return "round_" + (re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "unnamed")


def save_round(out_dir: Path, result: Any) -> Path:
    """Write one round's clips (as received) and breakdowns under ``out_dir/rounds/round_<id>/``.

    ``result`` is the validator's ``RoundResult``; the folder is named by its ``round_id``. A
    folder that already exists (the validator's state was deleted but the rounds kept) is never
    overwritten: the new one gets a ``-2``, ``-3``... suffix. Clips are written first and
    ``round.json`` last, each atomically, so a folder with a ``round.json`` is complete. Returns
    the round's directory; raises ``tuneforge.fsutil.WriteFailed`` (``DiskFull``) naming the file.
    """
    rounds = out_dir / "rounds"
    rounds.mkdir(parents=True, exist_ok=True)
    base = round_dir_name(result.round_id)
    rdir, n = rounds / base, 1
    while True:
        try:
            rdir.mkdir()
            break
        except FileExistsError:
            n += 1
            rdir = rounds / f"{base}-{n}"
    summary = result.to_dict()
    for item, miner in zip(summary["miners"], result.miners, strict=True):
        item["clip"] = None
        if miner.audio_bytes:
            fmt = re.sub(r"[^a-z0-9]", "", str(miner.audio_format or "wav").lower()) or "bin"
            clip = rdir / f"uid{miner.uid:03d}.{fmt}"
            atomic_write_bytes(clip, miner.audio_bytes)
            item["clip"] = clip.name
    write_json(rdir / "round.json", summary)
    return rdir


def save_round_logged(out_dir: Path, result: Any) -> Path | None:
    """:func:`save_round`; a failure (e.g. a full disk) is one ERROR line and None, and the run goes on."""
    try:
        return save_round(out_dir, result)
    except OSError as exc:
        log.error("round %s not saved under %s: %s", result.round_id, out_dir / "rounds", exc)
        return None
