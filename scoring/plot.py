"""The picture of a score: each clip's breakdown as bars next to its spectrogram (``tuneforge score --plot``).

One panel per clip, stacked: a title (the clip's label, final score and composite), 16 horizontal
bars for the signals (``value × BAR_PX`` pixels long; an unavailable signal is an empty bar marked
``n/a``), a gap, 4 bars for the penalty multipliers (1.0 = no penalty), and to the right the clip's
spectrogram: mono mix, Hann-windowed STFT, power in dB relative to the clip's loudest bin and cut at
``TOP_DB`` below it, on a log-frequency axis from ``F_MIN`` Hz to the Nyquist frequency (capped at
20 kHz), time left to right. Written as PNG (Pillow) or SVG by :class:`scoring.figure.Figure`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring import constants as C
from scoring.figure import Figure

__all__ = [
    "PlotEntry",
    "score_figure",
    "spectrogram_image",
    "BAR_PX",
    "PANEL_HEIGHT",
    "WIDTH",
    "SIGNAL_COLOUR",
    "PENALTY_COLOUR",
    "layout",
]

WIDTH = 1040
BAR_PX = 200  # a signal or penalty of 1.0
ROW_PX = 16
LABEL_PX = 150  # signal names, right-aligned before the bars
MARGIN = 16
TITLE_PX = 34
SPEC_X = MARGIN + LABEL_PX + BAR_PX + 90
SPEC_W = WIDTH - SPEC_X - MARGIN
SPEC_H = (len(C.SIGNAL_WEIGHTS) + 1 + len(C.PENALTIES)) * ROW_PX
PANEL_HEIGHT = TITLE_PX + SPEC_H + 34
HEADER_PX = 30
F_MIN = 30.0
F_MAX = 20_000.0
TOP_DB = 80.0
SIGNAL_COLOUR = "#3b5bdb"
PENALTY_COLOUR = "#ae3ec9"
TRACK_COLOUR = "#eef0f3"
#: Colour map anchors from silence to the loudest bin (dark blue → purple → orange → pale yellow).
COLOUR_MAP = np.array(
    [[8, 8, 30], [60, 15, 110], [150, 40, 120], [230, 90, 60], [252, 200, 80], [252, 253, 190]],
    dtype=np.float64,
)


@dataclass(frozen=True)
class PlotEntry:
    """One clip to draw: its ``label``, ``breakdown`` (a ``ScoreBreakdown``) and ``samples``
    (float ``(channels, frames)`` or ``(frames,)``) at ``sample_rate`` Hz."""

    label: str
    breakdown: Any
    samples: np.ndarray
    sample_rate: int


def layout(panel: int) -> dict[str, Any]:
    """Pixel positions in panel ``panel`` (0-based): ``bars_x`` (where every bar starts), ``row_y``
    (name -> top of that signal's or penalty's bar), ``bar_h``, and the spectrogram's ``spec`` box
    ``(x, y, width, height)``. Tests read bars back from a picture with it."""
    top = HEADER_PX + panel * PANEL_HEIGHT + TITLE_PX
    names = list(C.SIGNAL_WEIGHTS) + [None] + list(C.PENALTIES)
    rows = {name: top + i * ROW_PX + 2 for i, name in enumerate(names) if name is not None}
    return {
        "bars_x": MARGIN + LABEL_PX,
        "row_y": rows,
        "bar_h": ROW_PX - 4,
        "spec": (SPEC_X, top, SPEC_W, SPEC_H),
    }


def spectrogram_image(samples: np.ndarray, sample_rate: int, *, width: int, height: int) -> np.ndarray:
    """The clip's spectrogram as an ``(height, width, 3)`` uint8 image: column = time, row 0 = highest
    frequency (log-spaced from ``F_MIN`` to min(Nyquist, ``F_MAX``)), colour = dB below the loudest bin."""
    mono = np.asarray(samples, dtype=np.float64)
    if mono.ndim == 2:
        mono = mono.mean(axis=0)
    n_fft = 2048 if sample_rate >= 32_000 else 1024
    if len(mono) < n_fft:
        mono = np.pad(mono, (0, n_fft - len(mono)))
    starts = np.linspace(0, len(mono) - n_fft, width).round().astype(np.int64)
    frames = np.stack([mono[s : s + n_fft] for s in starts]) * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (width, n_fft // 2 + 1)
    bin_hz = sample_rate / n_fft
    f_max = min(sample_rate / 2.0, F_MAX)
    edges = np.geomspace(F_MIN, f_max, height + 1)
    first = np.ceil(edges / bin_hz).astype(np.int64)  # first bin at or above each band edge
    rows = np.empty((height, width))
    for r in range(height):  # r = 0 is the lowest band here; flipped below
        lo, hi = first[r], min(first[r + 1], power.shape[1])
        if hi > lo:  # the band holds whole bins: its loudest
            rows[r] = power[:, lo:hi].max(axis=1)
        else:  # a band narrower than one bin: interpolate at its centre
            at = min(np.sqrt(edges[r] * edges[r + 1]) / bin_hz, power.shape[1] - 1.000001)
            k = int(at)
            rows[r] = power[:, k] * (k + 1 - at) + power[:, k + 1] * (at - k)
    peak = rows.max()
    level = (
        np.zeros_like(rows)
        if peak <= 0
        else np.clip(10 * np.log10(np.maximum(rows, 1e-30) / peak), -TOP_DB, 0)
    )
    norm = 1.0 + level / TOP_DB  # 0 = silence floor, 1 = loudest
    position = norm[::-1] * (len(COLOUR_MAP) - 1)
    low = np.minimum(position.astype(np.int64), len(COLOUR_MAP) - 2)
    frac = (position - low)[..., None]
    rgb = COLOUR_MAP[low] * (1 - frac) + COLOUR_MAP[low + 1] * frac
    return np.clip(rgb.round(), 0, 255).astype(np.uint8)


def _draw_bars(fig: Figure, box: dict[str, Any], breakdown: Any) -> None:
    x0, h = box["bars_x"], box["bar_h"]
    for name, y in box["row_y"].items():
        is_penalty = name in C.PENALTIES
        value = breakdown.penalties.get(name, 1.0) if is_penalty else breakdown.signals.get(name)
        fig.text(x0 - 6, y + h - 2, name, size=11, anchor="end", fill="#333333")
        fig.rect(x0, y, BAR_PX, h, fill=TRACK_COLOUR, kind="track")
        if value is None:
            fig.text(x0 + BAR_PX + 6, y + h - 2, "n/a", size=11, fill="#999999")
            continue
        v = min(1.0, max(0.0, float(value)))
        fig.rect(
            x0,
            y,
            round(v * BAR_PX),
            h,
            fill=PENALTY_COLOUR if is_penalty else SIGNAL_COLOUR,
            kind="penalty-bar" if is_penalty else "signal-bar",
            title=f"{name}: {float(value):.3f}",
        )
        fig.text(x0 + BAR_PX + 6, y + h - 2, f"{float(value):.3f}", size=11, fill="#222222")


def _draw_spectrogram(fig: Figure, box: tuple[int, int, int, int], entry: PlotEntry) -> None:
    x, y, w, h = box
    fig.image(
        x, y, spectrogram_image(entry.samples, entry.sample_rate, width=w, height=h), kind="spectrogram"
    )
    f_max = min(entry.sample_rate / 2.0, F_MAX)
    for f in (100.0, 1000.0, 10_000.0):
        if F_MIN < f < f_max:
            fy = y + h * (1 - np.log(f / F_MIN) / np.log(f_max / F_MIN))
            fig.line(x - 4, fy, x, fy, stroke="#555555")
            fig.text(
                x - 6,
                fy + 4,
                f"{f / 1000:g}k" if f >= 1000 else f"{f:g}",
                size=10,
                anchor="end",
                fill="#555555",
            )
    frames = entry.samples.shape[-1]
    seconds = frames / float(entry.sample_rate)
    for i, frac in enumerate((0.0, 0.5, 1.0)):
        tx = x + frac * w
        fig.line(tx, y + h, tx, y + h + 4, stroke="#555555")
        fig.text(
            tx,
            y + h + 16,
            f"{frac * seconds:.1f} s",
            size=10,
            anchor=("start", "middle", "end")[i],
            fill="#555555",
        )
    fig.text(
        x + w / 2,
        y + h + 30,
        "spectrogram (Hz, log scale; dB below the loudest bin)",
        size=10,
        anchor="middle",
        fill="#777777",
    )


def score_figure(entries: Sequence[PlotEntry], *, title: str = "") -> Figure:
    """The picture of ``entries`` (one panel each, see the module docstring); ``title`` heads it."""
    if not entries:
        raise ValueError("nothing to plot: no scored clip")
    fig = Figure(WIDTH, HEADER_PX + PANEL_HEIGHT * len(entries) + 8)
    fig.text(MARGIN, 20, title or "TuneForge score", size=13, bold=True)
    for i, entry in enumerate(entries):
        box = layout(i)
        b = entry.breakdown
        top = HEADER_PX + i * PANEL_HEIGHT
        if i:
            fig.line(MARGIN, top + 2, WIDTH - MARGIN, top + 2, stroke="#dddddd")
        fig.text(MARGIN, top + 22, entry.label, size=13, bold=True)
        fig.text(
            WIDTH - MARGIN,
            top + 22,
            f"final {b.final_score:.3f}  ·  composite {b.composite:.3f}"
            + (f"  ·  {b.error}" if b.error else ""),
            size=12,
            anchor="end",
        )
        _draw_bars(fig, box, b)
        _draw_spectrogram(fig, box["spec"], entry)
    return fig
