"""rPPGNet's training recipe (stage 1 of seed 000): supervised by the reference pulse and the
skin masks of the clip cache, with the paper's loss weights."""

from __future__ import annotations

import torch
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.models.recipe import Recipe, register_recipe
from rppgkit.models.rppgnet.loss import rppgnet_loss


@register_recipe("rppgnet")
class RPPGNetRecipe(Recipe):
    """``skin=False`` drops the segmentation term, ``partitions=False`` the partition terms
    (the paper's ablations; the attention ablation is the model option ``attention=False``)."""

    model_name = "rppgnet"

    def __init__(self, skin: bool = True, partitions: bool = True) -> None:
        self.skin, self.partitions = skin, partitions

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], spec: ClipSpec
    ) -> torch.Tensor:
        out = model(batch["clip"])
        skin = None
        if self.skin:  # the crop's mask, area-averaged to the skin map's size
            size = out.skin.shape[-2:]
            masks = batch["skin"].float()
            skin = nn.functional.adaptive_avg_pool2d(masks, size) > 0.5
        return rppgnet_loss(out, batch["label"], skin, self.partitions)

    def predict(self, model: nn.Module, clip: torch.Tensor) -> torch.Tensor:
        return model(clip).signal
