"""Training-clip augmentations that widen what a small training set shows a network.

- *speed*: the window is stretched or squeezed in time (frames and label alike) so the clip
  carries a heart rate ``factor`` times its own: the network sees rates and beat shapes that
  the training subjects lack, and a low rate's harmonic no longer looks like a usual rate;
- *gain*: the clip darkened by a random factor before the noise is added, so the pulse and
  the light shrink while the sensor noise does not: the low signal-to-noise ratio of dark skin
  or a dim room;
- *noise*: Gaussian sensor noise of a random strength, as in dim light or on dark skin, where
  the pulse is a smaller share of the pixel value;
- *flip*: a mirror image, as the face may turn either way;
- *motion*: the face drifts and bobs inside the crop (smooth random shifts and zooms at
  0.3-1.5 Hz), as it does between the tracker's detections under head motion, so the network
  learns that such changes are not the pulse;
- *flicker*: the light's intensity wavers at pulse-like rates (three random sinusoids at
  0.6-3.5 Hz, one factor for every pixel and channel), as lamps beating against the frame
  rate, auto exposure hunting or a passer-by's shadow make it in real rooms. Such a change
  has the grey direction (1, 1, 1) in normalised colour while the blood-volume pulse has a
  colour of its own, so a network shown it learns to read the pulse's colour rather than
  brightness, which the chrominance methods (CHROM, POS) reject by design;
- *shade*: the same wavering confined to a random soft patch of the crop (a gaussian blob of
  random place and width), as a specular highlight or a shadow that moves with the head
  changes one part of the face in grey, so the network cannot cancel it with the background.

Each clip's draw is seeded by (seed, epoch, index), so a resumed or multi-process run
repeats the augmentations of an uninterrupted one-process run.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rppgkit import dsp


@dataclass(frozen=True)
class Augment:
    """Augmentation strengths; the defaults change nothing."""

    speed: tuple[float, float] = (1.0, 1.0)  # range of the heart-rate factor
    noise: float = 0.0  # the noise's standard deviation is drawn from [0, noise] grey levels
    flip: bool = False
    motion: float = 0.0  # largest shift (and zoom) as a share of the crop size
    gain: float = 0.0  # the brightness factor is drawn from [1 - gain, 1]
    flicker: float = 0.0  # the light's relative RMS change is drawn from [0, flicker]
    shade: float = 0.0  # a patch's relative RMS change (at its centre) is drawn from [0, shade]

    @property
    def active(self) -> bool:
        moves = self.speed != (1.0, 1.0) or self.motion > 0
        light = self.gain > 0 or self.flicker > 0 or self.shade > 0
        return moves or self.noise > 0 or self.flip or light


@dataclass(frozen=True)
class Draw:
    """The augmentation drawn for one clip."""

    factor: float
    noise: float
    flip: bool
    motion: float = 0.0  # this clip's shift/zoom amplitude, share of the crop size
    gain: float = 1.0  # this clip's brightness factor
    flicker: float = 0.0  # this clip's relative RMS light change
    shade: float = 0.0  # this clip's relative RMS change at the patch's centre


MOTION_HZ = (0.3, 1.5)
FLICKER_HZ = (0.6, 3.5)  # the pulse band's usual rates (36-210 bpm)


def draw(aug: Augment, rng: np.random.Generator) -> Draw:
    """One clip's random augmentation (speed drawn uniformly on a log scale)."""
    lo, hi = np.log(aug.speed[0]), np.log(aug.speed[1])
    return Draw(
        factor=float(np.exp(rng.uniform(lo, hi))),
        noise=float(rng.uniform(0.0, aug.noise)),
        flip=bool(aug.flip and rng.random() < 0.5),
        motion=float(rng.uniform(0.0, aug.motion)),
        gain=float(rng.uniform(1.0 - aug.gain, 1.0)),
        flicker=float(rng.uniform(0.0, aug.flicker)),
        shade=float(rng.uniform(0.0, aug.shade)),
    )


def motion_path(n: int, fs: float, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Per-frame (dx, dy, zoom - 1) ``[n, 3]`` in crop-size units: two random sinusoids at
    MOTION_HZ per coordinate, each coordinate peaking near `amplitude`."""
    t = np.arange(n)[:, None, None] / fs
    freq = rng.uniform(*MOTION_HZ, (1, 3, 2))
    phase = rng.uniform(0.0, 2 * np.pi, (1, 3, 2))
    return amplitude * np.sin(2 * np.pi * freq * t + phase).sum(axis=2) / 2


def flicker_path(n: int, fs: float, rms: float, rng: np.random.Generator) -> np.ndarray:
    """Per-frame light factor ``[n]`` around 1: three sinusoids at random FLICKER_HZ rates,
    phases and weights, scaled to a relative RMS change of `rms`."""
    wave = dsp.random_sinusoids(np.arange(n) / fs, rng, FLICKER_HZ, (0.2, 1.0))
    return 1.0 + rms * wave / max(float(np.sqrt(np.mean(wave**2))), 1e-12)


def shade_field(
    n: int, shape: tuple[int, int], fs: float, rms: float, rng: np.random.Generator
) -> np.ndarray:
    """Per-frame, per-pixel light factor ``[n, H, W]``: a `flicker_path` of RMS `rms` weighted
    by a gaussian blob centred anywhere in the middle half of the crop, its width 0.1-0.5 of
    the crop's side."""
    h, w = shape
    cy, cx = rng.uniform(0.25, 0.75, 2) * (h, w)
    sigma = rng.uniform(0.1, 0.5) * max(h, w)
    yy, xx = np.mgrid[:h, :w]
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    wave = flicker_path(n, fs, rms, rng) - 1.0
    return 1.0 + wave[:, None, None] * blob[None]


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


def shake(frames: np.ndarray, skin: np.ndarray, path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames [T, H, W, 3] and skin masks [T, H, W] shifted and zoomed about the centre along
    `path` (from motion_path), with the border reflected."""
    h, w = frames.shape[1:3]
    out, mask = np.empty_like(frames), np.empty_like(skin)
    for t, (dx, dy, dz) in enumerate(path):
        z = 1.0 + dz
        m = np.float32([[z, 0, (1 - z) * w / 2 + dx * w], [0, z, (1 - z) * h / 2 + dy * h]])
        out[t] = cv2.warpAffine(frames[t], m, (w, h), borderMode=cv2.BORDER_REFLECT)
        mask[t] = cv2.warpAffine(
            skin[t], m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT
        )
    return out, mask


def apply(
    frames: np.ndarray,
    label: np.ndarray,
    skin: np.ndarray,
    length: int,
    d: Draw,
    rng: np.random.Generator,
    fs: float = 30.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A window of `span(length, d.factor)` samples as a `length`-sample augmented clip at `fs`
    Hz: frames float32 [T, H, W, 3], label float32 [T], skin uint8 [T, H, W]."""
    x = resample(frames, length)
    y = resample(label, length)
    s = (resample(skin, length) >= 0.5).astype(np.uint8)
    if d.motion > 0:
        x, s = shake(x, s, motion_path(length, fs, d.motion, rng))
    if d.gain != 1.0:
        x *= np.float32(d.gain)
    if d.flicker > 0:
        light = flicker_path(length, fs, d.flicker, rng).astype(np.float32)
        x *= light[:, None, None, None]
        np.clip(x, 0.0, 255.0, out=x)
    if d.shade > 0:
        x *= shade_field(length, x.shape[1:3], fs, d.shade, rng).astype(np.float32)[..., None]
        np.clip(x, 0.0, 255.0, out=x)
    if d.noise > 0:
        x += rng.normal(0.0, d.noise, x.shape).astype(np.float32)
        np.clip(x, 0.0, 255.0, out=x)
    if d.flip:
        x, s = x[:, :, ::-1], s[:, :, ::-1]
    return np.ascontiguousarray(x), y, np.ascontiguousarray(s)
