"""PhysNet on synthetic data: preprocessing and training throughput, and test-set accuracy.

Renders the synthetic training data (rppgkit.synth.TRAINING_SPLITS: 320x240, 20 s videos),
cuts the face clips (timed: preprocessing throughput), trains PhysNet with
configs/physnet-synthetic.yaml (timed: training throughput from metrics.csv), then evaluates
best.pt on the test videos -- subjects and conditions the training never saw -- with the same
per-window protocol as every other method (10 s windows, 1 s step), beside POS and CHROM.

Usage: python benchmarks/train_physnet.py [key=value config overrides ...]
A finished run is not repeated (it resumes from last.pt); to time preprocessing again, point
data.cache to a new folder.
Results: benchmarks/out/physnet/{run/metrics.csv, eval/metrics.md, summary.json}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rppgkit.clip.cache import prepare
from rppgkit.evaluate import evaluate
from rppgkit.evaluate.metrics import STATISTICS
from rppgkit.pipeline import Options
from rppgkit.synth import write_training_set
from rppgkit.train import load_config, train
from rppgkit.train.data import SPLITS, resolve_splits

CONFIG = Path("configs/physnet-synthetic.yaml")
WORK = Path("benchmarks/out/physnet")


def main() -> None:
    cfg = load_config(CONFIG, sys.argv[1:])
    summary: dict[str, object] = {"config": str(CONFIG), "overrides": sys.argv[1:]}
    start = time.perf_counter()
    folders = write_training_set(WORK / "data", workers=cfg.data.workers)
    summary["render_s"] = time.perf_counter() - start

    start = time.perf_counter()
    splits = resolve_splits(cfg.data)
    spec = cfg.data.clip.spec()
    samples = 0
    for name in SPLITS:
        cached, skipped = prepare(
            splits[name],
            spec,
            cfg.data.cache,
            cfg.data.workers,
            on_done=lambda rec, why, split=name: print(f"{split}: {rec} {why or 'ready'}"),
        )
        assert not skipped, skipped
        samples += sum(c.length for c in cached)
    seconds = time.perf_counter() - start
    summary["preprocess"] = {
        "videos": sum(len(v) for v in splits.values()),
        "frames": samples,
        "seconds": seconds,
        "frames_per_s": samples / seconds,
        "workers": cfg.data.workers,
        "note": "a rerun finds the cache; delete it to time again",
    }
    print(f"preprocessing: {samples} frames in {seconds:.1f} s = {samples / seconds:.0f} frames/s")

    start = time.perf_counter()
    result = train(cfg, resume=(Path(cfg.log.out) / "last.pt").exists(), on_progress=print)
    summary["train_s"] = time.perf_counter() - start  # ~0 when the run was already complete
    summary["epochs_s_total"] = sum(r["epoch_s"] for r in result.history)
    summary["history"] = result.history
    summary["clips_per_s_median"] = sorted(r["clips_per_s"] for r in result.history)[
        len(result.history) // 2
    ]
    summary["best_epoch"] = result.best_epoch
    summary["test_clips"] = result.test.as_row() if result.test else None

    opts = Options(weights=str(Path(cfg.log.out) / "best.pt"))
    methods = ["physnet", "pos", "chrom"]
    test_root = folders["test"][0].parent
    ev = evaluate("synthetic", test_root, methods, WORK / "eval", opts, workers=cfg.data.workers)
    summary["test"] = {
        name: {
            level: {k: getattr(getattr(per, level), k).value for k in STATISTICS}
            for level in ("window", "video")
        }
        for name, per in ev.metrics.items()
    }
    (WORK / "summary.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    print("\nper-window HR MAE (bpm) on the test videos, by condition")
    for name, per in ev.metrics.items():
        print(f"  {name:24} MAE {per.window.mae}  r {per.window.pearson_r}")


if __name__ == "__main__":
    main()
