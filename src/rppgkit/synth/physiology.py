"""Physiology of the face for the v2 synthetic renderer: where the pulse is strong, when it
arrives, how the head moves with every beat and on its own, blinking, talking and the specular
(surface) reflection that motion modulates but the pulse does not.

Every function here is pure: arrays and seeded generators in, new arrays out (only the per-frame
`pulse_image` and `specular_image` may write into a buffer the caller passes, to spare an
allocation per frame). Maps are in sprite pixels (the `Sprite` of `rppgkit.synth.scene`), so the
renderer warps them with the same per-frame affine as the sprite. Face positions are expressed in
face units: u = (x - cx) / ax, v = (y - cy) / ay over the face ellipse, v growing downwards.

The numbers and their sources are listed in docs/synthetic.md ("The face: perfusion, transit
delay, motion, blinking, specular reflection"); the docstrings repeat the key ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import lfilter

from rppgkit.errors import RppgError
from rppgkit.synth.scene import HeadMotion

Wave = Callable[[np.ndarray], np.ndarray]
"""A pulse waveform: times in seconds (any shape) -> pulse values of the same shape."""

# ----------------------------------------------------------------------------- face geometry


@dataclass(frozen=True)
class FaceGeometry:
    """Face oval and landmark layout in sprite pixels.

    `centre` (x, y) and `axes` (semi-axes along x and y) give the face ellipse. Landmarks are in
    face units: `eye_uv` is the (|u|, v) of the eye centres, `eye_size` the half-width of an eye
    in units of the x semi-axis, `hairline` the v of the hairline at u = 0 and its rise per u².
    The defaults are those of `scene.draw_face`.
    """

    centre: tuple[float, float]
    axes: tuple[float, float]
    eye_uv: tuple[float, float] = (0.4, -0.12)
    eye_size: float = 0.2
    hairline: tuple[float, float] = (-0.55, 0.5)


def face_geometry(face_box: tuple[float, float, float, float]) -> FaceGeometry:
    """Face geometry of a sprite from its face box (the box around its face ellipse).

    Parameters
    ----------
    face_box
        (x, y, w, h) in sprite pixels, as `Sprite.face_box`: both the drawn face and the astronaut
        photo give the bounding box of their face ellipse there.

    Returns
    -------
    FaceGeometry
        Ellipse centred in the box with semi-axes w/2, h/2 and the drawn face's landmark layout.
    """
    x, y, w, h = (float(value) for value in face_box)
    return FaceGeometry(centre=(x + w / 2, y + h / 2), axes=(w / 2, h / 2))


def face_coordinates(geometry: FaceGeometry, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Face units of every sprite pixel.

    Parameters
    ----------
    geometry
        Face ellipse in sprite pixels.
    shape
        (h, w) of the sprite.

    Returns
    -------
    tuple of np.ndarray
        u, v, each float32 [h, w]: (x - cx) / ax and (y - cy) / ay, so the face ellipse is
        u² + v² = 1 whatever the sprite's size.
    """
    (cx, cy), (ax, ay) = geometry.centre, geometry.axes
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return (xx - cx) / ax, (yy - cy) / ay


def _bump(
    u: np.ndarray, v: np.ndarray, centre: tuple[float, float], widths: tuple[float, float]
) -> np.ndarray:
    """Unit-height gaussian at `centre` (u, v) with standard deviations `widths` in face units."""
    return np.exp(-0.5 * (((u - centre[0]) / widths[0]) ** 2 + ((v - centre[1]) / widths[1]) ** 2))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth cubic ramp between (no kink at either end)."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def smooth_field(shape: tuple[int, int], scale_px: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std smooth random field with blobs about `scale_px` pixels wide.

    Parameters
    ----------
    shape
        (h, w) of the field.
    scale_px
        Feature size: white noise on a grid of this spacing is interpolated bicubically.
    rng
        Random generator (the only source of randomness).

    Returns
    -------
    np.ndarray
        float32 [h, w], mean 0 and standard deviation 1 over the field.
    """
    h, w = shape
    coarse = (max(2, int(h / scale_px) + 2), max(2, int(w / scale_px) + 2))
    noise = rng.standard_normal(coarse).astype(np.float32)
    field = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / max(float(field.std()), 1e-6)


# ----------------------------------------------------------------------------- 1. perfusion


def perfusion_template(u: np.ndarray, v: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
    """Typical relative pulse amplitude over the face, before per-subject variation.

    Imaging-PPG maps put the strongest pulsatile signal on the forehead, then the cheeks, and
    weaker signal on the nose, around the mouth and chin and towards the face's edges and the
    hairline (Verkruysse et al. 2008; Kamshilin et al. 2011; Kim et al. 2021; the CinC 2016
    260-ROI study of the best face locations). The levels are an illustrative ranking, not
    measured ratios: forehead ~1.4, cheeks ~1.25, rest of the face ~0.9, nose bridge ~0.6, chin
    ~0.65, face edge and beyond (neck, ears) ~0.5 of the face's typical amplitude.

    Parameters
    ----------
    u, v
        Face units of each pixel, [h, w].
    geometry
        Supplies the hairline (its v at u = 0 and its rise per u²).

    Returns
    -------
    np.ndarray
        float32 [h, w], positive, not normalised.
    """
    level = (
        0.9
        + 0.5 * _bump(u, v, (0.0, -0.4), (0.45, 0.14))  # forehead
        + 0.35 * _bump(u, v, (-0.48, 0.22), (0.2, 0.17))  # cheeks
        + 0.35 * _bump(u, v, (0.48, 0.22), (0.2, 0.17))
        - 0.3 * _bump(u, v, (0.0, 0.15), (0.09, 0.22))  # nose bridge and tip
    )
    chin = 1.0 - 0.3 * _smoothstep((v - 0.55) / 0.3)
    hair_v = geometry.hairline[0] + geometry.hairline[1] * u**2
    hairline = 0.55 + 0.45 * _smoothstep((v - hair_v) / 0.15)
    edge = 1.0 - 0.45 * _smoothstep((np.hypot(u, v) - 0.75) / 0.25)
    return (level * chin * hairline * edge).astype(np.float32)


def perfusion_map(
    geometry: FaceGeometry,
    skin: np.ndarray,
    rng: np.random.Generator,
    variation: float = 0.25,
    feature_scale: float = 0.15,
) -> np.ndarray:
    """Relative pulse strength per sprite pixel: anatomy times a per-subject random pattern.

    PPG-imaging amplitude maps are patchy at the scale of millimetres to centimetres and differ
    between people (Kamshilin et al. 2011, 2015), so the template is multiplied by a log-normal
    smooth random field. The map is normalised to a skin-weighted mean of 1, so multiplying the
    v1 pulse gain by it keeps the clip's average pulse amplitude.

    Parameters
    ----------
    geometry
        Face ellipse and landmarks in sprite pixels.
    skin
        Skin weight 0..1, float32 [h, w] (`Sprite.skin`).
    rng
        Seeded generator: the same seed gives the same subject.
    variation
        Standard deviation of the log of the random factor (0.25: about +-25 % patches).
    feature_scale
        Patch size as a fraction of the face width.

    Returns
    -------
    np.ndarray
        float32 [h, w], mean 1 over the skin (weighted by `skin`); defined off the skin too.
    """
    u, v = face_coordinates(geometry, skin.shape)
    field = smooth_field(skin.shape, feature_scale * 2 * geometry.axes[0], rng)
    raw = perfusion_template(u, v, geometry) * np.exp(variation * field - variation**2 / 2)
    mean = float((raw * skin).sum() / max(float(skin.sum()), 1e-6))
    return (raw / mean).astype(np.float32)


# ----------------------------------------------------------------------------- 2. transit delay

REGIONS = ("forehead", "cheek_left", "cheek_right", "nose", "mouth_chin", "outer")
"""Face regions with one pulse delay each; left/right as seen in the image; "outer" is skin
outside the face oval (neck, ears)."""

NOMINAL_DELAYS_S = np.array([0.030, 0.012, 0.012, 0.020, 0.0, 0.008])
"""Pulse arrival per region relative to the earliest (mouth and chin), seconds."""

DELAY_RANGE_S = (0.0, 0.05)
"""Every region's delay lies in this range, after per-subject jitter."""

# (u, v) centre and (u, v) extent of each inner region (all but "outer"), face units
_REGION_ANCHORS = (
    ((0.0, -0.5), (0.5, 0.2)),
    ((-0.5, 0.2), (0.25, 0.3)),
    ((0.5, 0.2), (0.25, 0.3)),
    ((0.0, 0.12), (0.1, 0.25)),
    ((0.0, 0.72), (0.4, 0.2)),
)


def region_delays(rng: np.random.Generator, jitter_s: float = 0.005) -> np.ndarray:
    """Per-subject pulse arrival delay of each region in `REGIONS`.

    The lower face is fed first by the facial artery (external carotid), the cheeks and nose
    later along its course, the forehead last through the supraorbital/supratrochlear branches
    of the ophthalmic artery and the frontal branch of the superficial temporal artery; imaging
    PPG resolves such arrival-time differences of tens of milliseconds across the face
    (Kamshilin et al. 2016; chin-to-forehead transit in Takahashi et al. 2019; Mironenko et al.
    2020). The nominal values are chosen within that order of magnitude, not measured.

    Parameters
    ----------
    rng
        Seeded generator: gaussian jitter per region.
    jitter_s
        Standard deviation of the jitter, seconds.

    Returns
    -------
    np.ndarray
        float64 [K] delays in seconds, clipped to `DELAY_RANGE_S`.
    """
    jitter = jitter_s * rng.standard_normal(len(NOMINAL_DELAYS_S))
    return np.clip(NOMINAL_DELAYS_S + jitter, *DELAY_RANGE_S)


def region_shares(geometry: FaceGeometry, skin: np.ndarray, softness: float = 1.0) -> np.ndarray:
    """Soft partition of the skin into `REGIONS`: each pixel's skin weight split among regions.

    Inside the face oval a pixel is shared among the inner regions by a softmax of its scaled
    squared distance to each region's anchor (a soft Voronoi partition with smooth borders, so
    the delay changes gradually from region to region); beyond the oval it goes to "outer".

    Parameters
    ----------
    geometry
        Face ellipse in sprite pixels.
    skin
        Skin weight 0..1, float32 [h, w].
    softness
        Temperature of the softmax: larger blurs the borders between regions.

    Returns
    -------
    np.ndarray
        float32 [K, h, w], non-negative, summing over K to `skin`.
    """
    u, v = face_coordinates(geometry, skin.shape)
    logits = (
        np.stack(
            [
                -0.5 * (((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2)
                for (cu, cv), (su, sv) in _REGION_ANCHORS
            ]
        )
        / softness
    )
    logits -= logits.max(axis=0, keepdims=True)
    inner = np.exp(logits)
    inner /= inner.sum(axis=0, keepdims=True)
    outer = _smoothstep((np.hypot(u, v) - 0.95) / 0.1)
    shares = np.concatenate([inner * (1.0 - outer), outer[None]], axis=0)
    return (shares * skin[None]).astype(np.float32)


def arrival_time_map(shares: np.ndarray, delays_s: np.ndarray) -> np.ndarray:
    """Pulse arrival delay per pixel: the share-weighted mean of its regions' delays.

    Parameters
    ----------
    shares
        [K, h, w] region shares (`region_shares`).
    delays_s
        [K] region delays, seconds.

    Returns
    -------
    np.ndarray
        float32 [h, w] seconds; 0 where there is no skin. For delays much shorter than a beat a
        blend of delayed copies is close to one copy delayed by this mean.
    """
    total = shares.sum(axis=0)
    weighted = np.tensordot(delays_s, shares, axes=1)
    return np.where(total > 0, weighted / np.maximum(total, 1e-12), 0.0).astype(np.float32)


@dataclass(frozen=True)
class PulseRegions:
    """K region weight maps (share times perfusion) and their delays, cropped to the skin.

    `weights` float32 [K, rh, rw] covers the sprite rows roi[0]:roi[1] and columns
    roi[2]:roi[3] that hold all skin; `delays_s` float64 [K]; `shape` is the sprite's (h, w).
    """

    weights: np.ndarray
    delays_s: np.ndarray
    roi: tuple[int, int, int, int]
    shape: tuple[int, int]


def skin_roi(skin: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding rows and columns (y0, y1, x0, x1) of the non-zero skin, end-exclusive.

    Parameters
    ----------
    skin
        Skin weight [h, w].

    Returns
    -------
    tuple of int
        (y0, y1, x0, x1); (0, 0, 0, 0) when there is no skin.
    """
    rows, cols = np.nonzero(skin.any(axis=1))[0], np.nonzero(skin.any(axis=0))[0]
    if len(rows) == 0:
        return 0, 0, 0, 0
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def pulse_regions(shares: np.ndarray, perfusion: np.ndarray, delays_s: np.ndarray) -> PulseRegions:
    """Premultiply each region's share by the perfusion and crop to the skin's bounding box.

    Parameters
    ----------
    shares
        [K, h, w] region shares summing to the skin weight.
    perfusion
        [h, w] relative pulse strength (`perfusion_map`).
    delays_s
        [K] region delays, seconds.

    Returns
    -------
    PulseRegions
        Weights ready for `pulse_image`: one multiply-add per region and pixel per frame.
    """
    roi = skin_roi(shares.sum(axis=0))
    y0, y1, x0, x1 = roi
    weights = shares[:, y0:y1, x0:x1] * perfusion[None, y0:y1, x0:x1]
    return PulseRegions(
        weights=np.ascontiguousarray(weights, dtype=np.float32),
        delays_s=np.asarray(delays_s, dtype=np.float64),
        roi=roi,
        shape=(int(shares.shape[1]), int(shares.shape[2])),
    )


def mean_delay_s(regions: PulseRegions) -> float:
    """Delay of the face-average pulse: region delays weighted by their total pulse weight.

    Parameters
    ----------
    regions
        Region weights and delays.

    Returns
    -------
    float
        Seconds; the whole-face mean trace lags the waveform by about this much, which a
        ground truth aligned to the face should account for.
    """
    totals = regions.weights.reshape(len(regions.delays_s), -1).sum(axis=1, dtype=np.float64)
    return float((totals * regions.delays_s).sum() / max(float(totals.sum()), 1e-12))


def interpolate_wave(
    sample_times: np.ndarray, samples: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """Pulse at arbitrary `times` from samples: a cubic spline, held flat outside the samples.

    A cubic spline through 30 fps samples of a heart-rate waveform shifted by a few
    milliseconds errs by ~1e-5 of its amplitude for a 1.2 Hz sine (error ~ (2 pi f h)^4 / 384 for
    sample spacing h), where linear interpolation would smear the systolic peak. Times
    outside the sampled span are clamped to it, so sample the waveform a little beyond the clip
    when delays or leads reach past its ends. Use `functools.partial(interpolate_wave, t, p)` as
    a `Wave`.

    Parameters
    ----------
    sample_times
        [M] increasing sample times, seconds.
    samples
        [M] pulse values.
    times
        Times to evaluate, any shape.

    Returns
    -------
    np.ndarray
        float64, shape of `times`.
    """
    spline = CubicSpline(sample_times, samples)
    clamped = np.clip(times, sample_times[0], sample_times[-1])
    return spline(clamped)


def delayed_pulses(wave: Wave, times: np.ndarray, delays_s: np.ndarray) -> np.ndarray:
    """pulse(t - d_k) for every frame time t and region delay d_k, in one call of `wave`.

    Parameters
    ----------
    wave
        The pulse waveform (for sampled pulses, `interpolate_wave` bound to its samples).
    times
        [N] frame times, seconds.
    delays_s
        [K] region delays, seconds.

    Returns
    -------
    np.ndarray
        float64 [N, K]: the value each region shows in each frame.
    """
    shifted = np.asarray(times, np.float64)[:, None] - np.asarray(delays_s, np.float64)[None, :]
    return np.asarray(wave(shifted.ravel()), np.float64).reshape(shifted.shape)


def pulse_image(
    regions: PulseRegions, values: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """One frame's pulse image in sprite pixels: sum over k of weight_k(x) * pulse(t - d_k).

    Costs K multiply-adds per pixel of the skin's bounding box and writes only that box.

    Parameters
    ----------
    regions
        Region weights (perfusion included) and delays.
    values
        [K] this frame's row of `delayed_pulses`.
    out
        Optional float32 [h, w] buffer, zero outside the box (zero it once and reuse it every
        frame); a new zeroed buffer when omitted.

    Returns
    -------
    np.ndarray
        float32 [h, w] (`out` when given): relative pulse per pixel, 0 off the skin.
    """
    if out is None:
        out = np.zeros(regions.shape, np.float32)
    y0, y1, x0, x1 = regions.roi
    view = out[y0:y1, x0:x1]
    np.multiply(regions.weights[0], np.float32(values[0]), out=view)
    for weight, value in zip(regions.weights[1:], values[1:], strict=True):
        cv2.scaleAdd(weight, float(value), view, dst=view)
    return out


# ----------------------------------------------------------------------------- 3. motion


@dataclass(frozen=True)
class MotionLevel:
    """Natural head motion: stationary standard deviation of each pose component.

    Translations in millimetres (each image axis), angles in degrees, `scale` the relative size
    change (distance changes).
    """

    shift_mm: float
    roll_deg: float
    yaw_deg: float
    pitch_deg: float
    scale: float


MOTION_LEVELS = {
    "still": MotionLevel(shift_mm=1.0, roll_deg=0.3, yaw_deg=0.5, pitch_deg=0.5, scale=0.002),
    "moderate": MotionLevel(shift_mm=5.0, roll_deg=2.0, yaw_deg=4.0, pitch_deg=3.0, scale=0.01),
    "strong": MotionLevel(shift_mm=15.0, roll_deg=5.0, yaw_deg=12.0, pitch_deg=8.0, scale=0.03),
}
"""Still: a seated subject asked not to move; moderate: relaxed, fidgeting; strong: restless
(still far below the deliberate 7-14 %-of-face-height-per-second translations of PURE)."""

_DRIFT_TAU_S = 3.0  # slow postural drift
_SWAY_TAU_S = 0.3  # faster sway and small corrections
_SWAY_SHARE = 0.25  # share of each component's variance in the faster sway

_BLINK_CLOSING_SHARE = 0.41  # closing ~45 % faster than reopening (Sforza et al. 2008)
_BLINK_DURATION_S = (0.1, 0.4)
_BLINK_REFRACTORY_S = 0.5
_UTTERANCE_S = 2.5  # mean length of a stretch of speech


def smooth_noise(n: int, dt: float, tau_s: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth stationary random process: white noise through two first-order low-passes.

    One first-order stage (an Ornstein-Uhlenbeck process) jumps every sample; a second stage
    makes the path smooth, as a head's is, with a spectrum falling as f^-4 above 1/(2 pi tau).

    Parameters
    ----------
    n
        Number of samples.
    dt
        Sample spacing, seconds.
    tau_s
        Time constant of each stage, seconds.
    rng
        Random generator.

    Returns
    -------
    np.ndarray
        float64 [n], exactly zero-mean and unit-std over the n samples.
    """
    burn = int(5 * tau_s / dt) + 1  # settle into the stationary state before the clip starts
    a = np.exp(-dt / tau_s)
    x = lfilter([1 - a], [1, -a], lfilter([1 - a], [1, -a], rng.standard_normal(n + burn)))[burn:]
    return (x - x.mean()) / max(float(x.std()), 1e-12)


def _sway(n: int, dt: float, rng: np.random.Generator) -> np.ndarray:
    """Pose component: slow drift plus a smaller, faster sway (`_SWAY_SHARE` of the variance).

    Parameters
    ----------
    n
        Number of frames.
    dt
        Frame spacing, seconds.
    rng
        Random generator.

    Returns
    -------
    np.ndarray
        float64 [n], zero-mean with standard deviation exactly 1 over the clip, so a level's
        standard deviation is what the clip shows.
    """
    drift = smooth_noise(n, dt, _DRIFT_TAU_S, rng)
    sway = smooth_noise(n, dt, _SWAY_TAU_S, rng)
    mix = np.sqrt(1 - _SWAY_SHARE) * drift + np.sqrt(_SWAY_SHARE) * sway
    return mix / max(float(mix.std()), 1e-12)


@dataclass(frozen=True)
class HeadPose:
    """Per-frame head pose, each float64 [N]: shift in frame pixels, angles in degrees (roll as
    `scene.HeadMotion.angle_deg`: positive turns the face counter-clockwise on screen; yaw
    positive turns the face towards image right; pitch positive tilts the chin up), scale factor."""

    dx_px: np.ndarray
    dy_px: np.ndarray
    roll_deg: np.ndarray
    yaw_deg: np.ndarray
    pitch_deg: np.ndarray
    scale: np.ndarray


def natural_motion(
    times: np.ndarray, level: MotionLevel, px_per_mm: float, rng: np.random.Generator
) -> HeadPose:
    """Involuntary head motion: independent smooth random processes per pose component.

    Parameters
    ----------
    times
        [N] frame times, evenly spaced, seconds.
    level
        Standard deviation of each component (`MOTION_LEVELS`).
    px_per_mm
        Frame pixels per millimetre at the face.
    rng
        Random generator.

    Returns
    -------
    HeadPose
        Zero-mean pose deviations (scale around 1).
    """
    n = len(times)
    dt = float(times[1] - times[0]) if n > 1 else 1.0
    return HeadPose(
        dx_px=level.shift_mm * px_per_mm * _sway(n, dt, rng),
        dy_px=level.shift_mm * px_per_mm * _sway(n, dt, rng),
        roll_deg=level.roll_deg * _sway(n, dt, rng),
        yaw_deg=level.yaw_deg * _sway(n, dt, rng),
        pitch_deg=level.pitch_deg * _sway(n, dt, rng),
        scale=1.0 + level.scale * _sway(n, dt, rng),
    )


def bcg_displacement(
    wave: Wave, times: np.ndarray, amplitude_px: float, lead_s: float, horizontal_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ballistocardiographic head displacement: the head's recoil as each beat ejects blood.

    Blood ejected into the aortic arch and the carotids moves the body's centre of mass towards
    the head; the body recoils the other way and returns as the blood runs off, so the head
    bobs, mostly vertically, once per beat (Balakrishnan et al. 2013; the centre-of-mass
    account of the BCG in Inan et al. 2015 and Kim et al. 2016). The displacement here follows
    the central pulse: the facial pulse advanced by `lead_s`, the transit time from the heart to
    the face, since ejection precedes the pulse's arrival in the face. Downward (+y) with the
    systolic upstroke.

    Parameters
    ----------
    wave
        The facial pulse waveform (times -> pulse).
    times
        [N] frame times, seconds.
    amplitude_px
        Peak-to-peak vertical displacement over the clip, frame pixels.
    lead_s
        How far the ejection precedes the facial pulse, seconds.
    horizontal_share
        Horizontal displacement as a fraction of the vertical one.

    Returns
    -------
    tuple of np.ndarray
        dx, dy, float64 [N] frame pixels, zero-mean; dy spans exactly `amplitude_px`.
    """
    central = np.asarray(wave(np.asarray(times, np.float64) + lead_s), np.float64)
    span = float(np.ptp(central))
    dy = amplitude_px * (central - central.mean()) / span if span > 0 else np.zeros_like(central)
    return horizontal_share * dy, dy


@dataclass(frozen=True)
class Events:
    """Non-overlapping timed events (blinks or syllables): start times and durations in seconds
    and peak amplitudes 0..1, each float64 [M], sorted by start."""

    onsets_s: np.ndarray
    durations_s: np.ndarray
    peaks: np.ndarray


def _no_events() -> Events:
    """An empty event list."""
    return Events(np.zeros(0), np.zeros(0), np.zeros(0))


def _renewal_onsets(
    start_s: float, end_s: float, mean_s: float, gap_s: float, rng: np.random.Generator
) -> np.ndarray:
    """Event times of a renewal process whose intervals are `gap_s` plus an exponential.

    Parameters
    ----------
    start_s, end_s
        Span to fill, seconds; the first event falls a random fraction of an interval after
        `start_s`, as if the process had been running before it.
    mean_s
        Mean interval (must exceed `gap_s`): the rate is exactly 1 / `mean_s`.
    gap_s
        Refractory gap: no two events are closer.
    rng
        Random generator.

    Returns
    -------
    np.ndarray
        float64 [M] increasing event times up to `end_s`.
    """
    onsets: list[np.ndarray] = []
    t = start_s - rng.uniform(0.0, mean_s)
    while t <= end_s:
        chunk = t + np.cumsum(gap_s + rng.exponential(mean_s - gap_s, 256))
        onsets.append(chunk)
        t = float(chunk[-1])
    times = np.concatenate(onsets)
    return times[times <= end_s]


def blink_events(
    start_s: float,
    end_s: float,
    rate_per_min: float,
    median_duration_s: float,
    rng: np.random.Generator,
) -> Events:
    """Spontaneous blinks: a Poisson-like process with a short refractory gap.

    At rest people blink about 17 times a minute, 26 in conversation and 4.5 while reading
    (Bentivoglio et al. 1997); a blink lasts 100-400 ms. Intervals are a 0.5 s refractory gap
    plus an exponential, so the mean rate is exactly `rate_per_min`. Durations are log-normal
    around `median_duration_s` (sigma 0.3) clipped to 0.1-0.4 s. Many spontaneous blinks stop
    short of full closure (Sforza et al. 2008): the peak closure is min(1, U(0.6, 1.3)), full
    in about 40 % of blinks.

    Parameters
    ----------
    start_s, end_s
        Time span to fill, seconds.
    rate_per_min
        Mean blink rate, 0..60 per minute (0: no blinks).
    median_duration_s
        Median blink duration, seconds.
    rng
        Random generator.

    Returns
    -------
    Events
        Blinks starting within the span (and one running into it).
    """
    if not 0.0 <= rate_per_min <= 60.0:
        raise RppgError(f"blink rate {rate_per_min}/min is outside 0..60: people blink 4-30/min")
    if rate_per_min == 0.0:
        return _no_events()
    lo, hi = _BLINK_DURATION_S
    onsets = _renewal_onsets(start_s - hi, end_s, 60.0 / rate_per_min, _BLINK_REFRACTORY_S, rng)
    durations = np.clip(median_duration_s * np.exp(0.3 * rng.standard_normal(len(onsets))), lo, hi)
    peaks = np.minimum(1.0, rng.uniform(0.6, 1.3, len(onsets)))
    keep = onsets + durations > start_s
    return Events(onsets[keep], durations[keep], peaks[keep])


def _event_phase(times: np.ndarray, events: Events) -> tuple[np.ndarray, np.ndarray]:
    """Which event each time falls in, and how far through it.

    Parameters
    ----------
    times
        [N] times, seconds.
    events
        Non-empty, non-overlapping events sorted by onset.

    Returns
    -------
    tuple of np.ndarray
        index [N] of the latest event started (0 where none has), phase [N] 0..1 through that
        event, or -1 outside every event.
    """
    index = np.searchsorted(events.onsets_s, times, side="right") - 1
    safe = np.maximum(index, 0)
    phase = (times - events.onsets_s[safe]) / events.durations_s[safe]
    inside = (index >= 0) & (phase < 1.0)
    return safe, np.where(inside, phase, -1.0)


def eyelid_closure(times: np.ndarray, blinks: Events) -> np.ndarray:
    """Upper-eyelid closure at each time: 0 open, 1 fully closed.

    The lid closes over the first 41 % of a blink and reopens more slowly over the rest
    (closing is 40-47 % faster than opening, Sforza et al. 2008), with smooth (sine-squared)
    starts and stops.

    Parameters
    ----------
    times
        [N] times, seconds.
    blinks
        Blink events (`blink_events`).

    Returns
    -------
    np.ndarray
        float64 [N] in 0..1.
    """
    times = np.asarray(times, np.float64)
    if len(blinks.onsets_s) == 0:
        return np.zeros_like(times)
    index, phase = _event_phase(times, blinks)
    c = _BLINK_CLOSING_SHARE
    closing = np.sin(0.5 * np.pi * np.clip(phase / c, 0.0, 1.0)) ** 2
    opening = np.cos(0.5 * np.pi * np.clip((phase - c) / (1 - c), 0.0, 1.0)) ** 2
    shape = np.where(phase < c, closing, opening)
    return np.where(phase >= 0, blinks.peaks[index] * shape, 0.0)


def syllable_events(
    start_s: float,
    end_s: float,
    talk_share: float,
    rate_hz: tuple[float, float],
    rng: np.random.Generator,
) -> Events:
    """Talking: stretches of speech, each a run of syllables, separated by pauses.

    Speech opens and closes the mouth once per syllable, about 4-5 times a second, and the
    mouth's opening fluctuates at 2-7 Hz (Chandrasekaran et al. 2009). Utterances last an
    exponential 2.5 s on average, pauses are exponential with the mean that makes `talk_share`
    the expected fraction of time spent talking; each utterance has its own syllable rate drawn
    from `rate_hz`, each syllable a +-20 % length jitter and a peak opening U(0.3, 1).

    Parameters
    ----------
    start_s, end_s
        Time span to fill, seconds.
    talk_share
        Expected fraction of the time spent talking, 0..1 (0: silent).
    rate_hz
        Range of syllable rates, per second.
    rng
        Random generator.

    Returns
    -------
    Events
        Syllables, back to back within an utterance.
    """
    if talk_share <= 0.0:
        return _no_events()
    if not 0.0 < rate_hz[0] <= rate_hz[1]:
        raise RppgError(f"syllable rates {rate_hz} must be increasing and positive, e.g. (3, 6) Hz")
    mean_pause = _UTTERANCE_S * (1.0 - min(talk_share, 1.0)) / talk_share
    t = start_s - rng.uniform(0.0, _UTTERANCE_S + mean_pause)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    while t < end_s:
        rate = rng.uniform(*rate_hz)
        count = max(1, round(rng.exponential(_UTTERANCE_S) * rate))
        durations = rng.uniform(0.8, 1.2, count) / rate
        parts.append((t + np.cumsum(durations) - durations, durations))
        t += float(durations.sum()) + (rng.exponential(mean_pause) if mean_pause > 0 else 0.0)
    onsets = np.concatenate([p[0] for p in parts])
    durations = np.concatenate([p[1] for p in parts])
    keep = (onsets + durations > start_s) & (onsets < end_s)
    return Events(onsets[keep], durations[keep], rng.uniform(0.3, 1.0, int(keep.sum())))


def mouth_opening(times: np.ndarray, syllables: Events) -> np.ndarray:
    """Jaw/mouth opening at each time: a sine-squared opening and closing per syllable.

    Parameters
    ----------
    times
        [N] times, seconds.
    syllables
        Syllable events (`syllable_events`).

    Returns
    -------
    np.ndarray
        float64 [N] in 0..1 (0 closed).
    """
    times = np.asarray(times, np.float64)
    if len(syllables.onsets_s) == 0:
        return np.zeros_like(times)
    index, phase = _event_phase(times, syllables)
    return np.where(phase >= 0, syllables.peaks[index] * np.sin(np.pi * phase) ** 2, 0.0)


@dataclass(frozen=True)
class DynamicsSettings:
    """What the face does over a clip.

    `motion` names a `MOTION_LEVELS` entry; `bcg_amplitude_mm` is the peak-to-peak vertical
    BCG head displacement (0.1 mm ~ 0.09 px for a 200 px face); `bcg_lead_s` how much ejection
    precedes the facial pulse; `bcg_horizontal_share` the horizontal part of the BCG; blinks and
    talking as in `blink_events` and `syllable_events`; `face_height_mm` the real height of the
    face box (crown to chin, ~22 cm for adults), which converts millimetres to pixels.
    """

    motion: str = "still"
    bcg_amplitude_mm: float = 0.1
    bcg_lead_s: float = 0.08
    bcg_horizontal_share: float = 0.1
    blink_rate_per_min: float = 17.0
    blink_duration_s: float = 0.2
    talk_share: float = 0.0
    syllable_rate_hz: tuple[float, float] = (3.0, 6.0)
    face_height_mm: float = 220.0


@dataclass(frozen=True)
class FaceDynamics:
    """Everything that moves, per frame, each float64 [N].

    `pose` is the total head pose (natural motion plus BCG) in `HeadPose` conventions;
    `bcg_dx_px`, `bcg_dy_px` the BCG share of its shift; `eyelid` the closure 0..1; `mouth` the
    opening 0..1; `blinks` and `syllables` the underlying events (ground truth).
    """

    pose: HeadPose
    bcg_dx_px: np.ndarray
    bcg_dy_px: np.ndarray
    eyelid: np.ndarray
    mouth: np.ndarray
    blinks: Events
    syllables: Events


def face_dynamics(
    times: np.ndarray,
    wave: Wave,
    settings: DynamicsSettings,
    face_height_px: float,
    rng: np.random.Generator,
) -> FaceDynamics:
    """Head motion with its BCG share, blinking and talking for every frame of a clip.

    Motion, blinks and talking draw from separate generators seeded from `rng`, so changing one
    setting leaves the other components unchanged.

    Parameters
    ----------
    times
        [N] evenly spaced frame times, seconds.
    wave
        The facial pulse waveform, for the BCG.
    settings
        What the face does.
    face_height_px
        Height of the face box in frame pixels.
    rng
        Random generator.

    Returns
    -------
    FaceDynamics
        Per-frame arrays and the events behind them.
    """
    if settings.motion not in MOTION_LEVELS:
        raise RppgError(f"motion {settings.motion!r} is unknown: use one of {list(MOTION_LEVELS)}")
    motion_rng, blink_rng, talk_rng = (
        np.random.default_rng(s) for s in rng.integers(2**63, size=3)
    )
    times = np.asarray(times, np.float64)
    px_per_mm = face_height_px / settings.face_height_mm
    natural = natural_motion(times, MOTION_LEVELS[settings.motion], px_per_mm, motion_rng)
    bcg_px = settings.bcg_amplitude_mm * px_per_mm
    bcg_dx, bcg_dy = bcg_displacement(
        wave, times, bcg_px, settings.bcg_lead_s, settings.bcg_horizontal_share
    )
    pose = dataclasses.replace(natural, dx_px=natural.dx_px + bcg_dx, dy_px=natural.dy_px + bcg_dy)
    start, end = float(times[0]), float(times[-1])
    blinks = blink_events(
        start, end, settings.blink_rate_per_min, settings.blink_duration_s, blink_rng
    )
    talk = syllable_events(start, end, settings.talk_share, settings.syllable_rate_hz, talk_rng)
    eyelid, mouth = eyelid_closure(times, blinks), mouth_opening(times, talk)
    return FaceDynamics(pose, bcg_dx, bcg_dy, eyelid, mouth, blinks, talk)


def as_head_motion(pose: HeadPose) -> HeadMotion:
    """The in-plane part of a pose as v1's `HeadMotion`, for `scene.pose_matrices`.

    Parameters
    ----------
    pose
        Per-frame head pose.

    Returns
    -------
    HeadMotion
        Shift, roll and scale; yaw and pitch have no 2-D affine counterpart and are left to the
        shading and specular layers.
    """
    return HeadMotion(dx=pose.dx_px, dy=pose.dy_px, angle_deg=pose.roll_deg, scale=pose.scale)


def eyelid_cover(geometry: FaceGeometry, shape: tuple[int, int], closure: float) -> np.ndarray:
    """Coverage of the upper eyelids lowered to `closure`, to paint in skin colour over the eyes.

    Each lid is an ellipse a little larger than the eye (half-width `eye_size * ax`, half-height
    half of that), filled from its top down to a lid edge that descends with the closure.

    Parameters
    ----------
    geometry
        Face ellipse and eye layout in sprite pixels.
    shape
        (h, w) of the sprite.
    closure
        0 open (nothing covered) .. 1 closed (the whole eye covered).

    Returns
    -------
    np.ndarray
        float32 [h, w] coverage 0..1 with a one-pixel soft edge.
    """
    cover = np.zeros(shape, np.float32)
    if closure <= 0.0:
        return cover
    (cx, cy), (ax, ay) = geometry.centre, geometry.axes
    a = geometry.eye_size * ax
    b = 0.5 * a
    for side in (-1.0, 1.0):
        ex, ey = cx + side * geometry.eye_uv[0] * ax, cy + geometry.eye_uv[1] * ay
        y0, y1 = max(int(ey - b) - 2, 0), min(int(ey + b) + 3, shape[0])
        x0, x1 = max(int(ex - a) - 2, 0), min(int(ex + a) + 3, shape[1])
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        inside = np.clip((1.0 - np.hypot((xx - ex) / a, (yy - ey) / b)) * b + 0.5, 0.0, 1.0)
        above = np.clip(ey - b + 2.0 * b * closure - yy + 0.5, 0.0, 1.0)
        cover[y0:y1, x0:x1] = np.maximum(cover[y0:y1, x0:x1], inside * above)
    return cover


# ----------------------------------------------------------------------------- 4. specular

DEFAULT_LIGHT = (-0.35, -0.45, 0.82)
"""Direction towards the light (x right, y down, z towards the camera): upper left and in front,
the same as the Lambert shading of `scene.draw_face`."""

SKIN_F0 = 0.028
"""Fresnel reflectance of skin at normal incidence, ((n - 1) / (n + 1))² for n ~ 1.4."""

SKIN_ROUGHNESS = 0.35
"""Beckmann roughness (rms microfacet slope) of facial skin's specular lobe."""


def ellipsoid_normals(
    geometry: FaceGeometry, shape: tuple[int, int], depth_ratio: float = 0.75
) -> np.ndarray:
    """Unit surface normals of a face-like ellipsoid seen front-on, per sprite pixel.

    The ellipsoid has the face ellipse as its outline and depth `depth_ratio * ax` towards the
    camera; pixels beyond the outline take the normal at its rim.

    Parameters
    ----------
    geometry
        Face ellipse in sprite pixels.
    shape
        (h, w) of the sprite.
    depth_ratio
        Depth semi-axis over the horizontal semi-axis.

    Returns
    -------
    np.ndarray
        float32 [3, h, w]: (x right, y down, z towards the camera) components.
    """
    u, v = face_coordinates(geometry, shape)
    r2 = u**2 + v**2
    scale = np.where(r2 > 0.999, np.sqrt(0.999 / np.maximum(r2, 1e-12)), 1.0)
    u, v = u * scale, v * scale
    ax, ay = geometry.axes
    z = np.sqrt(1.0 - u**2 - v**2)
    normals = np.stack([u / ax, v / ay, z / (depth_ratio * ax)])  # gradient of the implicit form
    return (normals / np.linalg.norm(normals, axis=0, keepdims=True)).astype(np.float32)


def head_rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Rotation from head to camera axes (x right, y down, z towards the camera).

    Roll follows `scene.pose_matrices` (positive turns the face counter-clockwise on screen),
    yaw positive turns the face towards image right, pitch positive tilts the chin up; applied
    as roll @ pitch @ yaw.

    Parameters
    ----------
    yaw_deg, pitch_deg, roll_deg
        Head angles in degrees.

    Returns
    -------
    np.ndarray
        float64 [3, 3] rotation matrix R: a head-frame vector n points along R @ n.
    """
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    yaw = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    pitch = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    roll = np.array([[np.cos(r), np.sin(r), 0], [-np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return roll @ pitch @ yaw


def specular_strength(
    geometry: FaceGeometry, skin: np.ndarray, tzone_gain: float = 0.5
) -> np.ndarray:
    """Where the skin is shiny: skin weight, faded out past the face oval, raised on the T-zone.

    The forehead and nose secrete more sebum than the cheeks (Youn et al. 2005) and shine more;
    measured faces show such region-to-region differences of the specular lobe (Weyrich et al.
    2006). The T-zone gain is illustrative. The oval fade keeps highlights off the neck and ears,
    whose surfaces the face ellipsoid does not describe.

    Parameters
    ----------
    geometry
        Face ellipse in sprite pixels.
    skin
        Skin weight 0..1, [h, w].
    tzone_gain
        Extra specular strength on the forehead and nose (0.5: up to 1.5x).

    Returns
    -------
    np.ndarray
        float32 [h, w], 0 off the skin.
    """
    u, v = face_coordinates(geometry, skin.shape)
    tzone = np.maximum(_bump(u, v, (0.0, -0.4), (0.45, 0.15)), _bump(u, v, (0.0, 0.15), (0.1, 0.3)))
    oval = 1.0 - _smoothstep((np.hypot(u, v) - 0.9) / 0.1)
    return (skin * oval * (1.0 + tzone_gain * tzone)).astype(np.float32)


@dataclass(frozen=True)
class SpecularSurface:
    """Static inputs of the specular layer cropped to the skin's bounding box `roi`
    (y0, y1, x0, x1): `normals` float32 [3, rh, rw] in head axes, `strength` float32 [rh, rw];
    `shape` is the sprite's (h, w)."""

    normals: np.ndarray
    strength: np.ndarray
    roi: tuple[int, int, int, int]
    shape: tuple[int, int]


def specular_surface(
    geometry: FaceGeometry, skin: np.ndarray, depth_ratio: float = 0.75, tzone_gain: float = 0.5
) -> SpecularSurface:
    """Normals and specular strength of a sprite's skin, computed once per clip.

    Parameters
    ----------
    geometry
        Face ellipse in sprite pixels.
    skin
        Skin weight 0..1, [h, w].
    depth_ratio
        Ellipsoid depth over its horizontal semi-axis (`ellipsoid_normals`).
    tzone_gain
        Extra shine on forehead and nose (`specular_strength`).

    Returns
    -------
    SpecularSurface
        Cropped to the skin's bounding box.
    """
    strength = specular_strength(geometry, skin, tzone_gain)
    roi = skin_roi(strength)
    y0, y1, x0, x1 = roi
    normals = ellipsoid_normals(geometry, skin.shape, depth_ratio)[:, y0:y1, x0:x1]
    return SpecularSurface(
        normals=np.ascontiguousarray(normals),
        strength=np.ascontiguousarray(strength[y0:y1, x0:x1]),
        roi=roi,
        shape=(int(skin.shape[0]), int(skin.shape[1])),
    )


def specular_image(
    surface: SpecularSurface,
    rotation: np.ndarray,
    light_dir: tuple[float, float, float] = DEFAULT_LIGHT,
    roughness: float = SKIN_ROUGHNESS,
    f0: float = SKIN_F0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Specular (interface) reflection of one frame, in sprite pixels, as a fraction of white.

    Dichromatic model (Shafer 1985): light reflected at the skin's surface keeps the light's
    colour and never enters the tissue, so it never meets blood and carries no pulse; only the
    diffuse (body) part, which has travelled through the perfused dermis, does. The lobe is
    Torrance-Sparrow / Cook-Torrance: Beckmann facet distribution D with roughness m (0.35,
    within the range fitted to measured faces, Weyrich et al. 2006), Schlick's Fresnel F from
    F0 = 0.028 (refractive index ~1.4) and the V-cavity shadowing G. With a distant light and an
    orthographic camera the half vector is the same for every pixel, so F is one number per frame.
    The radiance pi*F*D*G / (4 n.v) is relative to a white Lambertian surface facing the light.

    Parameters
    ----------
    surface
        Normals (head axes) and specular strength of the skin.
    rotation
        [3, 3] head rotation of this frame (`head_rotation`): it turns the light and the view
        into head axes, so the highlight slides over the face as the head turns.
    light_dir
        Direction towards the light in camera axes.
    roughness
        Beckmann roughness m.
    f0
        Fresnel reflectance at normal incidence.
    out
        Optional float32 [h, w] buffer, zero outside the skin's box (reuse it every frame).

    Returns
    -------
    np.ndarray
        float32 [h, w] (`out` when given), 0 off the skin.
    """
    light = rotation.T @ (np.asarray(light_dir, np.float64) / np.linalg.norm(light_dir))
    view = rotation.T @ np.array([0.0, 0.0, 1.0])
    half = (light + view) / np.linalg.norm(light + view)
    nl, nv, nh = np.tensordot(np.stack([light, view, half]).astype(np.float32), surface.normals, 1)
    vh = float(view @ half)
    fresnel = f0 + (1.0 - f0) * (1.0 - vh) ** 5
    nh = np.maximum(nh, 1e-3)
    cos2 = nh * nh
    beckmann_pi = np.exp((cos2 - 1.0) / (cos2 * roughness**2)) / (roughness**2 * cos2 * cos2)
    shadowing = np.minimum(1.0, 2.0 * nh * np.minimum(nv, nl) / vh)
    lit = (nl > 0) & (nv > 0)
    value = fresnel * beckmann_pi * shadowing / (4.0 * np.maximum(nv, 1e-3))
    if out is None:
        out = np.zeros(surface.shape, np.float32)
    y0, y1, x0, x1 = surface.roi
    out[y0:y1, x0:x1] = np.where(lit, value * surface.strength, 0.0)
    return out


def dichromatic(
    body: np.ndarray, pulse_factor: np.ndarray, specular: np.ndarray, light: np.ndarray
) -> np.ndarray:
    """Compose the two reflections: the pulse scales the body colour, never the specular part.

    Parameters
    ----------
    body
        [..., 3] diffuse colour under white light of level 255 (shading included), 8-bit units.
    pulse_factor
        [..., 3] (or broadcastable) multiplicative pulsatile change of the body colour, e.g.
        1 - gain_c * pulse_image.
    specular
        [...] specular fraction of white (`specular_image`).
    light
        [3] RGB of the light as seen on a white reflector, 8-bit units.

    Returns
    -------
    np.ndarray
        float32 [..., 3] linear pixel values: body * pulse_factor * light / 255 + specular * light.
    """
    light = np.asarray(light, np.float32)
    diffuse = np.asarray(body, np.float32) * pulse_factor * (light / 255.0)
    return (diffuse + np.asarray(specular, np.float32)[..., None] * light).astype(np.float32)
