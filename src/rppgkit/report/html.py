"""A self-contained HTML report: the PNG figure inlined, the summary and HRV as tables."""

from __future__ import annotations

import base64
import dataclasses
import html

from rppgkit.fileio import shown
from rppgkit.pipeline import Measurement
from rppgkit.summary import Summary


def report_html(m: Measurement, png: bytes) -> str:
    """The report page of a measurement, with its figure inlined.

    Parameters
    ----------
    m : Measurement
        What was measured; the tables show its `summary()`, as summary.json holds it.
    png : bytes
        The report figure (`report_png`) as PNG.

    Returns
    -------
    str
        A self-contained HTML document.
    """
    s = m.summary()
    figures = dataclasses.asdict(s.hrv) if s.hrv is not None else {}
    hrv_rows = [(k, "n/a" if v is None else v) for k, v in figures.items()]
    window_rows = _window_rows(m)
    hrv_html = (
        _table(("index", "value"), hrv_rows)
        if hrv_rows
        else f"<p>No HRV: {html.escape(str(s.hrv_reason))}</p>"
    )
    image = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>rppgkit report: {html.escape(shown(m.video.name))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 3px 10px; text-align: left; }}
details {{ margin: 1em 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>rppgkit report: {html.escape(shown(m.video.name))}</h1>
{_table(("measure", "value"), _summary_rows(s))}
<img alt="report figure" src="data:image/png;base64,{image}">
<h2>Heart-rate variability</h2>
{hrv_html}
<details><summary>Heart rate per window ({len(window_rows)})</summary>
{_table(("window (s)", "HR (bpm)", "SNR (dB)", "quality"), window_rows)}
</details>
</body></html>
"""


def _summary_rows(s: Summary) -> list[tuple[str, object]]:
    """The report's main table: what was measured and how well, one (label, value) per row."""
    q = s.quality
    rows: list[tuple[str, object]] = [
        ("video", s.video),
        ("method", s.method),
        ("heart rate (whole video)", f"{s.hr_bpm} bpm, SNR {s.hr_snr_db} dB"),
        (
            "signal quality (0-1)",
            f"{q.index} (SNR {q.snr_db} dB, beat shape r {q.template_r}, "
            f"{q.second_method} differs by {q.agreement_bpm} bpm)",
        ),
        ("beats", f"{s.beats.good} good of {s.beats.count}"),
        ("frames with a face", f"{s.face_fraction:.1%} of {s.n_frames}"),
        ("duration", f"{s.duration_s} s at {s.fps} fps"),
    ]
    rows += [("note", note) for note in s.notes]
    w = s.windows
    if w.with_hr:
        rows.append(
            (
                f"heart rate per {w.window_s:g} s window",
                f"mean {w.hr_mean_bpm}, range {w.hr_min_bpm}-{w.hr_max_bpm} bpm, "
                f"mean SNR {w.snr_mean_db} dB",
            )
        )
    return rows


def _window_rows(m: Measurement) -> list[tuple[str, str, str, str]]:
    """One row per heart-rate window: span, HR, SNR and quality index."""
    return [
        (
            f"{x.start_s:.1f}-{x.end_s:.1f}",
            f"{x.bpm:.1f}",
            f"{x.snr_db:.1f}",
            f"{x.quality.index:.2f}" if x.quality else "n/a",
        )
        for x in m.windows
    ]


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
