"""``leaderboard.png`` (or ``.svg``): the local network's leaderboard as a picture, beside ``leaderboard.json``.

One row per miner, best EMA first: uid, short hotkey and backend, then three bars on the same
0-1 scale, each ``value × BAR_PX`` pixels long with its value printed after it: the EMA, the weight
the chain holds from the validator, and the last round's final score. PNG when Pillow is installed
(the ``plots`` or ``models`` extra), else SVG (:func:`scoring.figure.default_suffix`); only one of
the two is kept, so the folder never shows a stale picture next to a fresh one.
"""

import logging
from pathlib import Path
from typing import Any

from scoring.figure import Figure, PlotError, default_suffix

__all__ = ["leaderboard_figure", "write_leaderboard_picture", "picture_layout", "COLUMNS", "BAR_PX"]

log = logging.getLogger(__name__)

BAR_PX = 180
ROW_PX = 28
MARGIN = 16
LABEL_PX = 330
COLUMN_PX = BAR_PX + 70
HEADER_PX = 64
#: (row key, heading, colour) of the bar columns, left to right.
COLUMNS = (
    ("ema", "EMA", "#3b5bdb"),
    ("weight_on_chain", "weight on chain", "#2b8a3e"),
    ("last_final_score", "last score", "#e8590c"),
)
WIDTH = MARGIN * 2 + LABEL_PX + COLUMN_PX * len(COLUMNS)


def picture_layout(n_rows: int) -> dict[str, Any]:
    """Pixel geometry: ``size`` (width, height), ``bar_x`` (row key -> where its bars start),
    ``row_y`` (row index -> top of its bars) and ``bar_h``. Tests read bars back with it."""
    return {
        "size": (WIDTH, HEADER_PX + ROW_PX * max(1, n_rows) + MARGIN),
        "bar_x": {key: MARGIN + LABEL_PX + i * COLUMN_PX for i, (key, _, _) in enumerate(COLUMNS)},
        "row_y": {i: HEADER_PX + i * ROW_PX + 6 for i in range(n_rows)},
        "bar_h": ROW_PX - 12,
    }


def leaderboard_figure(rows: list[dict[str, Any]], *, netuid: int, block: int | None) -> Figure:
    """The picture of ``leaderboard_rows`` output (see the module docstring)."""
    geo = picture_layout(len(rows))
    fig = Figure(*geo["size"])
    fig.text(
        MARGIN,
        24,
        f"TuneForge local network · netuid {netuid} · block {block if block is not None else '?'}",
        size=14,
        bold=True,
    )
    fig.text(MARGIN, HEADER_PX - 12, "uid  hotkey · backend", size=11, fill="#666666")
    for key, heading, _ in COLUMNS:
        fig.text(geo["bar_x"][key], HEADER_PX - 12, heading, size=11, fill="#666666")
    if not rows:
        fig.text(MARGIN, HEADER_PX + 18, "no miner scored yet", size=12, fill="#666666")
    h = geo["bar_h"]
    for i, row in enumerate(rows):
        y = geo["row_y"][i]
        if i:
            fig.line(MARGIN, y - 6, WIDTH - MARGIN, y - 6, stroke="#eeeeee")
        hotkey = str(row.get("hotkey", ""))
        label = f"{int(row['uid']):>3}  {hotkey[:6]}…{hotkey[-4:]} · {row.get('backend', '?')}"
        fig.text(MARGIN, y + h - 3, label, size=12)
        for key, heading, colour in COLUMNS:
            x0 = geo["bar_x"][key]
            value = min(1.0, max(0.0, float(row.get(key) or 0.0)))
            fig.rect(x0, y, BAR_PX, h, fill="#eef0f3", kind="track")
            fig.rect(
                x0,
                y,
                round(value * BAR_PX),
                h,
                fill=colour,
                kind=f"{key}-bar",
                title=f"{heading}: {value:.3f}",
            )
            fig.text(x0 + BAR_PX + 6, y + h - 3, f"{float(row.get(key) or 0.0):.3f}", size=11)
    return fig


def write_leaderboard_picture(
    out_dir: Path, rows: list[dict[str, Any]], *, netuid: int, block: int | None
) -> Path | None:
    """Write ``out_dir/leaderboard.png`` (or ``.svg``) and remove the other one; None (one ERROR line) on failure."""
    suffix = default_suffix()
    path = Path(out_dir) / f"leaderboard{suffix}"
    try:
        leaderboard_figure(rows, netuid=netuid, block=block).save(path)
    except PlotError as exc:
        log.error("leaderboard picture not written: %s", exc)
        return None
    (Path(out_dir) / f"leaderboard{'.svg' if suffix == '.png' else '.png'}").unlink(missing_ok=True)
    return path
