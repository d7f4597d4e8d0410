"""Face crops for neural estimators, on a uniform clock.

Training and inference cut faces the same way: the tracked face box of each frame (from the RGB
trace pass), made square, enlarged by `face_scale` about its centre (networks see some
background and the whole chin and forehead, as in rPPG-Toolbox's x1.5), resized with area
averaging to `size` px. Video measured with roi "frame" (already cropped to skin) is not cut:
the whole frame is resized to `size` px. Frames are placed on a uniform grid at `fs` by nearest
timestamp, so a dropped frame repeats its neighbour instead of shortening the clip.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import cv2
import numpy as np

from rppgkit.checks import Range, check_fields
from rppgkit.clip.normalize import NORMALIZATIONS as NORMS
from rppgkit.errors import NoFaceError, RppgError
from rppgkit.trace.extract import Roi, Trace
from rppgkit.video.reader import open_video


@dataclass(frozen=True)
class ClipSpec:
    """How a network's input clips are cut; stored in every checkpoint."""

    frames: int = 128  # clip length T
    size: int = 72  # crop side in px
    face_scale: float = 1.5  # crop side over the face box's longer side
    fs: float = 30.0  # clock the clips are resampled to (Hz)
    norm: str = "diffnormalized"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise RppgError(f"clip norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        check_fields(self, _CLIP_LIMITS)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


# ClipSpec field -> (its config key under data, accepted values)
_CLIP_LIMITS = {
    "frames": ("clip.frames", Range(8, whole=True)),
    "size": ("clip.size", Range(8, whole=True)),
    "face_scale": ("clip.face_scale", Range(0, above=True)),
    "fs": ("clip.fs", Range(0, above=True)),
}


def uniform_grid(times: np.ndarray, fs: float) -> np.ndarray:
    """Sample times at `fs` from the first to the last frame."""
    n = int(np.floor((times[-1] - times[0]) * fs + 1e-6)) + 1
    return times[0] + np.arange(n) / fs


def filled_boxes(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame face boxes with gaps filled from the nearest frame that has one, and a mask
    of the frames that had their own."""
    boxes = trace.boxes.astype(np.float64)
    have = np.isfinite(boxes[:, 0]) & np.isfinite(trace.rgb[:, 0])
    if not have.any():
        raise NoFaceError(f"no face found in {trace.info.path}; no face crops can be cut")
    idx = np.flatnonzero(have)
    return boxes[idx[nearest_index(idx, np.arange(len(boxes)))]], have


def crop_faces(
    trace: Trace,
    grid: np.ndarray,
    size: int,
    face_scale: float,
    out: np.ndarray | None = None,
    fps: float | None = None,
) -> np.ndarray:
    """Decode the trace's video again and cut the face crop (the whole frame, for a trace made
    with roi "frame") for each grid time.

    Returns uint8 ``[len(grid), size, size, 3]``, written into ``out`` when given (a memory map
    keeps long videos off the heap). ``fps`` must be the override the trace was made with.
    """
    boxes, _ = filled_boxes(trace)
    roi = trace.roi
    frame_of = nearest_index(trace.times, grid)
    if out is None:
        out = np.empty((len(grid), size, size, 3), np.uint8)
    starts = np.searchsorted(frame_of, np.arange(len(trace.times)), side="left")
    ends = np.searchsorted(frame_of, np.arange(len(trace.times)), side="right")
    for frame in open_video(trace.info.path, fps=fps).frames():
        i = frame.index
        if i >= len(trace.times):
            break
        if starts[i] < ends[i]:
            out[starts[i] : ends[i]] = clip_crop(frame.rgb, boxes[i], size, face_scale, roi)
    return out


def clip_crop(
    image: np.ndarray, box: np.ndarray, size: int, face_scale: float, roi: Roi = "face"
) -> np.ndarray:
    """One frame's (or mask's) network input: `square_crop` around the face box, or with roi
    "frame" the whole image resized to size x size, its aspect not kept (as rPPG-Toolbox does
    without face cropping), so that no skin at the edges is lost."""
    if roi == "frame":
        return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return square_crop(image, box, size, face_scale)


def square_bounds(box: np.ndarray, face_scale: float) -> tuple[int, int, int]:
    """Left, top and side (px) of the square crop around a face box (x, y, w, h)."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * face_scale
    return round(x + w / 2 - side / 2), round(y + h / 2 - side / 2), max(round(side), 1)


def square_crop(rgb: np.ndarray, box: np.ndarray, size: int, face_scale: float) -> np.ndarray:
    """The square around the box's centre, side face_scale x its longer side, edge-padded where
    it leaves the frame, resized to size x size."""
    x0, y0, s = square_bounds(box, face_scale)
    height, width = rgb.shape[:2]
    pad = max(0, -x0, -y0, x0 + s - width, y0 + s - height)
    if pad:
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    patch = rgb[y0 : y0 + s, x0 : x0 + s]
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


def nearest_index(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index into increasing `times` of the value nearest each of `grid`."""
    if len(times) == 1:
        return np.zeros(len(grid), dtype=np.int64)
    right = np.clip(np.searchsorted(times, grid), 1, len(times) - 1)
    left = right - 1
    return np.where(np.abs(times[left] - grid) <= np.abs(times[right] - grid), left, right)


def open_memmap(path: str | os.PathLike, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """A new .npy file mapped into memory for writing."""
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
