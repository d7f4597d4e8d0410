"""Video input: frames, real timestamps, frame folders, and clear errors for bad files."""

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from rppgkit.errors import VideoError
from rppgkit.video.picture import ArrayPicture, YuvPicture
from rppgkit.video.reader import find_videos, open_video
from rppgkit.video.writer import VideoWriter, write_video


def frames(n: int, h: int = 48, w: int = 64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_lossless_round_trip_with_timestamps(tmp_path: Path) -> None:
    original = frames(12)
    write_video(tmp_path / "v.mkv", original, fps=25.0)
    video = open_video(tmp_path / "v.mkv")
    assert (video.info.width, video.info.height, video.info.fps) == (64, 48, 25.0)
    got = list(video.frames())
    assert len(got) == 12
    assert all(np.array_equal(a, f.rgb) for a, f in zip(original, got))
    np.testing.assert_allclose([f.time_s for f in got], np.arange(12) / 25.0, atol=1e-3)


def test_variable_frame_rate_timestamps_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mkv"
    times = np.cumsum(np.r_[0, np.random.default_rng(1).uniform(0.02, 0.06, 19)])
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=1000)  # millisecond clock: any frame time is allowed
        s.width, s.height, s.pix_fmt = 64, 48, "bgr0"
        for t, rgb in zip(times, frames(20)):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = round(t * 1000), Fraction(1, 1000)
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    got = [f.time_s for f in open_video(path).frames()]
    np.testing.assert_allclose(got, times, atol=2e-3)
    # --fps overrides wrong metadata: frames are spaced evenly at the given rate
    got = [f.time_s for f in open_video(path, fps=10).frames()]
    np.testing.assert_allclose(got, np.arange(20) / 10)


def test_frame_folder_uses_timestamps_in_names(tmp_path: Path) -> None:
    t_ns = 1_392_643_993_642_815_000 + np.round(np.cumsum(np.r_[0, [33e6, 34e6, 66e6, 33e6]]))
    for t, rgb in zip(t_ns.astype(np.int64), frames(5)):
        cv2.imwrite(str(tmp_path / f"Image{t}.png"), rgb[..., ::-1])
    video = open_video(tmp_path)
    got = list(video.frames())
    np.testing.assert_allclose([f.time_s for f in got], (t_ns - t_ns[0]) / 1e9, atol=1e-6)
    assert np.array_equal(got[0].rgb, frames(5)[0])
    assert find_videos(tmp_path) == [tmp_path]


def test_frame_folder_without_timestamps_uses_fps(tmp_path: Path) -> None:
    for i, rgb in enumerate(frames(3)):
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), rgb)
    assert [f.time_s for f in open_video(tmp_path, fps=20).frames()] == [0, 0.05, 0.1]


@pytest.mark.parametrize(
    ("numbers", "source", "fps"),
    [
        (range(5), "default", 30.0),  # frame_00000.png ...: a counter, not a 1000 fps clock
        (range(0, 10, 2), "default", 30.0),  # a counter where every other frame was kept
        ((0, 33, 67, 100, 133), "file names", 30.0),  # a millisecond clock at 30 fps
        ((1392643993642 + 40 * i for i in range(5)), "file names", 25.0),  # ms since 1970
    ],
)
def test_frame_folder_names_are_times_only_when_they_are_a_clock(
    tmp_path: Path, numbers, source: str, fps: float
) -> None:
    for n, rgb in zip(numbers, frames(5), strict=True):
        cv2.imwrite(str(tmp_path / f"frame_{n:05d}.png"), rgb)
    info = open_video(tmp_path).info
    assert info.time_source == source and info.fps == pytest.approx(fps, rel=0.01)
    assert open_video(tmp_path, fps=10).info.time_source == "--fps"


def test_find_videos_in_a_folder(tmp_path: Path) -> None:
    for name in ("b.mkv", "a.mkv"):
        write_video(tmp_path / name, frames(2), 10)
    (tmp_path / "notes.txt").write_text("x")
    cv2.imwrite(str(tmp_path / "cover.jpg"), frames(1)[0])  # beside videos, an image is no frame
    assert [p.name for p in find_videos(tmp_path)] == ["a.mkv", "b.mkv"]
    assert find_videos(tmp_path / "a.mkv") == [tmp_path / "a.mkv"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    with pytest.raises(VideoError, match="no video files"):
        find_videos(empty)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "does not exist"),
        (lambda p: (p.write_text("hello, not a video"), p)[1], "not a readable video"),
        (lambda p: (p.write_bytes(b""), p)[1], "not a readable video"),
        (lambda p: (p.mkdir(), p)[1], "no image frames"),
    ],
)
def test_bad_inputs_give_one_line_errors(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path / "input.mkv")
    with pytest.raises(VideoError, match=message) as info:
        list(open_video(path).frames())
    assert "\n" not in str(info.value)


def test_truncated_video_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "v.mkv"
    write_video(path, frames(60, 96, 128), fps=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match=r"truncated|corrupt"):
        list(open_video(path).frames())


def test_writer_leaves_nothing_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "out.mkv"
    with pytest.raises(RuntimeError), VideoWriter(path, 10) as w:
        w.write(frames(1)[0])
        raise RuntimeError("boom")
    with pytest.raises(VideoError, match="no frames"), VideoWriter(path, 10):
        pass
    assert list(tmp_path.iterdir()) == []


def test_writer_keeps_the_audio_and_metadata_of_a_source(tmp_path: Path) -> None:
    source = tmp_path / "talk.mkv"
    with av.open(str(source), "w") as c:
        v = c.add_stream("ffv1", rate=30)
        v.width, v.height, v.pix_fmt = 32, 24, "bgr0"
        a = c.add_stream("pcm_s16le", rate=8000)
        a.layout = "mono"
        c.metadata["title"] = "interview"
        for i in range(15):
            frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), i, np.uint8), format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        tone = (np.sin(np.arange(4000) / 5) * 9000).astype(np.int16)[None]
        sound = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        sound.sample_rate, sound.pts = 8000, 0
        c.mux(a.encode(sound))
        c.mux(a.encode(None))
        c.mux(v.encode(None))
    out = tmp_path / "copy.mkv"
    with VideoWriter(out, 30, audio_from=source) as w:
        for f in open_video(source).frames():
            w.write(f.rgb, f.time_s)
    with av.open(str(out)) as c:
        assert c.metadata["title"] == "interview"
        samples = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    assert np.array_equal(samples, tone.ravel())  # copied bit for bit, not re-encoded
    assert [f.rgb[0, 0, 0] for f in open_video(out).frames()] == list(range(15))


def _h264(path: Path, rgb: list[np.ndarray], pix_fmt: str = "yuv420p") -> None:
    """Encode frames with libx264 in `pix_fmt` (as cameras write them)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = rgb[0].shape[1], rgb[0].shape[0], pix_fmt
        for image in rgb:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())


def test_yuv_pictures_convert_regions_as_ffmpeg_converts_frames(tmp_path: Path) -> None:
    """A yuv420p frame read without `whole` stays YUV; its regions, odd bounds included, are
    the whole frame's pixels, and within rounding of FFmpeg's own conversion; grey is luma."""
    rng = np.random.default_rng(0)
    smooth = [cv2.GaussianBlur(f, (0, 0), 3) for f in frames(2, 96, 128)]
    noisy = [np.clip(f + rng.integers(-20, 20, f.shape), 0, 255).astype(np.uint8) for f in smooth]
    _h264(tmp_path / "v.mp4", noisy)
    picture = next(open_video(tmp_path / "v.mp4").frames(whole=False)).picture
    assert isinstance(picture, YuvPicture) and picture.shape == (96, 128)
    ffmpeg = next(open_video(tmp_path / "v.mp4").frames()).rgb  # converted by swscale
    whole = picture.rgb.astype(int)
    assert np.abs(whole - ffmpeg).max() <= 4 and np.abs(whole - ffmpeg).mean() < 1.5
    for x0, y0, x1, y1 in [(0, 0, 128, 96), (3, 5, 70, 41), (1, 1, 2, 2), (10, 20, 127, 95)]:
        assert np.array_equal(picture.crop_rgb((x0, y0, x1, y1)), whole[y0:y1, x0:x1])
        grey = picture.crop_grey((x0, y0, x1, y1))
        assert grey.shape == (y1 - y0, x1 - x0)
    luma = cv2.cvtColor(ffmpeg, cv2.COLOR_RGB2YUV)[..., 0].astype(float)
    assert np.corrcoef(picture.crop_grey((0, 0, 128, 96)).ravel(), luma.ravel())[0, 1] > 0.99


def test_frames_in_other_formats_are_converted_whole(tmp_path: Path) -> None:
    """Full-range (yuvj420p) and 4:4:4 frames are not read as limited-range 4:2:0 planes."""
    for pix_fmt in ("yuvj420p", "yuv444p"):
        _h264(tmp_path / f"{pix_fmt}.mp4", frames(2, 48, 64), pix_fmt)
        frame = next(open_video(tmp_path / f"{pix_fmt}.mp4").frames(whole=False))
        assert isinstance(frame.picture, ArrayPicture), pix_fmt
        assert frame.picture.crop_rgb((2, 3, 10, 9)).shape == (6, 8, 3)
