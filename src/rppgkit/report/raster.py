"""A small raster plotter for the measurement report: panels of lines, markers, bands and an
image, with axes and text, drawn by Pillow and encoded as one PNG by OpenCV.

Why not matplotlib here: importing it and drawing the report's four panels took about 1.1 s,
a sixth of `rppgkit measure` on a 60 s video and more than the whole analysis of a 12 s clip.
The report needs little of it, which Pillow draws in a few tens of milliseconds. Everything is
drawn at `SUPERSAMPLE` times the size and scaled down, so lines and text come out antialiased.
matplotlib still draws the evaluation figures and AutoHR's cells.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

SUPERSAMPLE = 2
Colour = tuple[int, int, int]
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in output pixels

BLACK: Colour = (0, 0, 0)
GREY: Colour = (150, 150, 150)
# matplotlib's tab:red and tab:blue, so the report looks like the figures of `evaluate`
RED: Colour = (214, 39, 40)
BLUE: Colour = (31, 119, 180)
# ColorBrewer's RdYlGn, five stops: red for poor signal quality, green for good
_RD_YL_GN = np.array(
    [(215, 25, 28), (253, 174, 97), (255, 255, 191), (166, 217, 106), (26, 150, 65)], np.float64
)


def red_yellow_green(values: np.ndarray) -> list[Colour]:
    """Colours of `values` in [0, 1] on a red-yellow-green scale (0 red, 1 green)."""
    pos = np.clip(np.nan_to_num(np.asarray(values, np.float64)), 0, 1) * (len(_RD_YL_GN) - 1)
    low = np.minimum(pos.astype(int), len(_RD_YL_GN) - 2)
    frac = (pos - low)[:, None]
    rgb = (1 - frac) * _RD_YL_GN[low] + frac * _RD_YL_GN[low + 1]
    return [tuple(int(c) for c in row) for row in np.round(rgb)]


def tint(colour: Colour, alpha: float) -> Colour:
    """`colour` at opacity `alpha` over white (bands are drawn before anything else)."""
    return tuple(round(255 - alpha * (255 - c)) for c in colour)  # type: ignore[return-value]


def nice_ticks(lo: float, hi: float, most: int = 7) -> np.ndarray:
    """Round tick values within [lo, hi], at most `most` of them, steps of 1, 2, 2.5 or 5 x 10^k.

    Examples
    --------
    >>> nice_ticks(0.0, 12.3).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    """
    if not hi > lo:
        return np.array([lo])
    power = 10.0 ** math.floor(math.log10((hi - lo) / max(most, 1)))
    for step in (m * power for m in (1, 2, 2.5, 5, 10, 20)):  # the finest that fits
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if last - first + 1 <= most:
            break
    return np.round(np.arange(first, last + 1) * step, 10)


def padded(lo: float, hi: float, share: float = 0.05) -> tuple[float, float]:
    """The range [lo, hi] widened by `share` on each side (a flat range by one unit)."""
    if not hi > lo:
        return lo - 1.0, hi + 1.0
    pad = share * (hi - lo)
    return lo - pad, hi + pad


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (matplotlib's font, read from its package without importing it) at `size`
    output pixels; Pillow's own font where matplotlib's files are not there."""
    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size * SUPERSAMPLE)
    return ImageFont.load_default(size * SUPERSAMPLE)


class Canvas:
    """A white picture `width` x `height` px to draw panels and text on."""

    def __init__(self, width: int, height: int) -> None:
        self.image = Image.new("RGB", (width * SUPERSAMPLE, height * SUPERSAMPLE), "white")
        self.draw = ImageDraw.Draw(self.image)

    def text(
        self,
        xy: tuple[float, float],
        text: str,
        size: int = 13,
        anchor: str = "la",
        colour: Colour = BLACK,
        vertical: bool = False,
    ) -> None:
        """Text at `xy` (output px); `anchor` as Pillow's (e.g. "mm" centred, "rs" right on
        the baseline); `vertical` turns it a quarter anticlockwise about `xy`."""
        s = SUPERSAMPLE
        if not vertical:
            self.draw.text(
                (xy[0] * s, xy[1] * s), text, fill=colour, font=font(size), anchor=anchor
            )
            return
        left, top, right, bottom = font(size).getbbox(text)
        label = Image.new("L", (right - left + 2, bottom - top + 2), 0)
        ImageDraw.Draw(label).text((-left + 1, -top + 1), text, fill=255, font=font(size))
        label = label.rotate(90, expand=True)
        at = (round(xy[0] * s - label.width / 2), round(xy[1] * s - label.height / 2))
        self.image.paste(Image.new("RGB", label.size, colour), at, label)

    def panel(self, rect: Rect, xlim: tuple[float, float], ylim: tuple[float, float]) -> Panel:
        """A plotting area at `rect` (output px) showing `xlim` x `ylim` in data units."""
        return Panel(self, rect, xlim, ylim)

    def marker(
        self, xy: tuple[float, float], colour: Colour, shape: str = "o", radius: float = 2.0
    ) -> None:
        """One marker at supersampled pixel `xy`: "o" a filled disc, "x" a cross."""
        (px, py), r, s = xy, radius * SUPERSAMPLE, SUPERSAMPLE
        if shape == "x":
            self.draw.line([(px - r, py - r), (px + r, py + r)], fill=colour, width=s)
            self.draw.line([(px - r, py + r), (px + r, py - r)], fill=colour, width=s)
        else:
            self.draw.ellipse([px - r, py - r, px + r, py + r], fill=colour)

    def png(self) -> bytes:
        """The picture, scaled down to its size, as PNG.

        OpenCV (loaded by the face path already) encodes it: Pillow's PNG writer first
        imports its plugins for half a dozen other formats, ~15 ms of every report.
        """
        small = np.asarray(self.image.reduce(SUPERSAMPLE))
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        done, data = cv2.imencode(".png", bgr, (cv2.IMWRITE_PNG_COMPRESSION, 3))
        if not done:  # OpenCV reports no reason; an image of this size always encodes
            raise RuntimeError("OpenCV could not encode the report as PNG")
        return data.tobytes()


@dataclass
class Panel:
    """A rectangle of a canvas mapping data coordinates to pixels (y grows upwards)."""

    canvas: Canvas
    rect: Rect
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def points(self, x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
        """Pixel positions (supersampled) of data points."""
        (x0, y0, x1, y1), s = self.rect, SUPERSAMPLE
        px = x0 + (np.asarray(x, float) - self.xlim[0]) / (self.xlim[1] - self.xlim[0]) * (x1 - x0)
        py = y1 - (np.asarray(y, float) - self.ylim[0]) / (self.ylim[1] - self.ylim[0]) * (y1 - y0)
        return list(zip((px * s).tolist(), (py * s).tolist(), strict=True))

    def line(self, x: np.ndarray, y: np.ndarray, colour: Colour, width: float = 1.0) -> None:
        """A polyline through the points (x, y), broken where a value is not finite."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        finite = np.isfinite(x) & np.isfinite(y)
        starts = np.flatnonzero(finite & ~np.r_[False, finite[:-1]])
        ends = np.flatnonzero(finite & ~np.r_[finite[1:], False]) + 1
        for a, b in zip(starts, ends, strict=True):
            if b - a > 1:
                self.canvas.draw.line(
                    self.points(x[a:b], y[a:b]),
                    fill=colour,
                    width=round(width * SUPERSAMPLE),
                    joint="curve",
                )

    def markers(
        self,
        x: np.ndarray,
        y: np.ndarray,
        colours: Colour | Sequence[Colour],
        shape: str = "o",
        radius: float = 2.0,
    ) -> None:
        """A marker at each point: "o" a filled disc, "x" a cross; one colour or one each."""
        each = colours if isinstance(colours, list) else [colours] * len(x)
        for xy, colour in zip(self.points(x, y), each, strict=True):
            self.canvas.marker(xy, colour, shape, radius)

    def band(self, x0: float, x1: float, colour: Colour) -> None:
        """A full-height band over [x0, x1], clipped to the panel (draw bands first)."""
        a, b = np.clip([x0, x1], *self.xlim)
        if b > a:
            (p0, top), (p1, bottom) = self.points(np.array([a, b]), np.array(self.ylim[::-1]))
            self.canvas.draw.rectangle([p0, top, p1, bottom], fill=colour)

    def vline(self, x: float, colour: Colour, dash: float = 4.0) -> None:
        """A dashed vertical line at `x`, where it is inside the panel."""
        if not min(self.xlim) <= x <= max(self.xlim):
            return
        (px, top), (_, bottom) = self.points(np.array([x, x]), np.array(self.ylim[::-1]))
        step = dash * SUPERSAMPLE
        for y in np.arange(top, bottom, 2 * step):
            self.canvas.draw.line([(px, y), (px, min(y + step, bottom))], fill=colour, width=2)

    def axes(self, title: str, xlabel: str, ylabel: str) -> None:
        """The frame, ticks with their values, the axis labels and the title."""
        x0, y0, x1, y1 = self.rect
        c, s = self.canvas, SUPERSAMPLE
        c.draw.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], outline=BLACK, width=s)
        for value, (px, _) in _ticks_at(self, nice_ticks(*self.xlim), axis=0):
            c.draw.line([(px, y1 * s), (px, (y1 + 4) * s)], fill=BLACK, width=s)
            c.text((px / s, y1 + 6), _label(value), size=11, anchor="mt")
        for value, (_, py) in _ticks_at(self, nice_ticks(*self.ylim), axis=1):
            c.draw.line([((x0 - 4) * s, py), (x0 * s, py)], fill=BLACK, width=s)
            c.text((x0 - 6, py / s), _label(value), size=11, anchor="rm")
        c.text(((x0 + x1) / 2, y1 + 22), xlabel, size=12, anchor="mt")
        c.text((x0 - 44, (y0 + y1) / 2), ylabel, size=12, vertical=True)
        c.text(((x0 + x1) / 2, y0 - 6), title, size=13, anchor="mb")

    def legend(self, entries: Sequence[tuple[str, Colour, str]]) -> None:
        """(label, colour, marker shape) entries in the panel's upper right corner."""
        c, s = self.canvas, SUPERSAMPLE
        for i, (label, colour, shape) in enumerate(entries):
            x, y = self.rect[2] - 10, self.rect[1] + 12 + 16 * i
            c.text((x, y), label, size=11, anchor="rm")
            c.marker(((x - 14) * s - font(11).getlength(label), y * s), colour, shape, 2.5)


def _ticks_at(panel: Panel, values: np.ndarray, axis: int) -> list[tuple[float, tuple]]:
    """Tick values inside the panel's range on `axis` (0 x, 1 y) with their pixel positions."""
    lim = panel.xlim if axis == 0 else panel.ylim
    inside = values[(values >= min(lim)) & (values <= max(lim))]
    other = np.full(inside.shape, (panel.ylim if axis == 0 else panel.xlim)[0])
    xy = (inside, other) if axis == 0 else (other, inside)
    return list(zip(inside.tolist(), panel.points(*xy), strict=True))


def _label(value: float) -> str:
    """A tick value as short text: 60, 2.5, -0.2."""
    return f"{value:g}" if abs(value) >= 1e-9 else "0"
