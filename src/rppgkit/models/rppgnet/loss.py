"""rPPGNet's loss: skin segmentation, partition and auxiliary signals, and the global signal."""

from __future__ import annotations

import torch
from torch import nn

from rppgkit.models.losses import neg_pearson
from rppgkit.models.rppgnet.network import RPPGNetOutput

SKIN_WEIGHT = 0.1
PARTS_WEIGHT = 0.5


def rppgnet_loss(
    out: RPPGNetOutput,
    label: torch.Tensor,
    skin: torch.Tensor | None,
    partitions: bool = True,
) -> torch.Tensor:
    """``0.1 BCE(skin) + 0.5 (sum of NegPearson over the 4 partitions + NegPearson(auxiliary))
    + NegPearson(global)``. `skin` is the binary skin label ``[B, T, h, w]`` at the skin map's
    size (None leaves that term out); ``partitions=False`` drops the partition terms (ablation).
    """
    loss = neg_pearson(out.signal, label) + PARTS_WEIGHT * neg_pearson(out.auxiliary, label)
    if partitions:
        loss = loss + PARTS_WEIGHT * sum(
            neg_pearson(out.partitions[:, i], label) for i in range(out.partitions.shape[1])
        )
    if skin is not None:
        loss = loss + SKIN_WEIGHT * nn.functional.binary_cross_entropy(
            out.skin.float().clamp(1e-6, 1 - 1e-6), skin.float()
        )
    return loss
