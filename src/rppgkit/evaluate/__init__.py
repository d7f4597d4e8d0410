"""Evaluation of estimators on datasets with a reference pulse: HR agreement, tables, plots."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rppgkit.datasets import load_dataset
from rppgkit.errors import RppgError
from rppgkit.evaluate.metrics import HRMetrics, Interval, MethodMetrics, hr_metrics
from rppgkit.evaluate.records import Result, WindowResults
from rppgkit.evaluate.reference import ReferenceSource
from rppgkit.evaluate.report import write_evaluation
from rppgkit.evaluate.run import Outcome, evaluate_recordings, load_results
from rppgkit.fileio import removed_on_failure
from rppgkit.pipeline import Options


@dataclass(frozen=True)
class Evaluation:
    out_dir: Path
    metrics: dict[str, MethodMetrics]  # by method name
    outcomes: list[Outcome]
    skipped: dict[str, str]  # recording id -> why


def evaluate(
    dataset: str,
    root: str | os.PathLike,
    methods: list[str],
    out_dir: str | os.PathLike,
    options: Options | None = None,
    reference: ReferenceSource = "spectral",
    workers: int = 1,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Evaluation:
    """Evaluate `methods` on every recording of `dataset` at `root`; results go to `out_dir`.

    Recordings whose video or ground truth is unusable are skipped and listed; the call fails
    only when nothing could be evaluated. A failed or interrupted call into a new folder leaves
    no folder behind; into an existing one, it keeps each finished result (whole) for the next
    call to resume from.
    """
    recordings = load_dataset(dataset, root)
    out = Path(out_dir)
    with removed_on_failure(out):
        outcomes = evaluate_recordings(
            recordings, methods, out, options, reference, workers, on_outcome
        )
        skipped = {o.recording: o.error for o in outcomes if o.error}
        order = [r.id for r in recordings if r.id not in skipped]
        results = _by_group(load_results(out, methods, order))
        if not any(results.values()):
            raise RppgError(
                f"none of the {len(recordings)} recordings of {root} could be evaluated; "
                f"first problem: {next(iter(skipped.values()), 'unknown')}"
            )
        title = f"{dataset} ({root}): {len(order)} of {len(recordings)} recordings"
        metrics = write_evaluation(out, results, skipped, title)
    return Evaluation(out, metrics, outcomes, skipped)


def _by_group(results: dict[str, list[Result]]) -> dict[str, list[Result]]:
    """Report each condition (e.g. compression level) apart, as 'method @ group', after the
    method over all of them."""
    groups = sorted({r.group for rows in results.values() for r in rows})
    if groups == [""]:
        return results
    out = {}
    for method, rows in results.items():
        out[method] = rows
        for group in groups:
            out[f"{method} @ {group}"] = [r for r in rows if r.group == group]
    return out


__all__ = [
    "Evaluation",
    "HRMetrics",
    "Interval",
    "MethodMetrics",
    "Outcome",
    "Result",
    "WindowResults",
    "evaluate",
    "hr_metrics",
]
