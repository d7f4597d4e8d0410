"""lfa-rea's tables (issue 22) on one synthetic split: self-supervised against supervised, label
shares for fine-tuning, and the ablations.

Runs, all on the same training / validation / test split (`write_training_set`, rendered into
`--data` if missing) and seed, each scored on the test split per window by `rppgkit evaluate`:

- `ssl`: `configs/lfa-rea-synthetic.yaml`, trained without reading one label; REA alone reads
  the test videos, as the paper evaluates it;
- the ablations, each `ssl` with one change: `no-lfa` (negatives by plain temporal resampling),
  `one-expert` (`grid=1`), `no-vr`, `no-fc`, `no-fr`, `no-fa` (that loss's weight 0);
- `tune-10`, `tune-100`: `ssl`'s REA fine-tuned with 10% / 100% of the labelled training
  recordings (`configs/lfa-rea-finetune-synthetic.yaml`); `scratch-10`, `scratch-100`: the same
  REA and recipe from random weights, what the self-supervision is worth;
- `physnet`: `configs/physnet-synthetic.yaml`, supervised on every label (the issue's
  comparison).

Usage: python benchmarks/lfa_rea.py [K=V ...] [--data benchmarks/out/lfa-rea/data]
       [--out benchmarks/out/lfa-rea/bench] [--jobs 2] [--only NAME ...]
       [--ssl K=V ...] [--tune K=V ...] [--physnet K=V ...]
The first K=V (before any option) go to every lfa-rea run (self-supervised, fine-tuned, from
scratch), e.g. `data.clip.size=16 model.options.width=8`; those after `--ssl`, `--tune`,
`--physnet` to those runs only. A run already evaluated is not run again.
Writes OUT/lfa-rea.md (and prints it); each run logs to OUT/NAME.log.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rppgkit.fileio import ensure_dir
from rppgkit.synth import write_training_set
from trainings import (
    conditions,
    markdown,
    report,
    run_main,
    score_cells,
    score_head,
    train_and_evaluate,
)

SSL = "configs/lfa-rea-synthetic.yaml"
TUNE = "configs/lfa-rea-finetune-synthetic.yaml"
PHYSNET = "configs/physnet-synthetic.yaml"


@dataclass(frozen=True)
class Run:
    """One row: what it is, its config and overrides, its kind (which CLI overrides it takes:
    ``ssl``, ``tune`` or ``physnet``) and whether it starts from `ssl`'s weights."""

    what: str
    config: str
    overrides: tuple[str, ...]
    kind: str
    pretrained: bool = False


def _share(share: float, pretrained: bool) -> Run:
    start = "fine-tuned from ssl" if pretrained else "from scratch"
    what = f"REA supervised, {share:.0%} of the labels, {start}"
    return Run(what, TUNE, (f"data.train_share={share}",), "tune", pretrained)


RUNS: dict[str, Run] = {
    "ssl": Run("self-supervised (no labels)", SSL, (), "ssl"),
    "no-lfa": Run("ssl, negatives by resampling (no LFA)", SSL, ("task.options.lfa=false",), "ssl"),
    "one-expert": Run("ssl, one expert", SSL, ("model.options.grid=1",), "ssl"),
    **{
        f"no-{loss}": Run(f"ssl without L_{loss}", SSL, (f"task.options.{loss}=0",), "ssl")
        for loss in ("vr", "fc", "fr", "fa")
    },
    "tune-10": _share(0.1, pretrained=True),
    "tune-100": _share(1.0, pretrained=True),
    "scratch-10": _share(0.1, pretrained=False),
    "scratch-100": _share(1.0, pretrained=False),
    "physnet": Run("PhysNet supervised, all labels", PHYSNET, (), "physnet"),
}


def data_overrides(data: Path) -> list[str]:
    """The `data.*` overrides that point a config at the split under `data`."""
    return [
        f"data.{split}=[{{dataset: synthetic, root: {data / split}}}]"
        for split in ("train", "val", "test")
    ]


def run_one(name: str, args: argparse.Namespace) -> int:
    """Train and evaluate one run (after `ssl` where it starts from it); the exit code."""
    run = RUNS[name]
    extra = {"ssl": args.ssl, "tune": args.tune, "physnet": args.physnet}[run.kind]
    shared = [] if run.kind == "physnet" else args.overrides
    start = str(args.out / "ssl" / "best.pt") if run.pretrained else "null"
    pretrained = [f"task.options.pretrained={start}"] if run.kind == "tune" else []
    overrides = [
        *data_overrides(args.data),
        f"data.cache={args.data.parent / 'cache'}",
        *run.overrides,
        *pretrained,
        "train.threads=1",
        *shared,
        *extra,
    ]
    method = "physnet" if run.kind == "physnet" else "lfa-rea"
    test, log = args.data / "test", args.out / f"{name}.log"
    return train_and_evaluate(run.config, overrides, args.out / name, method, test, log)


def table(out: Path, test: Path) -> str:
    """Markdown: one row per evaluated run."""
    kinds = conditions(test)
    rows = []
    for name, run in RUNS.items():
        method = "physnet" if run.kind == "physnet" else "lfa-rea"
        cells = score_cells(out / name, method, kinds)
        if cells is not None:
            rows.append([name, run.what, *cells])
    return markdown(["run", "what", *score_head(kinds)], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("benchmarks/out/lfa-rea/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/lfa-rea/bench"))
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (1 thread each)")
    parser.add_argument("--only", nargs="*", choices=sorted(RUNS), default=None)
    for kind in ("ssl", "tune", "physnet"):
        parser.add_argument(f"--{kind}", nargs="*", default=[], metavar="K=V")
    parser.add_argument("overrides", nargs="*", help="K=V for every lfa-rea run")
    args = parser.parse_args()
    ensure_dir(args.out)
    if not (args.data / "test").is_dir():
        write_training_set(args.data)
    names = args.only or list(RUNS)
    first = [n for n in names if not RUNS[n].pretrained]
    then = [n for n in names if RUNS[n].pretrained]
    codes: dict[str, int] = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for group in (first, then):  # fine-tuning starts from ssl's best.pt
            codes.update(zip(group, pool.map(lambda n: run_one(n, args), group)))
    return report(table(args.out, args.data / "test"), args.out / "lfa-rea.md", codes)


if __name__ == "__main__":
    sys.exit(run_main(main))
