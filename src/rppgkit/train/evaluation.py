"""Validation and test figures of a task: its loss parts, and the heart-rate error of its pulse."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from rppgkit.clip import ClipSpec
from rppgkit.clip.cache import CachedRecording
from rppgkit.clip.normalize import to_pulse
from rppgkit.models.task import Task, total
from rppgkit.pulse import heart_rate
from rppgkit.train.data import EpochDataset, make_dataset

MIN_HR_CLIP_S = 3.0  # a clip needs two beats at the slowest plausible rate for a spectral HR


@dataclass(frozen=True)
class Score:
    """A task's figures on one split: mean loss and parts, and the MAE (bpm) of per-clip
    spectral HR against the reference's (NaN without labelled clips of at least 3 s)."""

    loss: float
    mae: float
    clips: int
    parts: dict[str, float] = field(default_factory=dict)

    def as_row(self) -> dict[str, float]:
        """The figures as one CSV row: loss, mae, clips, then each part."""
        return {k: v for k, v in asdict(self).items() if k != "parts"} | self.parts


@torch.no_grad()
def score(
    task: Task, recs: list[CachedRecording], spec: ClipSpec, batch_size: int, device: torch.device
) -> Score:
    """The task's loss on its own kind of data cut back to back, and its HR error on the
    labelled clips (the same clips for labelled and paired tasks)."""
    if not recs:
        return Score(float("nan"), float("nan"), 0)
    task.eval()
    data = make_dataset(task.data, recs, spec, spec.frames)
    sums: dict[str, float] = {}
    batches = 0
    for batch in DataLoader(data, batch_size=batch_size):
        parts = task.losses({k: v.to(device) for k, v in batch.items()}, spec)
        for name, value in parts.items():
            sums[name] = sums.get(name, 0.0) + float(value)
        counted = {k: v for k, v in parts.items() if k not in task.aside}
        sums["loss"] = sums.get("loss", 0.0) + float(total(counted))
        batches += 1
    means = {k: v / max(batches, 1) for k, v in sums.items()}
    loss = means.pop("loss", float("nan"))
    return Score(loss, _mae(task, recs, spec, batch_size, device, data), len(data), means)


def _mae(
    task: Task,
    recs: list[CachedRecording],
    spec: ClipSpec,
    batch_size: int,
    device: torch.device,
    data: EpochDataset,
) -> float:
    """Mean absolute error of per-clip spectral HR; NaN when clips are too short or none has a
    reference or the task reads no pulse."""
    if spec.frames / spec.fs < MIN_HR_CLIP_S:
        return float("nan")
    if task.data not in ("labelled", "paired") or not data.labelled:  # no clip/label items
        labelled = [r for r in recs if r.labelled]
        if not labelled:
            return float("nan")
        data = make_dataset("labelled", labelled, spec, spec.frames)
    errors = []
    for batch in DataLoader(data, batch_size=batch_size):
        pred = task.predict(batch["clip"].to(device))
        if pred is None:  # a network without a pulse (STVEN alone): the loss only
            return float("nan")
        for p, y in zip(pred.float().cpu().numpy(), batch["label"].numpy()):
            est = heart_rate(to_pulse(p, spec.norm), spec.fs).bpm
            ref = heart_rate(to_pulse(y, spec.norm), spec.fs).bpm
            errors.append(abs(est - ref))
    return float(np.mean(errors)) if errors else float("nan")
