"""STVEN (Yu et al., ICCV 2019): a spatio-temporal video-enhancement generator conditioned on a
compression level, after StarGAN's one-generator-many-domains design.

``STVEN(clip, k)`` maps a clip of any compression level to how it would look at level `k`
(0 = uncompressed): the one-hot level is broadcast to a volume and concatenated to the clip;
a 3-D encoder (T/2, H/4), residual R(2+1)D blocks and a decoder give a residual that is added
to the input. Clips are Raw-normalised ([0, 1]); T must be even and H, W multiples of 4.

Channel widths follow the paper at ``width=512`` (64 -> 128 -> 512); smaller widths scale them.
"""

from __future__ import annotations

import torch
from torch import nn

from rppgkit.models.blocks import STConv, norm_relu
from rppgkit.models.rppgnet.network import RPPGNet, RPPGNetOutput


class _Residual(nn.Module):
    """x + IN(STConv(ReLU(IN(STConv(x)))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            STConv(channels, channels, instance_norm=True),
            *norm_relu(channels, instance=True),
            STConv(channels, channels, instance_norm=True),
            nn.InstanceNorm3d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class STVEN(nn.Module):
    """Clip ``[B, 3, T, H, W]`` in [0, 1] and target levels ``[B]`` (ints in 0..levels-1) ->
    the clip as it would be at those levels, same shape."""

    def __init__(self, levels: int = 5, width: int = 512, blocks: int = 4) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"STVEN needs at least 2 compression levels, not {levels}")
        c1, c2, c3 = max(width // 8, 1), max(width // 4, 1), width
        self.levels = levels
        self.encoder = nn.Sequential(
            nn.Conv3d(3 + levels, c1, (3, 7, 7), padding=(1, 3, 3)),
            *norm_relu(c1, instance=True),
            nn.Conv3d(c1, c2, (3, 4, 4), stride=(1, 2, 2), padding=1),
            *norm_relu(c2, instance=True),
            nn.Conv3d(c2, c3, 4, stride=2, padding=1),
            *norm_relu(c3, instance=True),
        )
        self.blocks = nn.Sequential(*(_Residual(c3) for _ in range(blocks)))
        self.decoder = nn.Sequential(
            nn.ConvTranspose3d(c3, c2, 4, stride=2, padding=1),
            *norm_relu(c2, instance=True),
            nn.ConvTranspose3d(c2, c1, (1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1)),
            *norm_relu(c1, instance=True),
            nn.Conv3d(c1, 3, (1, 7, 7), padding=(0, 3, 3)),
            nn.Tanh(),
        )
        # start as the identity (a zero residual), so training only ever has to improve on the
        # input; from random weights the first epochs are spent unlearning noise and the
        # restoration sits below the compressed clip's PSNR for long (docs/methods/rppgnet-stven.md)
        nn.init.zeros_(self.decoder[-2].weight)
        nn.init.zeros_(self.decoder[-2].bias)

    def forward(self, clip: torch.Tensor, level: torch.Tensor | int) -> torch.Tensor:
        b, _, t, h, w = clip.shape
        level = torch.as_tensor(level, device=clip.device).expand(b)
        if int(level.max()) >= self.levels:
            raise ValueError(
                f"compression level {int(level.max())} is beyond this STVEN's {self.levels} "
                "levels; set the model option levels to the ladder's number of levels"
            )
        if t % 2 or h % 4 or w % 4:
            raise ValueError(
                f"STVEN needs an even clip length and sizes divisible by 4, not {t}x{h}x{w}"
            )
        onehot = nn.functional.one_hot(level.long(), self.levels).to(clip.dtype)
        volume = onehot[:, :, None, None, None].expand(b, self.levels, t, h, w)
        residual = self.decoder(self.blocks(self.encoder(torch.cat([clip, volume], dim=1))))
        return clip + residual


class EnhancedRPPGNet(nn.Module):
    """STVEN restoring a clip to level 0, read by a frozen rPPGNet: the joint stage's model and
    the ``stven+rppgnet`` estimator. Only STVEN learns; rPPGNet stays in eval mode (its
    BatchNorm statistics are those of its own training)."""

    def __init__(
        self,
        levels: int = 5,
        stven_width: int = 512,
        stven_blocks: int = 4,
        rppgnet_width: int = 64,
        attention: bool = True,
    ) -> None:
        super().__init__()
        self.levels = levels
        self.stven = STVEN(levels, stven_width, stven_blocks)
        self.rppgnet = RPPGNet(rppgnet_width, attention)
        self.rppgnet.requires_grad_(False)

    def train(self, mode: bool = True) -> EnhancedRPPGNet:
        super().train(mode)
        self.rppgnet.eval()
        return self

    def forward(self, clip: torch.Tensor) -> RPPGNetOutput:
        return self.rppgnet(self.stven(clip, 0))
