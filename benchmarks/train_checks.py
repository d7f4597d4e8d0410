"""Engine checks at a realistic scale: two processes vs one, and a SIGKILL mid-training.

On the synthetic PhysNet data (render it first: benchmarks/train_physnet.py does), with a
smaller PhysNet (width 16, 64-frame clips; the 36 px crops of the cache) so the three runs take
minutes on 2 CPU cores:
1. one process (2 threads), global batch 8;
2. `torchrun --nproc-per-node 2`, the same global batch (4 per process, 1 thread each);
3. one process killed with SIGKILL during epoch 3, then `--resume`d;
4. one process with 1 thread: the same maths in another floating-point summation order, which
   shows how far two correct runs drift apart anyway.
Prints the validation figures of every epoch of each run and the largest weight difference
against run 1.

Usage: python benchmarks/train_checks.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

WORK = Path("benchmarks/out/train_checks")
SMALL = [
    "data.clip.frames=64",
    "model.options.width=16",
    "train.epochs=4",
    "train.batch_size=8",
    "log.progress=false",
]
TRAIN = [sys.executable, "-m", "rppgkit", "train", "configs/physnet-synthetic.yaml", *SMALL]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]


def rows(run: str) -> list[dict[str, float]]:
    lines = (WORK / run / "metrics.csv").read_text().splitlines()
    keys = lines[0].split(",")
    return [dict(zip(keys, map(float, line.split(",")))) for line in lines[1:]]


def weights(run: str) -> dict[str, torch.Tensor]:
    return torch.load(WORK / run / "last.pt", weights_only=True)["state_dict"]


def main() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    timings = {}
    for run, command in {
        "one": [*TRAIN, "train.threads=2"],
        "two": TORCHRUN + TRAIN[1:],
        "one-thread": [*TRAIN, "train.threads=1"],
    }.items():
        if not (WORK / run / "metrics.csv").exists() or len(rows(run)) < 4:
            start = time.perf_counter()
            subprocess.run([*command, f"log.out={WORK / run}"], check=True, env=env)
            timings[run] = time.perf_counter() - start
    killed = WORK / "killed"
    if not (killed / "metrics.csv").exists() or len(rows("killed")) < 4:
        proc = subprocess.Popen([*TRAIN, "train.threads=2", f"log.out={killed}"], env=env)
        while not (killed / "metrics.csv").exists() or len(rows("killed")) < 2:
            time.sleep(0.5)
        time.sleep(2.0)  # now inside epoch 3
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        print(f"SIGKILL during epoch 3; epochs on disk: {len(rows('killed'))}")
        subprocess.run([*TRAIN, "train.threads=2", f"log.out={killed}", "--resume"], check=True)
    runs = ["one", "two", "killed", "one-thread"]
    print("\n| epoch | " + " | ".join(f"val loss {r}" for r in runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    for epoch, cells in enumerate(zip(*(rows(r) for r in runs)), start=1):
        print(f"| {epoch} | " + " | ".join(f"{c['val_loss']:.5f}" for c in cells) + " |")
    base = weights("one")
    for run in runs[1:]:
        other = weights(run)
        diff = max(float((base[k].float() - other[k].float()).abs().max()) for k in base)
        print(f"max |weight difference| {run} vs one: {diff:.2e}")
    for run, seconds in timings.items():
        print(f"{run}: {seconds:.0f} s")


if __name__ == "__main__":
    main()
