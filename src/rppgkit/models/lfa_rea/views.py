"""lfa-rea's sampling: from one window of 4T frames, the anchor clip, its three neighbours, two
positives and the frequency ratios of K negatives.

The window is cut into four clips of T frames; one, drawn per window, is the anchor X^a and
the other three, in time order, its neighbours X^b (the same person a few seconds apart, whose
pulse rate should agree). The positives X^p1, X^p2 are two different spatial transforms of the
anchor, drawn from the identity, the rotations by 90, 180 and 270 degrees, and the horizontal
and vertical flips: the same pulse seen differently. Each negative's ratio r is drawn from
U(0.3, 0.8) or U(1.2, 1.7), each interval with probability 1/2: LFA (or, in the ablation
without it, plain temporal resampling, `resampled`) makes the anchor pulse at r times its rate.

Draws come from a `torch.Generator`, so a seeded draw repeats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rppgkit.models.autohr.augment import time_warp

CLIPS = 4  # a window holds the anchor and its three neighbours
RATIO_RANGES = ((0.3, 0.8), (1.2, 1.7))  # a negative's frequency ratio: slower or faster
TRANSFORMS = ("identity", "rot90", "rot180", "rot270", "hflip", "vflip")


@dataclass(frozen=True)
class Views:
    """The clips and draws of one batch of windows (B windows, K negatives each).

    ``anchor`` ``[B, 3, T, H, W]``; ``neighbours`` ``[B, 3, 3, T, H, W]`` (the three other
    clips of the window, in time order); ``positives`` ``[B, 2, 3, T, H, W]``; ``ratios``
    ``[B, K]``; ``index`` ``[B]`` (which clip of the window is the anchor); ``transforms``
    ``[B, 2]`` (each positive's index into `TRANSFORMS`).
    """

    anchor: torch.Tensor
    neighbours: torch.Tensor
    positives: torch.Tensor
    ratios: torch.Tensor
    index: torch.Tensor
    transforms: torch.Tensor


def draw_views(window: torch.Tensor, negatives: int, generator: torch.Generator) -> Views:
    """The views of a batch of windows.

    Parameters
    ----------
    window
        Windows ``[B, 3, 4T, H, W]`` of square crops.
    negatives
        K, the ratios drawn per window.
    generator
        Source of the draws (on the CPU).

    Returns
    -------
    The views; ValueError if the window's length is not a multiple of 4.
    """
    b, _, frames = window.shape[:3]
    if frames % CLIPS:
        raise ValueError(f"a window of {frames} frames does not cut into {CLIPS} clips")
    clips = window.unflatten(2, (CLIPS, frames // CLIPS)).movedim(2, 1)  # [B, 4, 3, T, H, W]
    index = torch.randint(CLIPS, (b,), generator=generator)
    transforms = torch.stack(
        [torch.randperm(len(TRANSFORMS), generator=generator)[:2] for _ in range(b)]
    )
    anchor = clips[torch.arange(b), index.to(window.device)]
    others = [[j for j in range(CLIPS) if j != int(i)] for i in index]
    neighbours = torch.stack([clips[i, keep] for i, keep in enumerate(others)])
    positives = torch.stack(
        [torch.stack([spatial(a, int(k)) for k in ks]) for a, ks in zip(anchor, transforms)]
    )
    ratios = draw_ratios(b, negatives, generator).to(window.device)
    return Views(anchor, neighbours, positives, ratios, index, transforms)


def draw_ratios(b: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``[b, k]`` ratios, each uniform in one of `RATIO_RANGES`, picked with equal chance."""
    (lo1, hi1), (lo2, hi2) = RATIO_RANGES
    u, faster = torch.rand(b, k, generator=generator), torch.rand(b, k, generator=generator)
    return torch.where(faster < 0.5, lo1 + (hi1 - lo1) * u, lo2 + (hi2 - lo2) * u)


def spatial(clip: torch.Tensor, transform: int) -> torch.Tensor:
    """A clip ``[C, T, H, W]`` (H = W) under ``TRANSFORMS[transform]``."""
    name = TRANSFORMS[transform]
    if name.startswith("rot"):
        return torch.rot90(clip, int(name[3:]) // 90, dims=(2, 3))
    if name == "hflip":
        return clip.flip(3)
    return clip.flip(2) if name == "vflip" else clip


def resampled(
    window: torch.Tensor, index: torch.Tensor, ratios: torch.Tensor, derivative: bool
) -> torch.Tensor:
    """Negatives without LFA: the window read at `ratios` times its pace from the anchor on.

    Parameters
    ----------
    window
        Windows ``[B, 3, 4T, H, W]``.
    index
        ``[B]``: which of the window's four clips is the anchor.
    ratios
        ``[B, K]`` pace factors, at most 1.7 (4T frames hold any such reading of T).
    derivative
        The clips hold frame differences (DiffNormalized), warped as the video they difference.

    Returns
    -------
    ``[B, K, 3, T, H, W]``: T frames each, linearly interpolated, starting at the anchor (or
    earlier, where the reading would run past the window's end).
    """
    frames = window.shape[2]
    t = frames // CLIPS
    out = []
    for w, i, rs in zip(window, index.tolist(), ratios.tolist()):
        clips = []
        for r in rs:
            # room for (T - 1) r frames and one step past them, read without wrapping
            start = max(0, min(i * t, frames - 3 - math.ceil((t - 1) * r)))
            clips.append(time_warp(w[:, start:], 1, r, float(frames), derivative)[:, :t])
        out.append(torch.stack(clips))
    return torch.stack(out)
