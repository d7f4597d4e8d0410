"""Frames as they come: from a camera, a network stream, or a file played at its own rate.

A capture thread reads the source and hands each frame over through a small buffer
(`DroppingBuffer`) that discards its oldest frame when the consumer has fallen behind, so a
slow consumer sees the newest frames with holes in time between them rather than frames that
grow ever older. Each frame carries the wall time it arrived (`Arrival.arrived_s`, on
`time.perf_counter`'s clock), from which `rppgkit.live` reckons its latency.

Sources (`parse_source`):

- a camera index (``0``, ``1``, ...): ``/dev/video{N}`` through FFmpeg's ``v4l2`` on Linux (a
  ``/dev/video*`` path works too), ``avfoundation`` on macOS, ``dshow`` on Windows (the N-th
  camera FFmpeg lists; ``video=NAME`` names one). Digits always mean a camera: give a file called
  ``0`` as ``./0``.
- a URL (``rtsp://``, ``http(s)://``, any ``scheme://`` FFmpeg reads), opened with low-latency
  options (`STREAM_OPTIONS`). A stream whose length is known (a recorded video served over HTTP)
  is played at its own rate like a file; a live one is taken as it comes.
- a video file or a folder of frames (`rppgkit.video.reader.open_video`), released by its
  timestamps against the wall clock, as if a camera were filming it; ``speed`` plays it faster.

Frame times (`Frame.time_s`) are the source's own timestamps from its first frame (a file's
container times, a camera's capture times), kept increasing; where a stream has none, the
arrival times. They, not the arrival times, time the pulse.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import av
import av.logging

from rppgkit.checks import Range, check
from rppgkit.errors import VideoError
from rppgkit.video.reader import Frame, FrameFolder, open_video, to_picture

DEFAULT_BUFFER = 8
"""Frames the hand-over buffer holds (a quarter second at 30 fps): enough to ride out a face
detection's spike of work, few enough that a frame waits at most that long."""
STALL_S = 10.0
"""A camera or stream that sends no frame for this long has stopped: an error, not a wait."""
OPEN_TIMEOUT_S, READ_TIMEOUT_S = 10.0, 5.0  # FFmpeg's network timeouts of a camera or stream
MAX_SPEED = 100.0
STREAM_OPTIONS: dict[str, dict[str, str]] = {
    # TCP: no lost packets (smeared frames); no demuxer buffering or reordering delay
    "rtsp": {"rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay"},
    "rtsps": {"rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay"},
    "": {"fflags": "nobuffer", "flags": "low_delay"},  # every other scheme
}
CAMERA_FORMATS = {"linux": "v4l2", "darwin": "avfoundation", "win32": "dshow"}
SourceKind = Literal["camera", "stream", "file"]
_NO_SPEED = "--speed is for a video file; {} sends frames at its own rate"


@dataclass(frozen=True)
class LiveSource:
    """Where live frames come from: what FFmpeg opens, or a file; `label` names it to the user.

    ``kind`` is ``"camera"`` (``url`` is FFmpeg's device name, ``input_format`` its device
    format), ``"stream"`` (a URL) or ``"file"`` (``url`` is the path).
    """

    kind: SourceKind
    url: str
    label: str
    input_format: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Arrival:
    """A frame and the wall time (`time.perf_counter`) it came from the source."""

    frame: Frame
    arrived_s: float


def parse_source(
    source: str | int | os.PathLike | LiveSource, platform: str = sys.platform
) -> LiveSource:
    """What `source` names: a camera index, a camera device, a stream URL, or a file.

    Parameters
    ----------
    source
        ``0``, ``"1"``: a camera; ``"/dev/video2"`` (Linux) or ``"video=NAME"`` (Windows): a
        camera device; ``"rtsp://..."``, ``"http://..."``: a stream; anything else: a video file
        or a folder of frames. A `LiveSource` (any FFmpeg input, e.g. a ``lavfi`` graph) is
        returned as it is.
    platform
        ``sys.platform`` of the system whose camera is meant.

    Returns
    -------
    LiveSource
        Nothing is opened yet.

    Examples
    --------
    >>> parse_source(0, "linux").url
    '/dev/video0'
    >>> parse_source("rtsp://cam.local/live").options["rtsp_transport"]
    'tcp'
    """
    if isinstance(source, LiveSource):
        return source
    if isinstance(source, int) and not isinstance(source, bool):
        return camera_source(source, platform)
    text = os.fspath(source)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text.isdigit():
        return camera_source(int(text), platform)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        scheme = text.split(":", 1)[0].lower()
        options = STREAM_OPTIONS.get(scheme, STREAM_OPTIONS[""])
        return LiveSource("stream", text, hidden_password(text), options=dict(options))
    if platform.startswith("linux") and re.fullmatch(r"/dev/video\d+", text):
        return LiveSource("camera", text, f"camera {text}", "v4l2")
    if platform == "win32" and text.startswith("video="):
        return LiveSource("camera", text, f"camera {text[6:]!r}", "dshow")
    return LiveSource("file", text, text)


def camera_source(index: int, platform: str = sys.platform) -> LiveSource:
    """The camera numbered `index` (from 0) on `platform`, as FFmpeg's device input opens it."""
    if index < 0:
        raise VideoError(f"camera index must be 0 or more, got {index}")
    system = "linux" if platform.startswith("linux") else platform
    fmt = CAMERA_FORMATS.get(system)
    if fmt is None:
        raise VideoError(
            f"rppgkit live opens cameras on Linux, macOS and Windows, not on {platform}; "
            "give a stream URL or a video file"
        )
    if fmt == "v4l2":
        return LiveSource(
            "camera", f"/dev/video{index}", f"camera {index} (/dev/video{index})", fmt
        )
    if fmt == "avfoundation":  # "video:audio" device numbers; framerate: the default is refused
        options = {"framerate": "30", "pixel_format": "nv12"}
        return LiveSource("camera", f"{index}:none", f"camera {index}", fmt, options)
    names = _dshow_cameras()
    if index >= len(names):
        found = f"FFmpeg lists {len(names)}" if names else "FFmpeg lists none"
        raise VideoError(
            f"there is no camera {index} ({found}); check that it is connected, or give its "
            'name as "video=NAME" (see: ffmpeg -list_devices true -f dshow -i dummy)'
        )
    return LiveSource("camera", f"video={names[index]}", f"camera {index} ({names[index]})", fmt)


def _dshow_cameras() -> list[str]:
    """The names of the cameras DirectShow lists, in its order (Windows)."""
    level = av.logging.get_level()
    av.logging.set_level(av.logging.INFO)
    try:
        with (
            av.logging.Capture(local=False) as logs,
            contextlib.suppress(av.error.FFmpegError, OSError, ValueError),
        ):
            av.open("dummy", format="dshow", options={"list_devices": "true"}).close()
    finally:
        av.logging.set_level(level)
    found = (re.search(r'"([^"]+)"\s+\(video\)', text) for _, _, text in logs)
    return [m.group(1) for m in found if m]


def hidden_password(url: str) -> str:
    """`url` with the password of its user part, if any, replaced by ``***``, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class DroppingBuffer:
    """A first-in, first-out hand-over of a few items that drops its oldest when full.

    The producer never waits: a consumer that falls behind loses the oldest items (counted in
    `dropped`), not the newest. `finish` ends the stream, with an error to raise in the
    consumer or without.
    """

    def __init__(self, size: int = DEFAULT_BUFFER) -> None:
        if size < 1:
            raise VideoError(f"the frame buffer must hold at least 1 frame, got {size}")
        self._items: collections.deque[Arrival] = collections.deque(maxlen=size)
        self._ready = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self.dropped = 0

    def put(self, item: Arrival) -> None:
        """Add `item`, dropping the oldest waiting item if the buffer is full."""
        with self._ready:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
            self._items.append(item)
            self._ready.notify()

    def finish(self, error: BaseException | None = None) -> None:
        """No more items come; the consumer raises `error` (if any) once the rest is taken."""
        with self._ready:
            self._done, self._error = True, error
            self._ready.notify_all()

    def get(self, timeout: float | None = None) -> Arrival | None:
        """The oldest waiting item; None at the end. Raises the producer's error, or
        TimeoutError when nothing came for `timeout` seconds."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._items or self._done, timeout):
                raise TimeoutError
            if self._items:
                return self._items.popleft()
            if self._error is not None:
                raise self._error
            return None


class Capture:
    """Frames of a live source, read on a thread and handed over through a `DroppingBuffer`.

    Use it as a context manager (opening fails there, with a `VideoError` saying what to do)
    and iterate over it for `Arrival` s; leaving the block stops the thread and closes the
    source. A file or a stream of known length is paced by its timestamps (at ``speed`` times
    its real rate); a camera or a live stream is read as fast as it sends, at speed 1 only.
    """

    def __init__(
        self, source: LiveSource, speed: float = 1.0, buffer_size: int = DEFAULT_BUFFER
    ) -> None:
        check("--speed", speed, Range(0, MAX_SPEED, above=True))
        if speed != 1 and source.kind == "camera":
            raise VideoError(_NO_SPEED.format(source.label))
        self.source, self.speed = source, float(speed)
        self.buffer = DroppingBuffer(buffer_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        """Frames discarded so far because the consumer was behind."""
        return self.buffer.dropped

    def __enter__(self) -> Capture:
        if self.source.kind == "file":
            video = open_video(self.source.url)  # raises VideoError naming what is wrong
            paced = True
            if isinstance(video, FrameFolder):
                frames = video.frames(whole=False)
            else:  # decoded as a camera is: see _stream_frames
                frames = _stream_frames(av.open(str(video.path)), self.source.label)
        else:
            container = open_stream(self.source)
            paced = self.source.kind == "stream" and container.duration is not None
            if self.speed != 1 and not paced:
                container.close()
                raise VideoError(_NO_SPEED.format(self.source.label))
            frames = _stream_frames(container, self.source.label)
        self._thread = threading.Thread(
            target=self._run, args=(frames, paced), name="rppgkit-capture", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and release the source (a blocked read ends within its timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(READ_TIMEOUT_S)

    def __iter__(self) -> Iterator[Arrival]:
        """The frames in order as they are taken; raises the capture's error where it failed."""
        stall = None if self.source.kind == "file" else STALL_S
        while True:
            try:
                arrival = self.buffer.get(stall)
            except TimeoutError:
                raise VideoError(
                    f"{self.source.label} sent no frame for {STALL_S:g} s; check that it is "
                    "still connected and running"
                ) from None
            if arrival is None:
                return
            yield arrival

    def _run(self, frames: Iterator[Frame], paced: bool) -> None:
        """The capture thread: release each frame (when due, if paced) into the buffer."""
        error: BaseException | None = None
        try:
            start = None
            for frame in frames:
                if paced:
                    start = (
                        time.perf_counter() - frame.time_s / self.speed if start is None else start
                    )
                    wait = start + frame.time_s / self.speed - time.perf_counter()
                    if wait > 0 and self._stop.wait(wait):
                        break
                if self._stop.is_set():
                    break
                self.buffer.put(Arrival(frame, time.perf_counter()))
        except BaseException as exc:  # handed to the consumer
            error = exc
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
            self.buffer.finish(error)


def open_stream(source: LiveSource) -> av.container.InputContainer:
    """Open a camera or a stream with FFmpeg; a VideoError saying what to do where it fails."""
    fmt = source.input_format
    if fmt is not None and not _has_format(fmt):
        raise VideoError(
            f"this build of PyAV (FFmpeg) cannot read {fmt} devices, so {source.label} cannot "
            "be opened; install a PyAV built with libavdevice, or stream the camera as rtsp://"
        )
    try:
        container = av.open(
            source.url,
            format=fmt,
            options=source.options,
            timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
        )
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(
            f"{source.label} cannot be opened ({_reason(exc)}); {_advice(source)}"
        ) from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{source.label} sends no video; {_advice(source)}")
    return container


def _has_format(name: str) -> bool:
    """Whether FFmpeg, as PyAV bundles it, has the input format `name`."""
    return any(name in names.split(",") for names in av.formats_available)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.rstrip(".").lower()


def _advice(source: LiveSource) -> str:
    if source.kind == "camera":
        return (
            "check that the camera is connected and not in use by another program, or give "
            "another camera index (rppgkit live 1), a stream URL or a video file"
        )
    return "check the address, the network and that the stream is running"


def _stream_frames(container: av.container.InputContainer, label: str) -> Iterator[Frame]:
    """Decode a camera's, stream's or played file's frames with their own times from the
    first, increasing.

    The container is closed when the generator ends, on the capture thread. Slice threads
    only: frame threads would hold frames back, adding latency, and a frame-threaded decoder
    stopped in the middle of a file (``--duration``) deadlocked now and then in closing
    (1 run in ~15: FFmpeg's threads and PyAV's log hook waiting on each other)."""
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        clock = _StreamClock(stream.average_rate or stream.guessed_rate)
        count = 0
        try:
            for frame in container.decode(stream):
                pts = (
                    None
                    if frame.pts is None or stream.time_base is None
                    else frame.pts * stream.time_base
                )
                yield Frame(count, clock.time(pts), to_picture(frame, whole=False))
                count += 1
        except av.error.FFmpegError as exc:
            raise VideoError(
                f"{label} broke off after {count} frames ({_reason(exc)}); check that it is "
                "still connected and running"
            ) from None
        if count == 0:
            raise VideoError(f"{label} sent no frames; check that it is running")


class _StreamClock:
    """A live source's frame times in seconds from its first frame, kept increasing.

    Times are the frames' timestamps where the first frame has one, else the arrival times. A
    timestamp that jumps back (a restarted stream) carries on one frame after the last; a frame
    without one comes one frame after the last.
    """

    def __init__(self, rate: object) -> None:
        self.period = 1 / float(rate) if rate else 1 / 30
        self.origin: float | None = None
        self.stamped = True
        self.last = -math.inf

    def time(self, pts: object) -> float:
        if self.origin is None:
            self.stamped = pts is not None
        now = time.perf_counter() if not self.stamped else None if pts is None else float(pts)
        if now is None:
            t = self.last + self.period
        else:
            self.origin = now if self.origin is None else self.origin
            t = now - self.origin
            if t < self.last - self.period:  # went back: carry on from the last frame
                self.origin -= self.last + self.period - t
                t = self.last + self.period
        self.last = t if t > self.last else self.last + 1e-3
        return self.last
