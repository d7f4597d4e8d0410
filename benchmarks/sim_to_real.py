"""Synthetic-to-real transfer: every shipped network and POS/CHROM on the synthetic v1 suite,
the generator-2 test split and the real-video development set.

Three columns per method:
- **v1 suite**: per-window HR MAE (10 s windows, 1 s step) over the fixed suite of
  `rppgkit.synth.suite` (generator 1, lossless FFV1; baseline, skin types, motion, lighting, the
  astronaut photograph), `--seeds` subjects per condition;
- **v2 test**: per-window HR MAE over the test split of the generator-2 training set
  (`write_training_set(generator=2)`: subjects 8-11, baseline, skin type VI, strong motion,
  strong lighting changes, each with its drawn light, camera, codec and talking), and how far
  each method is from POS there: the mean paired per-window difference of absolute errors
  (method minus POS, so negative is better) with a 95% interval resampling whole recordings,
  which says whether the split can tell the two apart (POS is measured in every run);
- **real dev**: the whole-clip HR error on every clip of `benchmarks/realdev/data` that has a
  reference (contact, else the pseudo-reference `benchmarks/realdev/pseudo.py` writes to
  `reference.json`; both read by `real_video.reference_hr`), and the
  share of those clips read within 3 bpm (issue 20's target: at least 90%).

Networks are read with the weights rppgkit ships unless `--weights NAME=PATH` names a
checkpoint; `--label` names the run, so a run before retraining and one after sit side by side
in `table.md` (every labelled run found under `--work` is a row group). Four test subjects
resolve little (benchmarks/README.md, "Which networks are ahead of POS?"): `--test-subjects`
scores the v2 column on more of them, in a `--v2` folder of its own, and `--skip-v1` leaves the
v1 column out of such a run.

Usage: python benchmarks/sim_to_real.py [--label shipped] [--weights physnet=run/best.pt]
       [--weights rppgnet=...] [--methods physnet ...] [--seeds 2] [--workers 2]
       [--work benchmarks/out/sim_to_real] [--skip-v1]
       [--v2 benchmarks/out/v2/test-wide --test-subjects 8 9 10 11 16 17 ...]
Needs the real clips once: python benchmarks/realdev/fetch.py (skipped, with a note, without).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from real_video import reference_hr, video_folders
from rppgkit.datasets import load_dataset
from rppgkit.errors import RppgError
from rppgkit.estimators import reads_crops
from rppgkit.evaluate import evaluate
from rppgkit.evaluate.metrics import Interval
from rppgkit.evaluate.report import paired_difference
from rppgkit.evaluate.run import load_results
from rppgkit.fileio import write_json, write_text
from rppgkit.models.method import METHODS
from rppgkit.models.zoo import shipped_weights
from rppgkit.pipeline import Options, analyse
from rppgkit.synth import write_suite, write_training_set
from rppgkit.synth.suite import TRAINING_SPLITS
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import open_video

CLASSIC = ("pos", "chrom")
WITHIN_BPM = 3.0
REALDEV = Path("benchmarks/realdev/data")
DEFAULT_V2 = Path("benchmarks/out/v2/data")
RULE_VALIDATION_SUBJECTS = range(12, 16)
"""`light_flicker.py --extra-seeds 12 16`: the extra validation subjects RULE-1.4 chose on."""
EXTRA_TEST_SUBJECTS = range(16, 28)
"""The test subjects added on 2026-12-06 (`--test-subjects`); no rule may choose on them."""


@dataclass(frozen=True)
class Column:
    """One method's figures in one run."""

    v1_mae: float | None
    v2_mae: float | None
    real_errors: dict[str, float | None]  # clip -> HR error (bpm); None where the method failed
    v2_vs_pos: tuple[float, float, float] | None = None  # paired difference, low, high (bpm)

    def real_share(self) -> float | None:
        """Share of the referenced real clips read within WITHIN_BPM; None without clips."""
        if not self.real_errors:
            return None
        hits = [e is not None and abs(e) <= WITHIN_BPM for e in self.real_errors.values()]
        return float(np.mean(hits))


def window_mae(dataset_root: Path, method: str, opts: Options, out: Path, workers: int) -> float:
    """Per-window HR MAE of `method` over every recording under `dataset_root`."""
    result = evaluate("synthetic", dataset_root, [method], out, opts, workers=workers)
    return float(result.metrics[method].window.mae.value)


def against_pos(
    method_eval: Path, pos_eval: Path, method: str, ids: list[str]
) -> tuple[float, float, float]:
    """`rppgkit.evaluate.report.paired_difference` of `method`'s stored results against
    POS's (two evaluation folders, the same recordings `ids`): (mean, low, high) in bpm."""
    rows = load_results(method_eval, [method], ids)[method]
    diff = paired_difference(rows, load_results(pos_eval, ["pos"], ids)["pos"])
    return round(diff.value, 2), round(diff.low, 2), round(diff.high, 2)


def real_errors(methods: dict[str, Options], realdev: Path) -> dict[str, dict[str, float | None]]:
    """[method][clip] whole-clip HR error against the clip's reference (clips without one are
    left out); each clip is decoded once for all methods."""
    errors: dict[str, dict[str, float | None]] = {m: {} for m in methods}
    for folder, video in video_folders(realdev) if realdev.is_dir() else []:
        crops = any(reads_crops(opts.method) for opts in methods.values())
        trace = extract_trace(open_video(video), reads_crops=crops)
        ref = reference_hr(folder, float(trace.times[0]), float(trace.times[-1]))
        if ref is None:
            continue
        for method, opts in methods.items():
            try:
                hr = analyse(trace, opts).summary().hr_bpm
            except RppgError as exc:
                print(f"  {method} on {folder.name}: {exc}")
                errors[method][folder.name] = None
                continue
            errors[method][folder.name] = round(hr - ref, 2)
    return errors


def method_options(overrides: dict[str, str], only: list[str]) -> dict[str, Options]:
    """Options of each method measured: POS, CHROM and every registered pulse network with
    weights, shipped or named in `overrides` (those in `only`, when given)."""
    methods = {name: Options(method=name) for name in CLASSIC}
    for name in (name for name, method in METHODS.items() if method.pulse):
        weights = overrides.get(name) or shipped_weights(name)
        if weights:
            methods[name] = Options(method=name, weights=str(weights))
    unknown = (set(overrides) | set(only)) - set(methods)
    if unknown:
        raise SystemExit(f"unknown or weightless method(s): {', '.join(sorted(unknown))}")
    return {name: opts for name, opts in methods.items() if not only or name in (*only, "pos")}


def run(args: argparse.Namespace) -> dict[str, Column]:
    """Every column of one labelled run."""
    overrides = dict(w.split("=", 1) for w in args.weights)
    methods = method_options(overrides, args.methods)
    if not args.skip_v1:
        write_suite(args.v1, args.seeds, on_video=lambda v: print("v1", v, flush=True))
    v2 = write_training_set(
        args.v2, generator=2, splits=("test",), workers=args.workers, subjects=args.test_subjects
    )
    v2_root = v2["test"][0].parent
    if not args.realdev.is_dir():
        print(f"note: no real clips in {args.realdev}; run benchmarks/realdev/fetch.py first")
    real = real_errors(methods, args.realdev)
    columns = {}
    v2_ids = [rec.id for rec in load_dataset("synthetic", v2_root)]
    pos_eval = args.work / "eval" / args.label / "pos" / "v2"
    for name, opts in methods.items():  # POS first
        out = args.work / "eval" / args.label / name
        v1_mae = None if args.skip_v1 else window_mae(args.v1, name, opts, out / "v1", args.workers)
        v2_mae = window_mae(v2_root, name, opts, out / "v2", args.workers)
        vs_pos = None if name == "pos" else against_pos(out / "v2", pos_eval, name, v2_ids)
        v1 = None if v1_mae is None else round(v1_mae, 2)
        columns[name] = Column(v1, round(v2_mae, 2), real[name], vs_pos)
        print(f"{args.label} {name}: v1 {v1} v2 {v2_mae:.2f} vs POS {vs_pos} real {real[name]}")
    return columns


def check_test_subjects(subjects: list[int] | None, v2: Path) -> None:
    """Refuse (one line) test subjects that were trained or chosen on, and the shared folder of
    the standard test split, which other benchmarks read."""
    if subjects is None:
        return
    if min(subjects) < 0:
        raise SystemExit(f"error: --test-subjects are seeds, 0 or more, not {min(subjects)}")
    if v2.resolve() == DEFAULT_V2.resolve():
        raise SystemExit(f"error: --test-subjects needs its own --v2 folder, not {DEFAULT_V2}")
    seen = set(RULE_VALIDATION_SUBJECTS).union(*(TRAINING_SPLITS[s][0] for s in ("train", "val")))
    clash = sorted(seen & set(subjects))
    if clash:
        raise SystemExit(
            f"error: --test-subjects: {clash} were trained or chosen on "
            "(training 0-5, validation 6-7 and 12-15); take 8-11 and 16 on"
        )


def table(runs: dict[str, dict[str, Column]]) -> str:
    """Markdown: one row per (run, method)."""
    clips = sorted({c for cols in runs.values() for col in cols.values() for c in col.real_errors})
    head = ["run", "method", "v1 suite MAE", "v2 test MAE", "v2 test vs POS [95%]", *clips]
    head.append(f"real within {WITHIN_BPM:g}")
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for label, cols in runs.items():
        for name, col in cols.items():
            cells = [label, name, _num(col.v1_mae), _num(col.v2_mae), _versus(col.v2_vs_pos)]
            cells += [_num(col.real_errors.get(c)) for c in clips]
            share = col.real_share()
            cells.append("-" if share is None else f"{share:.0%}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _versus(diff: tuple[float, float, float] | None) -> str:
    return "-" if diff is None else Interval(*diff).format()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="shipped", help="name of this run in the table")
    parser.add_argument("--weights", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--methods", nargs="*", default=[], help="only these methods (and POS)")
    parser.add_argument("--seeds", type=int, default=2, help="v1 suite subjects per condition")
    parser.add_argument("--skip-v1", action="store_true", help="leave the v1 suite column out")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/sim_to_real"))
    parser.add_argument("--v1", type=Path, default=Path("benchmarks/out/suite/videos"))
    parser.add_argument("--v2", type=Path, default=DEFAULT_V2)
    parser.add_argument(
        "--test-subjects",
        nargs="+",
        type=int,
        metavar="SEED",
        help="v2 test subjects instead of the split's 8-11 (give another --v2 folder)",
    )
    parser.add_argument("--realdev", type=Path, default=REALDEV)
    args = parser.parse_args()
    check_test_subjects(args.test_subjects, args.v2)
    columns = run(args)
    results = args.work / "runs.json"
    runs = json.loads(results.read_text()) if results.exists() else {}
    runs[args.label] = {name: col.__dict__ for name, col in columns.items()}
    write_json(results, runs)
    text = table({k: {n: Column(**c) for n, c in v.items()} for k, v in runs.items()})
    write_text(args.work / "table.md", text)
    print(text)


if __name__ == "__main__":
    main()
