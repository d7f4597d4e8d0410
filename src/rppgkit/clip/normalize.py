"""Input and label normalisations of the rPPG literature, applied per clip.

- ``raw``: pixel values scaled to [0, 1]; the label standardised.
- ``diffnormalized`` (DeepPhys, rPPG-Toolbox): the normalised frame difference
  (x[t+1] - x[t]) / (x[t+1] + x[t]) divided by its standard deviation over the clip, so the network
  sees the relative colour change that carries the pulse; the label gets the same difference
  treatment (its derivative), and a zero step is appended to keep T samples.
- ``standardized``: zero mean, unit variance over the clip, for frames and label alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

Array = TypeVar("Array", np.ndarray, "torch.Tensor")

EPS = 1e-7
NORMALIZATIONS = ("raw", "diffnormalized", "standardized")


def normalize_frames(frames: Array, norm: str) -> Array:
    """A clip [T, H, W, 3] (uint8 or float) as float32 in the given normalisation.

    Takes a NumPy array or a PyTorch tensor (returned as the same kind, differentiable), so the
    video editor can optimise pixels through exactly what the network was trained on."""
    x = frames.astype(np.float32) if isinstance(frames, np.ndarray) else frames.float()
    if norm == "raw":
        return x / 255.0
    if norm == "diffnormalized":
        d = (x[1:] - x[:-1]) / (x[1:] + x[:-1] + EPS)
        out = x * 0  # the zero step appended at the end
        out[:-1] = d / (_std(d) + EPS)
        return out
    if norm == "standardized":
        return (x - x.mean()) / (_std(x) + EPS)
    raise ValueError(f"unknown normalisation {norm!r}; choose one of {', '.join(NORMALIZATIONS)}")


def _std(a: Array) -> Array:
    """Population standard deviation of all elements (NumPy's default; PyTorch's is sample)."""
    return ((a - a.mean()) ** 2).mean() ** 0.5


def normalize_label(label: np.ndarray, norm: str) -> np.ndarray:
    """A reference pulse [T] treated as the frames are in `norm`."""
    y = label.astype(np.float32)
    if norm == "diffnormalized":
        d = np.diff(y)
        d /= d.std() + EPS
        return np.append(d, np.float32(0.0))
    if norm in ("raw", "standardized"):
        return (y - y.mean()) / (y.std() + EPS)
    raise ValueError(f"unknown normalisation {norm!r}; choose one of {', '.join(NORMALIZATIONS)}")


def to_pulse(output: np.ndarray, norm: str) -> np.ndarray:
    """A network's output back to a pulse waveform: integrated where it learnt the derivative
    (slow wander of the integral is left to the band-pass of the HR stage)."""
    if norm == "diffnormalized":  # sample t holds x[t+1] - x[t]: the sum up to t-1 is x[t]
        return np.concatenate([[0.0], np.cumsum(output[:-1])])
    return np.asarray(output, float)
