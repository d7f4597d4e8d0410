"""Write a measurement to disk: CSV tables, summary JSON, PNG figure, HTML report."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgkit.fileio import atomic_dir, write_json, write_text
from rppgkit.pipeline import Measurement
from rppgkit.pulse import WindowHR
from rppgkit.report.figure import report_png
from rppgkit.report.html import report_html


@dataclass(frozen=True)
class ReportFiles:
    """Where `write_report` put one measurement's files (each field's name is its file's, with
    ``_`` for ``.``)."""

    pulse_csv: Path
    beats_csv: Path
    hr_csv: Path
    summary_json: Path
    report_png: Path
    report_html: Path

    @classmethod
    def in_folder(cls, folder: Path) -> ReportFiles:
        """The result files of a measurement written into `folder`."""
        return cls(*(folder / name for name in _NAMES))


_NAMES = tuple(f.name.replace("_", ".") for f in dataclasses.fields(ReportFiles))
RESULT_FILES = frozenset(_NAMES)
"""The files of one measurement's result set: a folder holding only these is replaced whole."""


def write_report(m: Measurement, out_dir: str | os.PathLike) -> ReportFiles:
    """Write pulse.csv, beats.csv, hr.csv, summary.json, report.png and report.html into
    `out_dir` as a whole: an interrupted or concurrent run never leaves a mix of two sets.

    pulse.csv's third column is named after the region (``face``, or ``frame`` with
    ``--roi frame``) and is 1 where it was seen; beats.csv has each beat's time, its template
    correlation and whether it is good; hr.csv has each window's quality index and its cues.
    An existing `out_dir` is replaced only when it holds nothing but `RESULT_FILES`.

    Parameters
    ----------
    m : Measurement
        What `rppgkit.measure` or `rppgkit.analyse` returned.
    out_dir : str or path-like
        The folder of results; missing folders above it are created.

    Returns
    -------
    ReportFiles
        The path of each file.

    Raises
    ------
    RppgError
        An `out_dir` that is a file, holds other files, or cannot be created or written.

    Examples
    --------
    >>> from rppgkit import measure, write_report
    >>> paths = write_report(measure("face.mp4"), "results")  # doctest: +SKIP
    >>> paths.report_html  # doctest: +SKIP
    PosixPath('results/report.html')
    """
    with atomic_dir(out_dir, RESULT_FILES) as tmp:
        _write_files(m, tmp)
    return ReportFiles.in_folder(Path(out_dir))


def _write_files(m: Measurement, out: Path) -> None:
    """The result files of `m` in the (new, private) folder `out`."""
    files = ReportFiles.in_folder(out)
    write_text(
        files.pulse_csv,
        _csv(("time_s", "pulse", m.trace.roi), zip(m.times, m.pulse, m.valid.astype(int))),
    )
    b = m.beats
    write_text(
        files.beats_csv,
        _csv(
            ("time_s", "quality", "good"),
            zip(m.times[0] + b.times_s, b.quality, b.good.astype(int)),
        ),
    )
    write_text(files.hr_csv, _csv(HR_COLUMNS, (_window_row(w) for w in m.windows)))
    write_json(files.summary_json, m.summary().as_dict())
    png = report_png(m)
    files.report_png.write_bytes(png)
    write_text(files.report_html, report_html(m, png))


HR_COLUMNS = (
    "start_s",
    "end_s",
    "hr_bpm",
    "snr_db",
    "quality",
    "template_r",
    "agreement_bpm",
)


def _window_row(w: WindowHR) -> tuple[float, ...]:
    """One hr.csv row; the quality columns are empty where the window was not assessed."""
    q = w.quality
    cues = (q.index, q.template_r, q.agreement_bpm) if q is not None else (float("nan"),) * 3
    return (w.start_s, w.end_s, w.bpm, w.snr_db, *cues)


def _csv(header: tuple[str, ...], rows: object) -> str:
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join("" if _nan(v) else f"{v:.6g}" for v in row))
    return "\n".join(lines) + "\n"


def _nan(v: object) -> bool:
    return isinstance(v, float | np.floating) and bool(np.isnan(v))
