"""What a consumer camera records of a scene: auto exposure, auto white balance, sensor noise,
tone curve, 8-bit quantisation, and the lossy encoder settings of phones and webcams.

`Camera.record` takes one frame of linear scene radiance (float32 ``[H, W, 3]``, relative units,
a white-balanced scene spanning about 0..1) and returns the uint8 RGB frame a camera would
deliver, frame after frame, from a seeded generator. The stages, in the order light meets them:

1. exposure: radiance x exposure (x a fixed per-pixel gain map, PRNU) = raw level, 1 = full scale;
   the exposure is split into exposure time (up to one frame time) and analogue gain;
2. sensor noise: shot noise (variance proportional to the collected electrons) plus read noise,
   both in electrons and scaled by the analogue gain, drawn as a gaussian per pixel and frame;
3. clipping and ADC quantisation to `adc_bits`;
4. white-balance gains, the sRGB transfer curve with an optional mild S-curve, rounding to 8 bits:
   all folded into one look-up table per channel, rebuilt each frame;
5. control: the frame's statistics move auto exposure (a damped approach in log exposure, in
   steps, with a start threshold and a delay of a few frames) and auto white balance (a partial
   grey-world estimate followed slowly, times a bounded random drift).

Numbers and their sources are in docs/synthetic.md, section "The camera".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import av
import cv2
import numpy as np

from rppgkit.checks import Range, check_fields
from rppgkit.errors import RppgError
from rppgkit.video.writer import Codec

CameraKind = Literal["phone", "webcam"]
LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 / sRGB luminance of linear RGB
_METER_STRIDE = 16  # controllers read every 16th pixel each way (ISP statistics are coarse)
_METER_SIGMA = 0.25  # centre weighting: gaussian of a quarter of the frame's width / height
_POOL_FRAMES = 4  # sensor noise is read from a pool of this many frames' worth of gaussians
_DARKEST = 1e-6  # metered levels below this are taken as this (log of a black frame)
_WB_SMOOTH_S = 2.0  # time constant smoothing the white-balance drift (see Camera._steer)
_GREY_WORLD_LIMIT = 0.25  # grey-world gains are kept within exp(+-0.25), about -22%..+28%


@dataclass(frozen=True)
class CameraParams:
    """A camera: its sensor, its auto exposure and white balance, its tone curve.

    Defaults describe a typical USB webcam in an office; `random_camera` draws phones and
    webcams around such values. Sources for every default are in docs/synthetic.md.

    Attributes
    ----------
    kind
        "phone" or "webcam"; `consumer_codec` takes the same word.
    full_well_e
        Electrons at raw full scale with unit analogue gain (shot noise scales from it).
    read_noise_e
        Read noise in electrons (rms), before the analogue gain.
    prnu
        Photo-response non-uniformity: std of the fixed per-pixel gain (0.005 = 0.5%).
    sensor_pixels
        Photosites the video is read from. A frame with fewer pixels averages
        ``sensor_pixels / (H W)`` photosites into each (binning, then the ISP's scaling), which
        divides the noise variance and the PRNU's by that count; 0 (default): one photosite per
        output pixel.
    adc_bits
        Bits of the raw ADC: the raw level is rounded to 2**adc_bits - 1 steps.
    max_gain
        Highest analogue gain; darker scenes come out darker than the target.
    sensitivity
        Raw level a white (radiance 1) surface reaches at the longest exposure (one frame time)
        and unit gain. It lumps scene illuminance, f-number, pixel area and quantum efficiency;
        about 0.5 for an office (~400 lx) seen through f/2.
    ae_target
        Linear level auto exposure aims the (centre-weighted) mean luminance at: 0.18 is the 18%
        grey card, which the sRGB curve shows at level 118 of 255.
    ae_tau_s
        Lag of auto exposure: the area between a step in the required exposure and the
        response, in seconds (for a first-order lag, its time constant).
    ae_damping
        Damping ratio of the exposure's approach: 1 approaches without overshoot; below 1 each
        correction overshoots by exp(-pi d / sqrt(1 - d^2)) (0.7: 4.6%) and swings back, the
        small hunting of consumer auto exposure.
    ae_step_ev
        Exposure changes come in whole steps of this many EV (1/32 EV is 2.2%).
    ae_tolerance_ev
        Auto exposure starts moving only once the metered level is off target by more than
        this; it stops once its exposure is the step nearest to what the scene requires.
    ae_delay_frames
        Frames between metering a frame and the new exposure taking effect (sensor registers
        latch at frame boundaries).
    ae_centre_weight
        Share of the metering weight on a centred gaussian (the rest is spread evenly).
    awb_strength
        Fraction of the grey-world correction applied (0 = fixed white balance, 1 = full grey
        world, which turns a face-filled frame blue).
    awb_tau_s
        Time constant with which the white-balance gains follow the grey-world estimate.
    wb_drift
        Bound of the slow random drift of the red and blue gains (0.02 = within +-2%).
    wb_drift_tau_s
        Correlation time of that drift.
    tone_contrast
        Strength of the S-curve applied after the sRGB curve (0 = plain sRGB; phones ~0.1-0.3).
    """

    kind: CameraKind = "webcam"
    full_well_e: float = 8000.0
    read_noise_e: float = 3.0
    prnu: float = 0.005
    sensor_pixels: float = 0.0
    adc_bits: int = 10
    max_gain: float = 16.0
    sensitivity: float = 0.5
    ae_target: float = 0.18
    ae_tau_s: float = 0.5
    ae_damping: float = 0.7
    ae_step_ev: float = 1 / 32
    ae_tolerance_ev: float = 0.1
    ae_delay_frames: int = 2
    ae_centre_weight: float = 0.5
    awb_strength: float = 0.3
    awb_tau_s: float = 2.0
    wb_drift: float = 0.02
    wb_drift_tau_s: float = 5.0
    tone_contrast: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("phone", "webcam"):
            raise RppgError(f"camera kind {self.kind!r} is unknown: use 'phone' or 'webcam'")
        check_fields(self, _LIMITS)


_LIMITS = {
    "full_well_e": ("full_well_e", Range(100, 1e6)),
    "read_noise_e": ("read_noise_e", Range(0, 100)),
    "prnu": ("prnu", Range(0, 0.1)),
    "sensor_pixels": ("sensor_pixels", Range(0, 1e9)),
    "adc_bits": ("adc_bits", Range(8, 14, whole=True)),
    "max_gain": ("max_gain", Range(1, 1024)),
    "sensitivity": ("sensitivity", Range(0, 100, above=True)),
    "ae_target": ("ae_target", Range(0, 1, above=True)),
    "ae_tau_s": ("ae_tau_s", Range(0, 60, above=True)),
    "ae_damping": ("ae_damping", Range(0.3, 2)),
    "ae_step_ev": ("ae_step_ev", Range(0, 1, above=True)),
    "ae_tolerance_ev": ("ae_tolerance_ev", Range(0, 4)),
    "ae_delay_frames": ("ae_delay_frames", Range(1, 10, whole=True)),
    "ae_centre_weight": ("ae_centre_weight", Range(0, 1)),
    "awb_strength": ("awb_strength", Range(0, 1)),
    "awb_tau_s": ("awb_tau_s", Range(0, 600, above=True)),
    "wb_drift": ("wb_drift", Range(0, 0.2)),
    "wb_drift_tau_s": ("wb_drift_tau_s", Range(0, 600, above=True)),
    "tone_contrast": ("tone_contrast", Range(0, 0.5)),
}


# the 4:3 part (960x720, 1440x1080) of a 720p and a 1080p webcam sensor
_WEBCAM_SENSOR_PIXELS = (960 * 720, 1440 * 1080)


def random_camera(rng: np.random.Generator, kind: CameraKind | None = None) -> CameraParams:
    """Draw a plausible camera: a phone or a webcam (half and half when `kind` is None).

    Parameters
    ----------
    rng
        The generator all draws come from.
    kind
        "phone", "webcam", or None to draw one.

    Returns
    -------
    CameraParams
        Phones: small pixels (4.5-7 ke- full well) with low read noise on an 8-12 MP sensor,
        quick and well damped AE, a contrasty tone curve. Webcams: bigger pixels (6-12 ke-)
        with noisier read-out on a 720p or 1080p sensor (its 4:3 part), slower AE that hunts
        more, slower white balance, little or no S-curve. Both: scene light (`sensitivity`)
        from a dim room to a bright one, log-uniformly.
    """
    chosen = kind if kind is not None else ("phone", "webcam")[int(rng.integers(2))]
    if chosen == "phone":
        return CameraParams(
            kind="phone",
            full_well_e=rng.uniform(4500, 7000),
            read_noise_e=rng.uniform(1.0, 2.5),
            prnu=rng.uniform(0.003, 0.008),
            max_gain=16.0,
            sensitivity=_log_uniform(rng, 0.15, 1.5),
            ae_tau_s=rng.uniform(0.3, 0.6),
            ae_damping=rng.uniform(0.8, 1.0),
            ae_step_ev=1 / 64,
            ae_centre_weight=rng.uniform(0.4, 0.8),
            awb_strength=rng.uniform(0.2, 0.4),
            awb_tau_s=rng.uniform(1.0, 2.0),
            wb_drift=rng.uniform(0.01, 0.02),
            tone_contrast=rng.uniform(0.1, 0.3),
            sensor_pixels=rng.uniform(8e6, 12.2e6),
        )
    return CameraParams(
        kind="webcam",
        full_well_e=rng.uniform(6000, 12000),
        read_noise_e=rng.uniform(2.0, 6.0),
        prnu=rng.uniform(0.005, 0.01),
        max_gain=float(rng.choice([8.0, 16.0])),
        sensitivity=_log_uniform(rng, 0.1, 1.0),
        ae_tau_s=rng.uniform(0.5, 1.0),
        ae_damping=rng.uniform(0.6, 0.9),
        ae_centre_weight=rng.uniform(0.0, 0.6),
        awb_strength=rng.uniform(0.2, 0.5),
        awb_tau_s=rng.uniform(2.0, 4.0),
        wb_drift=rng.uniform(0.01, 0.03),
        tone_contrast=rng.uniform(0.0, 0.15),
        sensor_pixels=float(rng.choice(_WEBCAM_SENSOR_PIXELS)),
    )


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A draw spread evenly over log(low)..log(high): each factor of two is equally likely."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


# ----------------------------------------------------------------------------- tone


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve (IEC 61966-2-1): linear 0..1 to display-referred 0..1.

    Parameters
    ----------
    linear
        Linear values, clipped to 0..1 first.

    Returns
    -------
    np.ndarray
        Encoded values, float64: a straight segment of slope 12.92 up to 0.0031308 (so the curve
        has a finite slope at black), then 1.055 x^(1/2.4) - 0.055; 0.18 maps to 0.461.
    """
    x = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def tone_curve(linear: np.ndarray, contrast: float) -> np.ndarray:
    """sRGB curve followed by a mild S: y + contrast * y (1 - y) (2y - 1).

    Parameters
    ----------
    linear
        Linear values (clipped to 0..1).
    contrast
        0 gives plain sRGB; up to 0.5 the curve stays monotonic, fixes 0, 0.5 and 1, darkens
        shadows a little and steepens mid-tones by a factor 1 + contrast / 2.

    Returns
    -------
    np.ndarray
        Display-referred values 0..1.
    """
    y = srgb_encode(linear)
    return y + contrast * y * (1.0 - y) * (2.0 * y - 1.0)


def output_lut(gains: np.ndarray, adc_bits: int, contrast: float) -> np.ndarray:
    """Table from (channel, raw code) to the 8-bit output: white balance, clip, tone, round.

    Parameters
    ----------
    gains
        ``[3]`` white-balance gains applied to the raw channels.
    adc_bits
        Raw codes run 0 .. 2**adc_bits - 1.
    contrast
        S-curve strength (`tone_curve`).

    Returns
    -------
    np.ndarray
        uint8 ``[3 * 2**adc_bits]``: channel c's table starts at c * 2**adc_bits, so one gather
        with code + channel offset develops a whole frame.
    """
    codes = np.arange(2**adc_bits) / (2**adc_bits - 1)
    levels = 255.0 * tone_curve(np.outer(gains, codes), contrast)
    return np.rint(levels).astype(np.uint8).ravel()


# ----------------------------------------------------------------------------- sensor


def analogue_gain(exposure: float, params: CameraParams) -> float:
    """Gain a camera uses for `exposure`: exposure time first (up to one frame time), then gain.

    Parameters
    ----------
    exposure
        Raw level per unit radiance.
    params
        The camera (its `sensitivity` is the exposure at one frame time and unit gain).

    Returns
    -------
    float
        Analogue gain, 1 .. `max_gain`.
    """
    return float(np.clip(exposure / params.sensitivity, 1.0, params.max_gain))


def noise_coefficients(
    gain: float, params: CameraParams, photosites: float = 1.0
) -> tuple[float, float]:
    """Raw-level noise variance as ``a * level + b`` (shot plus read noise) at an analogue gain.

    Parameters
    ----------
    gain
        Analogue gain: full scale then holds full_well_e / gain electrons.
    params
        The sensor.
    photosites
        Photosites averaged into one output pixel (`photosites_per_pixel`): the variance of
        their mean is each one's divided by their count.

    Returns
    -------
    tuple[float, float]
        `a`: shot noise, gain / full_well_e (a level x holds x * full_well_e / gain electrons,
        whose Poisson variance is that count); `b`: read noise, (read_noise_e * gain /
        full_well_e) squared; both divided by `photosites`.

    Examples
    --------
    >>> a, b = noise_coefficients(1.0, CameraParams(full_well_e=8000.0, read_noise_e=3.0))
    >>> a, round(b / 1.40625e-07, 6)
    (0.000125, 1.0)
    >>> noise_coefficients(1.0, CameraParams(full_well_e=8000.0), photosites=25.0)[0]
    5e-06
    """
    electron = gain / params.full_well_e  # raw level of one electron
    return electron / photosites, (params.read_noise_e * electron) ** 2 / photosites


def photosites_per_pixel(params: CameraParams, shape: tuple[int, ...]) -> float:
    """Photosites of `params`' sensor behind each pixel of a frame of `shape` (H, W, ...).

    Parameters
    ----------
    params
        The camera; `sensor_pixels` 0 means a sensor of the frame's own size.
    shape
        The frame's shape; its first two entries are its height and width.

    Returns
    -------
    float
        ``sensor_pixels / (H W)``, at least 1 (a frame larger than the sensor is upscaled,
        which averages nothing).

    Examples
    --------
    >>> photosites_per_pixel(CameraParams(sensor_pixels=1280 * 960), (480, 640, 3))
    4.0
    >>> photosites_per_pixel(CameraParams(), (480, 640, 3))
    1.0
    """
    return max(1.0, params.sensor_pixels / (shape[0] * shape[1]))


def metering_weights(shape: tuple[int, int], centre_weight: float) -> np.ndarray:
    """Weights of a centre-weighted average over a statistics grid, summing to one.

    Parameters
    ----------
    shape
        Rows and columns of the grid.
    centre_weight
        Share of the weight on a centred gaussian (sigma a quarter of each side).

    Returns
    -------
    np.ndarray
        float32 ``[rows, cols]``.
    """
    rows, cols = shape
    yy = (np.arange(rows) - (rows - 1) / 2) / (_METER_SIGMA * rows)
    xx = (np.arange(cols) - (cols - 1) / 2) / (_METER_SIGMA * cols)
    bump = np.exp(-0.5 * (yy[:, None] ** 2 + xx[None, :] ** 2))
    flat = np.full(shape, 1.0 / (rows * cols))
    return ((1 - centre_weight) * flat + centre_weight * bump / bump.sum()).astype(np.float32)


# ----------------------------------------------------------------------------- control


@dataclass(frozen=True)
class ExposureControl:
    """State of auto exposure: `ev`, the log2 exposure it holds (continuous; the exposure
    applied is `ev` rounded to whole steps), `rate`, its rate of change in EV/s, and `seeking`,
    whether it is moving."""

    ev: float
    rate: float
    seeking: bool


def exposure_step(
    state: ExposureControl, applied_ev: float, metered: float, params: CameraParams, fps: float
) -> ExposureControl:
    """One frame of auto exposure: a damped second-order approach to the required exposure.

    Parameters
    ----------
    state
        The controller before this frame.
    applied_ev
        log2 of the exposure the metered frame was taken with (it lags the controller).
    metered
        Centre-weighted mean luminance of that frame, linear, after white balance.
    params
        The camera: target, lag, damping, step, tolerance, exposure range.
    fps
        Frame rate.

    Returns
    -------
    ExposureControl
        The new state. The exposure the scene requires is known from this frame alone
        (applied x target / metered), so frames still in flight add no overshoot of their own.
        The natural frequency 2 damping / tau makes the area between a step and the response
        tau whatever the damping, as for a first-order lag of time constant tau. The controller
        stops once it rests on the step nearest the requirement.
    """
    error = float(np.log2(params.ae_target / max(metered, _DARKEST)))
    if not (state.seeking or abs(error) > params.ae_tolerance_ev):
        return state
    required, dt = applied_ev + error, 1.0 / fps
    omega = 2.0 * params.ae_damping / params.ae_tau_s
    pull = omega**2 * (required - state.ev) - 2.0 * params.ae_damping * omega * state.rate
    rate = state.rate + dt * pull
    low, high = exposure_range(params)
    ev = float(np.clip(state.ev + dt * rate, low, high))
    if ev in (low, high):
        rate = 0.0
    slow = abs(rate) * params.ae_tau_s < params.ae_step_ev / 2
    settled = slow and quantised_ev(ev, params) == quantised_ev(required, params)
    return ExposureControl(ev, 0.0 if settled else rate, not settled)


def exposure_range(params: CameraParams) -> tuple[float, float]:
    """log2 exposures the camera can set: 1/1024 of a frame time at unit gain up to a full
    frame time at the highest gain.

    Parameters
    ----------
    params
        The camera.

    Returns
    -------
    tuple[float, float]
        Lowest and highest log2 exposure.
    """
    top = float(np.log2(params.sensitivity))
    return top - 10.0, top + float(np.log2(params.max_gain))


def quantised_ev(ev: float, params: CameraParams) -> float:
    """`ev` rounded to the camera's exposure steps.

    Parameters
    ----------
    ev
        log2 exposure.
    params
        The camera (`ae_step_ev`).

    Returns
    -------
    float
        The nearest whole number of steps, in EV.
    """
    return round(ev / params.ae_step_ev) * params.ae_step_ev


def grey_world_log_gains(means: np.ndarray, strength: float) -> np.ndarray:
    """The white balance a partial grey-world estimate asks for, as natural-log gains.

    Parameters
    ----------
    means
        ``[3]`` mean raw R, G, B of the frame.
    strength
        Fraction of the full correction (green / channel) applied.

    Returns
    -------
    np.ndarray
        ``[3]`` log gains, green 0, each within +-`_GREY_WORLD_LIMIT` before `strength`.
    """
    safe = np.maximum(means, _DARKEST)
    full = np.clip(np.log(safe[1] / safe), -_GREY_WORLD_LIMIT, _GREY_WORLD_LIMIT)
    return strength * full


def drift_step(state: np.ndarray, rng: np.random.Generator, dt: float, tau: float) -> np.ndarray:
    """One step of a unit-variance Ornstein-Uhlenbeck process (exact discretisation).

    Parameters
    ----------
    state
        ``[2]`` current values (red, blue).
    rng
        Source of the innovations.
    dt, tau
        Time step and correlation time, seconds.

    Returns
    -------
    np.ndarray
        ``[2]`` next values; stationary distribution N(0, 1).
    """
    rho = np.exp(-dt / tau)
    return rho * state + np.sqrt(1.0 - rho**2) * rng.standard_normal(2)


def white_balance_gains(tracked: np.ndarray, drift: np.ndarray, bound: float) -> np.ndarray:
    """Gains applied to R, G, B: the tracked grey-world gains times the bounded drift.

    Parameters
    ----------
    tracked
        ``[3]`` natural-log gains the controller holds.
    drift
        ``[2]`` drift state of red and blue (unit variance).
    bound
        The drift's bound: it enters as 1 + bound * tanh(drift), never beyond +-bound.

    Returns
    -------
    np.ndarray
        ``[3]`` linear gains; green's drift is 0 (gains are relative to green).
    """
    wobble = 1.0 + bound * np.tanh(np.array([drift[0], 0.0, drift[1]]))
    return np.exp(tracked) * wobble


# ----------------------------------------------------------------------------- the camera


@dataclass(frozen=True)
class _Buffers:
    """Per-frame work arrays, allocated on the first frame: float32 ``[H, W, 3]`` raw level,
    spare, prnu map (or None) and channel offsets of the output table; float32
    ``[_POOL_FRAMES * H * W * 3]`` standard gaussians; intp ``[H, W, 3]`` codes; float32
    ``[rows, cols]`` metering weights.

    Each frame's noise is the pool read from a random start: a pixel meets a different pool
    value every frame, and two frames reuse a patch of values at the same place only when their
    starts nearly coincide, so averages over a skin region stay independent from frame to
    frame. Drawing fresh gaussians would cost more than the rest of the camera together."""

    raw: np.ndarray
    spare: np.ndarray
    pool: np.ndarray
    prnu: np.ndarray | None
    offsets: np.ndarray
    codes: np.ndarray
    weights: np.ndarray


class Camera:
    """A consumer camera recording a video frame by frame, deterministic given its generator.

    Parameters
    ----------
    params
        The camera.
    fps
        Frame rate; sets the controllers' per-frame steps.
    rng
        Every random draw (PRNU map, noise, drift) comes from it, in a fixed order.
    exposure
        Exposure of the first frames (raw level per unit radiance). None: metered from the
        first frame so recording starts converged, as when a camera ran before recording.
    """

    def __init__(
        self,
        params: CameraParams,
        fps: float,
        rng: np.random.Generator,
        exposure: float | None = None,
    ) -> None:
        self.params, self.fps, self._rng = params, fps, rng
        self._first_exposure = exposure
        self._buffers: _Buffers | None = None
        self._queue: deque[float] = deque()
        self._control = ExposureControl(0.0, 0.0, False)
        self._tracked = np.zeros(3)
        self._wander = rng.standard_normal(2)
        self._photosites = 1.0  # set from the first frame's size
        self._drift = self._wander.copy()
        self.metered = float("nan")  # centre-weighted luminance of the last frame, linear

    @property
    def exposure(self) -> float:
        """Exposure the next frame is taken with (raw level per unit radiance); NaN before the
        first frame when that frame is to be metered."""
        if not self._queue:
            return float("nan") if self._first_exposure is None else self._first_exposure
        return float(2.0 ** self._queue[0])

    @property
    def white_balance(self) -> np.ndarray:
        """``[3]`` white-balance gains the next frame is developed with."""
        return white_balance_gains(self._tracked, self._drift, self.params.wb_drift)

    def record(self, linear: np.ndarray) -> np.ndarray:
        """Take one frame.

        Parameters
        ----------
        linear
            float32 ``[H, W, 3]`` scene radiance, >= 0, white at about 1; the same size every
            frame.

        Returns
        -------
        np.ndarray
            uint8 ``[H, W, 3]`` RGB, a new array.
        """
        linear = np.ascontiguousarray(linear, dtype=np.float32)
        if self._buffers is None:
            self._start(linear)
        buffers = self._buffers
        if linear.shape != buffers.raw.shape:
            raise ValueError(f"frame shape {linear.shape} differs from {buffers.raw.shape}")
        applied_ev = self._queue.popleft()
        gains = self.white_balance
        self._expose(linear, 2.0**applied_ev, buffers)
        out = self._develop(gains, buffers)
        grid = buffers.raw[::_METER_STRIDE, ::_METER_STRIDE]
        means = grid.reshape(-1, 3).mean(axis=0, dtype=np.float64)
        centred = np.tensordot(buffers.weights, grid, axes=2)
        self.metered = float(LUMA @ (gains * centred))
        self._steer(applied_ev, means)
        return out

    def _start(self, linear: np.ndarray) -> None:
        """Allocate buffers, draw the PRNU map, and start the controllers (converged unless an
        exposure was given)."""
        p, shape = self.params, linear.shape
        grid = linear[::_METER_STRIDE, ::_METER_STRIDE]
        weights = metering_weights(grid.shape[:2], p.ae_centre_weight)
        self._tracked = grey_world_log_gains(grid.reshape(-1, 3).mean(axis=0), p.awb_strength)
        if self._first_exposure is None:
            lit = LUMA @ (self.white_balance * np.tensordot(weights, grid, axes=2))
            ev = float(np.log2(p.ae_target / max(float(lit), _DARKEST)))
        else:
            ev = float(np.log2(self._first_exposure))
        ev = float(np.clip(ev, *exposure_range(p)))
        self._control = ExposureControl(ev, 0.0, False)
        self._queue = deque([quantised_ev(ev, p)] * p.ae_delay_frames)
        self._photosites = photosites_per_pixel(p, shape)
        prnu = None
        if p.prnu > 0:
            spread = p.prnu / np.sqrt(self._photosites)  # the mean of independent gains
            prnu = (1.0 + spread * self._rng.standard_normal(shape)).astype(np.float32)
        offsets = np.arange(3, dtype=np.float32) * 2**p.adc_bits + 0.5
        self._buffers = _Buffers(
            raw=np.empty(shape, np.float32),
            spare=np.empty(shape, np.float32),
            pool=self._rng.standard_normal(_POOL_FRAMES * linear.size, dtype=np.float32),
            prnu=prnu,
            offsets=np.ascontiguousarray(np.broadcast_to(offsets, shape)),
            codes=np.empty(shape, np.intp),  # numpy gathers with intp indices directly
            weights=weights,
        )

    def _expose(self, linear: np.ndarray, exposure: float, buffers: _Buffers) -> None:
        """Raw level with noise into `buffers.raw`: radiance x exposure (x PRNU), plus a
        gaussian of variance a * level + b, clipped to 0..1."""
        raw, spare = buffers.raw, buffers.spare
        if buffers.prnu is None:
            np.multiply(linear, np.float32(exposure), out=raw)
        else:
            cv2.multiply(linear, buffers.prnu, dst=raw, scale=exposure)
        gain = analogue_gain(exposure, self.params)
        a, b = noise_coefficients(gain, self.params, self._photosites)
        cv2.addWeighted(raw, a, raw, 0.0, b, dst=spare)
        cv2.sqrt(spare, dst=spare)
        start = int(self._rng.integers(buffers.pool.size - raw.size + 1))
        cv2.accumulateProduct(spare, buffers.pool[start : start + raw.size].reshape(raw.shape), raw)
        np.clip(raw, 0.0, 1.0, out=raw)

    def _develop(self, gains: np.ndarray, buffers: _Buffers) -> np.ndarray:
        """ADC codes of `buffers.raw`, then one table look-up to 8-bit RGB."""
        p = self.params
        cv2.scaleAdd(buffers.raw, float(2**p.adc_bits - 1), buffers.offsets, dst=buffers.spare)
        np.copyto(buffers.codes, buffers.spare, casting="unsafe")  # floor of code + 0.5
        lut = output_lut(gains, p.adc_bits, p.tone_contrast)
        return np.take(lut, buffers.codes, mode="wrap")

    def _steer(self, applied_ev: float, means: np.ndarray) -> None:
        """Move auto exposure and white balance after a frame."""
        p, dt = self.params, 1.0 / self.fps
        self._control = exposure_step(self._control, applied_ev, self.metered, p, self.fps)
        self._queue.append(quantised_ev(self._control.ev, p))
        target = grey_world_log_gains(means, p.awb_strength)
        self._tracked = self._tracked + (1.0 - np.exp(-dt / p.awb_tau_s)) * (target - self._tracked)
        # the drift is the wandering state seen through a lag: white balance moves smoothly,
        # without frame-to-frame jitter in the pulse band (a bare random walk has 1/f^2 power
        # there and swamped the pulse of the red and blue channels)
        self._wander = drift_step(self._wander, self._rng, dt, p.wb_drift_tau_s)
        lag = 1.0 - np.exp(-dt / _WB_SMOOTH_S)
        self._drift = self._drift + lag * (self._wander - self._drift)


# ----------------------------------------------------------------------------- compression

# Bitrates (bits/s) at a reference size and 30 fps, by camera kind and codec; see the docs.
_REFERENCE_BITRATES: dict[tuple[str, str], tuple[float, float]] = {
    ("phone", "h264"): (6e6, 15e6),
    ("phone", "hevc"): (3.6e6, 9e6),
    ("webcam", "h264"): (1e6, 3e6),
}
_REFERENCE_PIXELS = 640 * 480
_PIXEL_EXPONENT = 0.75  # bitrate ~ pixels^0.75: smaller frames need more bits per pixel
_FPS_EXPONENT = 0.6  # and ~ fps^0.6: at a higher rate, frames predict each other better
_ENCODERS = {"h264": "libx264", "hevc": "libx265"}


def consumer_bitrate(width: int, height: int, fps: float, reference: float) -> int:
    """A reference bitrate scaled to another frame size and rate.

    Parameters
    ----------
    width, height, fps
        The video.
    reference
        Bits/s at the reference size, 640x480, and 30 fps.

    Returns
    -------
    int
        Bits/s.
    """
    pixels = width * height / _REFERENCE_PIXELS
    return round(reference * pixels**_PIXEL_EXPONENT * (fps / 30.0) ** _FPS_EXPONENT)


def consumer_codec(
    width: int,
    height: int,
    fps: float,
    kind: CameraKind,
    rng: np.random.Generator,
    codec: Literal["h264", "hevc"] | None = None,
) -> Codec:
    """Encoder settings of a phone's or a webcam's recording, for `rppgkit.video.writer`.

    Parameters
    ----------
    width, height
        Frame size; both even (4:2:0 chroma halves them).
    fps
        Frame rate.
    kind
        "phone" or "webcam".
    rng
        Draws the bitrate within the kind's range, the GOP (1-2 s) and, for a phone with
        `codec` None, H.264 or HEVC (HEVC only when this FFmpeg has libx265).
    codec
        "h264" or "hevc" to fix the codec (webcams record H.264 only).

    Returns
    -------
    Codec
        Average-bitrate encoding, yuv420p, no B-frames, rate capped at 1.15x the average over
        a buffer of one GOP, a keyframe every GOP.
    """
    if width % 2 or height % 2:
        raise RppgError(f"4:2:0 video needs an even frame size, got {width}x{height}")
    coin = rng.random()  # drawn always, so the draws after it do not depend on the FFmpeg
    if codec is None:
        hevc = kind == "phone" and "libx265" in av.codecs_available and coin < 0.5
        codec = "hevc" if hevc else "h264"
    if (kind, codec) not in _REFERENCE_BITRATES:
        raise RppgError(f"no {codec} settings for a {kind}: use phone/webcam with h264, phone/hevc")
    bit_rate = consumer_bitrate(width, height, fps, rng.uniform(*_REFERENCE_BITRATES[kind, codec]))
    gop = max(1, round(fps * rng.uniform(1.0, 2.0)))
    options = {
        "g": str(gop),
        "bf": "0",
        "maxrate": str(round(1.15 * bit_rate)),
        "bufsize": str(round(bit_rate * gop / fps)),
    }
    if codec == "hevc":
        options |= {"preset": "superfast", "x265-params": "log-level=error"}
    else:
        options |= {"preset": "veryfast", "profile": "high" if kind == "phone" else "main"}
    return Codec(_ENCODERS[codec], "yuv420p", options, bit_rate=bit_rate)
