"""lfa-rea's four losses (Yue et al. 2022), on REA's pulses and their spectra.

Spectra: ``p = |rFFT(y - mean)|^2`` over the bins in `BAND_HZ`, normalised to sum to one
(`rppgkit.models.losses.normalised_psd`); ``d(p, q)`` is their mean squared difference.

- L_vr = MSE(X^n, X^a): the negatives must look like the anchor.
- L_fc = log(1 + exp(d(p1, p2) / tau) / sum_k [exp(d(p1, n_k) / tau) + exp(d(p2, n_k) / tau)]):
  the positives' spectra close, the negatives' far (the paper's natural log; the authors' code
  takes log10, the same loss times 0.434).
- L_fr = mean over k and i of |HR(n_k) / HR(p_i) - r_k|: the negatives pulse at r times the
  positives' rate. HR is the soft-argmax of the spectrum (`rppgkit.models.losses.soft_hr`), so
  this loss has a gradient, into REA and through the negatives into LFA; the authors' code
  takes HR with NumPy on detached tensors, so there it trains nothing.
- L_fa = mean over i and j of d(p_i, b_j): the positives agree with the neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

BAND_BPM = (24, 180)  # the authors' low edge (0.4 Hz: slow negatives stay in), rppgkit's high
BAND_HZ = (BAND_BPM[0] / 60, BAND_BPM[1] / 60)


@dataclass(frozen=True)
class Weights:
    """Each part's weight; a part of weight 0 is neither computed into the loss nor logged."""

    vr: float = 1.0
    fc: float = 1.0
    fr: float = 1.0
    fa: float = 1.0


def spectral_distance(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """d: the mean squared difference of normalised spectra over their last axis."""
    return ((p - q) ** 2).mean(dim=-1)


def reconstruction(negatives: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """L_vr of negatives ``[B, K, 3, T, H, W]`` against their anchors ``[B, 3, T, H, W]``."""
    return nn.functional.mse_loss(negatives, anchor[:, None].expand_as(negatives))


def frequency_contrastive(
    positives: torch.Tensor, negatives: torch.Tensor, tau: float
) -> torch.Tensor:
    """L_fc of spectra: positives ``[B, 2, F]``, negatives ``[B, K, F]``; batch mean.

    ``log(1 + e^a / sum e^b) = softplus(a - logsumexp(b))``, computed that way so that no
    exponential overflows.
    """
    a = spectral_distance(positives[:, 0], positives[:, 1]) / tau  # [B]
    b = spectral_distance(positives[:, :, None], negatives[:, None]).flatten(1) / tau  # [B, 2K]
    return nn.functional.softplus(a - torch.logsumexp(b, dim=1)).mean()


def frequency_ratio(
    positive_hr: torch.Tensor, negative_hr: torch.Tensor, ratios: torch.Tensor
) -> torch.Tensor:
    """L_fr of rates: positives ``[B, 2]``, negatives ``[B, K]``, their ratios ``[B, K]``."""
    measured = negative_hr[:, None, :] / positive_hr[:, :, None]  # [B, 2, K]
    return (measured - ratios[:, None, :]).abs().mean()


def frequency_agreement(positives: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
    """L_fa of spectra: positives ``[B, 2, F]``, neighbours ``[B, J, F]``; mean of the 2J
    distances and of the batch."""
    return spectral_distance(positives[:, :, None], neighbours[:, None]).mean()
