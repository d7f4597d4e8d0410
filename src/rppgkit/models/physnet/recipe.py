"""PhysNet's training recipe: supervised, negative Pearson to the reference pulse (the paper's
loss), optionally plus the frequency cross-entropy that later papers add."""

from __future__ import annotations

import torch
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.models.losses import PulseLoss
from rppgkit.models.recipe import Recipe, register_recipe


@register_recipe("physnet")
class PhysNetRecipe(Recipe):
    model_name = "physnet"

    def __init__(self, pearson: float = 1.0, frequency: float = 0.0) -> None:
        self.criterion = PulseLoss(pearson, frequency)

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], spec: ClipSpec
    ) -> torch.Tensor:
        derivative = spec.norm == "diffnormalized"
        return self.criterion(model(batch["clip"]), batch["label"], spec.fs, derivative)
