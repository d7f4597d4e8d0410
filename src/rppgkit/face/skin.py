"""Skin segmentation inside the face box with a colour model that adapts to each face.

Fixed YCrCb thresholds fail across skin tones and lighting. Instead the model learns the face's
own skin chroma (Cr, Cb) as a Gaussian from the cheek-and-nose region of the box, which is skin
on almost every face, with robust statistics so a lip or shadow there does not bend it. A pixel is
skin when its chroma lies within `max_distance` Mahalanobis units and its luma is neither much
darker (eyes, brows, hair, beard, nostrils) nor much brighter (specular highlights, clipping) than
the cheeks. The model is a slow moving average over detections, so it follows lighting changes
of a few seconds without changing, frame by frame, which pixels are averaged: on dark skin, where
the pulse is weak beside the sensor noise, border pixels that flip in and out of the mask drown
it. POS read 22 of 44 windows of the synthetic type VI test videos within 5 bpm with a model
re-learnt at every detection (weight 0.2) and a chroma limit of 3 units, 30 with the slow model,
37 with the wider limit, 42 with both (benchmarks/roi_stability.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

# Seed region as fractions of the face box (x0, x1, y0, y1): cheeks, nose and upper lip.
SEED = (0.22, 0.78, 0.48, 0.72)
MIN_CHROMA_STD = 1.5  # floor on the model's spread in 8-bit levels: clean video is not too strict
ELLIPSE_HEIGHT = 1.1  # height of the face ellipse over the box's: boxes stop short of the chin


@dataclass
class SkinModel:
    max_distance: float = 4.5  # chroma limit, Mahalanobis units
    dark: float = 0.55  # skin luma must exceed this fraction of the cheeks' median luma
    bright: float = 1.45  # ... and stay below this fraction (and below clipping)
    adapt: float = 0.02  # weight of a detection's frame: ~3 s memory at 15 detections/s
    _mean: np.ndarray | None = field(default=None, init=False)
    _cov: np.ndarray | None = field(default=None, init=False)
    _luma: float = field(default=0.0, init=False)
    _chroma_ok: np.ndarray | None = field(default=None, init=False)  # [256, 256] 0/1 over Cr, Cb

    def segment(
        self, roi_rgb: np.ndarray, learn: bool = True, weight: float | None = None
    ) -> np.ndarray:
        """Boolean skin mask of a face crop (the crop is the face box).

        `learn=False` reuses the current model, which is how the tracker saves time between
        face detections; the first call always learns. `weight` is this crop's weight in the
        model where it learns (default `adapt`).
        """
        ycc = cv2.cvtColor(roi_rgb, cv2.COLOR_RGB2YCrCb)
        if learn or self._chroma_ok is None:
            self._learn(ycc, self.adapt if weight is None else weight)
        # OpenCV's table look-up and range test: this runs on every frame
        chroma_ok = cv2.calcBackProject([ycc], [1, 2], self._chroma_ok, [0, 256, 0, 256], 1.0)
        low, high = self.dark * self._luma, min(self.bright * self._luma, 250.0)
        luma_ok = cv2.inRange(ycc[..., 0], math.floor(low) + 1, math.ceil(high) - 1)
        ok = cv2.bitwise_and(cv2.bitwise_and(chroma_ok, luma_ok), face_ellipse(*ycc.shape[:2]))
        return ok.view(bool)

    def _learn(self, ycc: np.ndarray, a: float) -> None:
        h, w = ycc.shape[:2]
        x0, x1, y0, y1 = SEED
        seed = ycc[
            int(y0 * h) : max(int(y1 * h), int(y0 * h) + 1),
            int(x0 * w) : max(int(x1 * w), int(x0 * w) + 1),
        ]
        seed = seed.reshape(-1, 3)
        luma = median_of_counts(np.bincount(seed[:, 0], minlength=256))
        keep = np.abs(seed[:, 0].astype(np.float32) - np.float32(luma)) < 0.35 * max(luma, 1.0)
        chroma = seed[keep, 1:] if np.count_nonzero(keep) >= 10 else seed[:, 1:]
        # robust spread: MAD-based standard deviations with the sample correlation
        counts = [np.bincount(chroma[:, k], minlength=256) for k in (0, 1)]
        mean = np.array([median_of_counts(c) for c in counts], np.float32)
        mad = np.array([_median_distance(c, m) for c, m in zip(counts, mean)], np.float32)
        std = np.maximum(1.4826 * mad, MIN_CHROMA_STD)
        sample = np.cov(chroma.T.astype(np.float64)) if len(chroma) > 2 else np.eye(2)
        scale = np.sqrt(sample[0, 0] * sample[1, 1])
        corr = float(np.clip(sample[0, 1] / scale, -0.9, 0.9)) if scale > 0 else 0.0
        cov = np.array(
            [[std[0] ** 2, corr * std[0] * std[1]], [corr * std[0] * std[1], std[1] ** 2]]
        )
        if self._mean is None:
            self._mean, self._cov, self._luma = mean, cov, luma
        else:
            self._mean = (1 - a) * self._mean + a * mean
            self._cov = (1 - a) * self._cov + a * cov
            self._luma = (1 - a) * self._luma + a * luma
        # The chroma test depends on (Cr, Cb) alone: tabulate it once per update.
        self._chroma_ok = _chroma_table(self._mean, self._cov, self.max_distance)


def median_of_counts(counts: np.ndarray) -> float:
    """The median of a sample given as counts of the values 0, 1, 2, ... (the mean of the two
    middle values of an even count, as `numpy.median` gives it).

    For 8-bit levels a histogram gives the exact median at a fraction of sorting's cost.

    Examples
    --------
    >>> median_of_counts(np.bincount([3, 1, 4, 1]))
    2.0
    """
    total = np.cumsum(counts)
    n = int(total[-1])
    low = int(np.searchsorted(total, (n - 1) // 2, side="right"))
    high = int(np.searchsorted(total, n // 2, side="right"))
    return (low + high) / 2


def _median_distance(counts: np.ndarray, centre: float) -> float:
    """The median absolute distance of 8-bit levels (given as counts) from `centre`, a whole or
    half level: counts of the doubled distances, whole numbers, give it exactly."""
    doubled = np.abs(2 * _LEVELS - round(2 * centre))
    return median_of_counts(np.bincount(doubled, weights=counts, minlength=511)) / 2


_LEVELS = np.arange(256)


def _chroma_table(mean: np.ndarray, cov: np.ndarray, limit: float) -> np.ndarray:
    """[256, 256] float32 over (Cr, Cb): 1 within `limit` Mahalanobis units of the model.

    Only the ellipse's bounding box is evaluated (a tenth of the table on a typical face, so a
    model update costs little); the rest is 0.
    """
    (a, b), (_, c) = np.linalg.inv(cov)
    reach = limit * np.sqrt(np.diag(cov))
    lo = np.clip(np.floor(mean - reach).astype(int) - 1, 0, 256)
    hi = np.clip(np.ceil(mean + reach).astype(int) + 2, 0, 256)
    cr = _CHROMA_AXIS[lo[0] : hi[0]] - mean[0]
    cb = _CHROMA_AXIS[lo[1] : hi[1]] - mean[1]
    dist2 = a * cr[:, None] ** 2 + 2 * b * cr[:, None] * cb[None, :] + c * cb[None, :] ** 2
    table = np.zeros((256, 256), np.float32)
    table[lo[0] : hi[0], lo[1] : hi[1]] = dist2 < limit**2
    return table


_CHROMA_AXIS = np.arange(256, dtype=np.float32)


@functools.lru_cache(maxsize=64)
def face_ellipse(h: int, w: int) -> np.ndarray:
    """The ellipse inscribed in an h x w face box: a shape prior that drops the box's corners,
    where hair, ears and background sit and where skin-coloured hair would otherwise pass."""
    y, x = np.ogrid[:h, :w]
    dx = (x + 0.5 - w / 2) / (w / 2)
    dy = (y + 0.5 - h / 2) / (ELLIPSE_HEIGHT * h / 2)
    return (dx**2 + dy**2 <= 1).astype(np.uint8)  # 0/1, as the skin mask is built
