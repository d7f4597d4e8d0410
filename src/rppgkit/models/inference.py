"""A trained network as a pulse estimator: long videos in overlapping windows, overlap-added.

Each window is normalised exactly as in training; window outputs are standardised and blended
with Hann weights (half-window hop), so window borders leave no steps; a network trained on
frame differences (DiffNormalized) has its output integrated back to a pulse at the end.
"""

from __future__ import annotations

import copy
import functools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from rppgkit.clip import ClipSpec
from rppgkit.clip.normalize import normalize_frames, to_pulse
from rppgkit.dsp import hann_overlap_add, uniform_grid, window_starts
from rppgkit.errors import RppgError
from rppgkit.models import create_task
from rppgkit.models.checkpoint import clip_spec, load_checkpoint, load_task_weights
from rppgkit.models.task import Task

BATCH = 4  # windows per forward pass


@dataclass(frozen=True)
class Network:
    """A trained network ready for inference: its task (which predicts, and may adapt a copy
    of itself to a video) and the clip format it reads. Loaded networks are shared (cached per
    file): whoever changes one works on `copy()`."""

    name: str
    task: Task  # in eval mode, on the CPU
    spec: ClipSpec

    def copy(self) -> Network:
        """An independent copy, for callers that change weights or their gradient flags."""
        return replace(self, task=copy.deepcopy(self.task))


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
    model, task = state["model"], state["task"]
    loaded = create_task(model["name"], model["options"], task["name"], task["options"])
    load_task_weights(loaded, state, path)
    loaded.eval()
    return Network(model["name"], loaded, clip_spec(state))


def network_pulse(
    net: Network,
    crops: np.ndarray,
    fs: float,
    adapt: bool = True,
    on_adapt: Callable[[float], None] | None = None,
) -> np.ndarray:
    """The pulse ``[N]`` of face crops ``[N, size, size, 3]`` sampled uniformly at `fs` Hz.

    A transductive network first adapts a copy of itself to these crops (the loaded one is
    left as it is) unless `adapt` is False; `on_adapt` then receives the seconds that took.
    """
    spec = net.spec
    t = np.arange(len(crops)) / fs
    grid = uniform_grid(t, spec.fs)
    if len(grid) < 2:
        raise RppgError("the video is too short for a neural estimator")
    take = np.clip(np.round(grid * fs).astype(int), 0, len(crops) - 1)  # nearest at the net's rate
    windows = functools.partial(_windows, spec, crops, take)
    start = time.perf_counter()
    task = net.task.adapt(clips for _, clips in windows()) if adapt else net.task
    if task is not net.task and on_adapt is not None:
        on_adapt(time.perf_counter() - start)
    blended = hann_overlap_add(_window_outputs(task, windows()), len(grid))
    return np.interp(t, grid, to_pulse(blended, spec.norm))


def window_clips(spec: ClipSpec, crops: np.ndarray) -> Iterator[torch.Tensor]:
    """The normalised clips ``[b, 3, T, H, W]`` of the half-overlapping windows of crops
    ``[N, size, size, 3]`` already on the network's clock, as inference reads them (what
    `Task.adapt` is given).

    Parameters
    ----------
    spec
        The network's clip format.
    crops
        Face crops sampled at ``spec.fs``.

    Returns
    -------
    The batches, `BATCH` windows at a time.
    """
    return (clips for _, clips in _windows(spec, crops, np.arange(len(crops))))


def _windows(
    spec: ClipSpec, crops: np.ndarray, take: np.ndarray
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """The half-overlapping windows of the frames `take`, `BATCH` at a time: their starts and
    the normalised clips ``[b, 3, T, H, W]``."""
    starts = window_starts(len(take), spec.frames)
    for i in range(0, len(starts), BATCH):
        batch = starts[i : i + BATCH]
        clips = [normalize_frames(_window(crops, take, s, spec.frames), spec.norm) for s in batch]
        yield batch, torch.from_numpy(np.stack(clips)).permute(0, 4, 1, 2, 3)


def _window_outputs(
    task: Task, windows: Iterator[tuple[list[int], torch.Tensor]]
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, output)`` of each window; each output is standardised, so windows of different
    gain blend evenly."""
    for batch, x in windows:
        with torch.inference_mode():
            out = task.predict(x).double().numpy()
        for s, y in zip(batch, out):
            yield s, (y - y.mean()) / (y.std() + 1e-8)


def _window(crops: np.ndarray, take: np.ndarray, start: int, window: int) -> np.ndarray:
    """The `window` crops of frames ``take[start:]``, the last repeated past the end."""
    idx = take[start : start + window]
    if len(idx) < window:  # a video shorter than one window: repeat its last frame
        idx = np.concatenate([idx, np.full(window - len(idx), idx[-1])])
    return crops[idx]
