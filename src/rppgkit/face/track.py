"""Follow one face through a video: register it on every frame, detect it every few frames.

A face detector's box jitters by about half a pixel from frame to frame even on a still face,
and a box that moves over a face's shading changes the mean colour under it by as much as a weak
pulse does (on dark skin the pulse is lost). The tracker therefore takes the face's motion from
image registration, and only its slow drift and its size from the detector:
- on each frame the face patch of the last anchor frame is found in the new frame with sub-pixel
  accuracy (phase correlation for a coarse shift, then the ECC criterion, which ignores changes
  of brightness and contrast), so a still face gets a still box and a moving one a box that
  moves with it, without lag;
- every `every` frames the detector runs near the face; the box follows the detections' centre
  through a slow correction (`offset_gain`) and their size through a moving average, so their
  jitter is averaged away, while a face that jumps (a new person, a cut) snaps the box there;
- when registration fails (no texture, a large turn) the face is detected on that frame, and the
  detections are smoothed as before registration existed.
A face missing for at most `max_gap_s` keeps its last box ("bridged"); after that frames are
marked missing, never silently replaced by the whole frame.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from rppgkit.face.detect import Box, Detector
from rppgkit.video.picture import Picture, as_picture

# With registration carrying the motion, detections only correct slow drift and size. For the
# skin-colour trace one every 4th frame (7.5 a second at 30 fps) does that as well as one every
# 2nd did: on 8 validation videos (640x480, still, moving, dim and type VI faces) the box's
# pulse-band error was 0.130% of its width against 0.134%, and POS read 88/88 windows within
# 5 bpm either way (MAE 0.59 vs 0.58 bpm), at half the detector's cost, the largest part of the
# face path's. Every 6th frame was as good on those and on the 48 videos of the v2 training
# split (POS 303 of 528 windows within 5 bpm against 301), but lost a 50 px greyscale face
# (tests/hostile: GREEN read 118 instead of 72 bpm) and was not kept; nor were, for their
# figures or a small test face's reading (tests/test_live), registration regions scaled by
# pyrDown and bilinear resizing, 48 px patches instead of 64, and a skin model learnt from
# every 2nd seed pixel.
# A network reads the crop's pixels, not their mean: the box's small steps at each detection
# reach it, and the shipped networks, trained on crops cut at every 2nd frame, read 138 instead
# of 70 bpm on a test video with steps at 7.5 Hz; crops keep the 2nd-frame cadence.
DETECT_EVERY = 4
CROP_DETECT_EVERY = 2
# A face at least LARGE_FACE_PX wide is registered on a patch scaled down to REGISTER_SIDE, so
# registration noise is averaged over many pixels, and a detector's box jitters by a smaller
# share of it: for the skin-colour trace such a face is detected every DETECT_EVERY_LARGE
# frames, which halves the detector's cost on a 640x480 video. On the 8 validation videos
# (faces ~155 px) the box's pulse-band error was 0.119% against 0.131%, POS 88/88 windows
# within 5 bpm, MAE 0.62 bpm against 0.58. The v2 videos' faces (~77 px) stay at every 4th;
# detected every 8th as a stress test, the v2 training split gave 292 of 528 windows (303 at
# every 4th), MAE 15.4 bpm (14.8), and its validation split 65 of 88 (64), MAE 16.9 (17.9).
LARGE_FACE_PX = 100
DETECT_EVERY_LARGE = 8
REGISTER_SIDE = 64  # long side (px) the face patch is scaled to for registration
MIN_CORRELATION = 0.8  # ECC correlation below which the face counts as lost to registration
RESIZE_LIMIT = 0.1  # re-cut the template when the face's size has changed by this share
# ECC stops when a step moves the patch less than 0.01 scaled px (under 0.05 px of a face up to
# 300 px wide): a third cheaper than 0.001. On the 8 validation videos above: pulse-band error
# 0.131% (0.130% at 0.001), 88/88 windows, MAE 0.58 bpm; v2 training split: 303 of 528 windows
# (301), MAE 14.8 bpm (15.1); v2 validation split: 64 of 88 (67), lost on the two videos that
# fail either way.
_ECC_STOP = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-2)
# The registration region of a face wider than the patch is scaled by block averages and one
# bilinear warp (`_grey_region`) instead of INTER_AREA at a fractional factor and a sub-pixel
# cut: 0.13 instead of 0.29 ms a frame (a smaller face is cut as before). The 8 validation
# videos: band error 0.119% either way, 88/88 windows, MAE 0.62 bpm either way; v2 training
# split: 301 of 528 windows (303), MAE 14.6 bpm (14.8); its validation split 64 of 88 (64),
# MAE 17.3 bpm (17.9).


class FaceStatus(enum.IntEnum):
    DETECTED = 0  # a detection on this frame
    TRACKED = 1  # between scheduled detections: the box follows the registered face
    BRIDGED = 2  # detection failed, but the face was seen less than max_gap_s ago
    MISSING = 3  # no face
    FRAME = 4  # no face sought: the whole frame is the region (roi "frame")


@dataclass(frozen=True)
class Template:
    """A grey face patch, scaled by `scale`, and the registration that finds it again."""

    patch: np.ndarray  # float32 [h, w]
    scale: float

    @classmethod
    def cut(cls, picture: Picture, box: Box) -> Template:
        scale = min(1.0, REGISTER_SIDE / max(box.w, box.h))
        w, h = max(8, round(box.w * scale)), max(8, round(box.h * scale))
        m = _margin(w, h)
        region = _grey_region(picture, np.array(box.center), (w + 2 * m, h + 2 * m), scale)
        return cls(region[m : m + h, m : m + w].copy(), scale)

    def find(self, picture: Picture, near: np.ndarray) -> np.ndarray | None:
        """Where the patch's centre is in `picture` (full-frame px), searching around `near`;
        None when the face cannot be registered there."""
        h, w = self.patch.shape
        m = _margin(w, h)
        region = _grey_region(picture, near, (w + 2 * m, h + 2 * m), self.scale)
        # ECC from the last position (a face moves little per frame); where it does not
        # converge, from the coarse shift that phase correlation finds (a fast move)
        for coarse in (False, True):
            dx, dy = 0.0, 0.0
            if coarse:
                (dx, dy), _ = cv2.phaseCorrelate(
                    self.patch, region[m : m + h, m : m + w], _window(w, h)
                )
            guess = np.array([[1, 0, m + dx], [0, 1, m + dy]], np.float32)
            try:
                cc, warp = cv2.findTransformECC(
                    self.patch, region, guess, cv2.MOTION_TRANSLATION, _ECC_STOP, None, 5
                )
            except cv2.error:  # a flat patch, or no convergence
                continue
            if cc >= MIN_CORRELATION:
                return near + (warp[:, 2].astype(np.float64) - m) / self.scale
        return None


def _margin(w: int, h: int) -> int:
    """How far (scaled px) around its last position a w x h face patch is searched."""
    return max(4, max(w, h) // 4)


def _grey_region(
    picture: Picture, centre: np.ndarray, size: tuple[int, int], scale: float
) -> np.ndarray:
    """The grey image around `centre` (full-frame px) scaled by `scale`: `size` (w, h) scaled
    px, float32, sub-pixel accurate.

    Only a fixed-size part of the frame around the face is converted, so registration costs
    the same at any resolution, and the part's size is the same on every frame; beyond the
    frame's edges its border pixels are repeated. The part is first averaged over whole k x k
    blocks (OpenCV's fast path for INTER_AREA at a whole factor), then scaled by the rest of
    `scale` (at least a half) and shifted in one bilinear warp: a fifth of the cost of
    INTER_AREA at a fractional factor, which was the largest step of registration.
    """
    k = max(1, int(1 / scale))  # whole blocks averaged first
    span_w, span_h = (k * (int(np.ceil(n / scale / k)) + 4) for n in size)
    x0, y0 = int(np.floor(centre[0])) - span_w // 2, int(np.floor(centre[1])) - span_h // 2
    rows, cols = picture.shape
    top, left = max(-y0, 0), max(-x0, 0)
    bottom, right = max(y0 + span_h - rows, 0), max(x0 + span_w - cols, 0)
    inside = (max(x0, 0), max(y0, 0), min(x0 + span_w, cols), min(y0 + span_h, rows))
    if inside[2] <= inside[0] or inside[3] <= inside[1]:
        grey = np.zeros((span_h, span_w), np.uint8)  # the face has left the frame: flat
    else:
        grey = picture.crop_grey(inside)
        if top or bottom or left or right:
            grey = cv2.copyMakeBorder(grey, top, bottom, left, right, cv2.BORDER_REPLICATE)
    # a full-frame point x lies at (x - x0 + 0.5) * scale - 0.5 in the scaled part, and the
    # output's pixel u at that point's scaled position - (w - 1) / 2 + u
    at = (np.asarray(centre) - (x0, y0) + 0.5) * scale - 0.5
    if scale >= 1.0:  # a face no larger than the patch: a sub-pixel cut alone
        return cv2.getRectSubPix(grey, size, (float(at[0]), float(at[1])), patchType=cv2.CV_32F)
    if k > 1:
        grey = cv2.resize(grey, (span_w // k, span_h // k), interpolation=cv2.INTER_AREA)
    rest = scale * k
    origin = (at - (np.asarray(size) - 1) / 2 + 0.5) / rest - 0.5
    inverse = np.array([[1 / rest, 0, origin[0]], [0, 1 / rest, origin[1]]])
    return cv2.warpAffine(
        grey.astype(np.float32),
        inverse,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


@dataclass
class FaceTracker:
    detector: Detector
    every: int = DETECT_EVERY
    max_gap_s: float = 1.0
    every_large: int | None = None  # cadence for faces LARGE_FACE_PX wide or more; None: every
    smoothing: float = 0.6  # weight of a detection in the box, where registration failed
    size_smoothing: float = 0.2  # weight of a detection's size in the box's size
    offset_gain: float = 0.05  # share of the detection-registration disagreement corrected
    _box: Box | None = field(default=None, init=False)
    _template: Template | None = field(default=None, init=False)
    _offset: np.ndarray = field(default_factory=lambda: np.zeros(2), init=False)
    _last_seen_s: float = field(default=-np.inf, init=False)
    _since_detect: int = field(default=0, init=False)
    _retry: bool = field(default=False, init=False)
    jumped: bool = field(default=False, init=False)  # the last detection snapped to a new place

    def update(self, image: Picture | np.ndarray, time_s: float) -> tuple[Box | None, FaceStatus]:
        """Return the face box for this frame (a picture or an RGB array) and how it was
        obtained."""
        picture = as_picture(image)
        tracked = self._follow(picture)
        if tracked is not None and not self._retry and self._since_detect < self.cadence:
            self._since_detect += 1
            self._box = tracked
            return tracked, FaceStatus.TRACKED
        last = tracked or self._box
        # search around the face first; the whole frame only when the face is not there
        found = self.detector(picture, near=last) if last is not None else []
        if not found:
            found = self.detector(picture)
        if found:
            self._box = self._combine(picture, tracked, self._pick(found, last))
            self._last_seen_s = time_s
            self._since_detect = 1
            self._retry = False
            return self._box, FaceStatus.DETECTED
        self._retry = True  # detect again on the next frame
        if last is not None and time_s - self._last_seen_s <= self.max_gap_s:
            self._box = last
            return last, FaceStatus.BRIDGED
        self._box, self._template = None, None
        return None, FaceStatus.MISSING

    @property
    def cadence(self) -> int:
        """Frames from one scheduled detection to the next, for the face as it is now."""
        large = self._box is not None and self._box.w >= LARGE_FACE_PX
        return self.every_large if large and self.every_large else self.every

    def _follow(self, picture: Picture) -> Box | None:
        """The box moved with the registered face, or None without a face or registration."""
        if self._box is None or self._template is None:
            return None
        centre = self._template.find(picture, np.array(self._box.center) - self._offset)
        if centre is None:
            return None
        return _box_at(centre + self._offset, self._box.w, self._box.h)

    def _combine(self, picture: Picture, tracked: Box | None, found: Box) -> Box:
        """The new box from the registered one and a detection on the same frame."""
        old = tracked or self._box
        self.jumped = old is None or bool(
            np.hypot(found.center[0] - old.center[0], found.center[1] - old.center[1]) > 0.3 * old.w
        )
        if old is None or self.jumped or tracked is None:
            box = found if old is None or self.jumped else _blend(old, found, self.smoothing)
            self._template, self._offset = Template.cut(picture, box), np.zeros(2)
            return box
        a, k = self.size_smoothing, self.offset_gain
        w, h = (1 - a) * tracked.w + a * found.w, (1 - a) * tracked.h + a * found.h
        miss = np.subtract(found.center, tracked.center)
        self._offset = self._offset + k * miss
        box = _box_at(np.add(tracked.center, k * miss), w, h)
        if abs(box.w / (self._template.patch.shape[1] / self._template.scale) - 1) > RESIZE_LIMIT:
            # re-cut the template where the registered face is, so the box does not jump
            moved = _box_at(np.subtract(box.center, self._offset), w, h)
            self._template = Template.cut(picture, moved)
        return box

    def _pick(self, found: list[Box], last: Box | None) -> Box:
        if last is None:
            return found[0]  # largest
        cx, cy = last.center
        return min(found, key=lambda b: (b.center[0] - cx) ** 2 + (b.center[1] - cy) ** 2)


def _box_at(centre: np.ndarray, w: float, h: float) -> Box:
    return Box(float(centre[0]) - w / 2, float(centre[1]) - h / 2, float(w), float(h))


def _blend(old: Box, new: Box, weight: float) -> Box:
    values = (weight * n + (1 - weight) * o for n, o in zip(new.as_array(), old.as_array()))
    return Box(*map(float, values), score=new.score)


@functools.lru_cache(maxsize=16)
def _window(w: int, h: int) -> np.ndarray:
    """The Hann window that phase correlation weights a w x h patch with."""
    return cv2.createHanningWindow((w, h), cv2.CV_32F)
