"""A small drawing surface that writes SVG (no dependency) or PNG (Pillow): the pictures of scores.

:class:`Figure` records rectangles, lines, text and raster images in pixel coordinates (origin top
left, text placed by its baseline) and writes them with :meth:`Figure.save`: ``.svg`` always
works (rasters are embedded as PNG data written by :func:`encode_png`, zlib only); ``.png`` needs
Pillow (installed with the ``plots`` or ``models`` extra, not the minimal install) and raises
:class:`PlotError` without it. :func:`default_suffix` says which of the two this install can write.
Why not matplotlib: it is not a dependency of any extra, and a bar chart and a spectrogram need
none of it. Elements carry an optional ``kind`` (written as the SVG ``class``), so tests and
styles can find the bars of a chart.
"""

import base64
import io
import os
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

__all__ = ["Figure", "PlotError", "encode_png", "pillow_available", "default_suffix"]

FONT_FAMILY = "DejaVu Sans, Verdana, sans-serif"


class PlotError(Exception):
    """A picture cannot be written (unknown suffix, PNG without Pillow, unwritable path)."""


def pillow_available() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def default_suffix() -> str:
    """``".png"`` when Pillow is installed, else ``".svg"``."""
    return ".png" if pillow_available() else ".svg"


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an ``(height, width, 3)`` uint8 image (8-bit RGB, no filter, zlib level 6)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected (height, width, 3) uint8, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


@dataclass
class _Item:
    shape: str  # rect | line | text | image
    args: dict[str, Any]
    kind: str | None = None


@dataclass
class Figure:
    """A ``width`` × ``height`` pixel picture on a ``background`` colour (``#rrggbb``)."""

    width: int
    height: int
    background: str = "#ffffff"
    items: list[_Item] = field(default_factory=list)

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        fill: str,
        kind: str | None = None,
        title: str | None = None,
    ) -> None:
        self.items.append(
            _Item(
                "rect",
                {"x": x, "y": y, "w": max(0.0, w), "h": max(0.0, h), "fill": fill, "title": title},
                kind,
            )
        )

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        *,
        stroke: str,
        width: float = 1.0,
        kind: str | None = None,
    ) -> None:
        self.items.append(
            _Item("line", {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "stroke": stroke, "width": width}, kind)
        )

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = 12,
        fill: str = "#222222",
        anchor: str = "start",
        bold: bool = False,
        kind: str | None = None,
    ) -> None:
        """``text`` with its baseline at ``y``; ``anchor``: ``start`` | ``middle`` | ``end`` at ``x``."""
        if anchor not in ("start", "middle", "end"):
            raise ValueError(f"anchor must be start, middle or end, got {anchor!r}")
        self.items.append(
            _Item(
                "text",
                {
                    "x": x,
                    "y": y,
                    "text": str(text),
                    "size": size,
                    "fill": fill,
                    "anchor": anchor,
                    "bold": bold,
                },
                kind,
            )
        )

    def image(self, x: float, y: float, rgb: np.ndarray, *, kind: str | None = None) -> None:
        """An ``(height, width, 3)`` uint8 raster with its top left corner at ``(x, y)``, unscaled."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected (height, width, 3) uint8, got {rgb.shape} {rgb.dtype}")
        self.items.append(_Item("image", {"x": x, "y": y, "rgb": rgb}, kind))

    # -- output -----------------------------------------------------------------------------------
    def to_svg(self) -> str:
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" font-family={quoteattr(FONT_FAMILY)}>',
            f'<rect width="{self.width}" height="{self.height}" fill="{self.background}"/>',
        ]
        for item in self.items:
            a = item.args
            cls = "" if item.kind is None else f' class="{escape(item.kind)}"'
            if item.shape == "rect":
                title = "" if not a["title"] else f"<title>{escape(a['title'])}</title>"
                out.append(
                    f'<rect{cls} x="{a["x"]:.2f}" y="{a["y"]:.2f}" width="{a["w"]:.2f}" height="{a["h"]:.2f}" '
                    f'fill="{a["fill"]}">{title}</rect>'
                )
            elif item.shape == "line":
                out.append(
                    f'<line{cls} x1="{a["x1"]:.2f}" y1="{a["y1"]:.2f}" x2="{a["x2"]:.2f}" y2="{a["y2"]:.2f}" '
                    f'stroke="{a["stroke"]}" stroke-width="{a["width"]:g}"/>'
                )
            elif item.shape == "text":
                weight = ' font-weight="bold"' if a["bold"] else ""
                out.append(
                    f'<text{cls} x="{a["x"]:.2f}" y="{a["y"]:.2f}" font-size="{a["size"]:g}" fill="{a["fill"]}" '
                    f'text-anchor="{a["anchor"]}"{weight}>{escape(a["text"])}</text>'
                )
            else:
                h, w = a["rgb"].shape[:2]
                data = base64.b64encode(encode_png(a["rgb"])).decode("ascii")
                out.append(
                    f'<image{cls} x="{a["x"]:.2f}" y="{a["y"]:.2f}" width="{w}" height="{h}" '
                    f'preserveAspectRatio="none" href="data:image/png;base64,{data}"/>'
                )
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def to_png(self) -> bytes:
        """PNG bytes drawn with Pillow (raises :class:`PlotError` when it is not installed)."""
        try:
            from PIL import Image, ImageDraw, ImageFont
        except ImportError:
            raise PlotError(
                "writing a PNG needs Pillow (pip install pillow); an .svg needs nothing"
            ) from None
        canvas = Image.new("RGB", (self.width, self.height), self.background)
        draw = ImageDraw.Draw(canvas)
        fonts: dict[tuple[float, bool], Any] = {}
        anchors = {"start": "ls", "middle": "ms", "end": "rs"}
        for item in self.items:
            a = item.args
            if item.shape == "rect":
                if a["w"] >= 0.5 and a["h"] >= 0.5:
                    draw.rectangle(
                        [
                            round(a["x"]),
                            round(a["y"]),
                            round(a["x"] + a["w"]) - 1,
                            round(a["y"] + a["h"]) - 1,
                        ],
                        fill=a["fill"],
                    )
            elif item.shape == "line":
                draw.line(
                    [a["x1"], a["y1"], a["x2"], a["y2"]], fill=a["stroke"], width=max(1, round(a["width"]))
                )
            elif item.shape == "text":
                key = (a["size"], a["bold"])
                if key not in fonts:
                    fonts[key] = _font(ImageFont, a["size"], bold=a["bold"])
                draw.text(
                    (a["x"], a["y"]), a["text"], fill=a["fill"], font=fonts[key], anchor=anchors[a["anchor"]]
                )
            else:
                canvas.paste(Image.fromarray(a["rgb"], "RGB"), (round(a["x"]), round(a["y"])))
        buf = io.BytesIO()
        canvas.save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.svg`` or ``.png`` (by suffix) atomically: a temp file in the same folder, renamed."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            data = self.to_svg().encode("utf-8")
        elif suffix == ".png":
            data = self.to_png()
        else:
            raise PlotError(
                f"{path}: a picture is written as .png or .svg, not {path.suffix or 'no suffix'!r}"
            )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "xb") as fh:  # the usual permissions (umask), unlike mkstemp's 0600
                fh.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise PlotError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        return path


def _font(image_font: Any, size: float, *, bold: bool) -> Any:
    """DejaVu Sans (Debian's fonts-dejavu) when present, else Pillow's built-in font at ``size``."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/Library/Fonts"):
        candidate = Path(folder) / name
        if candidate.is_file():
            return image_font.truetype(str(candidate), size=round(size))
    return image_font.load_default(size=round(size))
