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
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CONFIG = "configs/autohr-synthetic.yaml"
TEST = "benchmarks/out/autohr/data/test"
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
    run, evaluated = out / name, out / f"eval-{name}"
    if (evaluated / "metrics.json").exists():
        return 0
    overrides = [*ABLATIONS[name][1], f"log.out={run}", "train.threads=1", *extra]
    with open(out / f"{name}.log", "a") as log:
        steps = (
            ["rppgkit", "train", CONFIG, *overrides],
            [
                "rppgkit",
                "evaluate",
                TEST,
                "-d",
                "synthetic",
                "-m",
                "autohr",
                "--weights",
                str(run / "best.pt"),
                "-o",
                str(evaluated),
            ],
        )
        for step in steps:
            code = subprocess.call(step, stdout=log, stderr=subprocess.STDOUT)
            if code:
                return code
    return 0


def _cell(metrics: dict, key: str, name: str, interval: bool = False) -> str:
    entry = metrics["methods"].get(key, {}).get("window", {}).get(name)
    if entry is None:
        return "-"
    bounds = f" [{entry['low']:.2f}, {entry['high']:.2f}]" if interval else ""
    return f"{entry['value']:.2f}{bounds}"


def table(out: Path) -> str:
    """Markdown rows of every evaluated ablation: per-window MAE (95% bootstrap interval),
    RMSE, r, and MAE per condition."""
    conditions = sorted(p.name for p in Path(TEST).iterdir() if p.is_dir())
    head = ["run", "change", "MAE", "RMSE", "r", *(f"{c} MAE" for c in conditions)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, (change, _) in ABLATIONS.items():
        path = out / f"eval-{name}" / "metrics.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        cells = [_cell(m, "autohr", "mae", interval=True)]
        cells += [_cell(m, "autohr", k) for k in ("rmse", "pearson_r")]
        cells += [_cell(m, f"autohr @ {c}", "mae") for c in conditions]
        rows.append("| " + " | ".join([name, change, *cells]) + " |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/autohr/ablation"))
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (1 thread each)")
    parser.add_argument("--only", nargs="*", choices=sorted(ABLATIONS), default=None)
    parser.add_argument("overrides", nargs="*", help="key=value for every run")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(ABLATIONS)
    with ThreadPoolExecutor(args.jobs) as pool:
        codes = dict(zip(names, pool.map(lambda n: run_one(n, args.out, args.overrides), names)))
    failed = {n: c for n, c in codes.items() if c}
    report = table(args.out)
    (args.out / "ablation.md").write_text(report + "\n")
    print(report)
    if failed:
        print(f"failed (see OUT/NAME.log): {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
