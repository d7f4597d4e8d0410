"""AutoHR's ablations (issue 21) on one synthetic split: TDC's theta, the loss, the augmentation.

Every run retrains `configs/autohr-synthetic.yaml`'s hand-written cell from scratch with one
change, on the same training/validation data and seed, then scores the test split per window
with `rppgkit evaluate`. The cell's four TDC edges all take the one theta under test
(theta 0 is a plain 3x3x3 convolution); the reference is theta 0.5 with the hybrid loss and
both augmentations, and the loss and augmentation rows change only that.

Usage: python benchmarks/autohr_ablation.py [--out benchmarks/out/autohr/ablation] [--jobs 2]
       [key=value ...] [--only NAME ...]   (key=value: overrides for every run, e.g.
       train.epochs=8; they go before --only)
Data: `write_training_set('benchmarks/out/autohr/data')` (configs/autohr-synthetic.yaml).
A run whose metrics.json exists is not run again. Prints a markdown table; writes ablation.md.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rppgkit.fileio import ensure_dir
from trainings import (
    conditions,
    markdown,
    report,
    run_main,
    score_cells,
    score_head,
    train_and_evaluate,
)

CONFIG = "configs/autohr-synthetic.yaml"
TEST = Path("benchmarks/out/autohr/data/test")
HAND_CELL = (  # the autohr-synthetic config's cell with every TDC at one theta (THETA)
    "model.options.genotype={cells: [{intermediate: ["
    "[{source: 0, op: tdc_THETA}, {source: 1, op: tdc_THETA}], "
    "[{source: 1, op: conv_1x3x3_3x1x1}, {source: 2, op: tdc_THETA}], "
    "[{source: 2, op: skip}, {source: 3, op: tdc_THETA}]], "
    "output: {source: 4, op: conv_3x3x3}}]}"
)


def hand_cell(theta: float) -> str:
    """The `model.options.genotype` override of the hand-written cell at one TDC theta."""
    return HAND_CELL.replace("THETA", str(theta))


# name -> (what changes, overrides of configs/autohr-synthetic.yaml)
ABLATIONS: dict[str, tuple[str, list[str]]] = {
    **{f"theta-{t}": (f"theta {t}", [hand_cell(t)]) for t in (0.0, 0.3, 0.5, 0.7, 1.0)},
    "pearson": ("loss: Pearson only", [hand_cell(0.5), "task.options.frequency=0"]),
    "frequency": (
        "loss: frequency only",
        [hand_cell(0.5), "task.options.pearson=0", "task.options.frequency=1"],
    ),
    "sum": (
        "loss: hybrid, spectrum normalised by its sum (authors' code), weight 1",
        [hand_cell(0.5), "task.options.spectrum=sum", "task.options.frequency=1"],
    ),
    "noaug": (
        "no cutout, no resampling",
        [hand_cell(0.5), "task.options.cutout=0", "task.options.resample=0"],
    ),
}


def run_one(name: str, out: Path, extra: list[str]) -> int:
    """Train and evaluate one ablation; its logs go to OUT/NAME.log. Returns the exit code."""
    overrides = [*ABLATIONS[name][1], "train.threads=1", *extra]
    return train_and_evaluate(CONFIG, overrides, out / name, "autohr", TEST, out / f"{name}.log")


def table(out: Path) -> str:
    """Markdown rows of every evaluated ablation: per-window MAE (95% bootstrap interval),
    RMSE, r, and MAE per condition."""
    kinds = conditions(TEST)
    rows = []
    for name, (change, _) in ABLATIONS.items():
        cells = score_cells(out / name, "autohr", kinds)
        if cells is not None:
            rows.append([name, change, *cells])
    return markdown(["run", "change", *score_head(kinds)], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/autohr/ablation"))
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (1 thread each)")
    parser.add_argument("--only", nargs="*", choices=sorted(ABLATIONS), default=None)
    parser.add_argument("overrides", nargs="*", help="key=value for every run")
    args = parser.parse_args()
    ensure_dir(args.out)
    names = args.only or list(ABLATIONS)
    with ThreadPoolExecutor(args.jobs) as pool:
        codes = dict(zip(names, pool.map(lambda n: run_one(n, args.out, args.overrides), names)))
    return report(table(args.out), args.out / "ablation.md", codes)


if __name__ == "__main__":
    sys.exit(run_main(main))
