"""Tables, metrics and plots of an evaluation: windows.csv, videos.csv, metrics.json,
metrics.md and one Bland-Altman + scatter figure per method."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rppgkit.evaluate.metrics import (
    STATISTICS,
    HRMetrics,
    Interval,
    MethodMetrics,
    hr_metrics,
    mean_interval,
)
from rppgkit.evaluate.records import Result
from rppgkit.fileio import atomic_path, ensure_dir, inside, write_json, write_text

LEVELS = ("window", "video")


@dataclass(frozen=True)
class Pairs:
    """One method's estimated and reference heart rates at one level, where both exist."""

    est: np.ndarray  # [K] bpm
    ref: np.ndarray  # [K] bpm
    snr_db: np.ndarray  # [K] dB, NaN where unknown
    recordings: np.ndarray  # [K] the recording of each pair: the bootstrap's groups

    def metrics(self) -> HRMetrics:
        """`hr_metrics` of the pairs, resampling whole recordings."""
        return hr_metrics(self.est, self.ref, self.snr_db, self.recordings)


def level_pairs(rows: list[Result], level: str) -> Pairs:
    """Estimated HR, reference HR and SNR over all recordings, per window or per video.

    Parameters
    ----------
    rows : list[Result]
        One method's results.
    level : str
        "window" or "video".

    Returns
    -------
    Pairs
        Only the pairs where both HRs exist, each with its recording.
    """
    if level == "video":
        per_row = [([r.hr_bpm], [r.ref_hr_bpm], [r.snr_db]) for r in rows]
    else:
        per_row = [(r.windows.hr_bpm, r.windows.ref_hr_bpm, r.windows.snr_db) for r in rows]
    est, ref, snr = (np.array([v for cols in per_row for v in cols[i]], float) for i in range(3))
    recordings = np.array([r.recording for r, cols in zip(rows, per_row) for _ in cols[0]])
    ok = np.isfinite(est) & np.isfinite(ref)
    return Pairs(est[ok], ref[ok], snr[ok], recordings[ok])


def paired_difference(rows: list[Result], baseline: list[Result]) -> Interval:
    """How much closer one method reads the reference than another, on the same windows.

    Parameters
    ----------
    rows, baseline : list[Result]
        Two methods' results on the same recordings.

    Returns
    -------
    Interval
        The mean per-window absolute HR error of `rows` minus that of `baseline` (bpm; below
        zero, `rows` is closer), over the windows both read, with its 95% interval resampling
        whole recordings. An interval across zero: the data cannot tell the two apart.
    """
    own, base = _window_errors(rows), _window_errors(baseline)
    shared = [key for key in own if key in base]
    return mean_interval([own[k] - base[k] for k in shared], [rec for rec, _ in shared])


def _window_errors(rows: list[Result]) -> dict[tuple[str, float], float]:
    """(recording, window start) -> absolute HR error; NaN where either HR is missing."""
    return {
        (r.recording, start): np.nan if est is None or ref is None else abs(est - ref)
        for r in rows
        for start, est, ref in zip(r.windows.start_s, r.windows.hr_bpm, r.windows.ref_hr_bpm)
    }


def _first_of_group(results: dict[str, list[Result]], method: str) -> str | None:
    """The first method's key in `method`'s group ('m @ group' pairs with 'first @ group');
    None for the first method itself."""
    first = next(iter(results)).split(" @ ")[0]
    name, at, group = method.partition(" @ ")
    return None if name == first else f"{first}{at}{group}"


def write_evaluation(
    out: Path, results: dict[str, list[Result]], skipped: dict[str, str], title: str
) -> dict[str, MethodMetrics]:
    """Write every table and figure; return each method's metrics (with each method's paired
    difference from the first one)."""
    ensure_dir(out)
    metrics = {}
    for method, rows in results.items():
        first = _first_of_group(results, method)
        metrics[method] = MethodMetrics(
            window=level_pairs(rows, "window").metrics(),
            video=level_pairs(rows, "video").metrics(),
            against_first=None if first is None else paired_difference(rows, results[first]),
        )
    write_text(out / "windows.csv", _windows_csv(results))
    write_text(out / "videos.csv", _videos_csv(results))
    write_json(
        out / "metrics.json",
        {
            "title": title,
            "methods": {method: _method_json(m) for method, m in metrics.items()},
            "skipped": skipped,
        },
    )
    write_text(out / "metrics.md", _markdown(metrics, skipped, title))
    for method, rows in results.items():
        name = f"{method.replace(' @ ', '__')}.png"  # a group's name comes from the data
        _plot(inside(out / "plots", name, "condition"), method, rows)
    return metrics


def _method_json(metrics: MethodMetrics) -> dict[str, object]:
    """metrics.json's object for one method: each level, then the paired difference."""
    out: dict[str, object] = {level: getattr(metrics, level).as_dict() for level in LEVELS}
    if metrics.against_first is not None:
        out["window_error_minus_first"] = metrics.against_first.as_dict()
    return out


def _windows_csv(results: dict[str, list[Result]]) -> str:
    lines = ["method,recording,subject,start_s,end_s,hr_bpm,ref_hr_bpm,snr_db"]
    for method, rows in results.items():
        for r in rows:
            w = r.windows
            for values in zip(w.start_s, w.end_s, w.hr_bpm, w.ref_hr_bpm, w.snr_db):
                cells = [_cell(v) for v in values]
                lines.append(",".join([method, r.recording, r.subject, *cells]))
    return "\n".join(lines) + "\n"


def _videos_csv(results: dict[str, list[Result]]) -> str:
    lines = ["method,recording,subject,hr_bpm,ref_hr_bpm,abs_error_bpm,snr_db,face_fraction"]
    for method, rows in results.items():
        for r in rows:
            est, ref = r.hr_bpm, r.ref_hr_bpm
            err = None if est is None or ref is None else abs(est - ref)
            cells = [_cell(v) for v in (est, ref, err, r.snr_db, r.face_fraction)]
            lines.append(",".join([method, r.recording, r.subject, *cells]))
    return "\n".join(lines) + "\n"


def _cell(v: float | None) -> str:
    return "" if v is None else f"{v:.4g}"


def _markdown(metrics: dict[str, MethodMetrics], skipped: dict[str, str], title: str) -> str:
    lines = [f"# {title}", ""]
    for level in LEVELS:
        lines += [
            f"## Per {level} (HR in bpm; 95% bootstrap intervals, whole recordings resampled)",
            "",
            "| method | n | MAE | RMSE | MAPE (%) | Pearson r | SNR (dB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for method, per_method in metrics.items():
            m = getattr(per_method, level)
            cells = [str(getattr(m, k)) for k in STATISTICS]
            lines.append(f"| {method} | {m.n} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _paired_markdown(metrics)
    if skipped:
        lines += ["## Skipped", ""] + [f"- {rid}: {why}" for rid, why in skipped.items()] + [""]
    return "\n".join(lines)


def _paired_markdown(metrics: dict[str, MethodMetrics]) -> list[str]:
    """The table of paired differences from the first method; none for a single method."""
    paired = {m: x.against_first for m, x in metrics.items() if x.against_first is not None}
    if not paired:
        return []
    first = next(iter(metrics))
    lines = [
        f"## Per window against {first} (bpm; 95% interval, whole recordings resampled)",
        "",
        f"The mean absolute error minus {first}'s on the same windows: below zero is closer; "
        "an interval across zero cannot tell the two apart.",
        "",
        "| method | difference |",
        "|---|---|",
    ]
    lines += [f"| {m} | {d.format()} |" for m, d in paired.items()]
    return [*lines, ""]


def _plot(path: Path, method: str, rows: list[Result]) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(10, 9), constrained_layout=True)
    for col, level in enumerate(LEVELS):
        pairs = level_pairs(rows, level)
        est, ref = pairs.est, pairs.ref
        scatter, ba = axes[0, col], axes[1, col]
        scatter.scatter(ref, est, s=8, alpha=0.5)
        if len(ref):
            lo, hi = min(ref.min(), est.min()) - 5, max(ref.max(), est.max()) + 5
            scatter.plot([lo, hi], [lo, hi], "k--", lw=1)
        scatter.set(
            xlabel="reference HR (bpm)",
            ylabel=f"{method} HR (bpm)",
            title=f"per {level}: {len(ref)} pairs",
        )
        mean, diff = (est + ref) / 2, est - ref
        ba.scatter(mean, diff, s=8, alpha=0.5)
        if len(diff) > 1:
            bias, sd = diff.mean(), diff.std(ddof=1)
            for y, style in ((bias, "-"), (bias + 1.96 * sd, "--"), (bias - 1.96 * sd, "--")):
                ba.axhline(y, color="k", ls=style, lw=1)
            ba.set_title(f"Bland-Altman: bias {bias:+.2f}, limits ±{1.96 * sd:.2f} bpm")
        ba.set(xlabel="mean of the two (bpm)", ylabel="estimate - reference (bpm)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    ensure_dir(path.parent)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
