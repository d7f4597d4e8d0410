"""`rppgkit enhance`: a compressed face video restored by a trained STVEN.

The face is tracked and cropped exactly as for training (the checkpoint's clip settings), in
one decoding pass; the crop sequence is restored to level 0 in half-overlapping windows blended
with Hann weights, and the restored face video is written losslessly (FFV1): a lossy re-encode
would undo the work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rppgkit.clip.crop import crop_recorder
from rppgkit.dsp import hann_overlap_add, uniform_grid, window_starts
from rppgkit.errors import NoFaceError, RppgError
from rppgkit.fileio import check_distinct, prepared_output, scratch_array
from rppgkit.models.inference import load_network
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import open_video
from rppgkit.video.writer import VideoWriter


@dataclass(frozen=True)
class Enhanced:
    path: Path
    frames: int
    size: int
    fps: float


def enhance_video(
    video: str | os.PathLike,
    out: str | os.PathLike,
    weights: str | os.PathLike,
    detector: str = "yunet",
    fps: float | None = None,
    on_window: Callable[[int, int], None] | None = None,
) -> Enhanced:
    """Write the STVEN-restored face crops of `video` to `out` (.mkv, lossless);
    `on_window(index, total)` is called after each restored window.

    `out` must not be `video`; its folder is created if missing (and removed again if the run
    fails) and must be writable, both checked before any work. The face crops live in unnamed
    temporary files, so nothing of the face is left behind however the run ends.
    """
    target = Path(out)
    if target.suffix.lower() != ".mkv":
        raise RppgError(f"{target}: write the enhanced video as .mkv (lossless FFV1)")
    check_distinct(target, video)
    with prepared_output(target):
        net = load_network(weights)
        model = net.task.network
        stven = model if net.name == "stven" else getattr(model, "stven", None)
        if stven is None:
            raise RppgError(f"{weights} holds a {net.name!r} model; enhance needs STVEN weights")
        spec = net.spec
        with crop_recorder(spec.size, spec.face_scale) as recorder:  # one decoding pass
            trace = extract_trace(open_video(video, fps=fps), detector, on_face=recorder)
            per_frame = recorder.crops()
        if trace.face_fraction == 0:
            raise NoFaceError(f"no face found in {video}; enhance restores the face region")
        grid = uniform_grid(trace.times, spec.fs)
        crops = scratch_array((len(grid), spec.size, spec.size, 3), np.uint8)
        per_frame.on_grid(trace.times, grid, out=crops)
        restored = _restore(stven, crops, spec.frames, on_window)
        with VideoWriter(target, spec.fs) as writer:
            for i, frame in enumerate(restored):
                writer.write(frame, float(grid[i] - grid[0]))
    return Enhanced(target, len(grid), spec.size, spec.fs)


def _restore(
    stven: torch.nn.Module,
    crops: np.ndarray,
    frames: int,
    on_window: Callable[[int, int], None] | None,
) -> np.ndarray:
    """Restore `crops` ``[N, S, S, 3]`` in half-overlapping windows of `frames`, blended with
    Hann weights; return the restored frames as uint8, in an unnamed temporary file."""
    windows = _restored_windows(stven, crops, frames, on_window)
    blended = hann_overlap_add(windows, len(crops), out=scratch_array(crops.shape, np.float32))
    restored = scratch_array(crops.shape, np.uint8)
    for i in range(len(crops)):
        restored[i] = np.round(blended[i] * 255.0)
    return restored


def _restored_windows(
    stven: torch.nn.Module,
    crops: np.ndarray,
    frames: int,
    on_window: Callable[[int, int], None] | None,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, restored [frames, S, S, 3] in 0..1)`` of each window; a window longer than the
    video repeats its last frame. `on_window(index, total)` follows each blended window."""
    n = len(crops)
    starts = window_starts(n, frames)
    for i, start in enumerate(starts):
        idx = np.minimum(np.arange(start, start + frames), n - 1)
        x = torch.from_numpy(crops[idx].astype(np.float32) / 255.0)
        with torch.inference_mode():
            y = stven(x.permute(3, 0, 1, 2)[None], 0)[0].permute(1, 2, 3, 0).clamp(0, 1)
        yield start, y.numpy()
        if on_window is not None:
            on_window(i, len(starts))
