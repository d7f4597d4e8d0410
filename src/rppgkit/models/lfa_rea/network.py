"""The two networks of Yue et al. (2022): the learnable frequency augmentation (LFA) that turns
a face clip into one pulsing at r times its rate, and the region-aware expert aggregation (REA)
that reads the pulse.

LFA: a 3-D convolution and two residual 3-D blocks give features at full size; average pooling
gives them at 1/2 and 1/4 of the size. At each scale a frequency modulation block (FMB) pools
the features over space, squeezes them to one channel, puts the ratio beside it, and a
residual 1-D block and an LSTM turn the pair into one weight per frame, which multiplies the
features. The three modulated scales, brought back to full size, are concatenated and a 1x1x1
convolution makes them a clip again.

REA: a 3-D ResNet-10 encoder that keeps the clip's size (a 7x7x7 convolution, then four
residual stages of width w, 2w, 2w, w); its feature map is cut into a grid x grid of regions
(2 x 2: the paper's four experts). Each region has its own expert (a convolution, a residual
block, a spatial attention that averages the region per frame, a 1x1 convolution to one
value per frame); a gate reads the whole map and gives softmax weights over the experts per
frame; the weighted sum passes a final temporal convolution. The released code builds nine
experts behind a four-way gate; here there are exactly grid x grid of each.
"""

from __future__ import annotations

import torch
from torch import nn

from rppgkit.models.blocks import ResBlock, conv_bn_relu

SCALES = 3  # LFA's feature scales: 1, 1/2, 1/4 of the crop's size


class FrequencyModulation(nn.Module):
    """An FMB: per-frame weights from one scale's features and the frequency ratio, multiplied
    onto those features."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv1d(channels, 1, 3, padding=1)
        self.mix = ResBlock(2, 2, dims=1, norm=False)
        self.lstm = nn.LSTM(2, 1, batch_first=True)

    def forward(self, features: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """Features ``[B, C, T, H, W]`` and ratios ``[B]`` -> modulated features, same shape."""
        z = self.squeeze(features.mean(dim=(3, 4)))  # [B, 1, T]
        r = ratio.to(z.dtype)[:, None, None].expand_as(z)
        weights, _ = self.lstm(self.mix(torch.cat([z, r], dim=1)).transpose(1, 2))  # [B, T, 1]
        return features * weights.transpose(1, 2)[..., None, None]


class LFA(nn.Module):
    """Clip ``[B, 3, T, H, W]`` and ratios ``[B]`` -> a clip of the same shape meant to look
    the same and pulse at ratio times the rate (what the losses teach it)."""

    def __init__(self, width: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn_relu(in_channels, width, (3, 3, 3)),
            ResBlock(width, width),
            ResBlock(width, width),
        )
        self.modulation = nn.ModuleList(FrequencyModulation(width) for _ in range(SCALES))
        self.fuse = nn.Conv3d(SCALES * width, in_channels, 1)

    def forward(self, clip: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        features = self.stem(clip)
        size = features.shape[2:]
        scales = []
        for i, modulate in enumerate(self.modulation):
            pool = (1, 2**i, 2**i)
            scaled = nn.functional.avg_pool3d(features, pool, ceil_mode=True) if i else features
            modulated = modulate(scaled, ratio)
            if i:
                modulated = nn.functional.interpolate(modulated, size=size, mode="trilinear")
            scales.append(modulated)
        return self.fuse(torch.cat(scales, dim=1))


class RegionExpert(nn.Module):
    """One expert: a region's features ``[B, C, T, h, w]`` -> its pulse ``[B, T]``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(width, width, (3, 3, 3)), ResBlock(width, width))
        self.attention = nn.Conv3d(width, 1, 1)
        self.out = nn.Conv1d(width, 1, 1)

    def forward(self, region: torch.Tensor) -> torch.Tensor:
        features = self.body(region)
        weights = torch.softmax(self.attention(features).flatten(3), dim=-1)  # over the region
        return self.out((features.flatten(3) * weights).sum(dim=-1)).squeeze(1)


class REA(nn.Module):
    """Clip ``[B, 3, T, H, W]`` -> pulse ``[B, T]``, for clips of any length and of at least
    `grid` pixels a side.

    Parameters
    ----------
    width
        Channels of the encoder's first and last stage (the middle two have twice as many).
    grid
        Regions per side: grid x grid experts (2: the paper's four; 1: one expert, the
        ablation).
    in_channels
        Colour channels of the clip.
    """

    def __init__(self, width: int = 64, grid: int = 2, in_channels: int = 3) -> None:
        super().__init__()
        self.grid = grid
        self.encoder = nn.Sequential(
            conv_bn_relu(in_channels, width, (7, 7, 7)),
            ResBlock(width, width),
            ResBlock(width, 2 * width),
            ResBlock(2 * width, 2 * width),
            ResBlock(2 * width, width),
        )
        self.experts = nn.ModuleList(RegionExpert(width) for _ in range(grid * grid))
        self.gate = nn.Conv1d(width, grid * grid, 3, padding=1)
        self.head = nn.Conv1d(1, 1, 5, padding=2)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        features = self.encoder(clip)
        pulses = torch.stack(
            [expert(region) for expert, region in zip(self.experts, self.regions(features))], 1
        )  # [B, E, T]
        gate = torch.softmax(self.gate(features.mean(dim=(3, 4))), dim=1)  # [B, E, T]
        return self.head((gate * pulses).sum(dim=1, keepdim=True)).squeeze(1)

    def regions(self, features: torch.Tensor) -> list[torch.Tensor]:
        """The feature map cut into grid x grid regions, row by row."""
        if min(features.shape[3:]) < self.grid:
            raise ValueError(f"REA needs crops of at least {self.grid} px for its regions")
        rows = torch.tensor_split(features, self.grid, dim=3)
        return [part for row in rows for part in torch.tensor_split(row, self.grid, dim=4)]
