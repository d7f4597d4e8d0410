"""One decoded frame, converted to RGB only where it is looked at.

Turning every decoded frame into a full RGB image costs a third of the decoder's own time on a
640x480 H.264 video, while the measure path looks at a face region a tenth of the frame. A
`Picture` from the decoder therefore keeps the frame's YUV 4:2:0 planes (the format nearly
every camera and encoder writes) and converts a region when asked: the face box for the skin
mean, the region around it for the detector, and the luma plane alone, without conversion, for
image registration. The full RGB frame is still there for those who need it (a neural
method's face crops, the report's preview), converted once, on first use.

The region conversion is OpenCV's BT.601 limited-range one, the same matrix and range that
FFmpeg's swscale applies by default when PyAV turns such a frame into RGB; the two differ by
rounding (one level at most). Frames in other pixel formats, in full ("JPEG") range, or stored
sideways are converted whole by FFmpeg as before (`ArrayPicture`).
"""

from __future__ import annotations

import functools
from typing import Protocol

import cv2
import numpy as np

Bounds = tuple[int, int, int, int]
"""x0, y0, x1, y1 in pixels, inside the frame, x1 > x0 and y1 > y0."""


class Picture(Protocol):
    """A frame whose regions can be read as RGB or grey without converting the rest."""

    @property
    def shape(self) -> tuple[int, int]:
        """Height and width in pixels."""
        ...

    @property
    def rgb(self) -> np.ndarray:
        """The whole frame, [H, W, 3] uint8 RGB."""
        ...

    def crop_rgb(self, bounds: Bounds) -> np.ndarray:
        """The region's RGB pixels, [y1 - y0, x1 - x0, 3] uint8."""
        ...

    def crop_grey(self, bounds: Bounds) -> np.ndarray:
        """The region's brightness, [y1 - y0, x1 - x0] uint8: an affine function of the
        luminance, the same one on every frame of a video (registration ignores which)."""
        ...


class ArrayPicture:
    """A frame already in RGB (an image file, a synthetic frame, a rotated video frame)."""

    def __init__(self, rgb: np.ndarray) -> None:
        self._rgb = rgb

    @property
    def shape(self) -> tuple[int, int]:
        return self._rgb.shape[:2]

    @property
    def rgb(self) -> np.ndarray:
        return self._rgb

    def crop_rgb(self, bounds: Bounds) -> np.ndarray:
        x0, y0, x1, y1 = bounds
        return self._rgb[y0:y1, x0:x1]

    def crop_grey(self, bounds: Bounds) -> np.ndarray:
        return cv2.cvtColor(np.ascontiguousarray(self.crop_rgb(bounds)), cv2.COLOR_RGB2GRAY)


class YuvPicture:
    """A YUV 4:2:0 (I420) frame of even width and height, in limited range.

    Parameters
    ----------
    planes : np.ndarray
        [H * 3 / 2, W] uint8: the luma plane, then the two chroma planes, as PyAV's
        ``VideoFrame.to_ndarray()`` returns a ``yuv420p`` frame.
    """

    def __init__(self, planes: np.ndarray) -> None:
        rows, width = planes.shape
        height = rows * 2 // 3
        self._y = planes[:height]
        chroma = planes[height:].reshape(2, height // 2, width // 2)
        self._u, self._v = chroma[0], chroma[1]

    @property
    def shape(self) -> tuple[int, int]:
        return self._y.shape

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        return self.crop_rgb((0, 0, self.shape[1], self.shape[0]))

    def crop_grey(self, bounds: Bounds) -> np.ndarray:
        x0, y0, x1, y1 = bounds
        return self._y[y0:y1, x0:x1]

    def crop_rgb(self, bounds: Bounds) -> np.ndarray:
        x0, y0, x1, y1 = bounds
        # chroma covers 2x2 pixels: convert from even bounds, then cut the asked region out
        ex0, ey0 = x0 & ~1, y0 & ~1
        ex1, ey1 = x1 + (x1 & 1), y1 + (y1 & 1)
        w, h = ex1 - ex0, ey1 - ey0
        i420 = np.empty((h * 3 // 2, w), np.uint8)
        i420[:h] = self._y[ey0:ey1, ex0:ex1]
        quarter = i420[h:].reshape(2, h // 2, w // 2)
        quarter[0] = self._u[ey0 // 2 : ey1 // 2, ex0 // 2 : ex1 // 2]
        quarter[1] = self._v[ey0 // 2 : ey1 // 2, ex0 // 2 : ex1 // 2]
        rgb = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
        return rgb[y0 - ey0 : y1 - ey0, x0 - ex0 : x1 - ex0]


def as_picture(image: Picture | np.ndarray) -> Picture:
    """A picture of `image`, which may already be one or an [H, W, 3] RGB array."""
    return ArrayPicture(image) if isinstance(image, np.ndarray) else image
