"""Stream RGB frames with their real timestamps from a video file or a folder of images.

Frames are yielded one at a time so memory does not grow with video length; timestamps come from
the container (or from image file names), so variable frame rates and dropped frames are visible
to later stages, which resample onto a uniform time base.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from rppgkit.errors import VideoError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
DEFAULT_FOLDER_FPS = 30.0


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video before decoding it."""

    path: Path
    width: int
    height: int
    fps: float  # nominal rate (container metadata, or the --fps override)
    n_frames: int | None  # an estimate; None when the container does not say
    duration_s: float | None


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float
    rgb: np.ndarray  # [H, W, 3] uint8


def open_video(path: str | os.PathLike, fps: float | None = None) -> FileVideo | FrameFolder:
    """Open a video file or a folder of frames; `fps` overrides wrong or missing metadata."""
    p = Path(path)
    if fps is not None and not (0 < fps <= 1000):
        raise VideoError(f"--fps must be between 0 and 1000, got {fps}")
    if not p.exists():
        raise VideoError(f"{p} does not exist; check the path")
    if p.is_dir():
        return FrameFolder(p, fps)
    return FileVideo(p, fps)


def find_videos(path: str | os.PathLike) -> list[Path]:
    """The videos a path stands for: a file, a folder of frames, or a folder of video files."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p} does not exist; check the path")
    if p.is_file():
        return [p]
    entries = sorted(p.iterdir(), key=natural_key)
    if any(f.suffix.lower() in IMAGE_SUFFIXES for f in entries):
        return [p]
    videos = [f for f in entries if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES]
    if not videos:
        raise VideoError(
            f"{p} holds no video files ({', '.join(sorted(VIDEO_SUFFIXES))}) and no image frames"
        )
    return videos


class FileVideo:
    """A video file decoded by FFmpeg (through PyAV) on a background thread."""

    def __init__(self, path: Path, fps: float | None = None) -> None:
        self.path = path
        self._fps_override = fps
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise VideoError(f"{path} has no video stream; give a video of a face")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate or stream.base_rate
                nominal = float(rate) if rate else 0.0
                duration = _stream_duration(container, stream)
                self.info = VideoInfo(
                    path=path,
                    width=stream.codec_context.width,
                    height=stream.codec_context.height,
                    fps=fps or nominal or 30.0,
                    n_frames=stream.frames or (round(duration * nominal) if duration else None),
                    duration_s=duration,
                )
        except av.error.FFmpegError as exc:
            raise VideoError(
                f"{path} is not a readable video ({_ffmpeg_reason(exc)}); "
                "check that it is a complete video file"
            ) from None
        if self.info.width <= 0 or self.info.height <= 0:
            raise VideoError(f"{path} has a video stream with no picture size; it is corrupt")

    def frames(self) -> Iterator[Frame]:
        """Yield decoded frames in order; decoding runs ahead on a thread (FFmpeg frees the GIL)."""
        last_time = -1.0
        count = 0
        for count, (pts_time, rgb) in enumerate(_threaded(self._decode()), start=1):
            index = count - 1
            exact = pts_time is not None and not self._fps_override
            t = pts_time if exact else index / self.info.fps
            if t <= last_time:  # duplicate or reordered timestamp: keep time strictly increasing
                t = last_time + 1e-3
            last_time = t
            yield Frame(index, t, rgb)
        if count == 0:
            raise VideoError(
                f"{self.path} contains no decodable frames; the file is empty or broken"
            )
        self._check_complete(count, last_time)

    def _decode(self) -> Iterator[tuple[float | None, np.ndarray]]:
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = stream.start_time or 0
            base = stream.time_base
            decoded = 0
            try:
                for frame in container.decode(stream):
                    t = None if frame.pts is None else float((frame.pts - start) * base)
                    decoded += 1
                    yield t, frame.to_ndarray(format="rgb24")
            except av.error.FFmpegError as exc:
                raise VideoError(
                    f"{self.path} is corrupt after frame {decoded}: {_ffmpeg_reason(exc)}; "
                    "re-encode or re-download it"
                ) from None

    def _check_complete(self, count: int, last_time: float) -> None:
        """Raise if the file ends well before its header says it should: a truncated download."""
        expected = self.info.duration_s
        if expected is None or self._fps_override:
            return
        got = last_time + 1.0 / self.info.fps
        if got < expected - max(1.0, 0.05 * expected):
            raise VideoError(
                f"{self.path} is truncated: its header says {expected:.1f} s but only "
                f"{got:.1f} s ({count} frames) could be decoded; re-download or re-encode it"
            )


class FrameFolder:
    """A folder of image files, one per frame, as datasets such as PURE store video.

    Timestamps come from the file names when every name holds an increasing number that reads as
    nanoseconds, microseconds or milliseconds at a plausible frame rate (PURE's `Image<ns>.png`);
    otherwise frames are spaced at `fps` (default 30).
    """

    def __init__(self, path: Path, fps: float | None = None) -> None:
        self.path = path
        self.files = sorted(
            (f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES), key=natural_key
        )
        if not self.files:
            raise VideoError(
                f"{path} is a folder with no image frames ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                "give a video file or a folder of frames"
            )
        first = _read_image(self.files[0])
        self._times = None if fps else _times_from_names(self.files)
        if self._times is not None:
            nominal = (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)
        else:
            nominal = fps or DEFAULT_FOLDER_FPS
        self.info = VideoInfo(
            path=path,
            width=first.shape[1],
            height=first.shape[0],
            fps=nominal if len(self.files) > 1 else fps or DEFAULT_FOLDER_FPS,
            n_frames=len(self.files),
            duration_s=len(self.files) / (nominal or DEFAULT_FOLDER_FPS),
        )

    def frames(self) -> Iterator[Frame]:
        for i, rgb in enumerate(_threaded(_read_image(f) for f in self.files)):
            t = self._times[i] if self._times is not None else i / self.info.fps
            yield Frame(i, float(t), rgb)


def _read_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise VideoError(f"{path} is not a readable image; remove or replace it")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def natural_key(path: Path) -> list[object]:
    """Sort key that puts frame2 before frame10."""
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", path.name)]


def _times_from_names(files: list[Path]) -> np.ndarray | None:
    numbers = []
    for f in files:
        digits = re.findall(r"\d+", f.stem)
        if not digits:
            return None
        numbers.append(int(max(digits, key=len)))
    if len(numbers) < 2:
        return None
    # offsets as exact integers first: nanosecond epochs (~1e18) exceed float64's precision
    values = np.asarray([n - numbers[0] for n in numbers], dtype=np.float64)
    steps = np.diff(values)
    if np.any(steps <= 0):
        return None
    for scale in (1e9, 1e6, 1e3):
        rate = scale / np.median(steps)
        if 5.0 <= rate <= 1000.0:
            return values / scale
    return None


def _stream_duration(
    container: av.container.InputContainer, stream: av.VideoStream
) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _ffmpeg_reason(exc: av.error.FFmpegError) -> str:
    return (getattr(exc, "strerror", None) or str(exc)).rstrip(".").lower()


_END = object()


def _threaded(items: Iterator[object], depth: int = 8) -> Iterator[object]:
    """Run an iterator on a worker thread, `depth` items ahead; its exceptions re-raise here."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
            q.put(_END)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a worker waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)
