"""Face crops for neural estimators, on a uniform clock.

Training and inference cut faces the same way: the tracked face box of each frame (from the RGB
trace pass), made square, enlarged by `face_scale` about its centre (networks see some
background and the whole chin and forehead, as in rPPG-Toolbox's x1.5), resized with area
averaging to `size` px. Video measured with roi "frame" (already cropped to skin) is not cut:
the whole frame is resized to `size` px. Frames are placed on a uniform grid at `fs` by nearest
timestamp, so a dropped frame repeats its neighbour instead of shortening the clip.

Crops are cut in the decoding pass that makes the trace (`crop_recorder` gives `extract_trace`
its ``on_face`` callback); a trace made without one has its video decoded again (`recut_crops`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from rppgkit.checks import Range, check_fields
from rppgkit.clip.normalize import NORMALIZATIONS as NORMS
from rppgkit.dsp import uniform_grid as uniform_grid  # re-exported: the clip clock
from rppgkit.errors import NoFaceError, RppgError
from rppgkit.fileio import RecordFiles, record_files
from rppgkit.trace.extract import Roi, Trace
from rppgkit.video.reader import open_video

GRID_BLOCK = 1024  # crops copied onto the grid at a time: bounded memory on long videos


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


def filled_boxes(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame face boxes with gaps filled from the nearest frame that has one, and a mask
    of the frames that had their own."""
    boxes = trace.boxes.astype(np.float64)
    have = np.isfinite(boxes[:, 0]) & np.isfinite(trace.rgb[:, 0])
    if not have.any():
        raise NoFaceError(f"no face found in {trace.info.path}; no face crops can be cut")
    idx = np.flatnonzero(have)
    return boxes[idx[nearest_index(idx, np.arange(len(boxes)))]], have


@dataclass(frozen=True)
class FrameCrops:
    """Every frame's network input (face crop, or whole frame with roi "frame"), frame by frame.

    Made by a `CropRecorder` during the trace's decoding pass, or by `recut_crops`.
    """

    frames: np.ndarray  # [N, size, size, 3] uint8, one per trace frame; zeros where not `have`
    have: np.ndarray  # [N] bool: the frame had a face box to cut
    size: int  # crop side in px
    face_scale: float  # crop side over the face box's longer side

    def on_grid(
        self, times: np.ndarray, grid: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The crops on a uniform clock: for each grid time, the crop of the nearest frame.

        Parameters
        ----------
        times : np.ndarray
            ``[N]`` the frames' times in seconds (the trace's).
        grid : np.ndarray
            ``[M]`` increasing sample times in seconds.
        out : np.ndarray, optional
            ``[M, size, size, 3]`` uint8 to fill (a memory map keeps long videos off the heap).

        Returns
        -------
        np.ndarray
            ``[M, size, size, 3]`` uint8 (`out` when given). A frame without a face lends its
            place to the nearest frame that has one, so a lost face repeats instead of going
            black; those samples are marked invalid downstream anyway.
        """
        with_face = np.flatnonzero(self.have)
        if not with_face.size:
            raise NoFaceError("no frame has a face box; no face crops can be cut")
        nearest_face = with_face[nearest_index(with_face, np.arange(len(self.have)))]
        frame_of = nearest_face[nearest_index(times, grid)]
        if out is None:
            out = np.empty((len(grid), self.size, self.size, 3), np.uint8)
        for lo in range(0, len(grid), GRID_BLOCK):
            out[lo : lo + GRID_BLOCK] = self.frames[frame_of[lo : lo + GRID_BLOCK]]
        return out


class CropRecorder:
    """An ``on_face`` callback for `extract_trace` that cuts each frame's network input as the
    video streams by, into an unnamed scratch file (see `crop_recorder`)."""

    def __init__(self, files: RecordFiles, size: int, face_scale: float, roi: Roi) -> None:
        self._files, self._have = files, bytearray()
        self.size, self.face_scale, self.roi = size, face_scale, roi

    def __call__(self, rgb: np.ndarray, box: np.ndarray | None, skin: np.ndarray | None) -> None:
        """Cut one frame at its face box (x, y, w, h); a blank record without one."""
        self._have.append(box is not None)
        if box is None:
            self._files.append_blank()
        else:
            self._files.append("crops", clip_crop(rgb, box, self.size, self.face_scale, self.roi))

    def crops(self) -> FrameCrops:
        """The crops cut so far, memory-mapped read-only (the map outlives the recorder)."""
        frames = self._files.arrays()["crops"]
        return FrameCrops(
            frames, np.frombuffer(self._have, bool).copy(), self.size, self.face_scale
        )


@contextlib.contextmanager
def crop_recorder(size: int, face_scale: float, roi: Roi = "face") -> Iterator[CropRecorder]:
    """A `CropRecorder` writing to an unnamed temporary file, closed when the block ends.

    Parameters
    ----------
    size : int
        Crop side in px.
    face_scale : float
        Crop side over the face box's longer side.
    roi : Roi
        The trace's region: with "frame" whole frames are resized instead of cut.

    Returns
    -------
    Iterator[CropRecorder]
        The recorder, to hand to `extract_trace` as ``on_face``; take `crops()` in the block.
    """
    with record_files({"crops": ((size, size, 3), np.uint8)}) as files:
        yield CropRecorder(files, size, face_scale, roi)


def recut_crops(trace: Trace, size: int, face_scale: float) -> FrameCrops:
    """Decode the trace's video again and cut every frame at the trace's face boxes.

    For a trace made without a `CropRecorder` (a cached one); the crops equal those the
    recorder would have cut in the trace's own pass.

    Parameters
    ----------
    trace : Trace
        The trace; its video is opened with the frame rate it was made with.
    size, face_scale : int, float
        As for `crop_recorder`.

    Returns
    -------
    FrameCrops
        One crop per trace frame, memory-mapped.
    """
    with crop_recorder(size, face_scale, trace.roi) as recorder:
        for frame in open_video(trace.info.path, fps=trace.fps_override).frames():
            if frame.index >= trace.n_frames:
                break
            box = trace.boxes[frame.index]
            recorder(frame.rgb, box if np.isfinite(box[0]) else None, None)
        crops = recorder.crops()
    if len(crops.frames) < trace.n_frames:
        raise RppgError(
            f"{trace.info.path} has fewer frames than when its trace was made; it changed since, "
            "so extract the trace again"
        )
    return crops


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
