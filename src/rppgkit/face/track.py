"""Follow one face through a video: detect every few frames, smooth the box in between.

Detection on every frame is slow and makes the box jitter, which leaks into the colour trace.
The tracker detects every `every` frames (and on every frame while the face is lost), first in
the region around the last box and over the whole frame only if that fails, keeps the box of the
face nearest the previous one, and smooths it with an exponential moving average that
snaps when the face jumps. Frames between two detections get boxes on the straight line between
them (`glide`), so a moving head stays still inside its crop instead of slipping and catching up
at every detection -- a bobbing at the head's rate that neural estimators take for a pulse.
A face missing for at most `max_gap_s` keeps its last box ("bridged"); after that frames are
marked missing, never silently replaced by the whole frame.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from rppgkit.face.detect import Box, Detector

# Detection is cheap next to decoding (a 96 px search around the last face: every frame costs
# ~16% more time than every 10th), and a moving head between sparse detections leaves the box
# behind by ~1.7% of the crop in the pulse band (synthetic strong motion, against the true
# boxes); every 2nd frame with glide brings that to the detector's own jitter (~0.7%).
DETECT_EVERY = 2


class FaceStatus(enum.IntEnum):
    DETECTED = 0  # a detection on this frame
    TRACKED = 1  # between scheduled detections: last box carried forward
    BRIDGED = 2  # detection failed, but the face was seen less than max_gap_s ago
    MISSING = 3  # no face


@dataclass
class FaceTracker:
    detector: Detector
    every: int = DETECT_EVERY
    max_gap_s: float = 1.0
    smoothing: float = 0.6  # weight of the new detection in the moving average
    _box: Box | None = field(default=None, init=False)
    _last_seen_s: float = field(default=-np.inf, init=False)
    _since_detect: int = field(default=0, init=False)
    _retry: bool = field(default=False, init=False)
    jumped: bool = field(default=False, init=False)  # the last detection snapped to a new place

    def update(self, rgb: np.ndarray, time_s: float) -> tuple[Box | None, FaceStatus]:
        """Return the face box for this frame and how it was obtained."""
        if self._box is not None and not self._retry and self._since_detect < self.every:
            self._since_detect += 1
            return self._box, FaceStatus.TRACKED
        # search around the last box first; the whole frame only when the face is not there
        found = self.detector(rgb, near=self._box) if self._box is not None else []
        if not found:
            found = self.detector(rgb)
        if found:
            self._box = self._smooth(self._pick(found))
            self._last_seen_s = time_s
            self._since_detect = 1
            self._retry = False
            return self._box, FaceStatus.DETECTED
        self._retry = True  # detect again on the next frame
        if self._box is not None and time_s - self._last_seen_s <= self.max_gap_s:
            return self._box, FaceStatus.BRIDGED
        self._box = None
        return None, FaceStatus.MISSING

    def _pick(self, found: list[Box]) -> Box:
        if self._box is None:
            return found[0]  # largest
        cx, cy = self._box.center
        return min(found, key=lambda b: (b.center[0] - cx) ** 2 + (b.center[1] - cy) ** 2)

    def _smooth(self, new: Box) -> Box:
        old = self._box
        if old is None:
            self.jumped = True
            return new
        jump = np.hypot(new.center[0] - old.center[0], new.center[1] - old.center[1])
        self.jumped = bool(jump > 0.3 * old.w)
        if self.jumped:
            return new
        a = self.smoothing
        return Box(
            *(a * n + (1 - a) * o for n, o in zip(new.as_array(), old.as_array())),
            score=new.score,
        )


def glide(start: Box, end: Box, n: int) -> list[Box]:
    """The `n` boxes evenly spaced strictly between two detections."""
    a, b = start.as_array().astype(np.float64), end.as_array().astype(np.float64)
    return [Box(*(a + (b - a) * k / (n + 1)), score=start.score) for k in range(1, n + 1)]
