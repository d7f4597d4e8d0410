"""From video frames to an RGB trace: the mean colour of the face's skin in each frame.

The region is the tracked face box (`roi="face"`) or, for video already cropped to skin (a
forehead or palm patch, datasets' face crops), the whole frame (`roi="frame"`). There no
detector runs; the skin model, learnt from the frame's centre at the detector's cadence, still
drops non-skin pixels such as a dark background around a palm. Where its mask covers less than
FRAME_MIN_SKIN of the frame, the whole frame is averaged instead of giving NaN: the user has
said the frame is skin, so a mask that small more likely means the model has lost the colour (a
sudden change of light, which it follows only over seconds; a flat patch it was not made for)
than that the skin has gone. A NaN would cost every HR window around the frame, while the
whole-frame mean is what rPPG-Toolbox and pyVHR measure on such video anyway; a step where the
trace switches between the two means costs one estimator window at most.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import cv2
import numpy as np

from rppgkit.errors import RppgError
from rppgkit.face.detect import Box, bounds, create_detector
from rppgkit.face.skin import SkinModel
from rppgkit.face.track import (
    CROP_DETECT_EVERY,
    DETECT_EVERY,
    DETECT_EVERY_LARGE,
    FaceStatus,
    FaceTracker,
)
from rppgkit.fileio import atomic_path
from rppgkit.video.reader import FileVideo, Frame, FrameFolder, VideoInfo

MIN_SKIN_PIXELS = 25
FRAME_MIN_SKIN = 0.1  # roi "frame": a smaller skin mask is not trusted (see above)
Roi = Literal["face", "frame"]
ROIS: tuple[str, ...] = get_args(Roi)
# Part of every cache key built on traces or face crops: raise it when the face path (tracker,
# skin model) changes what it measures, so caches written by the old one are rebuilt.
# 2: the face box follows image registration; a slower, wider skin model.
# 3: frames turned upright by rotation metadata; frame-folder names read as times only when they
#    are a clock; the decoder's error reports counted.
# 4: detections every 4th frame for traces (every 2nd for crops), registration to 0.01 scaled
#    px, YUV frames converted in the face region alone.
# 5: faces at least LARGE_FACE_PX wide detected every DETECT_EVERY_LARGE frames for traces;
#    registration regions scaled by block averages and a bilinear warp.
FACE_PATH_VERSION = 5
SKIN_ADAPT_PER_FRAME = 0.01  # the skin model's weight per detection, over frames between them
NO_COLOUR = (float("nan"),) * 3
GREY_LEVELS = 1.0  # largest spread (8-bit levels) of a frame's mean R, G, B for it to be grey
NO_BOX = (float("nan"),) * 4
FaceCallback = Callable[[np.ndarray, np.ndarray | None, np.ndarray | None], None]
"""``on_face(rgb, box, skin)``: a frame, its face box (x, y, w, h) and full-frame skin mask."""


@dataclass(frozen=True)
class Preview:
    """One frame with its face box and skin mask, for reports."""

    time_s: float
    rgb: np.ndarray
    box: np.ndarray  # x, y, w, h
    skin: np.ndarray  # [H, W] bool, full frame


@dataclass(frozen=True)
class Trace:
    """Per-frame measurements of a video, at the video's own (possibly irregular) timestamps."""

    info: VideoInfo
    times: np.ndarray  # [N] s
    rgb: np.ndarray  # [N, 3] mean skin RGB, NaN where no usable face
    status: np.ndarray  # [N] FaceStatus codes; FRAME throughout with roi "frame"
    boxes: np.ndarray  # [N, 4] x, y, w, h; NaN where missing; the full frame with roi "frame"
    skin_fraction: np.ndarray  # [N] share of the box averaged as skin
    preview: Preview | None
    elapsed_s: float = float("nan")  # wall time taken to stream the video into this trace
    decode_errors: int = 0  # errors the decoder reported (damaged data it concealed)

    @property
    def n_frames(self) -> int:
        return len(self.times)

    @property
    def fps_override(self) -> float | None:
        """The frame rate the trace's frames were spaced at by ``--fps`` (``open_video(path,
        fps)``), or None when their times came from the video: decoding the video again, or
        resampling the trace, must use the same, and the trace is where it is kept."""
        return self.info.fps if self.info.time_source == "--fps" else None

    @property
    def roi(self) -> Roi:
        """The region measured: "frame" when the trace was made from whole frames."""
        return "frame" if self.n_frames and self.status[0] == FaceStatus.FRAME else "face"

    @property
    def face_fraction(self) -> float:
        """Share of frames with a usable face (detected, tracked or bridged, with skin)."""
        return float(np.mean(~np.isnan(self.rgb[:, 0]))) if self.n_frames else 0.0

    def gaps(self, min_s: float) -> list[tuple[float, float]]:
        """Intervals (start, end) in seconds without a usable face lasting at least `min_s`."""
        ok = ~np.isnan(self.rgb[:, 0])
        out, start = [], None
        for t, good in zip(self.times, ok):
            if not good and start is None:
                start = t
            elif good and start is not None:
                if t - start >= min_s:
                    out.append((float(start), float(t)))
                start = None
        if start is not None and self.times[-1] - start >= min_s:
            out.append((float(start), float(self.times[-1])))
        return out

    def frame_gaps(self, min_s: float) -> list[tuple[float, float]]:
        """Holes in time: intervals (start, end) in seconds at least `min_s` long between two
        consecutive frames, where the camera or the file lost frames. A face before and after
        does not fill them: nothing was seen in between."""
        at = np.flatnonzero(np.diff(self.times) >= min_s)
        return [(float(self.times[i]), float(self.times[i + 1])) for i in at]

    @property
    def greyscale(self) -> bool:
        """True when the skin has no colour: red, green and blue means equal in every frame
        within GREY_LEVELS (a greyscale video, or colour lost in encoding)."""
        seen = self.rgb[~np.isnan(self.rgb[:, 0])]
        return bool(seen.size) and float(np.ptp(seen, axis=1).max()) < GREY_LEVELS


def check_roi(roi: str) -> None:
    """Raise RppgError unless `roi` is a region the trace can be measured in."""
    if roi not in ROIS:
        raise RppgError(
            f"unknown --roi {roi!r}; choose face (a detected face) or frame (the whole frame, "
            "for video already cropped to skin)"
        )


@dataclass(frozen=True)
class FrameSample:
    """What the face path measured on one frame."""

    time_s: float
    rgb: tuple[float, float, float]  # mean skin colour; NaN without a usable face
    status: FaceStatus
    box: Box | None  # the face box (the whole frame with roi "frame")
    skin_fraction: float  # share of the box averaged as skin
    skin: np.ndarray | None = None  # [H, W] bool full-frame mask, when asked for (`full_masks`)


class SkinMeter:
    """The face path, one frame at a time: track the face, segment its skin, average its colour.

    It keeps the tracker's and the skin model's state from frame to frame, so it serves a file
    (`extract_trace`) and a live stream (`rppgkit.live`) alike. With ``full_masks`` each sample
    carries its full-frame skin mask (for cutting face crops in the same pass). `detect_every`
    None detects every DETECT_EVERY frames, or every CROP_DETECT_EVERY where a network will
    read face crops at the boxes (``reads_crops`` or ``full_masks``): the cadence the region is
    read at (see `rppgkit.face.track`).
    """

    def __init__(
        self,
        detector: str = "yunet",
        detect_every: int | None = None,
        max_gap_s: float = 1.0,
        roi: Roi = "face",
        full_masks: bool = False,
        reads_crops: bool = False,
    ) -> None:
        check_roi(roi)
        large = None
        if detect_every is None:  # the cadence the region is read at (rppgkit.face.track)
            crops = reads_crops or full_masks
            detect_every = CROP_DETECT_EVERY if crops else DETECT_EVERY
            large = None if crops else DETECT_EVERY_LARGE
        self.tracker = (
            FaceTracker(create_detector(detector), detect_every, max_gap_s, every_large=large)
            if roi == "face"
            else None
        )
        self.skin = SkinModel()
        self.detect_every, self.full_masks = detect_every, full_masks
        self._last_skin: tuple[tuple[int, int, int, int], np.ndarray] | None = None

    def __call__(self, frame: Frame) -> FrameSample:
        """Measure one frame (frames must come in order)."""
        picture = frame.picture
        if self.tracker is None:
            height, width = picture.shape
            box, state = Box(0.0, 0.0, float(width), float(height)), FaceStatus.FRAME
        else:
            box, state = self.tracker.update(picture, frame.time_s)
        self._last_skin = None
        empty = FrameSample(frame.time_s, NO_COLOUR, state, box, 0.0)
        if box is None:
            return empty
        x0, y0, x1, y1 = bounds(picture.shape, box)
        if x1 <= x0 or y1 <= y0:
            return empty
        patch = picture.crop_rgb((x0, y0, x1, y1))
        whole = state == FaceStatus.FRAME
        learn = state == FaceStatus.DETECTED or (whole and frame.index % self.detect_every == 0)
        # the model's memory in seconds stays the same at any detection cadence
        cadence = self.detect_every if self.tracker is None else self.tracker.cadence
        mask = self.skin.segment(patch, learn=learn, weight=SKIN_ADAPT_PER_FRAME * cadence)
        n = cv2.countNonZero(mask.view(np.uint8))
        if whole and n < max(FRAME_MIN_SKIN * mask.size, MIN_SKIN_PIXELS):
            mask, n = np.ones_like(mask), mask.size  # see the module's text
        mean = cv2.mean(patch, mask.view(np.uint8))[:3] if n >= MIN_SKIN_PIXELS else NO_COLOUR
        self._last_skin = ((x0, y0, x1, y1), mask)
        full = self.full_mask(picture.shape) if self.full_masks else None
        return FrameSample(frame.time_s, mean, state, box, n / mask.size, full)

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The last measured frame's skin mask on the whole frame, [H, W] bool."""
        full = np.zeros(shape, dtype=bool)
        if self._last_skin is not None:
            (x0, y0, x1, y1), mask = self._last_skin
            full[y0:y1, x0:x1] = mask
        return full


def extract_trace(
    source: FileVideo | FrameFolder,
    detector: str = "yunet",
    detect_every: int | None = None,
    max_gap_s: float = 1.0,
    on_frame: Callable[[int], None] | None = None,
    on_face: FaceCallback | None = None,
    roi: Roi = "face",
    reads_crops: bool = False,
) -> Trace:
    """Stream the video once: track the face, segment its skin, average the skin colour.

    Only a few numbers per frame are kept, so memory does not grow with the video's length.

    Parameters
    ----------
    source : FileVideo or FrameFolder
        The opened video (`rppgkit.video.reader.open_video`).
    detector : str
        Face detector: ``yunet`` or ``haar``.
    detect_every : int, optional
        Frames between face detections; by default the cadence the region is read at (see
        `SkinMeter`).
    max_gap_s : float
        Longer stretches without a face are not bridged.
    on_frame : callable, optional
        Called with each frame's index once it is measured (progress).
    on_face : callable, optional
        ``on_face(rgb, box, skin)`` sees every frame with its face box (x, y, w, h) and
        full-frame skin mask (both None without a face), so a caller can cut face crops in the
        same pass.
    roi : {"face", "frame"}
        With ``"frame"`` every box is the whole frame, with status FRAME (see the module's
        text).
    reads_crops : bool
        Give it when a network will read crops cut at the trace's boxes later
        (`rppgkit.clip.recut_crops`), so they are the boxes `on_face` would have seen.

    Returns
    -------
    Trace
        Per-frame times, mean skin RGB (NaN without a face), face status, boxes and skin
        share, at the video's own timestamps.

    Raises
    ------
    RppgError
        An unknown detector or `roi`.
    VideoError
        A video that cannot be decoded.

    Examples
    --------
    >>> from rppgkit import extract_trace, open_video
    >>> trace = extract_trace(open_video("face.mp4"))  # doctest: +SKIP
    >>> trace.rgb.shape, f"{trace.face_fraction:.0%}"  # doctest: +SKIP
    ((600, 3), '98%')
    """
    start = time.perf_counter()
    reads_crops = reads_crops or on_face is not None
    meter = SkinMeter(
        detector, detect_every, max_gap_s, roi, on_face is not None, reads_crops=reads_crops
    )
    preview_at = (source.info.n_frames or 0) // 3
    # flat typed arrays: a few dozen bytes per frame, however long the video
    times, rgb, boxes = array("d"), array("d"), array("f")
    status, fraction = array("b"), array("f")
    preview: Preview | None = None
    # a consumer of whole frames has them converted on the decoding thread
    for frame in source.frames(whole=reads_crops):
        sample = meter(frame)
        box = sample.box
        if preview is None and frame.index >= preview_at and not np.isnan(sample.rgb[0]):
            preview = _preview(frame, sample, meter)
        times.append(frame.time_s)
        rgb.extend(sample.rgb)
        status.append(sample.status)
        boxes.extend(NO_BOX if box is None else (box.x, box.y, box.w, box.h))
        fraction.append(sample.skin_fraction)
        if on_face is not None:
            on_face(frame.rgb, None if box is None else box.as_array(), sample.skin)
        if on_frame is not None:
            on_frame(frame.index)
    return Trace(
        info=source.info,
        times=np.frombuffer(times, np.float64).copy(),
        rgb=np.frombuffer(rgb, np.float64).reshape(-1, 3).copy(),
        status=np.frombuffer(status, np.int8).copy(),
        boxes=np.frombuffer(boxes, np.float32).reshape(-1, 4).copy(),
        skin_fraction=np.frombuffer(fraction, np.float32).copy(),
        preview=preview,
        elapsed_s=time.perf_counter() - start,
        decode_errors=source.decode_errors,
    )


def _preview(frame: Frame, sample: FrameSample, meter: SkinMeter) -> Preview:
    """The report's picture of the face path: the frame, its face box and skin mask."""
    skin = meter.full_mask(frame.picture.shape) if sample.skin is None else sample.skin
    return Preview(frame.time_s, frame.rgb.copy(), sample.box.as_array(), skin)


def save_trace(trace: Trace, path: str | os.PathLike) -> None:
    """Store a trace (arrays and video info) in one .npz file, atomically."""
    info = dataclasses.asdict(trace.info) | {"path": str(trace.info.path)}
    arrays = {
        "times": trace.times,
        "rgb": trace.rgb,
        "status": trace.status,
        "boxes": trace.boxes,
        "skin_fraction": trace.skin_fraction,
        "meta": np.array(
            json.dumps(
                {"info": info, "elapsed_s": trace.elapsed_s, "decode_errors": trace.decode_errors}
            )
        ),
    }
    if trace.preview is not None:
        p = trace.preview
        arrays |= {"preview_time": np.array(p.time_s), "preview_rgb": p.rgb}
        arrays |= {"preview_box": p.box, "preview_skin": p.skin}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_trace(path: str | os.PathLike) -> Trace:
    """Read a trace written by `save_trace`."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        info = meta["info"] | {"path": Path(meta["info"]["path"])}
        preview = None
        if "preview_rgb" in z:
            preview = Preview(
                float(z["preview_time"]), z["preview_rgb"], z["preview_box"], z["preview_skin"]
            )
        return Trace(
            info=VideoInfo(**info),
            times=z["times"],
            rgb=z["rgb"],
            status=z["status"],
            boxes=z["boxes"],
            skin_fraction=z["skin_fraction"],
            preview=preview,
            elapsed_s=meta["elapsed_s"],
            decode_errors=meta.get("decode_errors", 0),
        )


__all__ = [
    "FACE_PATH_VERSION",
    "ROIS",
    "FaceStatus",
    "Preview",
    "Roi",
    "Trace",
    "check_roi",
    "extract_trace",
    "load_trace",
    "save_trace",
]
