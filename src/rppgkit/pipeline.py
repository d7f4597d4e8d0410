"""The measurement pipeline: video -> face -> RGB trace -> estimator -> pulse -> HR, HRV.

`measure` is the Python API behind `rppgkit measure`; it returns a `Measurement` that the report
stage turns into files.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgkit import dsp
from rppgkit.checks import Range, check, check_fields
from rppgkit.clip.crop import FrameCrops, crop_recorder, recut_crops
from rppgkit.errors import NoFaceError, RppgError, TooShortError
from rppgkit.estimators import Estimator, create
from rppgkit.estimators.classic import blood_up
from rppgkit.face.detect import check_detector
from rppgkit.fileio import scratch_array, shown
from rppgkit.pulse.beats import Beats, detect_beats
from rppgkit.pulse.heart_rate import HeartRate, WindowHR, heart_rate, sliding_heart_rate
from rppgkit.pulse.hrv import HRV, hrv
from rppgkit.pulse.quality import Quality, assess, discount_damage, hrv_refusal, score_windows
from rppgkit.summary import (
    BeatsSummary,
    HRVSummary,
    QualitySummary,
    Summary,
    TimingsSummary,
    WindowsSummary,
)
from rppgkit.trace.extract import FaceCallback, Roi, Trace, check_roi, extract_trace
from rppgkit.video.reader import FileVideo, FrameFolder, VideoInfo, open_video

MIN_WINDOW_COVERAGE = 0.8  # a window needs a face in this share of its samples to get an HR
SECOND_OPINION = "pos"  # the independent method whose HR the quality index compares against
SECOND_OPINION_FOR_POS = "chrom"
GREYSCALE_METHODS = frozenset({"green"})  # methods that read one channel, so need no colour
GAP_S = 0.5  # shortest stretch without a face, or without frames, that the summary lists


@dataclass(frozen=True)
class Options:
    """Settings of one measurement; the CLI flags map one to one onto these."""

    method: str = "pos"
    fps: float | None = None  # space frames 1/fps apart when opening the video (Trace keeps it)
    detector: str = "yunet"
    detect_every: int | None = None  # frames between face detections; None: as the method reads
    # the face (rppgkit.face.track: every 4th for a trace, every 2nd for a network's crops)
    max_gap_s: float = 1.0  # longer stretches without a face are not bridged
    window_s: float = 10.0
    step_s: float = 1.0
    min_face_fraction: float = 0.5
    band_hz: tuple[float, float] = dsp.PULSE_BAND_HZ  # the estimators', HR's and HRV's band
    weights: str | None = None  # checkpoint of a neural method
    min_quality: float = 0.0  # windows whose quality index is lower get no HR
    roi: Roi = "face"  # "frame": the whole frame, for video already cropped to skin
    adapt: bool = True  # a transductive network adapts a copy of itself to the video first

    def validate(self) -> None:
        """Raise RppgError naming the first setting that cannot work (numbers first, then the
        names; a neural method's weights are loaded last)."""
        check_fields(self, _LIMITS)
        if self.step_s > self.window_s:
            raise RppgError(
                f"--step must be at most --window ({self.window_s:g} s), got {self.step_s:g}"
            )
        low, high = self.band_hz
        check("band_hz low", low, Range(0, above=True))
        check("band_hz high", high, Range(low, above=True))
        check_detector(self.detector)
        check_roi(self.roi)
        method_estimator(self)  # loads a network's weights: fail early


MIN_WINDOW_S, MAX_WINDOW_S = 2.0, 120.0  # heart-rate windows (--window)
# Options field -> (CLI option, accepted values)
_LIMITS = {
    "fps": ("--fps", Range(0, 1000, above=True, optional=True)),
    "window_s": ("--window", Range(MIN_WINDOW_S, MAX_WINDOW_S)),
    "step_s": ("--step", Range(0, MAX_WINDOW_S, above=True)),
    "min_face_fraction": ("--min-face", Range(0, 1)),
    "min_quality": ("--min-quality", Range(0, 1)),
    "detect_every": ("detect_every", Range(1, whole=True, optional=True)),
    "max_gap_s": ("max_gap_s", Range(0)),
}


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
    quality: Quality  # whole video
    windows: list[WindowHR]  # each with its quality
    beats: Beats  # systolic peaks, times from times[0]
    hrv: HRV | None
    hrv_reason: str | None  # why hrv is None
    adaptation_s: float | None = None  # seconds a transductive network spent adapting to it
    network_s: float | None = None  # seconds of a network's forward passes
    analysis_s: float | None = None  # seconds from the trace to these results

    @property
    def peaks(self) -> np.ndarray:
        """Sample indices (into ``times``) of the systolic peaks."""
        return self.beats.indices

    def summary(self) -> Summary:
        """The digest that summary.json holds and the console and HTML report show.

        Returns
        -------
        Summary
            The figures rounded as written, None where one could not be computed.
        """
        trace = self.trace
        return Summary(
            video=shown(self.video),
            method=self.options.method,
            detector=self.options.detector,
            roi=trace.roi,
            duration_s=round(float(self.times[-1] - self.times[0]), 3),
            n_frames=trace.n_frames,
            fps=round(self.fs, 4),
            face_fraction=round(trace.face_fraction, 4),
            frames_per_s=_round(trace.n_frames / trace.elapsed_s, 1),
            face_gaps_s=tuple((round(a, 2), round(b, 2)) for a, b in trace.gaps(GAP_S)),
            frame_gaps_s=tuple((round(a, 2), round(b, 2)) for a, b in trace.frame_gaps(GAP_S)),
            time_source=self.info.time_source,
            rotation=self.info.rotation,
            decode_errors=trace.decode_errors,
            hr_bpm=round(self.heart_rate.bpm, 2),
            hr_snr_db=round(self.heart_rate.snr_db, 2),
            quality=QualitySummary(
                **_rounded(self.quality), second_method=_second_method(self.options.method)
            ),
            windows=self._windows_summary(),
            beats=BeatsSummary(
                count=int(self.beats.times_s.size),
                good=int(self.beats.good.sum()),
                good_fraction=_round(self.beats.good_fraction),
            ),
            hrv=None if self.hrv is None else _hrv_summary(self.hrv),
            hrv_reason=self.hrv_reason,
            notes=tuple(self.notes()),
            timings=TimingsSummary(
                stream_s=_round(self.trace.elapsed_s, 3),
                network_s=_round(self.network_s, 3),
                adaptation_s=_round(self.adaptation_s, 3),
                analysis_s=_round(self.analysis_s, 3),
            ),
        )

    def notes(self) -> list[str]:
        """What the user needs to know to read the numbers right, one sentence each: frame times
        that were assumed, holes in time, damage the decoder concealed, a turned or grey video."""
        notes = [] if self.info.time_source == "container" else [_time_note(self.info)]
        if self.info.rotation:
            notes.append(
                f"frames turned {_turn(self.info.rotation)} to stand upright, as the video's "
                "rotation metadata says"
            )
        gaps = self.trace.frame_gaps(GAP_S)
        if gaps:
            notes.append(_gap_note(gaps))
        if self.trace.decode_errors:
            notes.append(
                f"the decoder reported {self.trace.decode_errors} error(s) in the video (damaged "
                "data it concealed): the quality index is lowered and HRV withheld"
            )
        if self.trace.greyscale:
            notes.append("the video is greyscale: no second method checks the heart rate")
        if self.adaptation_s is not None:
            notes.append(
                f"{self.options.method} adapted a copy of its network to this video's own frames "
                f"first, which took {self.adaptation_s:.1f} s (its weights are unchanged)"
            )
        return notes

    def _windows_summary(self) -> WindowsSummary:
        """The window settings and statistics of the windows that kept an HR."""
        hrs = np.array([w.bpm for w in self.windows], dtype=float)
        snrs = np.array([w.snr_db for w in self.windows], dtype=float)
        index = np.array([w.quality_index for w in self.windows], dtype=float)
        ok = ~np.isnan(hrs)
        return WindowsSummary(
            window_s=self.options.window_s,
            step_s=self.options.step_s,
            count=len(self.windows),
            with_hr=int(ok.sum()),
            min_quality=self.options.min_quality,
            below_min_quality=int(np.sum(index < self.options.min_quality)),
            hr_mean_bpm=_round(np.mean(hrs[ok])) if ok.any() else None,
            hr_min_bpm=_round(np.min(hrs[ok])) if ok.any() else None,
            hr_max_bpm=_round(np.max(hrs[ok])) if ok.any() else None,
            snr_mean_db=_round(np.mean(snrs[ok])) if ok.any() else None,
            quality_mean=_round(np.nanmean(index)) if np.isfinite(index).any() else None,
        )


def _time_note(info: VideoInfo) -> str:
    """Where the frame times came from, when not from the video's own timestamps."""
    if info.time_source == "--fps":
        return f"frames spaced 1/{info.fps:g} s apart as --fps says; the file's own timing ignored"
    if info.time_source == "file names":
        return (
            f"frame times read from the file names ({info.fps:.1f} fps on average); give --fps "
            "to space the frames evenly instead"
        )
    return (
        f"the file names hold no frame times, so frames are spaced at the default {info.fps:g} "
        "fps; give --fps if the camera ran at another rate"
    )


def _turn(degrees: int) -> str:
    """A counter-clockwise rotation of 90, 180 or 270 degrees in words."""
    return {90: "90 degrees anticlockwise", 180: "180 degrees"}.get(degrees, "90 degrees clockwise")


def _gap_note(gaps: list[tuple[float, float]]) -> str:
    """Holes in the frame times, and what they do to the results."""
    start, end = max(gaps, key=lambda g: g[1] - g[0])
    where = f"{end - start:.1f} s ({start:.1f}-{end:.1f} s)"
    if len(gaps) > 1:
        total = sum(b - a for a, b in gaps)
        where = f"{total:.1f} s in {len(gaps)} holes, the longest {where}"
    return (
        f"no frames for {where}: the pulse is interpolated across, windows over a hole get no "
        "heart rate, and the whole-video heart rate spans it"
    )


def _round(x: float, nd: int = 2) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _rounded(figures: Quality | HRV) -> dict[str, float | None]:
    """Every field of a dataclass of figures, rounded to 2 decimals (None where not finite)."""
    return {k: _round(v) for k, v in dataclasses.asdict(figures).items()}


def _hrv_summary(h: HRV) -> HRVSummary:
    """`h` for summary.json: the figures rounded, the interval count kept whole."""
    return HRVSummary(**{**_rounded(h), "n_intervals": h.n_intervals})


def measure(
    video: str | os.PathLike,
    options: Options | None = None,
    on_frame: Callable[[int], None] | None = None,
    **overrides: object,
) -> Measurement:
    """Measure pulse, heart rate and HRV from a face video (file or folder of frames).

    The video is decoded once: a neural method's face crops are cut in the pass that makes the
    RGB trace.

    Parameters
    ----------
    video : str or path-like
        A video file or a folder of frames (`rppgkit.video.reader.open_video`).
    options : Options, optional
        The settings; by default ``Options()``.
    on_frame : callable, optional
        Called with each frame's index once it is measured (progress).
    **overrides
        Options fields replacing those of `options`, e.g. ``measure("v.mp4", method="chrom")``.

    Returns
    -------
    Measurement
        Pulse, heart rate (whole video and per window), beats, HRV and their quality.

    Raises
    ------
    RppgError
        A setting that cannot work, checked before anything is decoded.
    VideoError
        A video that cannot be opened or decoded.
    TooShortError
        A video shorter than the heart-rate window.
    NoFaceError
        No face, or one in too few frames (``Options.min_face_fraction``).

    Examples
    --------
    >>> from rppgkit import measure
    >>> m = measure("face.mp4", method="chrom")  # doctest: +SKIP
    >>> print(f"{m.heart_rate.bpm:.1f} bpm, quality {m.quality.index:.2f}")  # doctest: +SKIP
    """
    opts = dataclasses.replace(options or Options(), **overrides)
    opts.validate()  # fail on a bad setting before decoding anything
    source = open_video(video, fps=opts.fps)
    duration = source.info.duration_s
    if duration is not None and duration < opts.window_s:
        raise TooShortError(_too_short(Path(video), duration, opts.window_s, 1 / source.info.fps))
    estimator = method_estimator(opts)
    if estimator.clip is None:
        return analyse(_trace(source, opts, on_frame), opts)
    spec = estimator.clip
    with crop_recorder(spec.size, spec.face_scale, opts.roi) as recorder:
        trace = _trace(source, opts, on_frame, on_face=recorder)
        crops = recorder.crops()
    return analyse(trace, opts, crops)


def _trace(
    source: FileVideo | FrameFolder,
    opts: Options,
    on_frame: Callable[[int], None] | None,
    on_face: FaceCallback | None = None,
) -> Trace:
    """The video's RGB trace, made as the options say."""
    return extract_trace(
        source,
        opts.detector,
        opts.detect_every,
        opts.max_gap_s,
        on_frame=on_frame,
        on_face=on_face,
        roi=opts.roi,
    )


def analyse(
    trace: Trace,
    options: Options | None = None,
    crops: FrameCrops | None = None,
    **overrides: object,
) -> Measurement:
    """Everything after the video: estimate the pulse from an RGB trace, then HR and HRV.

    Separate from `measure` so one trace can be analysed by several methods. The sampling rate
    is the one the trace was made at (`Trace.fps_override`, else its timestamps'); `Options.fps`
    acts where the video is opened.

    Parameters
    ----------
    trace : Trace
        The video's RGB trace (`rppgkit.trace.extract.extract_trace`).
    options : Options, optional
        The settings; by default ``Options()``.
    crops : FrameCrops, optional
        A neural method's face crops, cut in the trace's own decoding pass
        (`rppgkit.clip.crop_recorder`, as `measure` does); without them the video is decoded
        again to cut them (`rppgkit.clip.recut_crops`). Classic methods need nothing but the
        trace.
    **overrides
        Options fields replacing those of `options`.

    Returns
    -------
    Measurement
        As from :func:`measure`.

    Raises
    ------
    RppgError
        A setting that cannot work, or a greyscale trace for a method that reads colour.
    NoFaceError
        No face, or one in too few frames (``Options.min_face_fraction``).
    TooShortError
        A trace of one frame, or shorter than the heart-rate window.
    VideoError
        A neural method without `crops` whose video cannot be decoded again.

    Examples
    --------
    >>> from rppgkit import analyse, extract_trace, open_video
    >>> trace = extract_trace(open_video("face.mp4"))  # doctest: +SKIP
    >>> by_method = {m: analyse(trace, method=m) for m in ("pos", "chrom")}  # doctest: +SKIP
    """
    start = time.perf_counter()
    opts = dataclasses.replace(options or Options(), **overrides)
    opts.validate()
    estimator = method_estimator(opts)
    video = trace.info.path
    _check_face(video, trace, opts)
    _check_frames(video, trace, opts)
    fs = trace.fps_override or frame_rate(trace.times)
    times, rgb = dsp.resample_uniform(trace.times, trace.rgb, fs)
    if times[-1] - times[0] < opts.window_s:
        raise TooShortError(_too_short(video, times[-1] - times[0], opts.window_s))
    valid = _coverage(trace, times, opts.max_gap_s)
    pulse, network_s, adaptation_s = _estimate_pulse(estimator, trace, times, rgb, fs, opts, crops)
    hr = heart_rate(pulse, fs, opts.band_hz, estimator.subharmonic)
    windows = sliding_heart_rate(
        pulse, fs, opts.window_s, opts.step_s, opts.band_hz, estimator.subharmonic
    )
    second = None if trace.greyscale else second_opinion(opts, rgb, fs)
    beats = detect_beats(pulse, fs, _hr_track(windows, hr, fs, pulse.size))
    beats = beats.where(valid[beats.indices])
    scored = score_windows(windows, beats, _second_windows(second, fs, opts))
    quality = _whole_quality(hr, beats, second, fs, opts, trace)
    covered = [_share(valid, times - times[0], w.start_s, w.end_s) for w in windows]
    hrv_result, hrv_reason = _gated_hrv(beats, fs, opts.band_hz, trace.decode_errors)
    return Measurement(
        video=video,
        info=trace.info,
        options=opts,
        trace=trace,
        fs=fs,
        times=times,
        pulse=pulse,
        valid=valid,
        heart_rate=hr,
        quality=quality,
        windows=[gate_window(w, c, opts.min_quality) for w, c in zip(scored, covered, strict=True)],
        beats=beats,
        hrv=hrv_result,
        hrv_reason=hrv_reason,
        adaptation_s=adaptation_s,
        network_s=network_s,
        analysis_s=time.perf_counter() - start,
    )


def _estimate_pulse(
    estimator: Estimator,
    trace: Trace,
    times: np.ndarray,
    rgb: np.ndarray,
    fs: float,
    opts: Options,
    crops: FrameCrops | None,
) -> tuple[np.ndarray, float | None, float | None]:
    """The method's pulse on the uniform grid ``times``, with network and adaptation seconds.

    A clip method's output is turned so that up is more blood (`blood_up`), as the classic
    methods' is; neither time applies to a classic method.
    """
    if estimator.input_kind == "trace":
        return estimator(rgb, fs), None, None
    clip_pulse, network_s, adaptation_s = _clip_pulse(estimator, trace, times, fs, opts, crops)
    return blood_up(clip_pulse, rgb, fs, opts.band_hz), network_s, adaptation_s


def _whole_quality(
    hr: HeartRate,
    beats: Beats,
    second: np.ndarray | None,
    fs: float,
    opts: Options,
    trace: Trace,
) -> Quality:
    """The whole video's quality: SNR, beat template match, agreement with a second method.

    Without colour (``second`` is None) the agreement cue is missing; frames the decoder
    damaged scale the index down.
    """
    template_r = float(np.median(beats.quality)) if beats.quality.size else float("nan")
    agreement = (
        float("nan") if second is None else abs(hr.bpm - heart_rate(second, fs, opts.band_hz).bpm)
    )
    quality = assess(hr.snr_db, template_r, agreement)
    return discount_damage(quality, trace.decode_errors, trace.n_frames)


def _second_method(method: str) -> str:
    """The independent classic method whose HR the quality index compares with ``method``'s."""
    return SECOND_OPINION_FOR_POS if method == SECOND_OPINION else SECOND_OPINION


def second_opinion(opts: Options, rgb: np.ndarray, fs: float) -> np.ndarray:
    """The pulse that :func:`_second_method` reads from the same skin trace, in the same band."""
    return create(_second_method(opts.method), band_hz=opts.band_hz)(rgb, fs)


def _second_windows(second: np.ndarray | None, fs: float, opts: Options) -> list[WindowHR] | None:
    """The window HRs of the second opinion's pulse; None without one."""
    if second is None:
        return None
    return sliding_heart_rate(second, fs, opts.window_s, opts.step_s, opts.band_hz)


def _hr_track(windows: list[WindowHR], hr: HeartRate, fs: float, n: int) -> np.ndarray:
    """Heart rate in Hz at every sample, from the window HRs (median of 5 neighbours, so one
    wrong window does not mislead beat detection); the whole-video HR without windows."""
    bpm = np.array([w.bpm for w in windows], dtype=float)
    ok = np.isfinite(bpm)
    if not ok.any():
        return np.full(n, hr.freq_hz)
    centres = np.array([(w.start_s + w.end_s) / 2 for w in windows])[ok]
    smooth = dsp.running_median(bpm[ok], 5)
    return np.interp(np.arange(n) / fs, centres, smooth) / 60


def gate_window(w: WindowHR, coverage: float, min_quality: float) -> WindowHR:
    """No HR (nor quality) without a face in most of the window; no HR below ``min_quality``."""
    if coverage < MIN_WINDOW_COVERAGE:
        nan = float("nan")
        return dataclasses.replace(w, bpm=nan, snr_db=nan, quality=None)
    if w.quality is not None and w.quality.index < min_quality:
        return dataclasses.replace(w, bpm=float("nan"))
    return w


def _gated_hrv(
    beats: Beats, fs: float, band_hz: tuple[float, float], decode_errors: int = 0
) -> tuple[HRV | None, str | None]:
    """HRV of the good beats where they allow it, else None and the reason.

    A noisy pulse still has an HR, so a refusal is not an error.
    """
    reason = hrv_refusal(beats, decode_errors)
    if reason is not None:
        return None, reason
    try:
        return hrv(beats.times_s[beats.good] * fs, fs, band_hz), None
    except TooShortError as exc:
        return None, str(exc)


def method_estimator(opts: Options) -> Estimator:
    """The options' method with the options it takes: the band for a classic method (which
    band-passes its pulse to it), the weights for a neural one."""
    estimator = create(opts.method)
    if estimator.input_kind == "trace":
        if opts.weights is not None:
            raise RppgError(f"--weights is for neural methods; {opts.method!r} needs no training")
        return create(opts.method, band_hz=opts.band_hz)
    from rppgkit.estimators.neural import load_estimator

    return load_estimator(opts.method, opts.weights)


def _clip_pulse(
    estimator: Estimator,
    trace: Trace,
    times: np.ndarray,
    fs: float,
    opts: Options,
    crops: FrameCrops | None,
) -> tuple[np.ndarray, float, float | None]:
    """Run a neural estimator on face crops cut along the trace's face track, the way its
    training clips were cut (`crops`, or cut now by decoding the video again); the crops on the
    analysis clock go through a memory map of an unnamed temporary file, not the heap, and
    leave nothing behind however the run ends. Returns the pulse, the seconds of the network's
    forward passes, and those a transductive network spent adapting to the video (None for
    the others)."""
    spec = estimator.clip
    if crops is None:
        crops = recut_crops(trace, spec.size, spec.face_scale)
    elif (crops.size, crops.face_scale) != (spec.size, spec.face_scale):
        raise RppgError(
            f"the crops were cut at {crops.size} px and face scale {crops.face_scale:g}, but "
            f"{opts.method} reads {spec.size} px at {spec.face_scale:g}; cut them with its clip "
            "settings (the estimator's clip)"
        )
    on_clock = scratch_array((len(times), spec.size, spec.size, 3), np.uint8)
    adapted: list[float] = []  # `rppgkit.models.inference.network_pulse` reports it here
    on_clock = crops.on_grid(trace.times, times, out=on_clock)
    start = time.perf_counter()
    pulse = estimator.fn(on_clock, fs, adapt=opts.adapt, on_adapt=adapted.append)
    adaptation_s = adapted[0] if adapted else None
    return pulse, time.perf_counter() - start - (adaptation_s or 0.0), adaptation_s


def _too_short(path: Path, duration: float, window_s: float, frame_s: float = 0.0) -> str:
    """Why a video is too short for `window_s`, with advice the user can follow; a `duration`
    that counts the last frame's `frame_s` spans that much less from first to last frame."""
    span = duration - frame_s
    if span < MIN_WINDOW_S:
        return (
            f"{path} is {duration:.2f} s long, too short for a heart rate: even the shortest "
            f"window (--window {MIN_WINDOW_S:g}) needs over {MIN_WINDOW_S:g} s of video; "
            "use a longer clip"
        )
    usable = math.floor(span * 10) / 10
    return (
        f"{path} is {duration:.1f} s long, shorter than the {window_s:g} s heart-rate window; "
        f"use a longer clip or --window {usable:g} or shorter"
    )


def _check_face(path: Path, trace: Trace, opts: Options) -> None:
    share = trace.face_fraction
    if share == 0:
        raise NoFaceError(
            f"no face found in {path}; it needs a visible, roughly frontal face "
            f"(or try --detector {'haar' if opts.detector != 'haar' else 'yunet'}, "
            "or --roi frame if the video is already cropped to skin)"
        )
    if share < opts.min_face_fraction:
        raise NoFaceError(
            f"a face was found in only {share:.0%} of {path}'s frames, below the "
            f"{opts.min_face_fraction:.0%} needed; trim the video or lower --min-face"
        )


def _check_frames(path: Path, trace: Trace, opts: Options) -> None:
    """Refuse a trace that no method can read: a single frame, or no colour for a colour method."""
    if trace.n_frames < 2:
        raise TooShortError(f"{shown(path)} has a single frame; give a video of several seconds")
    if trace.greyscale and opts.method not in GREYSCALE_METHODS:
        raise RppgError(
            f"{shown(path)} is greyscale (no colour), and {opts.method} reads the pulse from "
            "colour; use -m green, which needs brightness alone"
        )


def frame_rate(times: np.ndarray) -> float:
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
    slack = dsp.GRID_TOLERANCE * (times[1] - times[0])  # the grid may pass a frame by this
    inside = (times >= seen[0] - slack) & (times <= seen[-1] + slack)
    return inside & (gap <= max_gap_s + 1e-9)


def _share(valid: np.ndarray, times: np.ndarray, start: float, end: float) -> float:
    sel = (times >= start) & (times < end)
    return float(valid[sel].mean()) if sel.any() else 0.0
