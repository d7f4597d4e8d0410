"""Training-clip augmentations that widen what a small training set shows a network.

- *speed*: the window is stretched or squeezed in time (frames and label alike) so the clip
  carries a heart rate ``factor`` times its own: the network sees rates and beat shapes that
  the training subjects lack, and a low rate's harmonic no longer looks like a usual rate;
- *noise*: Gaussian sensor noise of a random strength, as in dim light or on dark skin, where
  the pulse is a smaller share of the pixel value;
- *flip*: a mirror image, as the face may turn either way.

Each clip's draw is seeded by (seed, epoch, index), so a resumed or multi-process run
repeats the augmentations of an uninterrupted one-process run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augment:
    """Augmentation strengths; the defaults change nothing."""

    speed: tuple[float, float] = (1.0, 1.0)  # range of the heart-rate factor
    noise: float = 0.0  # the noise's standard deviation is drawn from [0, noise] grey levels
    flip: bool = False

    @property
    def active(self) -> bool:
        return self.speed != (1.0, 1.0) or self.noise > 0 or self.flip


@dataclass(frozen=True)
class Draw:
    """The augmentation drawn for one clip."""

    factor: float
    noise: float
    flip: bool


def draw(aug: Augment, rng: np.random.Generator) -> Draw:
    """One clip's random augmentation (speed drawn uniformly on a log scale)."""
    lo, hi = np.log(aug.speed[0]), np.log(aug.speed[1])
    return Draw(
        factor=float(np.exp(rng.uniform(lo, hi))),
        noise=float(rng.uniform(0.0, aug.noise)),
        flip=bool(aug.flip and rng.random() < 0.5),
    )


def span(frames: int, factor: float) -> int:
    """Input samples that a `frames`-long clip at HR factor `factor` is cut from."""
    return max(2, round(frames * factor))


def resample(x: np.ndarray, frames: int) -> np.ndarray:
    """`x` [N, ...] linearly interpolated to `frames` samples spanning the same time, as
    float32 (the clip's rate changes by N / frames)."""
    pos = np.linspace(0.0, len(x) - 1.0, frames)
    lo = np.minimum(pos.astype(int), len(x) - 2)
    w = (pos - lo).astype(np.float32).reshape((-1,) + (1,) * (x.ndim - 1))
    a, b = x[lo].astype(np.float32), x[lo + 1].astype(np.float32)
    return a + w * (b - a)


def apply(
    frames: np.ndarray,
    label: np.ndarray,
    skin: np.ndarray,
    length: int,
    d: Draw,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A window of `span(length, d.factor)` samples as a `length`-sample augmented clip:
    frames float32 [T, H, W, 3], label float32 [T], skin uint8 [T, H, W]."""
    x = resample(frames, length)
    y = resample(label, length)
    s = (resample(skin, length) >= 0.5).astype(np.uint8)
    if d.noise > 0:
        x += rng.normal(0.0, d.noise, x.shape).astype(np.float32)
        np.clip(x, 0.0, 255.0, out=x)
    if d.flip:
        x, s = x[:, :, ::-1], s[:, :, ::-1]
    return np.ascontiguousarray(x), y, np.ascontiguousarray(s)
