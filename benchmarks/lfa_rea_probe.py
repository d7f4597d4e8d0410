"""Does lfa-rea's self-supervised objective point at the pulse? Its loss over linear colour
projections, against their HR error.

REA is replaced by the simplest pulse reader there is: the crop's mean colour per frame,
projected on a unit RGB direction w (fixed-weight versions of GREEN, G-R, PBV). For each w the
task's losses are averaged over the same draws on the training windows, with the negatives
resampled (``lfa: false``), so they truly pulse at r times the anchor's rate; and w's HR error
is measured on the validation windows (spectral peak against the reference's). If the
objective points at the pulse, the directions of lowest loss have the lowest HR error:
Spearman's rho between each loss part and the HR error says how much that part knows. No
weights are trained, so this separates "the objective is blind" from "the network has not
learnt yet" in a few minutes of CPU.

Usage: python benchmarks/lfa_rea_probe.py [--data benchmarks/out/autohr/data]
       [--norm standardized|diffnormalized] [--size 8] [--directions 40] [--draws 3]
       [--out benchmarks/out/lfa-rea-probe]
Renders the training set into --data if it is missing (`write_training_set`); writes
OUT/probe-<norm>.md and prints it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.clip.cache import prepare
from rppgkit.fileio import ensure_dir, write_text
from rppgkit.models.lfa_rea.task import LFAREATask
from rppgkit.models.losses import bpm_power
from rppgkit.synth import write_training_set
from rppgkit.train.config import DataConfig, Source
from rppgkit.train.data import make_dataset, resolve_splits
from trainings import markdown, run_main

NAMED = {"G": (0, 1, 0), "G-R": (-1, 1, 0), "2G-R-B": (-1, 2, -1), "R": (1, 0, 0), "B": (0, 0, 1)}
NORMS = ("standardized", "diffnormalized")
HR_BPM = (40, 180)  # where the reference and the projection's peaks are looked for
BATCH = 8
SPLITS = ("train", "val")


class Projection(nn.Module):
    """Clips ``[B, 3, T, H, W]`` -> ``[B, T]``: the mean colour per frame along `direction`
    (a unit vector)."""

    def __init__(self, direction: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("w", torch.as_tensor(direction).float())

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bctij,c->bt", clip, self.w) / (clip.shape[-1] * clip.shape[-2])


@dataclass(frozen=True)
class Point:
    """One direction's mean loss parts and validation HR error (bpm)."""

    name: str
    direction: np.ndarray  # [3] unit RGB
    parts: dict[str, float]
    mae: float


def windows(data: Path, spec: ClipSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training windows ``[N, 3, 600, S, S]``, validation windows and their labels ``[M, 600]``
    (one window per 20 s video)."""
    sources = {split: [Source(dataset="synthetic", root=str(data / split))] for split in SPLITS}
    cfg = DataConfig(**sources, cache=str(data.parent / "cache"))
    splits = resolve_splits(cfg)
    ready = {k: prepare(splits[k], spec, cfg.cache, cfg.workers)[0] for k in SPLITS}
    train = make_dataset("unlabelled", ready["train"], spec, spec.frames)
    val = make_dataset("labelled", ready["val"], spec, spec.frames)
    clips = torch.stack([train[i]["clip"] for i in range(len(train))])
    items = [val[i] for i in range(len(val))]
    return clips, torch.stack([v["clip"] for v in items]), torch.stack([v["label"] for v in items])


def peak_bpm(x: torch.Tensor, derivative: bool) -> torch.Tensor:
    """The spectral peak of each signal ``[B, T]`` at 30 Hz, bpm."""
    return HR_BPM[0] + bpm_power(x, 30.0, HR_BPM, derivative).argmax(dim=-1).float()


def measure(
    name: str, direction: np.ndarray, data: tuple[torch.Tensor, ...], spec: ClipSpec, draws: int
) -> Point:
    """`direction`'s loss parts (the same seeded draws for every direction) and HR error."""
    train, val, labels = data
    projection = Projection(direction)
    task = LFAREATask(projection, lfa=False)
    torch.manual_seed(0)
    sums: dict[str, float] = {}
    with torch.no_grad():
        for _ in range(draws):
            for start in range(0, len(train) - BATCH + 1, BATCH):
                for key, value in task.losses({"clip": train[start : start + BATCH]}, spec).items():
                    sums[key] = sums.get(key, 0.0) + float(value)
        derivative = spec.norm == "diffnormalized"
        error = peak_bpm(projection(val), derivative) - peak_bpm(labels, derivative)
    steps = draws * (len(train) // BATCH)
    parts = {key: value / steps for key, value in sums.items()}
    return Point(name, direction, parts | {"total": sum(parts.values())}, float(error.abs().mean()))


def report(points: list[Point], norm: str) -> str:
    """Markdown: Spearman's rho of each part against the HR error, then every direction."""
    keys = list(points[0].parts)
    mae = [p.mae for p in points]
    rho = [f"{spearmanr([p.parts[k] for p in points], mae).statistic:+.2f}" for k in keys]
    spread = [f"{np.ptp([p.parts[k] for p in points]):.4f}" for k in keys]
    head = markdown(["", *keys], [["Spearman rho with the HR error", *rho], ["range", *spread]])
    rows = [
        [p.name, " ".join(f"{v:+.2f}" for v in p.direction), *(f"{p.parts[k]:.4f}" for k in keys),
         f"{p.mae:.1f}"]
        for p in sorted(points, key=lambda p: p.parts["total"])
    ]  # fmt: skip
    table = markdown(["direction", "w (R G B)", *keys, "val HR MAE (bpm)"], rows)
    return f"{norm} input, {len(points)} directions\n\n{head}\n\n{table}\n"


def count(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}")
    return int(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("benchmarks/out/autohr/data"))
    parser.add_argument("--norm", choices=NORMS, default=NORMS[0])
    parser.add_argument("--size", type=int, default=8, help="crop side, px")
    parser.add_argument("--directions", type=count, default=40, help="random ones, besides NAMED")
    parser.add_argument("--draws", type=count, default=3, help="passes over the training windows")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/lfa-rea-probe"))
    args = parser.parse_args()
    ensure_dir(args.out)
    if not (args.data / "val").is_dir():
        write_training_set(args.data)
    spec = ClipSpec(frames=600, size=args.size, fs=30.0, norm=args.norm)  # T = 150, the paper's
    data = windows(args.data, spec)
    rng = np.random.default_rng(0)
    candidates = {k: np.array(v, float) for k, v in NAMED.items()}
    candidates |= {f"random {i}": rng.normal(size=3) for i in range(args.directions)}
    points = [
        measure(k, v / np.linalg.norm(v), data, spec, args.draws) for k, v in candidates.items()
    ]
    text = report(points, args.norm)
    write_text(args.out / f"probe-{args.norm}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
