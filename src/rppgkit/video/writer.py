"""Write videos with PyAV, losslessly by default: lossy codecs erase a sub-percent pulse."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rppgkit.errors import VideoError


@dataclass(frozen=True)
class Codec:
    """An FFmpeg encoder with the pixel format and options that define its quality."""

    encoder: str
    pix_fmt: str
    options: dict[str, str]
    bit_rate: int | None = None
    # an encoder whose rate control reads the time base as the frame duration (MPEG-4 Part 2)
    # gets timestamps on the frame grid instead of TIME_BASE
    frame_time_base: bool = False

    @property
    def lossless(self) -> bool:
        return self.encoder in {"ffv1", "huffyuv"} or self.options.get("crf") == "0"


FFV1 = Codec("ffv1", "bgr0", {"level": "3", "slices": "4"})
X264RGB_LOSSLESS = Codec("libx264rgb", "bgr24", {"crf": "0", "preset": "ultrafast"})


_CONTAINERS = {".mkv": "matroska", ".avi": "avi", ".mp4": "mp4", ".mov": "mov"}
TIME_BASE = Fraction(1, 10000)  # fine enough for real timestamps, coarse enough for MPEG-4 Part 2


def fps_fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Context manager that appends RGB frames and renames the file into place on success.

    A failure inside the `with` block removes the partial file, so no half-written video is left.
    `audio_from` names a file whose audio streams (copied without re-encoding) and container
    metadata the new file keeps.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        codec: Codec = FFV1,
        audio_from: str | os.PathLike | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.codec = codec
        self.audio_from = audio_from
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._count, self._last_pts = 0, -1
        self._time_base = TIME_BASE
        self._audio: dict[int, av.audio.stream.AudioStream] = {}

    def __enter__(self) -> VideoWriter:
        fmt = _CONTAINERS.get(self.path.suffix.lower())
        if fmt is None:
            raise VideoError(
                f"unsupported output extension {self.path.suffix!r}; "
                f"use one of {', '.join(sorted(_CONTAINERS))}"
            )
        self._container = av.open(str(self._tmp), mode="w", format=fmt)
        return self

    def write(self, rgb: np.ndarray, time_s: float | None = None) -> None:
        """Append one frame given as an `[H, W, 3]` uint8 RGB array, shown at `time_s` (default:
        the next slot at the writer's frame rate), so irregular timing can be kept."""
        assert self._container is not None, "use VideoWriter in a with-block"
        if self._stream is None:
            h, w = rgb.shape[:2]
            try:
                stream = self._container.add_stream(self.codec.encoder, rate=fps_fraction(self.fps))
            except ValueError:
                raise VideoError(
                    f"a {self.path.suffix} file cannot hold {self.codec.encoder} video; "
                    "use .mkv or .mp4"
                ) from None
            stream.width, stream.height = w, h
            stream.pix_fmt = self.codec.pix_fmt
            stream.options = dict(self.codec.options)
            if self.codec.frame_time_base:
                self._time_base = 1 / fps_fraction(self.fps)
            stream.codec_context.time_base = self._time_base
            if self.codec.bit_rate:
                stream.codec_context.bit_rate = self.codec.bit_rate
            self._stream = stream
            if self.audio_from is not None:  # every stream exists before the first packet
                self._audio = _audio_streams(self.audio_from, self._container)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        t = self._count / self.fps if time_s is None else time_s
        pts = max(round(t / self._time_base), self._last_pts + 1)
        frame.pts, frame.time_base = pts, self._time_base
        self._count, self._last_pts = self._count + 1, pts
        self._container.mux(self._stream.encode(frame))

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        assert self._container is not None
        ok = exc_type is None and self._stream is not None
        try:
            if ok:
                self._container.mux(self._stream.encode(None))
                if self._audio:
                    _copy_audio(self.audio_from, self._container, self._audio)
        finally:
            self._container.close()
            if ok:
                os.replace(self._tmp, self.path)
            else:
                self._tmp.unlink(missing_ok=True)
        if exc_type is None and not ok:
            raise VideoError(f"no frames were given for {self.path}; nothing was written")


def _audio_streams(
    path: str | os.PathLike, out: av.container.OutputContainer
) -> dict[int, av.audio.stream.AudioStream]:
    """Copies in `out` of the audio streams of `path` (by their index there), and its metadata."""
    with av.open(str(path)) as source:
        out.metadata.update(source.metadata)
        return {s.index: out.add_stream_from_template(s) for s in source.streams.audio}


def _copy_audio(
    path: str | os.PathLike,
    out: av.container.OutputContainer,
    streams: dict[int, av.audio.stream.AudioStream],
) -> None:
    """Every audio packet of `path` into its stream of `out`, as it is (no re-encoding)."""
    with av.open(str(path)) as source:
        for packet in source.demux(*source.streams.audio):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def write_video(
    path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, codec: Codec = FFV1
) -> Path:
    """Write an iterable of RGB frames to `path` (lossless FFV1 in Matroska by default)."""
    with VideoWriter(path, fps, codec) as writer:
        for rgb in frames:
            writer.write(rgb)
    return Path(path)
