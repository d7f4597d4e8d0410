"""PhysNet (Yu et al., BMVC 2019): a 3-D CNN encoder-decoder from a face clip to its pulse.

The encoder halves space four times and time twice; two transposed convolutions restore the
time axis, and a spatial average plus a 1x1x1 convolution give one value per frame. This is the
"PhysNet_padding_Encoder-Decoder_MAX" variant that rPPG-Toolbox benchmarks (0.77 M parameters
at width 64). `width` scales every layer, for tiny test models.
"""

from __future__ import annotations

import torch
from torch import nn

from rppgkit.models.blocks import conv_bn_relu

MIN_SIZE = 16  # px: space is halved four times


def _up(channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose3d(channels, channels, (4, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)),
        nn.BatchNorm3d(channels),
        nn.ELU(inplace=True),
    )


class PhysNet(nn.Module):
    """Clip ``[B, 3, T, H, W]`` -> pulse ``[B, T]``; T must be a multiple of 4."""

    def __init__(self, width: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        w1, w2 = max(width // 4, 1), max(width // 2, 1)
        k3 = (3, 3, 3)
        self.encoder = nn.Sequential(
            conv_bn_relu(in_channels, w1, (1, 5, 5)),
            nn.MaxPool3d((1, 2, 2)),
            conv_bn_relu(w1, w2, k3),
            conv_bn_relu(w2, width, k3),
            nn.MaxPool3d((2, 2, 2)),
            conv_bn_relu(width, width, k3),
            conv_bn_relu(width, width, k3),
            nn.MaxPool3d((2, 2, 2)),
            conv_bn_relu(width, width, k3),
            conv_bn_relu(width, width, k3),
            nn.MaxPool3d((1, 2, 2)),
            conv_bn_relu(width, width, k3),
            conv_bn_relu(width, width, k3),
        )
        self.decoder = nn.Sequential(_up(width), _up(width))
        self.head = nn.Conv3d(width, 1, 1)

    @staticmethod
    def clip_problem(frames: int, size: int) -> str | None:
        """What keeps PhysNet from reading clips of `frames` x `size` px (four halvings of
        space, two of time), or None."""
        if size < MIN_SIZE:
            return f"halves space four times: it needs crops of {MIN_SIZE} px or more, not {size}"
        if frames % 4:
            return f"halves time twice, so it needs a clip length divisible by 4, not {frames}"
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and x.shape[2] % 4:
            raise ValueError(f"PhysNet needs a clip length divisible by 4, got {x.shape[2]}")
        y = self.decoder(self.encoder(x))  # [B, C, T, h, w]: time restored, space pooled
        return self.head(y.mean(dim=(3, 4), keepdim=True)).flatten(1)
