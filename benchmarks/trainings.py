"""What the training benchmarks share: train one config and score its best checkpoint on a
test split, then read the scores back as markdown table cells.

A run whose evaluation (`<eval>/metrics.json`) exists is not run again, and `rppgkit train`
resumes an interrupted training from its last checkpoint, so a benchmark stopped half-way
picks up where it was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from rppgkit.errors import RppgError
from rppgkit.fileio import write_text


def train_and_evaluate(
    config: str, overrides: list[str], run: Path, method: str, test: Path, log: Path
) -> int:
    """Train `config` with `overrides` into `run`, then evaluate `run/best.pt` as `method` on
    the synthetic videos under `test` into `<run parent>/eval-<run name>`.

    Both commands append to `log`. Returns the first non-zero exit code, or 0.
    """
    evaluated = evaluation(run)
    if (evaluated / "metrics.json").exists():
        return 0
    steps = (
        ["rppgkit", "train", config, *overrides, f"log.out={run}"],
        ["rppgkit", "evaluate", str(test), "-d", "synthetic", "-m", method,
         "--weights", str(run / "best.pt"), "-o", str(evaluated)],
    )  # fmt: skip
    with open(log, "a") as out:
        for step in steps:
            code = subprocess.call(step, stdout=out, stderr=subprocess.STDOUT)
            if code:
                return code
    return 0


def evaluation(run: Path) -> Path:
    """The folder `train_and_evaluate` writes `run`'s test scores to."""
    return run.with_name(f"eval-{run.name}")


def score_cells(run: Path, method: str, conditions: list[str]) -> list[str] | None:
    """Per-window MAE [95% bootstrap interval], RMSE, r, then the MAE of each condition, as
    table cells; None if `run` has not been evaluated."""
    path = evaluation(run) / "metrics.json"
    if not path.exists():
        return None
    methods = json.loads(path.read_text())["methods"]
    cells = [_cell(methods, method, "mae", interval=True)]
    cells += [_cell(methods, method, name) for name in ("rmse", "pearson_r")]
    return cells + [_cell(methods, f"{method} @ {c}", "mae") for c in conditions]


def score_head(conditions: list[str]) -> list[str]:
    """The column names of `score_cells`."""
    return ["MAE", "RMSE", "r", *(f"{c} MAE" for c in conditions)]


def conditions(test: Path) -> list[str]:
    """The condition folders of a synthetic test split, sorted."""
    return sorted(p.name for p in test.iterdir() if p.is_dir())


def markdown(head: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def report(table: str, path: Path, codes: dict[str, int]) -> int:
    """Write and print `table`; name the runs whose exit `codes` are not 0. The exit code of
    the benchmark: 1 if any run failed."""
    write_text(path, table + "\n")  # atomic: a stopped run leaves the last whole table
    print(table)
    failed = {name: code for name, code in codes.items() if code}
    if failed:
        print(f"failed (see OUT/NAME.log): {failed}", file=sys.stderr)
    return 1 if failed else 0


def run_main(main: Callable[[], int | None]) -> int:
    """Run a benchmark's `main`; a user error (RppgError: an unwritable folder, bad data) is one
    line on stderr and exit code 1, as in the CLI."""
    try:
        return main() or 0
    except RppgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _cell(methods: dict, key: str, name: str, interval: bool = False) -> str:
    entry = methods.get(key, {}).get("window", {}).get(name)
    if entry is None:
        return "-"
    bounds = f" [{entry['low']:.2f}, {entry['high']:.2f}]" if interval else ""
    return f"{entry['value']:.2f}{bounds}"
