"""Lossy re-encoding at a chosen bitrate or quality: how rPPG degrades under compression, and
the data STVEN (rPPGNet's enhancement network) learns to undo."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from rppgkit.checks import Range, check
from rppgkit.errors import RppgError
from rppgkit.fileio import check_distinct, prepared_output
from rppgkit.video.reader import open_video
from rppgkit.video.writer import Codec, VideoWriter

ENCODERS = {"x264": "libx264", "x265": "libx265", "mpeg4": "mpeg4"}
QUIET = {"libx265": {"x265-params": "log-level=error"}}
BITRATE = Range(10e3, 100e6, optional=True)  # bits/s


def parse_bitrate(text: str) -> int:
    """'250k' -> 250000, '1.5M' -> 1500000, '800000' -> 800000 (bits per second)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise RppgError(f"cannot read bitrate {text!r}; write it like 250k or 1M")
    value = float(match[1]) * {"": 1, "k": 1e3, "m": 1e6}[match[2].lower()]
    if not BITRATE.accepts(value):
        raise RppgError(f"bitrate {text} is outside 10k-100M")
    return round(value)


def lossy_codec(codec: str, bitrate: int | None = None, crf: int | None = None) -> Codec:
    """An encoder at a target bitrate (bits/s) or a constant quality (CRF, x264/x265 only)."""
    if codec not in ENCODERS:
        raise RppgError(f"unknown codec {codec!r}; choose one of: {', '.join(ENCODERS)}")
    if (bitrate is None) == (crf is None):
        raise RppgError("give exactly one of --bitrate and --crf")
    check("bitrate (bits/s)", bitrate, BITRATE)
    encoder = ENCODERS[codec]
    options = dict(QUIET.get(encoder, {}))
    if crf is not None:
        if codec == "mpeg4":
            raise RppgError("mpeg4 has no CRF mode; give --bitrate")
        check("--crf", crf, Range(0, 51, whole=True))
        options["crf"] = str(crf)
    return Codec(encoder, "yuv420p", options, bit_rate=bitrate, frame_time_base=codec == "mpeg4")


def compress(
    source: str | os.PathLike,
    target: str | os.PathLike,
    codec: Codec,
    on_frame: Callable[[int], None] | None = None,
) -> Path:
    """Re-encode a video (or folder of frames) keeping every frame's timestamp; atomic.

    `target` must not be `source`; its folder is created if missing (and removed again if the
    run fails) and must be writable, both checked before any frame is encoded.
    """
    video = open_video(source)
    check_distinct(target, source)
    with prepared_output(target) as out, VideoWriter(out, video.info.fps, codec) as writer:
        for frame in video.frames():
            rgb = frame.rgb
            if rgb.shape[0] % 2 or rgb.shape[1] % 2:  # 4:2:0 needs even sizes
                rgb = rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]
            writer.write(rgb, frame.time_s)
            if on_frame is not None:
                on_frame(frame.index)
    return out
