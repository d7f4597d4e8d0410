"""Meta-rPPG's ordinal pulse code and its three losses.

The pulse of each window is min-max scaled to [0, 1] and rounded to the nearest of the steps
0, 1/40, ..., 1: its level q is a whole number from 0 to 40. Each of the 40 thresholds k = 1..40
(at (k - 1/2) / 40 of the range) is a two-way classifier, "is q at least k?", and a predicted
level is the number of thresholds that answer yes. The ordinal loss is the sum of the 40
two-way cross-entropies, averaged over frames and clips.
"""

from __future__ import annotations

import torch
from torch import nn

LEVELS = 40  # thresholds of the ordinal code


def quantise(label: torch.Tensor, levels: int = LEVELS) -> torch.Tensor:
    """The ordinal level of every sample of reference pulses.

    Parameters
    ----------
    label
        Reference pulses ``[B, T]`` (any offset and gain: each window is min-max scaled).
    levels
        Thresholds of the code; a level is one of ``0..levels``.

    Returns
    -------
    The levels ``[B, T]`` (int64): the nearest multiple of ``1 / levels`` of the scaled pulse,
    times ``levels``; a flat window is all level 0.
    """
    low = label.amin(dim=-1, keepdim=True)
    span = (label.amax(dim=-1, keepdim=True) - low).clamp_min(1e-8)
    return torch.round((label - low) / span * levels).long()


def ordinal_targets(level: torch.Tensor, levels: int = LEVELS) -> torch.Tensor:
    """The classes of the thresholds for levels ``[...]``: ``[..., levels]`` int64, 1 where
    the level reaches threshold k (``level >= k`` for k = 1..levels), else 0."""
    k = torch.arange(1, levels + 1, device=level.device)
    return (level[..., None] >= k).long()


def decode(logits: torch.Tensor) -> torch.Tensor:
    """The level the estimator reads: how many thresholds answer yes.

    Parameters
    ----------
    logits
        The estimator's output ``[..., levels, 2]`` (no, yes) per threshold.

    Returns
    -------
    The count ``[...]`` (int64, ``0..levels``).
    """
    return (logits[..., 1] > logits[..., 0]).sum(dim=-1)


def ordinal_loss(logits: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """L_ORD: the thresholds' two-way cross-entropies summed over thresholds, averaged over
    frames and clips.

    Parameters
    ----------
    logits
        ``[B, T, levels, 2]``.
    level
        The reference levels ``[B, T]`` (`quantise`).

    Returns
    -------
    The scalar loss.
    """
    target = ordinal_targets(level, logits.shape[-2])
    ce = nn.functional.cross_entropy(logits.movedim(-1, 1), target, reduction="none")
    return ce.sum(dim=-1).mean()


def prototype_loss(z: torch.Tensor, prototype: torch.Tensor) -> torch.Tensor:
    """L_PROTO: the mean squared distance of each clip's time-averaged feature to the
    prototype, so features of new videos stay where training put them.

    Parameters
    ----------
    z
        Features ``[B, T, C]``.
    prototype
        The running mean feature ``[C]``.

    Returns
    -------
    ``mean over clips and channels of (mean_t z - prototype)^2``.
    """
    return (z.mean(dim=1) - prototype).pow(2).mean()


def synthetic_loss(predicted: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """L_SYN: the squared L2 distance of the synthetic gradient to the true one, per clip,
    averaged over clips.

    Parameters
    ----------
    predicted
        The generator's output ``[B, T, C]``.
    true
        ``dL_ORD/dz`` of each clip's own loss ``[B, T, C]``.

    Returns
    -------
    ``mean over clips of ||predicted - true||^2``.
    """
    return (predicted - true).pow(2).sum(dim=(1, 2)).mean()
