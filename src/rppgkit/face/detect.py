"""Face detectors whose weights ship inside a PyPI wheel, so nothing is downloaded at run time.

- "yunet" (default): libfacedetection's YuNet CNN through the `yuface` wheel (weights compiled in,
  0.5 MB). More accurate than Haar on rotated, dim or partly turned faces and about as fast
  once frames are scaled to 320 px; it also scores each face, which lets us reject false hits.
- "haar": OpenCV's frontal-face Haar cascade, the classic rPPG-Toolbox default; kept as a
  second, dependency-free backend for comparison.
Both run on a reduced copy of the frame (see `Detector`), which keeps detection cost independent
of the video resolution.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rppgkit.errors import RppgError
from rppgkit.registry import Registry
from rppgkit.video.picture import Bounds, Picture, as_picture

DETECT_SIDE = 320  # long side of a full-frame search
NEAR_SIDE = 96  # long side of a search around a known face
NEAR_MARGIN = 0.5  # that region: the face box grown by this share of its size on each side


@dataclass(frozen=True)
class Box:
    """A face box in pixels of the full frame."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def as_array(self) -> np.ndarray:
        return np.array([self.x, self.y, self.w, self.h], dtype=np.float32)

    def grown(self, margin: float) -> Box:
        """The box enlarged by `margin` times its size on each side."""
        mx, my = margin * self.w, margin * self.h
        return Box(self.x - mx, self.y - my, self.w + 2 * mx, self.h + 2 * my, self.score)


def bounds(shape: tuple[int, ...], box: Box) -> Bounds:
    """The box's integer bounds (x0, y0, x1, y1) clipped to a frame of `shape` (H, W, ...);
    empty (x1 <= x0 or y1 <= y0) where the box lies outside it."""
    h, w = shape[:2]
    x0, y0 = max(round(box.x), 0), max(round(box.y), 0)
    x1, y1 = min(round(box.x + box.w), w), min(round(box.y + box.h), h)
    return x0, y0, max(x1, x0), max(y1, y0)


class Detector:
    """Finds faces in RGB frames, largest first, in full-frame pixels.

    A search over the whole frame runs on a copy scaled to `DETECT_SIDE` px. Given `near` (the
    face box of a recent frame), the search runs only on the region around it scaled to
    `NEAR_SIDE` px: the face, about half that region, is still some 50 px wide, and the search
    costs a tenth of a full-frame one, which is what lets the tracker re-detect often.
    """

    def __init__(self, find: Callable[[np.ndarray], list[Box]], color: bool) -> None:
        self._find, self._color = find, color

    def __call__(self, image: Picture | np.ndarray, near: Box | None = None) -> list[Box]:
        picture = as_picture(image)
        side = DETECT_SIDE
        x0, y0, x1, y1 = 0, 0, picture.shape[1], picture.shape[0]
        if near is not None:
            x0, y0, x1, y1 = bounds(picture.shape, near.grown(NEAR_MARGIN))
            if min(x1 - x0, y1 - y0) < 16:
                return []
            side = NEAR_SIDE
        rgb = picture.crop_rgb((x0, y0, x1, y1))
        scale = min(1.0, side / max(rgb.shape[:2]))
        if scale < 1.0:
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR if self._color else cv2.COLOR_RGB2GRAY)
        found = [
            Box(x0 + b.x / scale, y0 + b.y / scale, b.w / scale, b.h / scale, b.score)
            for b in self._find(image)
        ]
        return sorted(found, key=lambda b: b.w * b.h, reverse=True)


DETECTORS: Registry[Callable[[], Detector]] = Registry("face detector")
"""Each detector's factory by name."""


@DETECTORS.register("yunet")
def _yunet(min_score: float = 0.6) -> Detector:
    return Detector(_LibFaceDetection(min_score), color=True)


class _LibFaceDetection:
    """YuNet, called in the libfacedetection library that the yuface wheel ships.

    yuface's own binding leaks its 36 KB result buffer on every call (60 MB over a 10-minute
    video); calling the library with one buffer that we own and reuse does not.
    """

    BUFFER_BYTES = 0x9000  # libfacedetection's DETECT_BUFFER_SIZE
    SYMBOL = "_Z14facedetect_cnnPhS_iii"  # facedetect_cnn(result, bgr, width, height, step)

    def __init__(self, min_score: float) -> None:
        spec = importlib.util.find_spec("yuface")
        if spec is None or not spec.submodule_search_locations:
            raise RppgError("the yunet face detector needs the yuface package: pip install yuface")
        path = Path(spec.submodule_search_locations[0]) / "libfacedetection.so"
        run = getattr(_load_single_threaded(path), self.SYMBOL)
        run.restype = ctypes.POINTER(ctypes.c_int)
        run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._run, self._min_score = run, 100 * min_score
        self._buffer = np.zeros(self.BUFFER_BYTES, np.uint8)

    def __call__(self, bgr: np.ndarray) -> list[Box]:
        bgr = np.ascontiguousarray(bgr)
        h, w = bgr.shape[:2]
        found = self._run(self._buffer.ctypes.data, bgr.ctypes.data, w, h, bgr.strides[0])
        n = found[0] if found else 0
        # per face 16 int16: score (0-100), x, y, w, h, then 5 landmarks
        faces = np.frombuffer(self._buffer, np.int16, count=16 * n, offset=4).reshape(n, 16)
        return [
            Box(float(x), float(y), float(bw), float(bh), score=s / 100.0)
            for s, x, y, bw, bh in faces[:, :5].tolist()
            if s >= self._min_score
        ]


def _load_single_threaded(path: Path) -> ctypes.CDLL:
    """Load a library whose bundled OpenMP runtime should run one thread.

    yuface's libgomp reads OMP_NUM_THREADS once, when it loads. On the small images we detect
    in, extra threads gain little, and their spin-waiting after each call takes the core that
    the video decoder runs on, so the pipeline as a whole gets slower. The library is bound to
    its own libgomp first (RTLD_DEEPBIND): once PyTorch is imported, its libgomp is global, and
    without that the detector ran on PyTorch's full-width thread pool, ten times slower.
    """
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        return ctypes.CDLL(str(path), mode=os.RTLD_LOCAL | os.RTLD_DEEPBIND)
    except OSError as exc:
        raise RppgError(f"cannot load the yunet face detector ({exc}); reinstall yuface") from None
    finally:
        if saved is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = saved


@DETECTORS.register("haar")
def _haar() -> Detector:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def find(gray: np.ndarray) -> list[Box]:
        found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        return [Box(*map(float, b)) for b in found]

    return Detector(find, color=False)


def check_detector(name: str) -> None:
    """Raise RppgError, naming the known detectors, unless `name` (any case) is one; checked
    before any work is done."""
    DETECTORS.get(name)


def create_detector(name: str = "yunet") -> Detector:
    """The face detector called `name` (any case)."""
    return DETECTORS.get(name)()
