"""The one-page PNG report: face and skin, pulse waveform, spectrum, heart rate over time.

Drawn with `rppgkit.report.raster` (Pillow), not matplotlib: see that module for why.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from rppgkit import dsp
from rppgkit.fileio import shown
from rppgkit.pipeline import Measurement
from rppgkit.report.raster import (
    BLACK,
    BLUE,
    GREY,
    RED,
    SUPERSAMPLE,
    Canvas,
    nice_ticks,
    padded,
    red_yellow_green,
    tint,
)

SKIN_TINT = np.array([0, 255, 80], dtype=np.float32)
SIZE = (1200, 800)
# panels: x0, y0, x1, y1 in px
FACE = (40, 70, 380, 520)
PULSE = (470, 55, 1170, 255)
SPECTRUM = (470, 320, 1170, 520)
HR = (90, 600, 1080, 750)
PULSE_SHOWN_S = 15.0


def report_png(m: Measurement) -> bytes:
    """The report figure of a measurement as PNG bytes (1200 x 800 px).

    Examples
    --------
    >>> png = report_png(measure("face.mp4"))  # doctest: +SKIP
    """
    canvas = Canvas(*SIZE)
    region = "whole frame" if m.trace.roi == "frame" else "face"
    canvas.text(  # a file name is shown as it is, even where it is not UTF-8
        (SIZE[0] / 2, 24),
        f"{shown(m.video.name)}: {m.heart_rate.bpm:.1f} bpm ({m.options.method.upper()}), "
        f"signal quality {m.quality.index:.2f}, {region} in {m.trace.face_fraction:.0%} of frames",
        size=16,
        anchor="mm",
    )
    _face_panel(canvas, m)
    _pulse_panel(canvas, m)
    _spectrum_panel(canvas, m)
    _hr_panel(canvas, m)
    return canvas.png()


def _face_panel(canvas: Canvas, m: Measurement) -> None:
    x0, y0, x1, y1 = FACE
    p = m.trace.preview
    if p is None:
        canvas.text(((x0 + x1) / 2, (y0 + y1) / 2), "no face preview", anchor="mm")
        return
    image = p.rgb.astype(np.float32)
    image[p.skin] = 0.55 * image[p.skin] + 0.45 * SKIN_TINT
    bx, by, bw, bh = p.box
    pad = 0.4 * max(bw, bh)
    top, bottom = int(max(by - pad, 0)), int(min(by + bh + pad, image.shape[0]))
    left, right = int(max(bx - pad, 0)), int(min(bx + bw + pad, image.shape[1]))
    crop = Image.fromarray(image[top:bottom, left:right].astype(np.uint8))
    s = SUPERSAMPLE
    scale = min((x1 - x0) / crop.width, (y1 - y0) / crop.height) * s
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    at = (round(((x0 + x1) * s - size[0]) / 2), round(y0 * s))
    canvas.image.paste(crop.resize(size, Image.Resampling.BILINEAR), at)
    corner = (at[0] + (bx - left) * scale, at[1] + (by - top) * scale)
    canvas.draw.rectangle(
        [corner, (corner[0] + bw * scale, corner[1] + bh * scale)], outline=(255, 220, 0), width=3
    )
    canvas.text(((x0 + x1) / 2, y0 - 6), f"face and skin mask at {p.time_s:.1f} s", anchor="mb")


def _pulse_panel(canvas: Canvas, m: Measurement) -> None:
    end = min(m.times[0] + PULSE_SHOWN_S, m.times[-1])
    sel = m.times <= end
    panel = canvas.panel(
        PULSE, (float(m.times[0]), float(end)), padded(*_finite_range(m.pulse[sel]))
    )
    panel.line(m.times[sel], m.pulse[sel], RED)
    shown_peaks = m.times[m.peaks] <= end
    legend = []
    for good, shape, colour, label in (
        (True, "o", BLACK, "beats"),
        (False, "x", RED, "beats unlike the rest"),
    ):
        pk = m.peaks[shown_peaks & (m.beats.good == good)]
        if pk.size:
            panel.markers(m.times[pk], m.pulse[pk], colour, shape)
            legend.append((label, colour, shape))
    panel.axes(f"pulse waveform (first {PULSE_SHOWN_S:g} s)", "time (s)", "pulse (a.u.)")
    panel.legend(legend)


def _spectrum_panel(canvas: Canvas, m: Measurement) -> None:
    freqs, power = dsp.power_spectrum(m.pulse, m.fs)
    lo, hi = m.options.band_hz
    sel = (freqs >= 0.5 * lo) & (freqs <= 1.3 * hi)
    bpm, norm = freqs[sel] * 60, power[sel] / max(float(power[sel].max()), 1e-30)
    panel = canvas.panel(SPECTRUM, (float(bpm[0]), float(bpm[-1])), (0.0, 1.05))
    panel.band(lo * 60, hi * 60, tint(BLUE, 0.08))
    panel.line(bpm, norm, BLUE)
    panel.vline(m.heart_rate.bpm, BLACK)
    panel.axes(
        f"spectrum: peak {m.heart_rate.bpm:.1f} bpm, SNR {m.heart_rate.snr_db:.1f} dB",
        "frequency (beats/min)",
        "power (norm.)",
    )


def _hr_panel(canvas: Canvas, m: Measurement) -> None:
    mid = np.array([(w.start_s + w.end_s) / 2 for w in m.windows])
    bpm = np.array([w.bpm for w in m.windows])
    index = np.array([w.quality_index for w in m.windows], dtype=float)
    panel = canvas.panel(
        HR, padded(float(m.times[0]), float(m.times[-1]), 0.02), padded(*_finite_range(bpm), 0.1)
    )
    for a, b in m.trace.gaps(0.5):
        panel.band(a, b, tint(RED, 0.15))
    finite = np.isfinite(bpm)
    panel.line(mid[finite], bpm[finite], GREY)
    panel.markers(mid[finite], bpm[finite], red_yellow_green(index[finite]), radius=3.0)
    panel.axes(
        f"heart rate per {m.options.window_s:g} s window, coloured by signal quality "
        + (f"(gaps: quality below {m.options.min_quality:g}; " if m.options.min_quality else "(")
        + "red band: no face)",
        "time (s)",
        "heart rate (bpm)",
    )
    _colour_scale(canvas, (HR[2] + 20, HR[1], HR[2] + 34, HR[3]))


def _colour_scale(canvas: Canvas, rect: tuple[float, float, float, float]) -> None:
    """The quality colour scale, 0 at the bottom and 1 at the top, with its ticks."""
    x0, y0, x1, y1 = (v * SUPERSAMPLE for v in rect)
    rows = np.arange(int(y0), int(y1))
    for row, colour in zip(rows, red_yellow_green((y1 - rows) / (y1 - y0)), strict=True):
        canvas.draw.line([(x0, row), (x1, row)], fill=colour)
    canvas.draw.rectangle([x0, y0, x1, y1], outline=BLACK, width=SUPERSAMPLE)
    ticks = nice_ticks(0.0, 1.0, 6)
    scale = canvas.panel(rect, (0.0, 1.0), (0.0, 1.0))
    for value, (_, y) in zip(ticks, scale.points(np.ones_like(ticks), ticks), strict=True):
        canvas.text((rect[2] + 4, y / SUPERSAMPLE), f"{value:g}", size=11, anchor="lm")
    canvas.text(
        (rect[2] + 44, (rect[1] + rect[3]) / 2), "signal quality (0-1)", size=12, vertical=True
    )


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    """The least and greatest finite value (0, 1 where there is none)."""
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
