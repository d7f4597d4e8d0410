"""Meta-rPPG under a domain shift rppgkit controls (issue 23), and the cost of its adaptation.

Trains `configs/meta-rppg-domain-shift.yaml` on the *source* conditions of generator 1 (baseline,
skin type I, mild lighting changes: light skin, a still head; subjects 0-5), selected on the
source's validation videos (baseline, subjects 6-7), then reads the test subjects (8-11) of the
source condition (baseline) and of the *target* conditions (skin type VI, strong motion):

- **no adaptation**: a checkpoint as trained (`adapt=False`, the paper's main ablation), both
  `best.pt` (the epoch of least validation loss) and `last.pt` (the end of meta-training);
- **adaptation**: the transductive step of `rppgkit measure -m meta-rppg` (a copy adapted to
  each test video's own frames, no label), from the same two checkpoints;
- **labelled target (upper bound)**: the same network and config trained with the labels of the
  target conditions' training subjects too (subjects 0-5 of skin type VI and strong motion),
  supervised only (no meta-learning step) and selected on the validation videos of all three
  test conditions: what labels from the new domain would give;
- **POS**: the training-free reference.

Per-window (10 s, 1 s step) MAE, RMSE and Pearson r against the generator's true HR (a reading
whose output is flat has no HR and is marked failed); and the adaptation's cost
(`timings.adaptation_s` of a 60 s measurement with `last.pt`: the cost does not depend on the
weights).

Usage: python benchmarks/meta_rppg_shift.py [--work benchmarks/out/meta-shift]
       [--data benchmarks/out/meta-shift/data] [--workers 2] [--no-upper]
       [key=value ...]   (config overrides for both trainings, e.g. train.threads=1 train.seed=1)
The videos stay in `--data` (the folder the config's data paths name), so another seed or
optimiser needs only a new `--work`.
Writes `<work>/table.md` and `<work>/results.json`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rppgkit.errors import RppgError
from rppgkit.evaluate import evaluate
from rppgkit.fileio import write_json, write_text
from rppgkit.pipeline import Options, measure
from rppgkit.synth import write_synth
from rppgkit.synth.suite import suite_config, training_config
from trainings import run_main

CONFIG = Path("configs/meta-rppg-domain-shift.yaml")
SOURCE = ("baseline", "tone-1", "lighting-1")
TARGET = ("tone-6", "motion-2")
TEST = ("baseline", *TARGET)
METRICS = ("mae", "rmse", "pearson_r")
UPPER_EPOCHS = 40


def jobs(data: Path) -> list[tuple[str, str, int, Path]]:
    """(split, condition, seed, folder) of every video the benchmark needs."""
    out = [("train", c, s) for c in SOURCE + TARGET for s in range(6)]
    out += [("val", c, s) for c in TEST for s in (6, 7)]
    out += [("test", c, s) for c in TEST for s in range(8, 12)]
    return [(split, c, s, data / split / c / f"s{s}") for split, c, s in out]


def render(job: tuple[str, str, int, Path]) -> str:
    """Write one training-set video (generator 1, 320x240, 20 s) unless it is there."""
    _, condition, seed, folder = job
    if not (folder / "meta.json").exists():
        write_synth(training_config(condition, seed), folder, masks=False)
    return str(folder)


def train(work: Path, name: str, *overrides: str) -> Path:
    """Run `rppgkit train` on the config with `overrides`; its best checkpoint (resumes)."""
    out = work / name
    cmd = [sys.executable, "-m", "rppgkit", "train", str(CONFIG), f"log.out={out}", *overrides]
    if not (out / "best.pt").exists() or not (out / "done").exists():
        subprocess.run(cmd, check=True)
        write_text(out / "done", "trained\n")
    return out / "best.pt"


def figures(data: Path, work: Path, label: str, opts: Options) -> dict[str, dict | str]:
    """Per-window MAE, RMSE and r of one way of reading, on each test condition (or why it
    could not be read: a network whose output is flat has no HR)."""
    rows: dict[str, dict | str] = {}
    for condition in TEST:
        out = work / "eval" / label / condition
        try:
            result = evaluate("synthetic", data / "test" / condition, [opts.method], out, opts)
        except RppgError as exc:  # keep the first recording's problem, not the preamble
            rows[condition] = f"failed: {str(exc).partition('first problem: ')[2] or exc}"
            continue
        window = result.metrics[opts.method].window
        rows[condition] = {m: round(float(getattr(window, m).value), 2) for m in METRICS}
    return rows


def adaptation_cost(work: Path, weights: Path) -> dict[str, float]:
    """Seconds of adaptation per minute of video, from a 60 s baseline video."""
    video = work / "cost" / "video"
    if not (video / "meta.json").exists():
        write_synth(suite_config("baseline", 0, 60.0, (320, 240)), video, masks=False)
    read = {adapt: measure(video / "video.mkv", _meta(weights, adapt)) for adapt in (True, False)}
    seconds = float(read[True].trace.times[-1] - read[True].trace.times[0])
    adapting = read[True].adaptation_s or 0.0
    return {
        "video_s": round(seconds, 1),
        "adaptation_s": round(adapting, 2),
        "adaptation_s_per_min": round(adapting / seconds * 60, 2),
        "network_s_adapted": round(read[True].network_s or 0.0, 2),
        "network_s_plain": round(read[False].network_s or 0.0, 2),
    }


def _sources(data: Path, split: str, conditions: tuple[str, ...]) -> str:
    """A config override's list of `synthetic` sources, one per condition folder."""
    return ", ".join(f"{{dataset: synthetic, root: {data / split / c}}}" for c in conditions)


def _meta(weights: Path, adapt: bool) -> Options:
    """Options reading Meta-rPPG with `weights`, adapting to each video or not."""
    return Options(method="meta-rppg", weights=str(weights), adapt=adapt)


def table(rows: dict[str, dict[str, dict | str]]) -> str:
    """Markdown: one row per way of reading, MAE / RMSE / r per test condition."""
    head = ["reading", *(f"{c} MAE / RMSE / r" for c in TEST)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, by_condition in rows.items():
        cells = [_cell(by_condition[c]) for c in TEST]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines) + "\n"


def _cell(figures: dict | str) -> str:
    return figures if isinstance(figures, str) else " / ".join(str(figures[m]) for m in METRICS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/meta-shift"))
    parser.add_argument("--data", type=Path, default=Path("benchmarks/out/meta-shift/data"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--upper",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train the labelled upper bound (--no-upper: only the source run)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value for both trainings' configs")
    args = parser.parse_args()
    data = args.data
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(render, jobs(data)))
    source = train(
        args.work,
        "source",
        f"data.train=[{_sources(data, 'train', SOURCE)}]",
        f"data.val=[{_sources(data, 'val', ('baseline',))}]",
        *args.overrides,
    )
    upper = None
    if args.upper:
        upper = train(
            args.work,
            "labelled-target",
            f"data.train=[{_sources(data, 'train', SOURCE + TARGET)}]",
            f"data.val=[{_sources(data, 'val', TEST)}]",
            "task.options.pretrain_steps=100000",  # every step supervised: no meta-learning
            f"train.epochs={UPPER_EPOCHS}",
            *args.overrides,
        )
    last = source.with_name("last.pt")
    readings = {
        "no adaptation (best.pt)": ("no-adapt", _meta(source, adapt=False)),
        "adaptation (best.pt)": ("adapt", _meta(source, adapt=True)),
        "no adaptation (last.pt)": ("no-adapt-last", _meta(last, adapt=False)),
        "adaptation (last.pt)": ("adapt-last", _meta(last, adapt=True)),
    }
    if upper is not None:
        readings["labelled target (upper bound)"] = ("upper", _meta(upper, adapt=False))
    readings["POS"] = ("pos", Options(method="pos"))
    rows = {label: figures(data, args.work, name, opts) for label, (name, opts) in readings.items()}
    try:  # the cost does not depend on the weights, but a flat output has no HR to finish on
        cost = adaptation_cost(args.work, last)
    except RppgError as exc:
        cost = {"failed": str(exc)}
    write_json(args.work / "results.json", {"rows": rows, "cost": cost})
    write_text(args.work / "table.md", table(rows) + f"\nadaptation cost: {json.dumps(cost)}\n")
    print(table(rows))
    print("adaptation cost:", cost)


if __name__ == "__main__":
    sys.exit(run_main(main))
