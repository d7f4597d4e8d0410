"""Method-by-condition HR error on the fixed synthetic benchmark suite.

Renders the suite (rppgkit.synth.suite: baseline, skin tones, head motion, illumination, a real
face photograph; `--seeds` subjects each), encodes the baseline at the compression levels of the
rPPGNet/STVEN paper (x264, x265, MPEG-4 at 1000/500/250 kb/s), evaluates every classic method on
all of it, and prints the per-window MAE table (bpm; 10 s windows, 1 s step; reference HR from
the ground-truth pulse by the same spectral path).

It also times the trace cache: on each condition POS is evaluated first (face tracking and RGB
traces extracted from the videos), then CHROM alone (traces read back from the cache), then the
rest. The two totals are printed and saved with the table; they mean "cold" only on a fresh
--work folder.

Usage: python benchmarks/synthetic_suite.py [--seeds 2] [--duration 30] [--workers 2]
       [--work benchmarks/out/suite]
Videos, traces and results are cached under --work, so a rerun only redoes what is missing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rppgkit.datasets.ladder import DEFAULT_LEVELS, build_ladder, parse_levels
from rppgkit.estimators import available, create
from rppgkit.evaluate import evaluate
from rppgkit.synth import CONDITIONS, write_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/suite"))
    args = parser.parse_args()
    methods = [m for m in available() if create(m).input_kind == "trace"]  # training-free
    folders = write_suite(
        args.work / "videos", args.seeds, args.duration, on_video=lambda v: print("video", v)
    )
    columns: dict[str, dict[str, float]] = {}
    timings = {"first method (pos), traces extracted": 0.0, "second method (chrom), cached": 0.0}
    for condition, folder in folders.items():
        out = args.work / "eval" / condition
        for method, key in zip(["pos", "chrom"], timings, strict=True):
            start = time.perf_counter()
            evaluate("synthetic", folder, [method], out, workers=args.workers)
            timings[key] += time.perf_counter() - start
        result = evaluate("synthetic", folder, methods, out, workers=args.workers)
        columns[condition] = {m: result.metrics[m].window.mae.value for m in methods}
        print("evaluated", condition, flush=True)
    levels = parse_levels(DEFAULT_LEVELS)
    build_ladder("synthetic", folders["baseline"], args.work / "ladder", levels)
    result = evaluate(
        "ladder", args.work / "ladder", methods, args.work / "eval" / "ladder", workers=args.workers
    )
    for level in levels[1:]:
        columns[level.name.split("-", 1)[1]] = {
            m: result.metrics[f"{m} @ {level.name}"].window.mae.value for m in methods
        }
    header = "| method | " + " | ".join(columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(f"{columns[c][m]:.2f}" for c in columns) + " |")
    table = "\n".join(lines)
    (args.work / "table.md").write_text(table + "\n")
    (args.work / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    print(
        f"\nper-window HR MAE (bpm), {args.seeds} subjects per condition, "
        f"{args.duration:g} s videos; conditions: {', '.join(CONDITIONS)}\n"
    )
    print(table)
    cold, warm = timings.values()
    print(
        f"\nevaluation time over the {len(folders)} conditions: pos {cold:.1f} s (traces "
        f"extracted), then chrom {warm:.1f} s from the cache ({100 * warm / cold:.1f}%)"
    )


if __name__ == "__main__":
    main()
