"""Network blocks shared by the papers' networks: 3-D convolutions with their norms.

A block's parameter names are part of every checkpoint that holds it, so blocks keep their
layout (a `nn.Sequential` of convolution, norm and activation) stable.
"""

from __future__ import annotations

import torch
from torch import nn


def norm_relu(channels: int, instance: bool = False) -> list[nn.Module]:
    """BatchNorm (or, with `instance`, affine InstanceNorm) and ReLU, to splice into a
    `nn.Sequential`. InstanceNorm suits generators (STVEN), whose statistics must not mix
    clips."""
    norm = nn.InstanceNorm3d(channels, affine=True) if instance else nn.BatchNorm3d(channels)
    return [norm, nn.ReLU(inplace=True)]


def conv_bn_relu(cin: int, cout: int, kernel: tuple[int, int, int]) -> nn.Sequential:
    """A 3-D convolution padded to keep the clip's size, BatchNorm and ReLU (PhysNet's unit)."""
    padding = tuple(k // 2 for k in kernel)
    return nn.Sequential(nn.Conv3d(cin, cout, kernel, padding=padding), *norm_relu(cout))


class ResBlock(nn.Module):
    """A ResNet basic block in 1-D or 3-D: two convolutions of width `kernel` (each followed
    by BatchNorm when `norm`) added to the input, then ReLU. Where the width changes, the input
    passes a 1-wide convolution first. The lfa-rea encoders and experts are built from it.

    Parameters
    ----------
    cin, cout
        Channels in and out.
    kernel
        Width of the convolutions along every axis (odd: the size is kept).
    dims
        1 for signals ``[B, C, T]``, 3 for clips ``[B, C, T, H, W]``.
    norm
        BatchNorm after each convolution (else the convolutions have a bias).
    """

    def __init__(
        self, cin: int, cout: int, kernel: int = 3, dims: int = 3, norm: bool = True
    ) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 3: nn.Conv3d}[dims]
        batch_norm = {1: nn.BatchNorm1d, 3: nn.BatchNorm3d}[dims]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(((cin, cout), (cout, cout))):
            layers.append(conv(a, b, kernel, padding=kernel // 2, bias=not norm))
            layers += [batch_norm(b)] if norm else []
            layers += [nn.ReLU(inplace=True)] if i == 0 else []
        self.body = nn.Sequential(*layers)
        self.skip = nn.Identity() if cin == cout else conv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class STConv(nn.Sequential):
    """R(2+1)D convolution: spatial [1,k,k] -> norm -> ReLU -> temporal [k,1,1], with the middle
    width chosen so the parameter count matches a full k x k x k convolution. The norm is
    BatchNorm (rPPGNet) or InstanceNorm (STVEN, whose statistics must not mix clips)."""

    def __init__(self, cin: int, cout: int, k: int = 3, instance_norm: bool = False) -> None:
        mid = (k * k * k * cin * cout) // (k * k * cin + k * cout)
        super().__init__(
            nn.Conv3d(cin, mid, (1, k, k), padding=(0, k // 2, k // 2)),
            *norm_relu(mid, instance_norm),
            nn.Conv3d(mid, cout, (k, 1, 1), padding=(k // 2, 0, 0)),
        )


class TDC(nn.Module):
    """Temporal difference convolution (AutoHR, Yu et al. 2020): a 3x3x3 convolution minus
    `theta` times the centre frame's value weighted by the kernel's previous- and next-frame
    taps, so the block responds to temporal change of the neighbourhood against its centre.

    ``y = conv3d(x, W) - theta * conv1x1x1(x, sum_hw W[:, :, 0] + sum_hw W[:, :, 2])``;
    ``theta = 0`` is a plain 3x3x3 convolution. The subtracted 1x1x1 kernel is derived from W
    on every call, so one set of weights is learnt.
    """

    def __init__(
        self, cin: int, cout: int, theta: float = 0.7, stride: int = 1, bias: bool = False
    ) -> None:
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=bias)
        self.theta = theta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.theta == 0:
            return out
        w = self.conv.weight  # [cout, cin, 3, 3, 3]
        neighbours = (w[:, :, 0].sum(dim=(2, 3)) + w[:, :, 2].sum(dim=(2, 3)))[
            ..., None, None, None
        ]
        centre = nn.functional.conv3d(x, neighbours, stride=self.conv.stride)
        return out - self.theta * centre
