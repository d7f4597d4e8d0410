"""Meta-rPPG's three networks (Lee et al., ECCV 2020).

- Feature extractor f_theta: five stages of a per-frame 1x3x3 convolution, BatchNorm, 1x2x2
  average pooling and ReLU (3 -> 32 -> 48 -> 64 -> 80 -> 120 channels), then the spatial mean:
  features ``z`` ``[B, T, 120]``, one vector per frame. Pools round up and stop at 1 px, so
  crops of any size pass (the paper's are 64 px). Its input is the clip with each pixel's mean
  over the clip removed, rescaled to unit variance (`temporal_centre`): the pulse is ~0.5% of a
  frame, under the face's static appearance, and per-frame convolutions on the frames as they
  are gave features whose change over time was too small for the estimator to read (it learnt
  only the levels' prior, docs/methods/meta-rppg.md).
- rPPG estimator h_phi: a two-layer bidirectional LSTM (60 per direction) over the frames, a
  linear layer 120 -> 80, ReLU, and the ordinal layer: 40 two-way classifiers per frame
  (`rppgkit.models.meta_rppg.loss`).
- Synthetic-gradient generator g_psi: predicts ``dL_ORD/dz`` from ``z`` alone, so a new video's
  extractor can be trained without labels. The frames are its channels: 1-D convolutions over
  the 120 features, T -> 2T/3 -> T/3 and back, with a residual around the middle. It belongs to
  the training task (`MetaRPPGTask`), not to the pulse network.

`MetaRPPG` (extractor + estimator) is the registered network; its output is the decoded level
``[B, T]`` (0..40), which inference standardises like any other network's pulse.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from rppgkit.models.meta_rppg.loss import LEVELS, decode

CHANNELS = (32, 48, 64, 80, 120)  # the extractor's stages; the last is the feature width


class HalveSpace(nn.Module):
    """1x2x2 average pooling, rounding up, that leaves a side of 1 px as it is: small crops
    pass all five stages."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = (1, min(2, x.shape[3]), min(2, x.shape[4]))
        return nn.functional.avg_pool3d(x, kernel, ceil_mode=True)


def _stage(cin: int, cout: int) -> nn.Sequential:
    """One extractor stage: 1x3x3 convolution, BatchNorm, 1x2x2 average pooling, ReLU."""
    return nn.Sequential(
        nn.Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1)),
        nn.BatchNorm3d(cout),
        HalveSpace(),
        nn.ReLU(inplace=True),
    )


class FeatureExtractor(nn.Module):
    """Clip ``[B, 3, T, H, W]`` -> features ``[B, T, C]`` (C the last of `channels`)."""

    def __init__(self, channels: Sequence[int] = CHANNELS, in_channels: int = 3) -> None:
        super().__init__()
        if not channels or any(int(c) != c or c < 1 for c in channels):
            raise ValueError(
                f"channels must be a list of whole numbers of at least 1, not {channels}"
            )
        widths = (in_channels, *(int(c) for c in channels))
        self.stages = nn.Sequential(*(_stage(a, b) for a, b in pairwise(widths)))
        self.width = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(temporal_centre(x)).mean(dim=(3, 4)).transpose(1, 2)


def temporal_centre(x: torch.Tensor) -> torch.Tensor:
    """Clip ``[B, C, T, H, W]`` less each pixel's mean over its T frames, divided by the
    clip's standard deviation: what changes over time, at a scale that does not depend on the
    video's contrast."""
    moving = x - x.mean(dim=2, keepdim=True)
    return moving / (moving.std(dim=(1, 2, 3, 4), keepdim=True) + 1e-6)


class OrdinalEstimator(nn.Module):
    """Features ``[B, T, C]`` -> threshold logits ``[B, T, levels, 2]``."""

    def __init__(
        self, features: int = 120, hidden: int = 60, width: int = 80, levels: int = LEVELS
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(2 * hidden, width), nn.ReLU(inplace=True), nn.Linear(width, 2 * levels)
        )
        self.levels = levels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(z)
        return self.head(y).unflatten(-1, (self.levels, 2))


class MetaRPPG(nn.Module):
    """Clip ``[B, 3, T, H, W]`` -> decoded pulse level ``[B, T]`` (float, 0..levels).

    Parameters
    ----------
    channels
        The extractor's stage widths (the paper's by default; smaller for tests).
    hidden
        The LSTM's width per direction.
    width
        The linear layer between the LSTM and the ordinal layer.
    levels
        Thresholds of the ordinal code.
    """

    def __init__(
        self,
        channels: Sequence[int] = CHANNELS,
        hidden: int = 60,
        width: int = 80,
        levels: int = LEVELS,
    ) -> None:
        super().__init__()
        self.extractor = FeatureExtractor(channels)
        self.estimator = OrdinalEstimator(self.extractor.width, hidden, width, levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return decode(self.estimator(self.extractor(x))).float()


def _conv1d(cin: int, cout: int, transposed: bool = False) -> nn.Sequential:
    """A length-keeping 1-D (transposed) convolution with BatchNorm and ReLU."""
    conv = nn.ConvTranspose1d if transposed else nn.Conv1d
    return nn.Sequential(conv(cin, cout, 3, padding=1), nn.BatchNorm1d(cout), nn.ReLU(inplace=True))


class SyntheticGradient(nn.Module):
    """Features ``[B, T, C]`` -> the predicted ``dL_ORD/dz`` ``[B, T, C]``, for windows of
    `frames` = T frames (the paper's 60 give its widths 60 -> 40 -> 20 -> 40 -> 60). The output
    layer starts at zero, so an untrained generator asks for no change."""

    def __init__(self, frames: int = 60) -> None:
        super().__init__()
        wide, narrow = max(round(2 * frames / 3), 1), max(round(frames / 3), 1)
        self.down = _conv1d(frames, wide)
        self.middle = nn.Sequential(_conv1d(wide, narrow), _conv1d(narrow, wide, transposed=True))
        self.out = nn.ConvTranspose1d(wide, frames, 3, padding=1)  # a gradient has either sign
        nn.init.zeros_(self.out.weight)  # predict no gradient until fitted: adaptation starts
        nn.init.zeros_(self.out.bias)  # from the prototype's pull alone
        self.frames = frames

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a = self.down(z)
        return self.out(self.middle(a) + a)
