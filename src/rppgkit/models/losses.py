"""Losses shared by the papers: negative Pearson in time, cross-entropy over the HR spectrum,
normalised power spectra and a differentiable heart rate (self-supervised losses).

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


def normalised_psd(
    x: torch.Tensor, fs: float, band_hz: tuple[float, float], derivative: bool = False
) -> torch.Tensor:
    """The power spectrum of each signal in `band_hz`, normalised to sum to one: ``[B, K]``.

    ``|rFFT(x - mean)|^2`` at the FFT's own bins (``fs / T`` apart, no window, no padding)
    inside the band, divided by their sum: the spectrum that self-supervised losses compare
    (Gideon and Stent 2021; lfa-rea's L_fc and L_fa, Yue et al. 2022), so only its shape counts,
    not the signal's gain. ``derivative=True`` integrates frame differences first, as
    `bpm_power` does.

    Parameters
    ----------
    x
        Signals ``[B, T]`` sampled at `fs` Hz.
    fs
        Their rate, Hz.
    band_hz
        (low, high) Hz; the bins kept, both ends included. It must hold at least one bin.
    derivative
        Whether `x` holds frame differences (DiffNormalized).

    Returns
    -------
    The normalised band power, K the number of bins in the band.
    """
    if derivative:
        x = _detrend_linear(torch.cumsum(x, dim=-1))
    x = x.float()
    power = torch.fft.rfft(x - x.mean(dim=-1, keepdim=True), dim=-1).abs() ** 2
    freqs = torch.fft.rfftfreq(x.shape[-1], 1.0 / fs).to(x.device)
    inside = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    if not bool(inside.any()):
        raise ValueError(f"no FFT bin of a {x.shape[-1]}-sample signal lies in {band_hz} Hz")
    band = power[..., inside]
    return band / (band.sum(dim=-1, keepdim=True) + 1e-12)


def soft_hr(
    x: torch.Tensor,
    fs: float,
    bpm_range: tuple[int, int] = BPM_RANGE,
    derivative: bool = False,
    temperature: float = 0.25,
) -> torch.Tensor:
    """A differentiable heart rate of each signal (bpm): the soft-argmax of its log spectrum.

    The bpm values are averaged with ``softmax(log P / temperature)`` as weights, P the power
    at every whole bpm (`bpm_power`): each rate weighs ``P^(1 / temperature)``. At 0.25 a rate
    with half the peak's power weighs 1/16 of it, so on a clear peak the result is the peak's
    rate (interpolated between whole bpm) and a noise floor barely pulls it. The weights fall
    as a power of P, not exponentially, so the gradient still reaches rates far from the
    current peak: a loss on this rate can grow a new peak elsewhere, which a sharp softmax of
    the linear power (or a NumPy estimate) cannot.

    Parameters
    ----------
    x
        Signals ``[B, T]`` sampled at `fs` Hz.
    fs
        Their rate, Hz.
    bpm_range
        The rates considered, bpm.
    derivative
        Whether `x` holds frame differences (DiffNormalized).
    temperature
        Softness; towards 0 the hard argmax, at 1 the power-weighted mean rate.

    Returns
    -------
    The rates ``[B]``, bpm, inside `bpm_range`.
    """
    power = bpm_power(x, fs, bpm_range, derivative)
    scale = power.amax(dim=-1, keepdim=True).detach() + 1e-20  # a gain that leaves P^k's shape
    weights = torch.softmax(torch.log(power / scale + 1e-12) / temperature, dim=-1)
    bpm = torch.arange(bpm_range[0], bpm_range[1] + 1, device=x.device, dtype=torch.float32)
    return (weights * bpm).sum(dim=-1)
