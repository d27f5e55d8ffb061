"""Pictures: ``tuneforge score --plot`` (breakdown bars and a spectrogram) and the local network's
leaderboard picture, read back from the files: the image is valid and of the laid-out size, every
bar is as long as its value, and the spectrogram is brightest where the clip's energy is.

The score picture is of a 3 s clip holding a 440 Hz tone, scored weight-free by the CLI; the
leaderboard picture of hand-made rows. PNG needs Pillow (in the test install); SVG needs nothing.
"""

import base64
import contextlib
import io
import json
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scoring import constants as C
from scoring import plot
from scoring.breakdown import ScoreBreakdown
from scoring.figure import Figure, PlotError, encode_png
from tuneforge.cli import main as cli_main
from tuneforge.localnet import leaderboard_picture as lp

Image = pytest.importorskip("PIL.Image")

SR = 44_100
SVG = "{http://www.w3.org/2000/svg}"
TONE_HZ = 440.0


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def run_count(image, *, x0: int, y: int, length: int, colour: str) -> int:
    """Pixels of ``colour`` on row ``y`` from ``x0`` over ``length`` pixels."""
    want = hex_rgb(colour)
    return sum(1 for x in range(x0, x0 + length) if image.getpixel((x, y)) == want)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """A tone clip scored by ``tuneforge score --json --plot out.svg``: (clip, its JSON line, the SVG)."""
    folder = tmp_path_factory.mktemp("plots")
    t = np.arange(3 * SR) / SR
    tone = (0.4 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    clip = folder / "tone.wav"
    sf.write(clip, np.stack([tone, tone], axis=1), SR)
    svg_path = folder / "score.svg"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli_main(
            [
                "score",
                str(clip),
                "--prompt",
                "a pure tone",
                "--duration",
                "3",
                "--json",
                "--plot",
                str(svg_path),
            ]
        )
    assert rc == 0
    lines = out.getvalue().strip().splitlines()
    return clip, json.loads(lines[-1]), svg_path


def breakdown_of(line: dict) -> ScoreBreakdown:
    return ScoreBreakdown(
        signals=dict(line["signals"]),
        penalties=dict(line["penalties"]),
        unavailable={k: "unavailable" for k in line["unavailable"]},
        composite=line["composite"],
        final_score=line["final_score"],
    )


def test_score_plot_svg_bars_and_spectrogram(scored) -> None:
    _, line, svg_path = scored
    root = ET.parse(svg_path).getroot()
    assert (root.get("width"), root.get("height")) == (
        str(plot.WIDTH),
        str(plot.HEADER_PX + plot.PANEL_HEIGHT + 8),
    )
    bars = {
        r.findtext(f"{SVG}title").split(":")[0]: float(r.get("width"))
        for r in root.iter(f"{SVG}rect")
        if r.get("class") in ("signal-bar", "penalty-bar")
    }
    available = {k: v for k, v in line["signals"].items() if v is not None}
    assert set(bars) == set(available) | set(C.PENALTIES)
    for name, value in available.items():
        assert bars[name] == round(value * plot.BAR_PX), name
    for name, value in line["penalties"].items():
        assert bars[name] == round(value * plot.BAR_PX), name
    (image,) = [i for i in root.iter(f"{SVG}image") if i.get("class") == "spectrogram"]
    data = base64.b64decode(image.get("href").split(",", 1)[1])
    assert png_size(data) == (plot.SPEC_W, plot.SPEC_H)


def test_score_plot_png_reads_back_as_drawn(scored, tmp_path: Path) -> None:
    clip, line, _ = scored
    samples, sr = sf.read(clip, dtype="float32", always_2d=True)
    path = plot.score_figure([plot.PlotEntry("tone.wav", breakdown_of(line), samples.T, sr)]).save(
        tmp_path / "s.png"
    )
    image = Image.open(path).convert("RGB")
    assert image.size == (plot.WIDTH, plot.HEADER_PX + plot.PANEL_HEIGHT + 8)
    box = plot.layout(0)
    for name, y in box["row_y"].items():
        is_penalty = name in C.PENALTIES
        value = line["penalties"][name] if is_penalty else line["signals"][name]
        drawn = run_count(
            image,
            x0=box["bars_x"],
            y=y + box["bar_h"] // 2,
            length=plot.BAR_PX,
            colour=plot.PENALTY_COLOUR if is_penalty else plot.SIGNAL_COLOUR,
        )
        assert drawn == (0 if value is None else round(value * plot.BAR_PX)), name
    # The tone's row of the spectrogram is far brighter than a row an octave band away at 4 kHz.
    x, y, w, h = box["spec"]
    f_max = min(sr / 2, plot.F_MAX)

    def row_of(f: float) -> int:
        return int(y + h * (1 - np.log(f / plot.F_MIN) / np.log(f_max / plot.F_MIN)))

    pixels = np.asarray(image, dtype=np.float64)
    tone_row = pixels[row_of(TONE_HZ) - 2 : row_of(TONE_HZ) + 3, x : x + w].sum(axis=2).max(axis=0).mean()
    far_row = pixels[row_of(4000.0), x : x + w].sum(axis=1).mean()
    assert tone_row > 3 * far_row


def test_score_plot_refuses_a_bad_target_before_scoring(tmp_path: Path, capsys, monkeypatch) -> None:
    clip = tmp_path / "missing-but-never-read.wav"
    assert (
        cli_main(["score", str(clip), "--prompt", "x", "--duration", "3", "--plot", str(tmp_path / "a.gif")])
        == 2
    )
    assert "name a .png or .svg file" in capsys.readouterr().err
    assert (
        cli_main(["score", str(clip), "--prompt", "x", "--duration", "3", "--plot", "/no/such/dir/a.svg"])
        == 2
    )
    assert "no such directory" in capsys.readouterr().err
    monkeypatch.setattr("scoring.figure.pillow_available", lambda: False)
    assert (
        cli_main(["score", str(clip), "--prompt", "x", "--duration", "3", "--plot", str(tmp_path / "a.png")])
        == 2
    )
    assert "needs Pillow" in capsys.readouterr().err


def test_figure_png_writer_and_suffixes(tmp_path: Path) -> None:
    rgb = (np.arange(5 * 7 * 3) % 256).astype(np.uint8).reshape(5, 7, 3)
    data = encode_png(rgb)
    assert png_size(data) == (7, 5)
    (tmp_path / "raw.png").write_bytes(data)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "raw.png").convert("RGB")), rgb)
    with pytest.raises(PlotError, match="png or .svg"):
        Figure(10, 10).save(tmp_path / "x.jpg")
    with pytest.raises(PlotError, match="cannot write"):
        Figure(10, 10).save(tmp_path / "no-such-dir" / "x.svg")
    assert not list(tmp_path.glob(".*.tmp"))


ROWS = [
    {
        "uid": 1,
        "hotkey": "5Dw5hGabcdefGTayXS",
        "backend": "procedural",
        "ema": 0.62,
        "weight_on_chain": 0.81,
        "last_final_score": 0.875,
    },
    {
        "uid": 3,
        "hotkey": "5H3qFEabcdefWQShb5",
        "backend": "noise",
        "ema": 0.05,
        "weight_on_chain": 0.19,
        "last_final_score": 0.0,
    },
]


def test_leaderboard_picture_png_and_svg(tmp_path: Path, monkeypatch) -> None:
    path = lp.write_leaderboard_picture(tmp_path, ROWS, netuid=1, block=42)
    assert path == tmp_path / "leaderboard.png"
    image = Image.open(path).convert("RGB")
    geo = lp.picture_layout(len(ROWS))
    assert image.size == geo["size"]
    for i, row in enumerate(ROWS):
        for key, _, colour in lp.COLUMNS:
            drawn = run_count(
                image,
                x0=geo["bar_x"][key],
                y=geo["row_y"][i] + geo["bar_h"] // 2,
                length=lp.BAR_PX,
                colour=colour,
            )
            assert drawn == round(row[key] * lp.BAR_PX), (i, key)

    monkeypatch.setattr(lp, "default_suffix", lambda: ".svg")  # an install without Pillow
    svg = lp.write_leaderboard_picture(tmp_path, ROWS, netuid=1, block=42)
    assert svg == tmp_path / "leaderboard.svg" and not path.exists()  # only the fresh picture is kept
    root = ET.parse(svg).getroot()
    assert (int(root.get("width")), int(root.get("height"))) == geo["size"]
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("class") == "ema-bar"]
    assert widths == [round(r["ema"] * lp.BAR_PX) for r in ROWS]
    assert re.search(r"block 42", svg.read_text())


def test_without_pillow_pictures_are_svg(tmp_path: Path, monkeypatch) -> None:
    import sys

    from scoring import figure

    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now fails, as on the minimal install
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    assert not figure.pillow_available() and figure.default_suffix() == ".svg"
    with pytest.raises(PlotError, match="needs Pillow"):
        Figure(10, 10).save(tmp_path / "x.png")
    assert lp.write_leaderboard_picture(tmp_path, ROWS, netuid=1, block=None) == tmp_path / "leaderboard.svg"
    tone = np.sin(np.arange(SR) * 2 * np.pi * TONE_HZ / SR).astype(np.float32)
    entry = plot.PlotEntry(
        "t", ScoreBreakdown(signals={}, penalties={}, composite=0.0, final_score=0.0), tone, SR
    )
    ET.parse(plot.score_figure([entry]).save(tmp_path / "s.svg"))
