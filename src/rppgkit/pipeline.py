"""The measurement pipeline: video -> face -> RGB trace -> estimator -> pulse -> HR, HRV.

`measure` is the Python API behind `rppgkit measure`; it returns a `Measurement` that the report
stage turns into files.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgkit import dsp
from rppgkit.clip.crop import crop_faces, open_memmap
from rppgkit.errors import NoFaceError, RppgError, TooShortError
from rppgkit.estimators import Estimator, create
from rppgkit.estimators.neural import network_clip_spec
from rppgkit.face.detect import check_detector
from rppgkit.face.track import DETECT_EVERY
from rppgkit.pulse.heart_rate import HeartRate, WindowHR, heart_rate, sliding_heart_rate
from rppgkit.pulse.hrv import HRV, hrv, systolic_peaks
from rppgkit.trace.extract import Trace, extract_trace
from rppgkit.video.reader import VideoInfo, open_video

MIN_WINDOW_COVERAGE = 0.8  # a window needs a face in this share of its samples to get an HR


@dataclass(frozen=True)
class Options:
    """Settings of one measurement; the CLI flags map one to one onto these."""

    method: str = "pos"
    fps: float | None = None  # override the video's frame rate
    detector: str = "yunet"
    detect_every: int = DETECT_EVERY  # frames between face detections
    max_gap_s: float = 1.0  # longer stretches without a face are not bridged
    window_s: float = 10.0
    step_s: float = 1.0
    min_face_fraction: float = 0.5
    band_hz: tuple[float, float] = (0.7, 3.0)
    weights: str | None = None  # checkpoint of a neural method

    def validate(self) -> None:
        """Raise RppgError naming the first setting that cannot work."""
        estimator = _estimator(self)
        if estimator.input_kind == "clip":
            network_clip_spec(self.method, self.weights)  # loads the weights: fail early
        check_detector(self.detector)
        if not (2 <= self.window_s <= 120):
            raise RppgError(f"--window must be 2 to 120 s, got {self.window_s:g}")
        if not (0 < self.step_s <= self.window_s):
            raise RppgError(f"--step must be above 0 and at most --window, got {self.step_s:g}")
        if not (0 <= self.min_face_fraction <= 1):
            raise RppgError(f"--min-face is a share from 0 to 1, got {self.min_face_fraction:g}")
        if self.detect_every < 1 or self.max_gap_s < 0:
            raise RppgError("detect_every must be at least 1 and max_gap_s at least 0")


@dataclass(frozen=True)
class Measurement:
    """Everything measured from one video, on a uniform time base at `fs`."""

    video: Path
    info: VideoInfo
    options: Options
    trace: Trace
    fs: float
    times: np.ndarray  # [M] s, uniform
    pulse: np.ndarray  # [M]
    valid: np.ndarray  # [M] bool: a face was seen near this sample
    heart_rate: HeartRate  # whole video
    windows: list[WindowHR]
    peaks: np.ndarray  # indices into times of systolic peaks
    hrv: HRV | None

    def summary(self) -> dict[str, object]:
        """A JSON-ready digest of the measurement."""
        hrs = np.array([w.bpm for w in self.windows], dtype=float)
        snrs = np.array([w.snr_db for w in self.windows], dtype=float)
        ok = ~np.isnan(hrs)
        return {
            "video": str(self.video),
            "method": self.options.method,
            "detector": self.options.detector,
            "duration_s": round(float(self.times[-1] - self.times[0]), 3),
            "n_frames": self.trace.n_frames,
            "fps": round(self.fs, 4),
            "face_fraction": round(self.trace.face_fraction, 4),
            "frames_per_s": _round(self.trace.n_frames / self.trace.elapsed_s, 1),
            "face_gaps_s": [[round(a, 2), round(b, 2)] for a, b in self.trace.gaps(0.5)],
            "hr_bpm": round(self.heart_rate.bpm, 2),
            "hr_snr_db": round(self.heart_rate.snr_db, 2),
            "windows": {
                "window_s": self.options.window_s,
                "step_s": self.options.step_s,
                "count": len(self.windows),
                "with_hr": int(ok.sum()),
                "hr_mean_bpm": _round(np.mean(hrs[ok])) if ok.any() else None,
                "hr_min_bpm": _round(np.min(hrs[ok])) if ok.any() else None,
                "hr_max_bpm": _round(np.max(hrs[ok])) if ok.any() else None,
                "snr_mean_db": _round(np.mean(snrs[ok])) if ok.any() else None,
            },
            "hrv": None
            if self.hrv is None
            else {k: _round(v) for k, v in dataclasses.asdict(self.hrv).items()},
        }


def _round(x: float, nd: int = 2) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def measure(
    video: str | os.PathLike,
    options: Options | None = None,
    on_frame: Callable[[int], None] | None = None,
    **overrides: object,
) -> Measurement:
    """Measure pulse, heart rate and HRV from a face video (file or folder of frames).

    `overrides` are Options fields, e.g. `measure("v.mp4", method="chrom")`.
    """
    opts = dataclasses.replace(options or Options(), **overrides)
    opts.validate()  # fail on a bad setting before decoding anything
    source = open_video(video, fps=opts.fps)
    duration = source.info.duration_s
    if duration is not None and duration < opts.window_s:
        raise TooShortError(_too_short(Path(video), duration, opts.window_s))
    trace = extract_trace(
        source, opts.detector, opts.detect_every, opts.max_gap_s, on_frame=on_frame
    )
    return analyse(trace, opts)


def analyse(trace: Trace, options: Options | None = None, **overrides: object) -> Measurement:
    """Everything after the video: estimate the pulse from an RGB trace, then HR and HRV.

    Separate from `measure` so one trace can be analysed by several methods without decoding the
    video again.
    """
    opts = dataclasses.replace(options or Options(), **overrides)
    estimator = _estimator(opts)
    video = trace.info.path
    _check_face(video, trace, opts)
    fs = opts.fps or _frame_rate(trace.times)
    times, rgb = dsp.resample_uniform(trace.times, trace.rgb, fs)
    if times[-1] - times[0] < opts.window_s:
        raise TooShortError(_too_short(video, times[-1] - times[0], opts.window_s))
    valid = _coverage(trace, times, opts.max_gap_s)
    if estimator.input_kind == "trace":
        pulse = estimator(rgb, fs)
    else:
        pulse = _clip_pulse(estimator, trace, times, fs, opts)
    windows = [
        w
        if _share(valid, times - times[0], w.start_s, w.end_s) >= MIN_WINDOW_COVERAGE
        else dataclasses.replace(w, bpm=float("nan"), snr_db=float("nan"))
        for w in sliding_heart_rate(pulse, fs, opts.window_s, opts.step_s, opts.band_hz)
    ]
    peaks = systolic_peaks(pulse, fs)
    peaks = peaks[valid[peaks]]
    return Measurement(
        video=video,
        info=trace.info,
        options=opts,
        trace=trace,
        fs=fs,
        times=times,
        pulse=pulse,
        valid=valid,
        heart_rate=heart_rate(pulse, fs, opts.band_hz),
        windows=windows,
        peaks=peaks,
        hrv=_hrv_or_none(peaks, fs),
    )


def _hrv_or_none(peaks: np.ndarray, fs: float) -> HRV | None:
    """HRV where the beats allow it; a noisy pulse still has an HR, so this is not an error."""
    try:
        return hrv(peaks, fs)
    except TooShortError:
        return None


def _estimator(opts: Options) -> Estimator:
    estimator = create(opts.method)
    if opts.weights is None:
        return estimator
    if estimator.input_kind != "clip":
        raise RppgError(f"--weights is for neural methods; {opts.method!r} needs no training")
    return create(opts.method, weights=opts.weights)


def _clip_pulse(
    estimator: Estimator, trace: Trace, times: np.ndarray, fs: float, opts: Options
) -> np.ndarray:
    """Run a neural estimator on face crops cut along the trace's face track, the way its
    training clips were cut; the crops go through a temporary memory map, not the heap."""
    spec = network_clip_spec(opts.method, opts.weights)
    with tempfile.TemporaryDirectory(prefix="rppgkit-crops-") as tmp:
        crops = open_memmap(Path(tmp) / "crops.npy", (len(times), spec.size, spec.size, 3), "uint8")
        crop_faces(trace, times, spec.size, spec.face_scale, out=crops, fps=opts.fps)
        pulse = estimator(crops, fs)
        del crops
    return pulse


def _too_short(path: Path, duration: float, window_s: float) -> str:
    return (
        f"{path} is {duration:.1f} s long, shorter than the {window_s:g} s heart-rate window; "
        "use a longer clip or a shorter --window"
    )


def _check_face(path: Path, trace: Trace, opts: Options) -> None:
    share = trace.face_fraction
    if share == 0:
        raise NoFaceError(
            f"no face found in {path}; it needs a visible, roughly frontal face "
            f"(or try --detector {'haar' if opts.detector != 'haar' else 'yunet'})"
        )
    if share < opts.min_face_fraction:
        raise NoFaceError(
            f"a face was found in only {share:.0%} of {path}'s frames, below the "
            f"{opts.min_face_fraction:.0%} needed; trim the video or lower --min-face"
        )


def _frame_rate(times: np.ndarray) -> float:
    """The camera's frame rate from its timestamps.

    Each interval counts as the number of frame periods it spans (about one; more where frames
    were dropped), so neither dropped frames nor timestamps rounded to whole milliseconds (33 or
    34 ms at 30 fps) bias the rate.
    """
    steps = np.diff(times)
    if not len(steps) or steps.sum() <= 0:
        return 30.0
    periods = np.maximum(np.round(steps / np.median(steps)), 1.0)
    return float(periods.sum() / steps.sum())


def _coverage(trace: Trace, times: np.ndarray, max_gap_s: float) -> np.ndarray:
    """True where the uniform sample lies between two usable frames at most max_gap_s apart."""
    seen = trace.times[~np.isnan(trace.rgb[:, 0])]
    after = np.clip(np.searchsorted(seen, times), 1, len(seen) - 1)
    gap = seen[after] - seen[after - 1] if len(seen) > 1 else np.zeros_like(times)
    inside = (times >= seen[0] - 1e-9) & (times <= seen[-1] + 1e-9)
    return inside & (gap <= max_gap_s + 1e-9)


def _share(valid: np.ndarray, times: np.ndarray, start: float, end: float) -> float:
    sel = (times >= start) & (times < end)
    return float(valid[sel].mean()) if sel.any() else 0.0
