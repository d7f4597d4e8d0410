"""Heart rate as it happens: a camera, a stream or a file played at its own rate, read live.

`live` runs the face path of `measure` one frame at a time (`rppgkit.trace.extract.SkinMeter`)
on the frames a capture thread hands over (`rppgkit.video.live`), and every ``every_s``
seconds of the stream's time reads the heart rate of the last ``window_s`` seconds the way
`rppgkit.pipeline.analyse` reads one window: the trace resampled on its own timestamps (a
dropped frame is a hole in time, bridged), a classic estimator, the spectral peak and its SNR,
and the quality index (SNR, beat shape, agreement with a second method).

A reading has a heart rate only once a whole window has been seen: the first ``window_s``
seconds give readings with ``bpm`` NaN, so every heart rate comes from as much signal as
`measure`'s windows, and a short window's guesses never reach the user. A window also needs a
face over `rppgkit.pipeline.MIN_WINDOW_COVERAGE` of its time.

Latency is the wall time from the arrival of the newest frame a reading covers (the moment the
capture thread took it from the source) to the moment the reading is emitted. Frames wait in a
small buffer that drops the oldest when the measuring falls behind, so latency stays bounded
(at most the buffer's few frames plus one frame's work) and the frames lost are counted.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from rppgkit import dsp
from rppgkit.checks import COUNT, Range, check
from rppgkit.errors import RppgError
from rppgkit.estimators import Estimator, create
from rppgkit.face.track import FaceStatus
from rppgkit.pipeline import (
    GREYSCALE_METHODS,
    MAX_WINDOW_S,
    MIN_WINDOW_COVERAGE,
    MIN_WINDOW_S,
    Options,
    frame_rate,
    gate_window,
    method_estimator,
    second_opinion,
)
from rppgkit.pulse.beats import detect_beats
from rppgkit.pulse.heart_rate import WindowHR, heart_rate
from rppgkit.pulse.quality import score_windows
from rppgkit.trace.extract import GREY_LEVELS, FrameSample, Roi, SkinMeter
from rppgkit.video.live import DEFAULT_BUFFER, Arrival, Capture, LiveSource, parse_source

FIELDS = (
    "time_s",
    "bpm",
    "snr_db",
    "quality",
    "face_fraction",
    "face",
    "latency_s",
    "dropped",
    "frames",
    "fps",
)
"""The columns of `LiveReading.record`, of the CSV file and of each JSON line, in order."""
_DIGITS = {"time_s": 3, "bpm": 2, "snr_db": 2, "quality": 3, "face_fraction": 3}
_DIGITS |= {"latency_s": 4, "fps": 2}
_EPS_S = 1e-3  # frame times within this of a reading's time count as reaching it


@dataclass(frozen=True)
class LiveReading:
    """One reading of `live`: the heart rate of the last window, and how the stream is going.

    Attributes
    ----------
    time_s : float
        Stream time of the newest frame read, in seconds from the first frame.
    bpm : float
        Heart rate over the last ``window_s`` seconds; NaN before a whole window has been seen,
        or when the window had too little face, or no pulse.
    snr_db : float
        The heart rate's spectral SNR (NaN without a heart rate).
    quality : float
        Signal-quality index, 0 (noise) to 1 (clean pulse), as `rppgkit.measure` scores a
        window (NaN without a heart rate).
    face_fraction : float
        Share of the window's frames with a usable face.
    face : str
        The newest frame's face status: ``detected``, ``tracked``, ``bridged``, ``missing``, or
        ``frame`` (``roi="frame"``).
    latency_s : float
        Wall time from the newest frame's arrival from the source to this reading.
    dropped : int
        Frames dropped so far because the measuring fell behind the source.
    frames : int
        Frames measured so far (``frames + dropped`` frames came from the source).
    fps : float
        Frame rate of the measured frames in the window (lower than the source's where frames
        were dropped).
    """

    time_s: float
    bpm: float
    snr_db: float
    quality: float
    face_fraction: float
    face: str
    latency_s: float
    dropped: int
    frames: int
    fps: float

    def record(self) -> dict[str, float | int | str | None]:
        """The reading rounded for writing, None where a figure is NaN, in `FIELDS` order."""
        values = dataclasses.asdict(self)
        return {name: _rounded(values[name], _DIGITS.get(name)) for name in FIELDS}


def _rounded(value: object, digits: int | None) -> object:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, digits or 3)
    return value


def live(
    source: str | int | os.PathLike | LiveSource = 0,
    method: str = "pos",
    window_s: float = 10.0,
    every_s: float = 1.0,
    detector: str = "yunet",
    *,
    roi: Roi = "face",
    duration_s: float | None = None,
    speed: float = 1.0,
    buffer_frames: int = DEFAULT_BUFFER,
) -> Iterator[LiveReading]:
    """Measure the heart rate of a camera, a stream or a video file as its frames come.

    A generator: the source is opened at the first ``next()`` and released when the generator
    ends or is closed. Frames arriving while the measuring is behind (a slow consumer of the
    readings included) are dropped, oldest first, and counted.

    Parameters
    ----------
    source : str, int or path-like
        A camera index (``0``: the first camera; a ``"/dev/video2"`` device on Linux,
        ``"video=NAME"`` on Windows), a stream URL (``rtsp://``, ``http(s)://``), or a video file
        or folder of frames, played at its real rate as if a camera filmed it; or a
        `rppgkit.video.live.LiveSource`, for any input FFmpeg reads.
    method : str
        A training-free (classic) method: ``pos``, ``chrom``, ``green``, ...
    window_s : float
        Heart-rate window in seconds, from `rppgkit.pipeline.MIN_WINDOW_S` to
        `rppgkit.pipeline.MAX_WINDOW_S`.
    every_s : float
        Seconds of stream time between readings (at most ``window_s``).
    detector : str
        Face detector: ``yunet`` or ``haar``.
    roi : {"face", "frame"}
        ``frame`` measures the whole frame, for video already cropped to skin.
    duration_s : float, optional
        Stop after this many seconds of stream time.
    speed : float
        Play a file this many times faster than its real rate (tests, replays); latency and
        dropping work as at real rate. A camera refuses anything but 1.
    buffer_frames : int
        Frames the hand-over buffer holds before it drops the oldest.

    Yields
    ------
    LiveReading
        One every ``every_s`` seconds of stream time, from ``every_s`` after the first frame;
        ``bpm`` NaN until a whole window has been seen.

    Raises
    ------
    RppgError
        A setting that cannot work, or a neural method (live reads the classic methods only).
    VideoError
        A source that cannot be opened or stops sending frames, with what to do about it.

    Examples
    --------
    >>> from rppgkit.live import live
    >>> for reading in live(0, window_s=10, duration_s=60):  # doctest: +SKIP
    ...     print(f"{reading.time_s:5.1f} s {reading.bpm:5.1f} bpm, {reading.latency_s:.2f} s")
    >>> readings = list(live("face.mp4", window_s=5, speed=4))  # doctest: +SKIP
    """
    opts = live_options(method, window_s, every_s, detector, roi)
    if duration_s is not None:
        check("--duration", duration_s, Range(0, above=True))
    check("buffer_frames", buffer_frames, COUNT)
    meter = SkinMeter(opts.detector, opts.detect_every, opts.max_gap_s, opts.roi)
    reader = _WindowReader(opts, method_estimator(opts))
    window = _Window(opts.window_s)
    due = opts.step_s
    with Capture(parse_source(source), speed, buffer_frames) as capture:
        for count, arrival in enumerate(capture, start=1):
            window.add(meter(arrival.frame))
            if window.elapsed_s + _EPS_S >= due:
                yield reader.read(window, arrival, capture.dropped, count)
                due = _next_due(due, window.elapsed_s, opts.step_s)
            if duration_s is not None and window.elapsed_s + _EPS_S >= duration_s:
                return


def live_options(
    method: str, window_s: float, every_s: float, detector: str, roi: str = "face"
) -> Options:
    """The measurement settings of a live run, checked: a classic method, window and step.

    Raises RppgError on a neural method (live supports the training-free methods) or a setting
    out of range.
    """
    kind = create(method).input_kind  # an unknown name: one line listing the known ones
    if kind != "trace":
        raise RppgError(
            f"live supports the training-free methods (pos, chrom, green, ...), not the network "
            f"{method!r}; measure a recorded video with it: rppgkit measure VIDEO -m {method}"
        )
    check("--window", window_s, Range(MIN_WINDOW_S, MAX_WINDOW_S))
    check("--every", every_s, Range(0, window_s, above=True))
    opts = Options(method=method, detector=detector, window_s=window_s, step_s=every_s, roi=roi)
    opts.validate()
    return opts


def _next_due(due: float, elapsed_s: float, every_s: float) -> float:
    """The next reading's stream time after `due`: slots a hole in time skipped are not made
    up with a burst of readings."""
    return due + every_s * (math.floor((elapsed_s + _EPS_S - due) / every_s) + 1)


class _Window:
    """The face path's samples of the last `window_s` seconds of stream time."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.first: float | None = None
        self.samples: deque[FrameSample] = deque()

    def add(self, sample: FrameSample) -> None:
        self.first = sample.time_s if self.first is None else self.first
        self.samples.append(sample)
        while self.samples[0].time_s <= sample.time_s - self.window_s:
            self.samples.popleft()

    @property
    def elapsed_s(self) -> float:
        """Stream time from the first frame to the newest."""
        return self.samples[-1].time_s - self.first if self.samples else 0.0

    @property
    def full(self) -> bool:
        """Whether a whole window has been seen: frames from the first over `window_s`,
        counting the newest frame's own period."""
        times = self.times()
        period = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        return self.elapsed_s + period + _EPS_S >= self.window_s

    def times(self) -> np.ndarray:
        return np.fromiter((s.time_s for s in self.samples), float, len(self.samples))

    def rgb(self) -> np.ndarray:
        return np.array([s.rgb for s in self.samples], dtype=float).reshape(-1, 3)


class _WindowReader:
    """Turns the current window into a `LiveReading`, as `analyse` reads one window."""

    def __init__(self, opts: Options, estimator: Estimator) -> None:
        self.opts, self.estimator = opts, estimator

    def read(self, window: _Window, newest: Arrival, dropped: int, frames: int) -> LiveReading:
        times, rgb = window.times(), window.rgb()
        seen = ~np.isnan(rgb[:, 0])
        hr = self.window_hr(times, rgb, seen) if window.full else None
        nan = float("nan")
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else nan
        return LiveReading(
            time_s=window.elapsed_s,
            bpm=nan if hr is None else hr.bpm,
            snr_db=nan if hr is None else hr.snr_db,
            quality=nan if hr is None else hr.quality_index,
            face_fraction=float(seen.mean()),
            face=FaceStatus(window.samples[-1].status).name.lower(),
            latency_s=time.perf_counter() - newest.arrived_s,
            dropped=dropped,
            frames=frames,
            fps=float(fps),
        )

    def window_hr(self, times: np.ndarray, rgb: np.ndarray, seen: np.ndarray) -> WindowHR:
        """The window's heart rate, SNR and quality; NaN without a face over enough of it."""
        opts = self.opts
        covered = _coverage(times, seen, opts.window_s, opts.max_gap_s)
        nothing = WindowHR(0.0, opts.window_s, float("nan"), float("nan"))
        if covered < MIN_WINDOW_COVERAGE:
            return nothing
        grey = float(np.ptp(rgb[seen], axis=1).max()) < GREY_LEVELS
        if grey and opts.method not in GREYSCALE_METHODS:
            raise RppgError(
                f"the video is greyscale (no colour), and {opts.method} reads the pulse from "
                "colour; use -m green, which needs brightness alone"
            )
        fs = frame_rate(times)
        _, uniform = dsp.resample_uniform(times, rgb, fs)
        pulse = self.estimator(uniform, fs)
        try:
            hr = heart_rate(pulse, fs, opts.band_hz)
        except RppgError:  # a flat pulse: nothing to read in this window
            return nothing
        window = WindowHR(0.0, pulse.size / fs, hr.bpm, hr.snr_db)
        second = None if grey else self.second_opinion(window, uniform, fs)
        beats = detect_beats(pulse, fs, hr.freq_hz)
        return gate_window(score_windows([window], beats, second)[0], covered, opts.min_quality)

    def second_opinion(self, window: WindowHR, rgb: np.ndarray, fs: float) -> list[WindowHR] | None:
        """The same window read by the quality index's second method; None where it reads no
        pulse (then the index does without the agreement cue)."""
        try:
            other = heart_rate(second_opinion(self.opts, rgb, fs), fs, self.opts.band_hz)
        except RppgError:
            return None
        return [dataclasses.replace(window, bpm=other.bpm, snr_db=other.snr_db)]


def _coverage(times: np.ndarray, seen: np.ndarray, window_s: float, max_gap_s: float) -> float:
    """Share of the window spanned by consecutive frames with a face at most `max_gap_s` apart
    (a hole in time longer than that, like a stretch without a face, is not covered)."""
    steps = np.diff(times)
    both = seen[1:] & seen[:-1] & (steps <= max_gap_s)
    period = float(np.median(steps)) if steps.size else 0.0
    return float((steps[both].sum() + period * bool(seen[-1])) / window_s)


class ReadingLog:
    """Readings written to a JSON-lines and/or CSV file, each line whole and flushed at once,
    so another program can follow the files as they grow. A file is created with its first
    line, so a source that cannot be opened leaves none behind."""

    def __init__(self, jsonl: Path | None = None, csv_path: Path | None = None) -> None:
        self.files = [_LineFile(jsonl, _json_line, None), _LineFile(csv_path, _csv_line, FIELDS)]

    def __enter__(self) -> ReadingLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for file in self.files:
            file.close()

    def write(self, reading: LiveReading) -> None:
        """Append one reading to each file."""
        record = reading.record()
        for file in self.files:
            file.write(record)


class _LineFile:
    """A text file written one flushed line at a time, created (with its header) on the first;
    `path` None writes nothing."""

    def __init__(
        self,
        path: Path | None,
        line: Callable[[dict[str, object]], str],
        header: tuple[str, ...] | None,
    ) -> None:
        self.path, self.line, self.header = path, line, header
        self.file: IO[str] | None = None

    def write(self, record: dict[str, object]) -> None:
        if self.path is None:
            return
        text = self.line(record)
        if self.file is None:
            self.file = _opened(self.path)
            if self.header is not None:
                text = _csv_line(dict(zip(self.header, self.header))) + text
        self.file.write(text)  # one write per line: never half a line
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()


def _opened(path: Path) -> IO[str]:
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise RppgError(
            f"{path} cannot be written ({exc.strerror or exc}); give another path"
        ) from None


def _json_line(record: dict[str, object]) -> str:
    return json.dumps(record, allow_nan=False) + "\n"


def _csv_line(record: dict[str, object]) -> str:
    """One CSV row of the record's values (None as an empty cell)."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(record.values())
    return text.getvalue()


def format_reading(reading: LiveReading, window_s: float) -> str:
    """The console line of a reading: time, HR, SNR, quality, face, latency, dropped frames."""
    r = reading
    if math.isnan(r.bpm):
        filling = math.isnan(r.fps) or r.time_s + 1 / r.fps + _EPS_S < window_s
        why = f"window {r.time_s:.0f}/{window_s:g} s" if filling else "no heart rate"
        hr = f"{'--':>6} bpm  {why:26}"
    else:
        hr = f"{r.bpm:6.1f} bpm  SNR {r.snr_db:5.1f} dB  quality {r.quality:4.2f}"
    return (
        f"{r.time_s:7.1f} s  {hr}  face {r.face_fraction:4.0%} {r.face:8}  "
        f"latency {r.latency_s:5.2f} s  dropped {r.dropped}"
    )


__all__ = ["FIELDS", "LiveReading", "ReadingLog", "format_reading", "live", "live_options"]
