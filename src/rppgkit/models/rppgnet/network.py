"""rPPGNet (Yu et al., ICCV 2019): R(2+1)D blocks, a skin-segmentation branch, parameter-free
skin-based attention, an auxiliary mid-level signal and four partition signals.

Shapes for the paper's input [B, 3, 64, 128, 128]: stem and block A at 64x64, block B at 32x32,
block C at 16x16; every head gives one value per frame. The released model lets the first
partition head reuse the global head's convolution; here each of the six heads has its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rppgkit.models.blocks import STConv, norm_relu


def _st_block(cin: int, cout: int) -> list[nn.Module]:
    return [STConv(cin, cout), *norm_relu(cout)]


class SkinBranch(nn.Module):
    """Skin probability per pixel and frame from block A's features."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half, quarter = max(channels // 2, 1), max(channels // 4, 1)
        self.main = nn.Sequential(
            nn.Conv3d(channels, half, (1, 3, 3), padding=(0, 1, 1)),
            *norm_relu(half),
            nn.Conv3d(half, quarter, (1, 3, 3), padding=(0, 1, 1)),
            *norm_relu(quarter),
        )
        self.shortcut = nn.Conv3d(channels, quarter, 1)
        self.out = nn.Conv3d(quarter, 1, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.main(x) + self.shortcut(x)))  # [B, 1, T, H, W]


def skin_attention(features: torch.Tensor, skin: torch.Tensor, factor: int) -> torch.Tensor:
    """Parameter-free attention: sigmoid(channel mean) + sigmoid(channel max) + skin map
    (average-pooled by `factor` to the features' size), softmax-normalised over each frame's
    pixels, multiplied onto the features."""
    b, _, t, h, w = features.shape
    skin = nn.functional.avg_pool3d(skin, (1, factor, factor))
    score = (
        torch.sigmoid(features.mean(dim=1, keepdim=True))
        + torch.sigmoid(features.amax(dim=1, keepdim=True))
        + skin
    )
    weights = torch.softmax(score.reshape(b, 1, t, h * w), dim=-1).reshape(b, 1, t, h, w)
    return features * weights


class _Head(nn.Module):
    """Spatial average, then a 1x1x1 convolution to one channel: a signal [B, T]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.mean(dim=(3, 4), keepdim=True)).flatten(1)


@dataclass(frozen=True)
class RPPGNetOutput:
    signal: torch.Tensor  # [B, T] global rPPG signal
    auxiliary: torch.Tensor  # [B, T] from block B
    partitions: torch.Tensor  # [B, 4, T] from the four quadrants of block C
    skin: torch.Tensor  # [B, T, h, w] skin probability at block A's resolution
    features_a: torch.Tensor  # block A output (STVEN's perceptual loss compares these)
    features_b: torch.Tensor  # block B output


class RPPGNet(nn.Module):
    """Clip ``[B, 3, T, H, W]`` (H, W multiples of 16) -> `RPPGNetOutput`; as an estimator its
    pulse is ``output.signal``.

    ``attention=False`` drops the skin-based attention (ablation); `width` scales the channels
    (16/32/64 in the paper at width 64).
    """

    def __init__(self, width: int = 64, attention: bool = True) -> None:
        super().__init__()
        c1, c2, c3 = max(width // 4, 1), max(width // 2, 1), width
        self.attention = attention
        self.stem = nn.Sequential(
            nn.Conv3d(3, c1, (1, 5, 5), padding=(0, 2, 2)), *norm_relu(c1), nn.AvgPool3d((1, 2, 2))
        )
        self.block_a = nn.Sequential(*_st_block(c1, c2), *_st_block(c2, c2))
        self.skin = SkinBranch(c2)
        self.block_b = nn.Sequential(
            nn.AvgPool3d((1, 2, 2)), *_st_block(c2, c3), *_st_block(c3, c3)
        )
        self.block_c = nn.Sequential(
            nn.AvgPool3d((1, 2, 2)), *_st_block(c3, c3), *_st_block(c3, c3), *_st_block(c3, c3)
        )
        self.auxiliary_head = _Head(c3)
        self.global_head = _Head(c3)
        self.partition_heads = nn.ModuleList(_Head(c3) for _ in range(4))

    def forward(self, x: torch.Tensor) -> RPPGNetOutput:
        a = self.block_a(self.stem(x))
        skin = self.skin(a)
        b = self.block_b(a)
        c = self.block_c(b)
        if self.attention:
            b_att, c = skin_attention(b, skin, 2), skin_attention(c, skin, 4)
        else:
            b_att = b
        h, w = c.shape[-2] // 2, c.shape[-1] // 2
        quadrants = [c[..., :h, :w], c[..., :h, w:], c[..., h:, :w], c[..., h:, w:]]
        return RPPGNetOutput(
            signal=self.global_head(c),
            auxiliary=self.auxiliary_head(b_att),
            partitions=torch.stack(
                [head(q) for head, q in zip(self.partition_heads, quadrants)], dim=1
            ),
            skin=skin[:, 0],
            features_a=a,
            features_b=b,
        )
