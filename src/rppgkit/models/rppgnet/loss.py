"""rPPGNet's loss: skin segmentation, partition and auxiliary signals, and the global signal."""

from __future__ import annotations

import torch
from torch import nn

from rppgkit.models.losses import neg_pearson
from rppgkit.models.rppgnet.network import RPPGNetOutput

SKIN_WEIGHT = 0.1
PARTS_WEIGHT = 0.5
FEATURE_WEIGHT = 1.0  # the perceptual loss's block A and B feature terms
PIXEL_LEVELS = 255.0  # STVEN's losses are on 8-bit values, divided by 255 (see stven_loss)


def rppgnet_loss(
    out: RPPGNetOutput,
    label: torch.Tensor,
    skin: torch.Tensor | None,
    partitions: bool = True,
) -> dict[str, torch.Tensor]:
    """rPPGNet's loss as weighted parts: ``signal`` NegPearson(global), ``auxiliary``
    0.5 NegPearson(auxiliary), ``partitions`` 0.5 (sum of NegPearson over the 4 partitions) and
    ``skin`` 0.1 BCE(skin map). `skin` is the binary skin label ``[B, T, h, w]`` at the skin
    map's size (None leaves that part out); ``partitions=False`` drops the partition part (the
    paper's ablation).
    """
    parts = {
        "signal": neg_pearson(out.signal, label),
        "auxiliary": PARTS_WEIGHT * neg_pearson(out.auxiliary, label),
    }
    if partitions:
        parts["partitions"] = PARTS_WEIGHT * sum(
            neg_pearson(out.partitions[:, i], label) for i in range(out.partitions.shape[1])
        )
    if skin is not None:
        # in float32 outside mixed precision: CUDA autocast refuses BCE on probabilities
        with torch.autocast(out.skin.device.type, enabled=False):
            bce = nn.functional.binary_cross_entropy(
                out.skin.float().clamp(1e-6, 1 - 1e-6), skin.float()
            )
        parts["skin"] = SKIN_WEIGHT * bce
    return parts


def stven_loss(
    stven: nn.Module, compressed: torch.Tensor, clean: torch.Tensor, level: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """STVEN's reconstruction and cycle losses for clips `compressed` at `level` and their
    `clean` originals (level 0); returns the parts ``reconstruction`` and ``cycle``, and the
    restored clip ``G(compressed, 0)``.

    ``L_rec = ||c_0 - G(c_k, 0)||_2^2 + ||c_k - G(c_0, k)||_1`` and
    ``L_cyc = ||c_k - G(G(c_k, 0), k)||_1 + ||c_0 - G(G(c_0, k), 0)||_1`` (means over pixels,
    on 8-bit values, divided by 255). The released code adds the PSNR of the restoration to the
    loss, which rewards a *lower* PSNR; the MSE term here pulls the restoration towards the
    original as the paper means. Codec errors are a few grey levels: on [0, 1] values the
    squared term's gradient would be about 1% of the L1 terms', and STVEN would learn to
    degrade but hardly to restore.
    """
    f = nn.functional
    restored = stven(compressed, 0)
    degraded = stven(clean, level)
    rec = PIXEL_LEVELS * f.mse_loss(restored, clean) + f.l1_loss(degraded, compressed)
    cyc = f.l1_loss(stven(restored, level), compressed) + f.l1_loss(stven(degraded, 0), clean)
    return {"reconstruction": rec, "cycle": cyc}, restored


def perceptual_loss(enhanced: RPPGNetOutput, clean: RPPGNetOutput) -> torch.Tensor:
    """The joint stage's perceptual loss: what the frozen rPPGNet sees in the enhanced clip
    against what it sees in the clean one -- ``0.1 MSE(skin maps) + 0.5 sum NegPearson(partition
    signals) + NegPearson(global) + MSE(block A features) + MSE(block B features)``."""
    f = nn.functional
    parts = sum(
        neg_pearson(enhanced.partitions[:, i], clean.partitions[:, i])
        for i in range(enhanced.partitions.shape[1])
    )
    return (
        SKIN_WEIGHT * f.mse_loss(enhanced.skin, clean.skin)
        + PARTS_WEIGHT * parts
        + neg_pearson(enhanced.signal, clean.signal)
        + FEATURE_WEIGHT
        * (
            f.mse_loss(enhanced.features_a, clean.features_a)
            + f.mse_loss(enhanced.features_b, clean.features_b)
        )
    )
