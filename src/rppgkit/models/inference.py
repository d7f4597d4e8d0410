"""A trained network as a pulse estimator: long videos in overlapping windows, overlap-added.

Each window is normalised exactly as in training; window outputs are standardised and blended
with Hann weights (half-window hop), so window borders leave no steps; a network trained on
frame differences (DiffNormalized) has its output integrated back to a pulse at the end.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.clip.normalize import normalize_frames, to_pulse
from rppgkit.errors import RppgError
from rppgkit.models import create
from rppgkit.models.checkpoint import clip_spec, load_checkpoint, load_weights
from rppgkit.models.recipe import Recipe, create_recipe

BATCH = 4  # windows per forward pass


@dataclass(frozen=True)
class Network:
    """A trained model ready for inference."""

    name: str
    model: nn.Module
    recipe: Recipe
    spec: ClipSpec


def load_network(weights: str | os.PathLike, expect: str | None = None) -> Network:
    """The network stored in a checkpoint, in eval mode on the CPU (cached per file)."""
    p = Path(weights).resolve()
    mtime = p.stat().st_mtime_ns if p.exists() else 0
    net = _load(str(p), mtime)
    if expect is not None and net.name != expect:
        raise RppgError(
            f"{weights} holds a {net.name!r} model, not {expect!r}; use --method {net.name}"
        )
    return net


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: int) -> Network:
    state = load_checkpoint(path)
    model = create(state["model"]["name"], **state["model"]["options"])
    load_weights(model, state, path)
    model.eval()
    recipe = create_recipe(state["recipe"]["name"], **state["recipe"]["options"])
    return Network(state["model"]["name"], model, recipe, clip_spec(state))


def network_pulse(net: Network, crops: np.ndarray, fs: float) -> np.ndarray:
    """The pulse ``[N]`` of face crops ``[N, size, size, 3]`` sampled uniformly at `fs` Hz."""
    spec = net.spec
    n = len(crops)
    t = np.arange(n) / fs
    grid = np.arange(int(np.floor(t[-1] * spec.fs + 1e-6)) + 1) / spec.fs
    if len(grid) < 2:
        raise RppgError("the video is too short for a neural estimator")
    take = np.clip(np.round(grid * fs).astype(int), 0, n - 1)  # nearest frame at the net's rate
    window = spec.frames
    starts = window_starts(len(grid), window)
    weights = np.hanning(window + 2)[1:-1]
    total = np.zeros(max(len(grid), window))
    norm = np.zeros_like(total)
    for i in range(0, len(starts), BATCH):
        batch = starts[i : i + BATCH]
        clips = [normalize_frames(_window(crops, take, s, window), spec.norm) for s in batch]
        x = torch.from_numpy(np.stack(clips)).permute(0, 4, 1, 2, 3)
        with torch.inference_mode():
            out = net.recipe.predict(net.model, x).double().numpy()
        for s, y in zip(batch, out):
            total[s : s + window] += weights * (y - y.mean()) / (y.std() + 1e-8)
            norm[s : s + window] += weights
    pulse = to_pulse(total / np.maximum(norm, 1e-8), spec.norm)[: len(grid)]
    return np.interp(t, grid, pulse)


def window_starts(length: int, window: int) -> list[int]:
    """Half-overlapping windows covering every sample; the last one ends at the end."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, window // 2))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def _window(crops: np.ndarray, take: np.ndarray, start: int, window: int) -> np.ndarray:
    idx = take[start : start + window]
    if len(idx) < window:  # a video shorter than one window: repeat its last frame
        idx = np.concatenate([idx, np.full(window - len(idx), idx[-1])])
    return crops[idx]
