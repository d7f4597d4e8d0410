"""Video input: what a careless or hostile user gives `measure` to read.

A phone video stored sideways, a frame folder numbered from 0, wrong frame-rate metadata, a
hole in the frame times and a video with a few damaged bytes must give the right heart rate or
say plainly what limits it; a single image, a device, a pipe, mixed frame sizes, timestamps that
go back and a greyscale video given to a colour method are one clear line, exit code 1, with
nothing left behind; odd file names (not UTF-8, terminal markup) are no trouble.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from tests.hostile.conftest import assert_user_error, run, snapshot

from rppgkit.video.reader import open_video

MS = Fraction(1, 1000)


@pytest.fixture(scope="module")
def face_frames(face_video: tuple[Path, float]) -> list[np.ndarray]:
    """The upright RGB frames of the synthetic face video (12 s at 30 fps)."""
    return [f.rgb for f in open_video(face_video[0]).frames()]


def _write(
    path: Path,
    frames: Iterable[np.ndarray],
    pts: Iterable[int],
    rate: int = 30,
    time_base: Fraction = Fraction(1, 30),
    rotation: int | None = None,
    pix_fmt: str = "bgr0",
) -> Path:
    """Frames into a lossless FFV1 Matroska file at the given timestamps (in `time_base`), with
    a display rotation (degrees counter-clockwise) if given."""
    frames = list(frames)
    with av.open(os.fspath(path), "w") as container:
        stream = container.add_stream("ffv1", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if rotation is not None:
            stream.set_display_rotation(rotation)
        source = "gray" if pix_fmt == "gray" else "rgb24"
        for rgb, t in zip(frames, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=source)
            frame.pts, frame.time_base = t, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _measured(*args: str | os.PathLike) -> tuple[dict, str]:
    """Run `rppgkit measure ARGS -o res`, which must succeed; its summary and stdout."""
    code, stdout, stderr = run("measure", *args, "-o", "res")
    assert code == 0, stderr
    return json.loads(Path("res/summary.json").read_text()), stdout


def _refused(sandbox: Path, *args: str | os.PathLike, phrases: tuple[str, ...]) -> str:
    """Run `rppgkit measure ARGS -o res`: one line holding every phrase, exit 1, nothing left."""
    before = snapshot(sandbox)
    code, _, stderr = run("measure", *args, "-o", "res")
    line = assert_user_error(code, stderr, *phrases)
    assert snapshot(sandbox) == before and not Path("res").exists()
    return line


@pytest.mark.skipif(
    not hasattr(av.video.stream.VideoStream, "set_display_rotation"),
    reason="this PyAV cannot write a display rotation",
)
def test_portrait_video_stored_sideways_is_turned_upright(
    sandbox: Path, face_frames: list[np.ndarray], face_video: tuple[Path, float]
) -> None:
    sideways = (np.rot90(f, 1) for f in face_frames)  # as a phone stores a portrait video
    path = _write(sandbox / "phone.mkv", sideways, range(len(face_frames)), rotation=-90)
    video = open_video(path)
    assert (video.info.width, video.info.height, video.info.rotation) == (160, 120, 270)
    assert np.array_equal(next(video.frames()).rgb, face_frames[0])
    summary, stdout = _measured(path)
    assert summary["face_fraction"] > 0.95 and summary["rotation"] == 270
    assert abs(summary["hr_bpm"] - face_video[1]) < 3
    assert "note: frames turned 90 degrees clockwise" in stdout


def test_numbered_frame_folder_is_not_read_as_milliseconds(
    sandbox: Path, face_frames: list[np.ndarray], face_video: tuple[Path, float]
) -> None:
    folder = sandbox / "frames"
    folder.mkdir()
    for i, rgb in enumerate(face_frames):
        cv2.imwrite(os.fspath(folder / f"frame_{i:05d}.png"), rgb[..., ::-1])
    summary, stdout = _measured(folder)
    assert summary["time_source"] == "default" and summary["duration_s"] == pytest.approx(12, 0.01)
    assert abs(summary["hr_bpm"] - face_video[1]) < 3
    assert "note: the file names hold no frame times" in stdout and "--fps" in stdout
    assert open_video(folder, fps=30).info.time_source == "--fps"


def test_fps_overrides_wrong_frame_rate_metadata(
    sandbox: Path, face_frames: list[np.ndarray], face_video: tuple[Path, float]
) -> None:
    """A 30 fps recording whose container says 1000 fps (frames 1 ms apart)."""
    path = _write(sandbox / "fast.mkv", face_frames, range(len(face_frames)), 1000, MS)
    _refused(sandbox, path, phrases=("0.36 s long",))  # what the file itself says
    summary, stdout = _measured(path, "--fps", "30")
    assert summary["duration_s"] == pytest.approx(12, 0.01) and summary["fps"] == 30
    assert abs(summary["hr_bpm"] - face_video[1]) < 3
    assert "truncated" not in stdout and "1/30 s apart" in stdout


def test_hole_in_frame_times_is_reported(sandbox: Path, face_frames: list[np.ndarray]) -> None:
    """No frames from 2.94 s to 8.97 s: a gap in time although every frame shows the face."""
    pts = [i * 33 + (6000 if i >= 90 else 0) for i in range(len(face_frames))]
    path = _write(sandbox / "hole.mkv", face_frames, pts, 1000, MS)
    summary, stdout = _measured(path, "--window", "3")
    ((start, end),) = summary["frame_gaps_s"]
    assert (start, end) == (2.94, 8.97)
    assert summary["face_fraction"] == 1 and "note: no frames for 6.0 s (2.9-9.0 s)" in stdout
    hr = np.genfromtxt("res/hr.csv", delimiter=",", names=True)  # windows of 3 s
    overlap = np.clip(np.minimum(hr["end_s"], end) - np.maximum(hr["start_s"], start), 0, None)
    assert np.isnan(hr["hr_bpm"][overlap > 0.6]).all()  # over 20% of the window in the hole
    assert not np.isnan(hr["hr_bpm"][overlap == 0]).any()


def test_frames_of_mixed_sizes_are_refused(sandbox: Path, face_frames: list[np.ndarray]) -> None:
    folder = sandbox / "frames"
    folder.mkdir()
    for i, rgb in enumerate(face_frames[:90]):
        image = cv2.resize(rgb, (80, 60)) if i == 40 else rgb
        cv2.imwrite(os.fspath(folder / f"{i:04d}.png"), image)
    _refused(
        sandbox, folder, "--window", "2", phrases=("0040.png is 80x60 px", "0000.png", "160x120")
    )


def test_damaged_video_lowers_quality_and_gets_no_hrv(
    sandbox: Path, face_video: tuple[Path, float]
) -> None:
    """A few random bytes changed: the decoder conceals the damage, and that is reported."""
    data = bytearray(face_video[0].read_bytes())
    rng = np.random.default_rng(0)
    for at in rng.integers(len(data) // 10, len(data), 8):
        data[at] ^= 0xFF
    path = sandbox / "damaged.mkv"
    path.write_bytes(bytes(data))
    summary, stdout = _measured(path)
    errors = summary["decode_errors"]
    assert errors > 0 and summary["hrv"] is None and "decoder reported" in summary["hrv_reason"]
    assert summary["quality"]["index"] <= 1 - errors / summary["n_frames"] + 0.005  # rounded
    assert abs(summary["hr_bpm"] - face_video[1]) < 3
    assert f"note: the decoder reported {errors} error(s)" in stdout
    clean = open_video(face_video[0])
    assert len(list(clean.frames())) == summary["n_frames"] and clean.decode_errors == 0


def test_timestamps_going_back_are_not_called_truncation(
    sandbox: Path, face_frames: list[np.ndarray]
) -> None:
    """Two MPEG-TS recordings joined byte for byte: the second starts again at 0 s."""
    parts = []
    for part in (face_frames[:90], face_frames[90:180]):
        one = sandbox / "part.ts"
        with av.open(os.fspath(one), "w", format="mpegts") as container:
            stream = container.add_stream("mpeg2video", rate=30)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
            for i, rgb in enumerate(part):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        parts.append(one.read_bytes())
        one.unlink()
    path = sandbox / "joined.mpg"
    path.write_bytes(b"".join(parts))
    line = _refused(
        sandbox, path, "--window", "2", phrases=("go back from 2.97 s to 0.00 s", "--fps")
    )
    assert "truncated" not in line


@pytest.mark.parametrize("kind", ["png", "dev_null", "fifo", "cover_only"])
def test_inputs_that_are_no_video(sandbox: Path, face_frames: list[np.ndarray], kind: str) -> None:
    """One line naming the input, never a traceback or a hang."""
    if kind == "png":
        path = sandbox / "face.png"
        cv2.imwrite(os.fspath(path), face_frames[0])
        phrases: tuple[str, ...] = ("face.png is a single image",)
    elif kind == "dev_null":
        path, phrases = Path(os.devnull), ("/dev/null is not a regular file",)
    elif kind == "fifo":
        path = sandbox / "pipe.mkv"
        os.mkfifo(path)
        phrases = ("pipe.mkv is not a regular file",)
    else:
        path = sandbox / "album"
        path.mkdir()
        cv2.imwrite(os.fspath(path / "cover.jpg"), face_frames[0])
        phrases = ("album holds a single image (cover.jpg) and no video file",)
    _refused(sandbox, path, phrases=phrases)


def test_cover_image_beside_a_video_is_not_a_frame(
    sandbox: Path, face_video: tuple[Path, float], face_frames: list[np.ndarray]
) -> None:
    folder = sandbox / "album"
    folder.mkdir()
    shutil.copy(face_video[0], folder / "clip.mkv")
    cv2.imwrite(os.fspath(folder / "cover.jpg"), face_frames[0])
    summary, stdout = _measured(folder)
    assert summary["video"].endswith("clip.mkv") and stdout.startswith("clip.mkv: ")
    assert abs(summary["hr_bpm"] - face_video[1]) < 3


def test_greyscale_video_names_the_cause(
    sandbox: Path, face_frames: list[np.ndarray], face_video: tuple[Path, float]
) -> None:
    grey = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in face_frames)
    path = _write(sandbox / "grey.mkv", grey, range(len(face_frames)), pix_fmt="gray")
    _refused(sandbox, path, phrases=("grey.mkv is greyscale (no colour)", "-m green"))
    summary, stdout = _measured(path, "-m", "green")
    assert abs(summary["hr_bpm"] - face_video[1]) < 3 and "greyscale" in stdout


def test_file_name_that_is_not_utf8(sandbox: Path, face_video: tuple[Path, float]) -> None:
    path = sandbox / os.fsdecode(b"clip\xff.mkv")
    try:
        shutil.copy(face_video[0], path)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes only UTF-8 names")
    summary, stdout = _measured(path)
    assert summary["video"].endswith("clip\\xff.mkv") and "clip\\xff.mkv: " in stdout
    assert {p.name for p in Path("res").iterdir()} >= {"report.html", "hr.csv", "summary.json"}
    assert "clip\\xff.mkv" in Path("res/report.html").read_text(encoding="utf-8")


def test_path_with_terminal_markup(sandbox: Path, face_video: tuple[Path, float]) -> None:
    folder = sandbox / "x["
    folder.mkdir()
    path = folder / "b]c.mkv"
    line = _refused(sandbox, path, phrases=("x[/b]c.mkv does not exist",))
    assert line.startswith("error: ")
    shutil.copy(face_video[0], path)
    summary, stdout = _measured(path)
    assert summary["video"].endswith("x[/b]c.mkv") and "b]c.mkv: " in stdout
