"""Live heart rate: a synthetic face video played as a camera, slow consumers, bad sources, CLI."""

from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from tests.conftest import make_synth
from tests.hostile.conftest import assert_user_error, run

from rppgkit.errors import RppgError, VideoError
from rppgkit.live import FIELDS, LiveReading, format_reading, live
from rppgkit.video.live import (
    Arrival,
    Capture,
    DroppingBuffer,
    LiveSource,
    _StreamClock,
    hidden_password,
    parse_source,
)
from rppgkit.video.reader import Frame
from rppgkit.video.writer import write_video

pytestmark = pytest.mark.usefixtures("one_thread")
FPS = 30
LAVFI = any("lavfi" in names.split(",") for names in av.formats_available)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A 7 s 320x240 face video at a steady 75 bpm, and its true HR."""
    root = tmp_path_factory.mktemp("live")
    return make_synth(root, "clip", duration_s=7, hr_bpm=75, hr_drift_bpm=0, seed=3)


def check_readings(readings: list[LiveReading], truth: float, window_s: float) -> None:
    """One reading a second, no HR before a whole window, then the true HR; no frame lost."""
    assert [r.time_s for r in readings] == pytest.approx([1, 2, 3, 4, 5, 6], abs=0.02)
    for r in readings:
        assert r.dropped == 0 and r.latency_s < 1.5
        assert r.face_fraction == 1.0 and r.face in ("detected", "tracked")
        assert r.frames == round(r.time_s * FPS) + 1
        if r.time_s < window_s:
            assert math.isnan(r.bpm) and math.isnan(r.quality)
        else:
            assert abs(r.bpm - truth) < 3, r
            assert r.snr_db > 3 and r.quality > 0.5


def test_a_file_played_at_its_real_rate_reads_like_a_camera(clip) -> None:
    path, truth = clip
    start = time.perf_counter()
    readings = list(live(path, window_s=4, every_s=1))
    assert time.perf_counter() - start > 6.5  # released by its timestamps, not decoded at once
    check_readings(readings, truth, window_s=4)
    assert max(r.latency_s for r in readings) < 0.5
    assert all(r.fps == pytest.approx(FPS, rel=0.02) for r in readings)


@pytest.mark.skipif(not LAVFI, reason="this FFmpeg has no lavfi input")
def test_a_live_ffmpeg_stream_is_read_as_it_comes(clip) -> None:
    """The camera/URL path: FFmpeg's lavfi plays the file in real time like a device."""
    path, truth = clip
    source = LiveSource("stream", f"movie={path.as_posix()},realtime", "test stream", "lavfi")
    check_readings(list(live(source, window_s=4)), truth, window_s=4)


def test_a_slow_consumer_loses_the_oldest_frames_not_time(clip) -> None:
    path, _ = clip
    readings = []
    for reading in live(path, window_s=4, speed=2, buffer_frames=4):
        readings.append(reading)
        time.sleep(0.35)  # at twice the real rate a reading is due every 0.5 s
    last = readings[-1]
    assert last.dropped > FPS  # counted, and growing
    assert [r.dropped for r in readings] == sorted(r.dropped for r in readings)
    assert all(r.latency_s < 0.5 for r in readings)  # waiting frames were dropped, not queued
    for r in readings:  # each frame up to the newest was measured or dropped
        assert r.frames + r.dropped >= round(r.time_s * FPS) + 1
    assert last.fps < 0.9 * FPS  # holes in time: fewer frames in the window


def test_no_face_no_heart_rate(tmp_path: Path) -> None:
    frames = (np.full((120, 160, 3), 90 + i % 3, np.uint8) for i in range(4 * FPS))
    wall = write_video(tmp_path / "wall.mkv", frames, FPS)
    readings = list(live(wall, window_s=2, speed=4))
    assert len(readings) == 3 and all(math.isnan(r.bpm) for r in readings)
    assert all(r.face == "missing" and r.face_fraction == 0 for r in readings)
    assert "no heart rate" in format_reading(readings[-1], 2)


def test_dropping_buffer_keeps_the_newest() -> None:
    buffer = DroppingBuffer(2)
    for i in range(5):
        buffer.put(Arrival(Frame(i, i / FPS, None), 0.0))  # type: ignore[arg-type]
    assert buffer.dropped == 3
    assert [buffer.get().frame.index, buffer.get().frame.index] == [3, 4]
    with pytest.raises(TimeoutError):
        buffer.get(timeout=0.01)
    buffer.finish(VideoError("gone"))
    with pytest.raises(VideoError, match="gone"):
        buffer.get()


def test_sources_are_told_apart() -> None:
    assert parse_source(0, "linux").url == "/dev/video0"
    assert parse_source("2", "linux").input_format == "v4l2"
    assert parse_source("/dev/video3", "linux").label == "camera /dev/video3"
    mac = parse_source(1, "darwin")
    assert (mac.url, mac.input_format) == ("1:none", "avfoundation")
    assert parse_source("video=Cam", "win32").input_format == "dshow"
    rtsp = parse_source("rtsp://user:pw@cam.local:554/live")
    assert rtsp.kind == "stream" and rtsp.options["rtsp_transport"] == "tcp"
    assert "pw" not in rtsp.label and rtsp.url.endswith("@cam.local:554/live")
    assert parse_source("https://example.org/face.mp4").kind == "stream"
    assert parse_source("./0").kind == parse_source(Path("face.mp4")).kind == "file"
    assert hidden_password("http://a:b@h/x") == "http://a:***@h/x"
    with pytest.raises(VideoError, match="camera index"):
        parse_source(-1)


def test_stream_clock_keeps_time_increasing() -> None:
    clock = _StreamClock(30)
    times = [clock.time(p) for p in (100.0, 100.1, 100.2, 5.0, 5.1, None)]
    assert times[:3] == pytest.approx([0.0, 0.1, 0.2])
    assert times[3:] == pytest.approx([0.2 + 1 / 30, 0.3 + 1 / 30, 0.3 + 2 / 30])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="camera numbering of Linux")
def test_a_missing_camera_says_what_to_do() -> None:
    with pytest.raises(VideoError, match=r"camera 63 \(/dev/video63\) cannot be opened.*connected"):
        next(live(63))


def test_bad_sources_and_settings_fail_at_once(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist; check the path"):
        next(live(tmp_path / "missing.mp4"))
    with pytest.raises(RppgError, match="live supports the training-free methods"):
        next(live(tmp_path / "missing.mp4", method="physnet"))
    with pytest.raises(RppgError, match="--window must be"):
        next(live(tmp_path / "missing.mp4", window_s=1))
    with pytest.raises(RppgError, match="--every must be"):
        next(live(tmp_path / "missing.mp4", window_s=5, every_s=6))
    with pytest.raises(VideoError, match="--speed is for a video file; camera 0"):
        Capture(parse_source(0, "linux"), speed=2)
    if LAVFI:
        generated = LiveSource("stream", "testsrc=size=64x48:rate=30", "test pattern", "lavfi")
        with pytest.raises(VideoError, match="test pattern sends frames at its own rate"):
            Capture(generated, speed=2).__enter__()
    with pytest.raises(RppgError, match="--speed must be"):
        Capture(parse_source(tmp_path), speed=0)


def test_cli_writes_json_lines_and_csv(clip, tmp_path: Path) -> None:
    path, truth = clip
    jsonl, table = tmp_path / "out" / "live.jsonl", tmp_path / "live.csv"
    code, stdout, stderr = run(
        "live", path, "--window", "4", "--duration", "5", "--speed", "2",
        "--jsonl", jsonl, "--csv", table,
    )  # fmt: skip
    assert code == 0, stderr
    assert "Ctrl-C stops" in stderr and "Traceback" not in stderr
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["time_s"] for r in records] == pytest.approx([1, 2, 3, 4, 5], abs=0.02)
    assert all(list(r) == list(FIELDS) for r in records)
    assert records[0]["bpm"] is None and abs(records[-1]["bpm"] - truth) < 3
    assert all(r["latency_s"] < 1.5 and isinstance(r["dropped"], int) for r in records)
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["time_s"]) for r in rows] == [r["time_s"] for r in records]
    assert rows[0]["bpm"] == "" and float(rows[-1]["bpm"]) == records[-1]["bpm"]
    lines = stdout.strip().splitlines()
    assert len(lines) == 5 and "bpm" in lines[-1] and "latency" in lines[-1]


def test_cli_stops_cleanly_on_ctrl_c(clip, tmp_path: Path) -> None:
    path, _ = clip
    jsonl = tmp_path / "live.jsonl"
    command = [sys.executable, "-m", "rppgkit", "live", str(path), "--window", "4"]
    proc = subprocess.Popen(
        [*command, "--jsonl", str(jsonl)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while (not jsonl.exists() or len(jsonl.read_text().splitlines()) < 2) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "stopped" in stderr and "Traceback" not in stderr
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert 2 <= len(records) < 6 and len(stdout.strip().splitlines()) == len(records)


def test_cli_keyboard_interrupt_releases_the_source(clip, tmp_path, monkeypatch) -> None:
    import rppgkit.live

    calls = []

    def interrupted(reading: LiveReading, window_s: float) -> str:
        calls.append(reading)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return "line"

    monkeypatch.setattr(rppgkit.live, "format_reading", interrupted)
    code, _, stderr = run("live", clip[0], "--window", "4", "--speed", "4", "--csv", tmp_path / "c")
    assert code == 0 and "stopped" in stderr
    assert len((tmp_path / "c").read_text().splitlines()) == 3  # header and both readings
    assert not [t for t in threading.enumerate() if t.name == "rppgkit-capture"]


def test_cli_bad_source_is_one_line(tmp_path: Path) -> None:
    code, _, stderr = run("live", tmp_path / "missing.mkv", "--jsonl", tmp_path / "x.jsonl")
    assert_user_error(code, stderr, "does not exist")
    assert not (tmp_path / "x.jsonl").exists()
    code, _, stderr = run("live", "--method", "physnet")
    assert_user_error(code, stderr, "training-free")
    if sys.platform.startswith("linux"):
        code, _, stderr = run("live", "63")
        assert_user_error(code, stderr, "camera 63", "cannot be opened")
