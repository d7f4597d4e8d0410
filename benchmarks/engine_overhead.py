"""The training engine's overhead: PhysNet training steps through the engine's epoch loop (the
task's `train_step`, the `Stepper`, loss-part bookkeeping) against the same steps written in
bare PyTorch, on the same tensors, alternating, on the CPU.

Usage: python benchmarks/engine_overhead.py [steps per round] [rounds]
Prints the median seconds per step of each and their ratio (goal: engine within 1.2x of bare).
"""

from __future__ import annotations

import copy
import statistics
import sys
import time

import torch
from torch import nn

from rppgkit.models import create_task
from rppgkit.models.losses import neg_pearson
from rppgkit.models.task import Task
from rppgkit.train.config import validate
from rppgkit.train.distributed import setup
from rppgkit.train.engine import _Run
from rppgkit.train.optim import build_optimisation

CLIP = (2, 3, 64, 72, 72)  # batch of two 64-frame clips of 72 px crops


def bare_steps(model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> float:
    """Seconds per step of the plain loop: forward, NegPearson, backward, clip, AdamW step."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    start = time.perf_counter()
    for batch in batches:
        loss = neg_pearson(model(batch["clip"]), batch["label"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return (time.perf_counter() - start) / len(batches)


def engine_steps(task: Task, run: _Run, batches: list[dict[str, torch.Tensor]]) -> float:
    """Seconds per step of the engine's epoch loop over the same batches."""
    opt = build_optimisation(run.cfg, task, run.ctx)
    start = time.perf_counter()
    run._epoch(task, [batches], opt.stepper)
    return (time.perf_counter() - start) / len(batches)


def main(steps: int = 4, rounds: int = 5) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    config = validate(
        {
            "data": {"dataset": "synthetic", "root": ".", "clip": {"frames": CLIP[2]}},
            "model": {"name": "physnet"},
            "log": {"progress": False},
        }
    )
    run = _Run(config, setup("cpu"), None)
    task = create_task("physnet", {})
    bare = copy.deepcopy(task.network)
    batches = [
        {"clip": torch.randn(CLIP), "label": torch.randn(CLIP[0], CLIP[2])} for _ in range(steps)
    ]
    engine_steps(task, run, batches[:1])  # warm-up of both
    bare_steps(bare, batches[:1])
    times: dict[str, list[float]] = {"bare": [], "engine": []}
    for _ in range(rounds):
        times["bare"].append(bare_steps(bare, batches))
        times["engine"].append(engine_steps(task, run, batches))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"PhysNet step, batch {CLIP}: bare PyTorch {median['bare']:.3f} s, engine "
        f"{median['engine']:.3f} s, ratio {median['engine'] / median['bare']:.3f} "
        f"(median of {rounds} rounds of {steps} steps, {torch.get_num_threads()} threads)"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
