"""PhysNet's training task: supervised, negative Pearson to the reference pulse (the paper's
loss), optionally plus the frequency cross-entropy that later papers add."""

from __future__ import annotations

import torch
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.models.losses import BPM_RANGE, frequency_ce, neg_pearson
from rppgkit.models.task import Batch, Task


class PhysNetTask(Task):
    """``pearson * NegPearson + frequency * L_freq`` on labelled clips."""

    def __init__(self, network: nn.Module, pearson: float = 1.0, frequency: float = 0.0) -> None:
        super().__init__(network)
        self.pearson, self.frequency = pearson, frequency

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        pred, label = self.network(batch["clip"]), batch["label"]
        parts = {"pearson": self.pearson * neg_pearson(pred, label)}
        if self.frequency:
            derivative = spec.norm == "diffnormalized"
            ce = frequency_ce(pred, label, spec.fs, BPM_RANGE, derivative)
            parts["frequency"] = self.frequency * ce
        return parts
