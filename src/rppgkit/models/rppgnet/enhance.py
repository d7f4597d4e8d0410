"""`rppgkit enhance`: a compressed face video restored by a trained STVEN.

The face is tracked and cropped exactly as for training (the checkpoint's clip settings), the
crop sequence is restored to level 0 in half-overlapping windows blended with Hann weights, and
the restored face video is written losslessly (FFV1): a lossy re-encode would undo the work.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rppgkit.clip.crop import crop_faces, open_memmap, uniform_grid
from rppgkit.errors import NoFaceError, RppgError
from rppgkit.models.inference import load_network, window_starts
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
    `on_window(index, total)` is called after each restored window."""
    target = Path(out)
    if target.suffix.lower() != ".mkv":
        raise RppgError(f"{target}: write the enhanced video as .mkv (lossless FFV1)")
    net = load_network(weights)
    stven = net.model if net.name == "stven" else getattr(net.model, "stven", None)
    if stven is None:
        raise RppgError(f"{weights} holds a {net.name!r} model; enhance needs STVEN weights")
    spec = net.spec
    trace = extract_trace(open_video(video, fps=fps), detector)
    if trace.face_fraction == 0:
        raise NoFaceError(f"no face found in {video}; enhance restores the face region")
    grid = uniform_grid(trace.times, spec.fs)
    n, size = len(grid), spec.size
    with tempfile.TemporaryDirectory(prefix="rppgkit-enhance-") as tmp:
        crops = open_memmap(Path(tmp) / "crops.npy", (n, size, size, 3), "uint8")
        crop_faces(trace, grid, size, spec.face_scale, out=crops, fps=fps)
        total = open_memmap(Path(tmp) / "sum.npy", (n, size, size, 3), "float32")
        weight = np.zeros(n, np.float32)
        hann = np.hanning(spec.frames + 2)[1:-1].astype(np.float32)
        starts = window_starts(n, spec.frames)
        for i, start in enumerate(starts):
            idx = np.minimum(np.arange(start, start + spec.frames), n - 1)
            x = torch.from_numpy(crops[idx].astype(np.float32) / 255.0)
            with torch.inference_mode():
                y = stven(x.permute(3, 0, 1, 2)[None], 0)[0].permute(1, 2, 3, 0).clamp(0, 1)
            keep = min(spec.frames, n - start)
            w = hann[:keep]
            total[start : start + keep] += w[:, None, None, None] * y[:keep].numpy()
            weight[start : start + keep] += w
            if on_window is not None:
                on_window(i, len(starts))
        with VideoWriter(target, spec.fs) as writer:
            for i in range(n):
                frame = total[i] / max(float(weight[i]), 1e-8) * 255.0
                writer.write(np.round(frame).astype(np.uint8), float(grid[i] - grid[0]))
        del crops, total
    return Enhanced(target, n, size, spec.fs)
