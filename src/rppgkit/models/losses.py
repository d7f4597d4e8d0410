"""Losses shared by the papers: negative Pearson in time, cross-entropy over the HR spectrum.

All take predictions and labels ``[B, T]`` sampled at ``fs`` Hz.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

# 1-bpm classes of the frequency loss: AutoHR's (Yu et al. 2020) range, kept as the paper has
# it; wider at the bottom than rppgkit's pulse band (dsp.PULSE_BAND_HZ, 42-180 bpm) on purpose.
BPM_RANGE = (40, 180)


def neg_pearson(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - Pearson correlation over time, averaged over the batch (rPPGNet, AutoHR, PhysNet)."""
    p = pred - pred.mean(dim=1, keepdim=True)
    t = target - target.mean(dim=1, keepdim=True)
    r = (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1) + 1e-8)
    return (1 - r).mean()


def bpm_power(
    x: torch.Tensor,
    fs: float,
    bpm_range: tuple[int, int] = BPM_RANGE,
    derivative: bool = False,
) -> torch.Tensor:
    """Power of each signal at every whole bpm in `bpm_range`: ``[B, K]``.

    A direct DFT at exactly those frequencies (not FFT bins), of the Hann-windowed signal with
    its mean removed, so short clips still resolve 1-bpm classes. ``derivative=True`` says the
    signals are frame differences (DiffNormalized): they are integrated (and the linear drift
    removed) first, because the difference boosts the harmonics, which otherwise win at low HR.
    """
    n = x.shape[-1]
    if derivative:
        x = _detrend_linear(torch.cumsum(x, dim=-1))
    bpm = torch.arange(bpm_range[0], bpm_range[1] + 1, device=x.device, dtype=torch.float32)
    t = torch.arange(n, device=x.device, dtype=torch.float32) / fs
    phase = 2 * math.pi * (bpm[:, None] / 60.0) * t[None, :]  # [K, T]
    xw = (x - x.mean(dim=-1, keepdim=True)).float() * torch.hann_window(
        n, periodic=False, device=x.device
    )
    return (xw @ torch.cos(phase).T) ** 2 + (xw @ torch.sin(phase).T) ** 2


def _detrend_linear(x: torch.Tensor) -> torch.Tensor:
    """Remove each signal's least-squares line."""
    t = torch.arange(x.shape[-1], device=x.device, dtype=x.dtype)
    t = t - t.mean()
    centred = x - x.mean(dim=-1, keepdim=True)
    slope = (centred * t).sum(dim=-1, keepdim=True) / (t * t).sum()
    return centred - slope * t


def hr_class(
    label: torch.Tensor,
    fs: float,
    bpm_range: tuple[int, int] = BPM_RANGE,
    derivative: bool = False,
) -> torch.Tensor:
    """Index of the reference pulse's spectral peak among the 1-bpm classes."""
    with torch.no_grad():
        return bpm_power(label, fs, bpm_range, derivative).argmax(dim=-1)


def frequency_ce(
    pred: torch.Tensor,
    target: torch.Tensor,
    fs: float,
    bpm_range: tuple[int, int] = BPM_RANGE,
    derivative: bool = False,
    normalise: Literal["mean", "sum"] = "mean",
) -> torch.Tensor:
    """Cross-entropy between the softmax of the prediction's power over 40-180 bpm and the
    reference HR's class (AutoHR's L_freq; PhysFormer's frequency loss).

    The power is divided by its mean over the band (``normalise="mean"``), so the logits do not
    depend on the prediction's scale, which the Pearson term leaves free. The AutoHR paper
    states no normalisation; its code is unreleased, and the same first author's released
    PhysFormer loss divides by the band's sum instead (``normalise="sum"``). Sum-normalised
    logits lie in [0, 1] and sum to one, so the softmax can never peak: with all the power in
    the true class that class gets e / (e + K - 1), about 2%, and the loss falls at most 1
    below log(K). The mean gives K times those logits (K classes: 141 here; 140 there, whose
    band stops at 179 bpm).
    """
    power = bpm_power(pred, fs, bpm_range, derivative)
    scale = power.mean(dim=-1, keepdim=True) if normalise == "mean" else power.sum(-1, True)
    logits = power / (scale + 1e-8)
    return nn.functional.cross_entropy(logits, hr_class(target, fs, bpm_range, derivative))
