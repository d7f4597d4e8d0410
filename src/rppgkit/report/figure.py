"""The one-page PNG report: face and skin, pulse waveform, spectrum, heart rate over time."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # reports are files; never open a window
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from rppgkit import dsp
from rppgkit.fileio import shown
from rppgkit.pipeline import Measurement

SKIN_TINT = np.array([0, 255, 80], dtype=np.float32)


def report_figure(m: Measurement) -> Figure:
    fig = plt.figure(figsize=(12, 8), dpi=100)
    # fixed margins: a constrained layout measured every label again and doubled the figure's
    # drawing time, the largest part of the report's
    grid = fig.add_gridspec(3, 3, left=0.05, right=0.98, bottom=0.06, top=0.92, wspace=0.3)
    grid.update(hspace=0.35)
    _face_panel(fig.add_subplot(grid[0:2, 0]), m)
    _pulse_panel(fig.add_subplot(grid[0, 1:]), m)
    _spectrum_panel(fig.add_subplot(grid[1, 1:]), m)
    _hr_panel(fig.add_subplot(grid[2, :]), m)
    region = "whole frame" if m.trace.roi == "frame" else "face"
    fig.suptitle(  # a file name is text, not mathtext (clip$1$.mp4), and may not be UTF-8
        f"{shown(m.video.name)}: {m.heart_rate.bpm:.1f} bpm ({m.options.method.upper()}), "
        f"signal quality {m.quality.index:.2f}, {region} in {m.trace.face_fraction:.0%} of frames",
        parse_math=False,
    )
    return fig


def _face_panel(ax: plt.Axes, m: Measurement) -> None:
    ax.set_axis_off()
    p = m.trace.preview
    if p is None:
        ax.text(0.5, 0.5, "no face preview", ha="center", va="center")
        return
    image = p.rgb.astype(np.float32)
    image[p.skin] = 0.55 * image[p.skin] + 0.45 * SKIN_TINT
    x, y, w, h = p.box
    pad = 0.4 * max(w, h)
    y0, y1 = int(max(y - pad, 0)), int(min(y + h + pad, image.shape[0]))
    x0, x1 = int(max(x - pad, 0)), int(min(x + w + pad, image.shape[1]))
    ax.imshow(image[y0:y1, x0:x1].astype(np.uint8))
    ax.add_patch(Rectangle((x - x0, y - y0), w, h, fill=False, color="yellow", lw=1.5))
    ax.set_title(f"face and skin mask at {p.time_s:.1f} s", fontsize=10)


def _pulse_panel(ax: plt.Axes, m: Measurement) -> None:
    end = min(m.times[0] + 15.0, m.times[-1])
    sel = m.times <= end
    ax.plot(m.times[sel], m.pulse[sel], lw=1, color="tab:red")
    shown = m.times[m.peaks] <= end
    for good, style, label in ((True, "k.", "beats"), (False, "rx", "beats unlike the rest")):
        pk = m.peaks[shown & (m.beats.good == good)]
        if pk.size:
            ax.plot(m.times[pk], m.pulse[pk], style, ms=4, label=label)
    ax.set(xlabel="time (s)", ylabel="pulse (a.u.)", title="pulse waveform (first 15 s)")
    ax.legend(loc="upper right", fontsize=8)


def _spectrum_panel(ax: plt.Axes, m: Measurement) -> None:
    freqs, power = dsp.power_spectrum(m.pulse, m.fs)
    lo, hi = m.options.band_hz
    sel = (freqs >= 0.5 * lo) & (freqs <= 1.3 * hi)
    ax.plot(freqs[sel] * 60, power[sel] / power[sel].max(), color="tab:blue", lw=1)
    ax.axvline(m.heart_rate.bpm, color="k", ls="--", lw=1)
    ax.axvspan(lo * 60, hi * 60, color="tab:blue", alpha=0.06)
    ax.set(
        xlabel="frequency (beats/min)",
        ylabel="power (norm.)",
        title=f"spectrum: peak {m.heart_rate.bpm:.1f} bpm, SNR {m.heart_rate.snr_db:.1f} dB",
    )


def _hr_panel(ax: plt.Axes, m: Measurement) -> None:
    mid = np.array([(w.start_s + w.end_s) / 2 for w in m.windows])
    bpm = np.array([w.bpm for w in m.windows])
    index = np.array([w.quality_index for w in m.windows])
    points = ax.scatter(mid, bpm, c=index, cmap="RdYlGn", vmin=0, vmax=1, s=14, zorder=3)
    ax.plot(mid, bpm, color="0.6", lw=1)
    ax.figure.colorbar(points, ax=ax, label="signal quality (0-1)", pad=0.01)
    for a, b in m.trace.gaps(0.5):
        ax.axvspan(a, b, color="tab:red", alpha=0.15)
    ax.set(
        xlabel="time (s)",
        ylabel="heart rate (bpm)",
        title=f"heart rate per {m.options.window_s:g} s window, coloured by signal quality "
        + (f"(gaps: quality below {m.options.min_quality:g}; " if m.options.min_quality else "(")
        + "red band: no face)",
    )
