"""AutoHR's two augmentations, on collated batches on the training device.

- *Spatio-temporal cutout*: a tube of the clip -- a box of under 20% of the frame area, for
  under 20% of the clip's frames -- is erased (set to zero), as when head motion hides part of
  the face for a moment, so the network learns not to rely on one region or moment.
- *Conditional temporal resampling*: the heart rates of real datasets bunch around 70-90 bpm
  (VIPL-HR's histogram is an inverted V). A clip above 90 bpm is stretched to twice its length
  in time (its rate halves), one below 70 bpm is squeezed to half (its rate doubles), so the
  rare slow and fast rates are seen more. Clip and label are warped alike.

A squeezed clip needs twice its own frames, which a batch does not hold: the clip is read on
periodically, wrapping back by the largest whole number of its beats that fits in it, so the
continuation keeps the pulse's phase (a mirror image would not: reflected at a zero crossing
the wave changes sign, and the spectral peak splits). Slow changes of the background jump
back at the seam. Frame differences (DiffNormalized) are warped as the video they difference:
each new difference is the change of the summed-up signal over one warped step. Every warped
tensor is put back into its normalisation, so a warped clip looks as if it had been cut from a
warped video.

Randomness comes from a `torch.Generator`, so each draw repeats from its seed.
"""

from __future__ import annotations

import math

import torch

from rppgkit.models.losses import BPM_RANGE, hr_class

CUTOUT_SIZE = 0.2  # largest share of the frame area, and of the clip length, a tube covers
FAST_BPM, SLOW_BPM = 90.0, 70.0  # resampling thresholds: stretched above, squeezed below


def cutout(
    clip: torch.Tensor, probability: float, generator: torch.Generator, size: float = CUTOUT_SIZE
) -> torch.Tensor:
    """Clips with one tube erased from each, with `probability` each.

    Parameters
    ----------
    clip
        Clips ``[B, C, T, H, W]``.
    probability
        Chance that a clip loses a tube.
    generator
        Source of the draws (on the clips' device).
    size
        Largest share of the frames, and of the frame area, a tube covers (each side of its
        box at most ``sqrt(size)`` of the frame's); at least one pixel and one frame.

    Returns
    -------
    The clips, the tubes set to zero.
    """
    b, _, t, h, w = clip.shape
    draws = torch.rand(b, 7, generator=generator, device=clip.device)
    spans = [(t, size), (h, size**0.5), (w, size**0.5)]
    mask = (draws[:, 6] < probability).view(b, 1, 1, 1)
    for axis, (length, share) in enumerate(spans):
        extent = (draws[:, 2 * axis] * share * length).floor().clamp(min=1)
        start = (draws[:, 2 * axis + 1] * (length - extent + 1)).floor()
        position = torch.arange(length, device=clip.device).view(1, -1)
        inside = (position >= start[:, None]) & (position < (start + extent)[:, None])
        shape = [b, 1, 1, 1]
        shape[axis + 1] = length
        mask = mask & inside.view(shape)
    return clip.masked_fill(mask[:, None], 0.0)


def resample_by_rate(
    clip: torch.Tensor,
    label: torch.Tensor,
    fs: float,
    norm: str,
    probability: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fast clips stretched x2 and slow ones squeezed x1/2 in time, labels alike.

    Parameters
    ----------
    clip, label
        Clips ``[B, C, T, H, W]`` and their reference pulses ``[B, T]``.
    fs
        Their sampling rate, Hz.
    norm
        Their normalisation (`rppgkit.clip.normalize`); warped tensors are put back into it.
    probability
        Chance that a clip above `FAST_BPM` or below `SLOW_BPM` (its label's spectral peak
        over `BPM_RANGE`) is resampled.
    generator
        Source of the draws (on the clips' device).

    Returns
    -------
    The clips and labels, the chosen ones warped.
    """
    derivative = norm == "diffnormalized"
    bpm = hr_class(label, fs, BPM_RANGE, derivative).float() + BPM_RANGE[0]
    chosen = torch.rand(len(label), generator=generator, device=label.device) < probability
    clips, labels = list(clip), list(label)
    for i in range(len(label)):
        step = 0.5 if bpm[i] > FAST_BPM else 2.0 if bpm[i] < SLOW_BPM else 1.0
        if step != 1.0 and chosen[i]:
            beat = 60.0 * fs / float(bpm[i])  # samples per beat
            warped = time_warp(clip[i], 1, step, beat, derivative)
            clips[i] = _renormalised(warped, norm, frames=True)
            warped = time_warp(label[i], 0, step, beat, derivative)
            labels[i] = _renormalised(warped, norm, frames=False)
    return torch.stack(clips), torch.stack(labels)


def time_warp(
    x: torch.Tensor, dim: int, step: float, beat: float, derivative: bool
) -> torch.Tensor:
    """`x` read every `step` samples along `dim`, linearly interpolated.

    Parameters
    ----------
    x
        The signal; `dim` is its time axis.
    step
        Samples read per output sample: 0.5 plays it twice as slow, 2 twice as fast.
    beat
        Its pulse period in samples: past its end the reading wraps back by the largest
        whole number of beats that fits (by the whole signal if not one beat does).
    derivative
        `x` holds frame differences with a zero appended (DiffNormalized); they are warped as
        the signal they difference.

    Returns
    -------
    The warped signal, as long as `x`.
    """
    n = x.shape[dim]
    whole = math.floor((n - 1) / beat) * beat
    position = (torch.arange(n, device=x.device, dtype=torch.float32) * step) % (whole or n - 1)
    if not derivative:
        return _at(x, dim, position)
    level = _levels(x, dim)
    change = _at(level, dim, position + step) - _at(level, dim, position)
    return torch.cat(
        [change.narrow(dim, 0, n - 1), torch.zeros_like(change.narrow(dim, 0, 1))], dim
    )


def _at(x: torch.Tensor, dim: int, position: torch.Tensor) -> torch.Tensor:
    """`x` linearly interpolated at fractional `position` along `dim` (held at the ends)."""
    n = x.shape[dim]
    position = position.clamp(0, n - 1)
    low = position.floor().long().clamp(max=n - 2)
    frac = (position - low).view([-1 if d == dim else 1 for d in range(x.dim())])
    return x.index_select(dim, low) * (1 - frac) + x.index_select(dim, low + 1) * frac


def _levels(x: torch.Tensor, dim: int) -> torch.Tensor:
    """The signal whose differences `x` holds (its last sample, the appended zero, dropped)."""
    steps = x.narrow(dim, 0, x.shape[dim] - 1)
    return torch.cat([torch.zeros_like(x.narrow(dim, 0, 1)), steps.cumsum(dim)], dim)


def _renormalised(x: torch.Tensor, norm: str, frames: bool) -> torch.Tensor:
    """`x` back in normalisation `norm` (rppgkit.clip.normalize): frames of ``raw`` stay pixel
    values; differences are scaled to unit deviation; anything else is standardised."""
    if frames and norm == "raw":
        return x
    centred = x if norm == "diffnormalized" else x - x.mean()
    return centred / (centred.std(correction=0) + 1e-7)
