"""Write a measurement to disk: CSV tables, summary JSON, PNG figure, HTML report."""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from rppgkit.fileio import atomic_path, ensure_dir, write_json, write_text
from rppgkit.pipeline import Measurement
from rppgkit.report.figure import report_figure
from rppgkit.report.html import report_html


def write_report(m: Measurement, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write pulse.csv, hr.csv, summary.json, report.png and report.html into `out_dir`."""
    out = ensure_dir(out_dir)
    paths = {
        name: out / name
        for name in ("pulse.csv", "hr.csv", "summary.json", "report.png", "report.html")
    }
    write_text(
        paths["pulse.csv"],
        _csv(("time_s", "pulse", "face"), zip(m.times, m.pulse, m.valid.astype(int))),
    )
    write_text(
        paths["hr.csv"],
        _csv(
            ("start_s", "end_s", "hr_bpm", "snr_db"),
            ((w.start_s, w.end_s, w.bpm, w.snr_db) for w in m.windows),
        ),
    )
    write_json(paths["summary.json"], m.summary())
    fig = report_figure(m)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    with atomic_path(paths["report.png"]) as tmp:
        tmp.write_bytes(buf.getvalue())
    write_text(paths["report.html"], report_html(m, buf.getvalue()))
    return paths


def _csv(header: tuple[str, ...], rows: object) -> str:
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join("" if _nan(v) else f"{v:.6g}" for v in row))
    return "\n".join(lines) + "\n"


def _nan(v: object) -> bool:
    return isinstance(v, float | np.floating) and bool(np.isnan(v))
