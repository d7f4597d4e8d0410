"""Lossy re-encoding and the compression ladder."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from rppgkit.cli import app
from rppgkit.datasets import load_dataset
from rppgkit.datasets.ladder import build_ladder, parse_levels
from rppgkit.errors import RppgError, VideoError
from rppgkit.evaluate import evaluate
from rppgkit.pipeline import Options
from rppgkit.video.compress import compress, lossy_codec, parse_bitrate
from rppgkit.video.reader import open_video


def test_parse_bitrate() -> None:
    assert parse_bitrate("250k") == 250_000
    assert parse_bitrate("1.5M") == 1_500_000
    assert parse_bitrate("800000") == 800_000
    with pytest.raises(RppgError, match="write it like 250k"):
        parse_bitrate("fast")
    with pytest.raises(RppgError, match="outside 10k-100M"):
        parse_bitrate("5k")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("h266", 250_000, None), "unknown codec 'h266'"),
        (("x264", None, None), "exactly one of --bitrate and --crf"),
        (("x264", 250_000, 23), "exactly one of --bitrate and --crf"),
        (("mpeg4", None, 20), "mpeg4 has no CRF mode"),
        (("x265", None, 60), "--crf must be a whole number from 0 to 51"),
    ],
)
def test_codec_choices_are_checked(args, message) -> None:
    with pytest.raises(RppgError, match=message):
        lossy_codec(*args)


def frame_times(path: Path) -> np.ndarray:
    return np.array([f.time_s for f in open_video(path).frames()])


@pytest.mark.parametrize(("codec", "suffix"), [("x264", ".mp4"), ("x265", ".mkv")])
def test_bitrate_is_met_and_timestamps_kept(videos, tmp_path: Path, codec, suffix) -> None:
    source = videos["short"][0]
    out = compress(source, tmp_path / f"c{suffix}", lossy_codec(codec, 200_000))
    times, original = frame_times(out), frame_times(source)
    np.testing.assert_allclose(times, original, atol=1e-3)
    kbps = out.stat().st_size * 8 / (times[-1] + 1 / 30) / 1000
    assert 120 < kbps < 260, kbps  # x264/x265 ABR lands near its 200k target


def test_irregular_timestamps_survive(tmp_path: Path) -> None:
    """A frame-folder video with a dropped frame keeps its gap after x264 and after mpeg4."""
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    stamps_ms = [0, 33, 67, 100, 167, 200, 233]  # frame at 133 ms dropped
    for i, ms in enumerate(stamps_ms):
        cv2.imwrite(str(folder / f"img{ms * 1_000_000:012d}.png"), np.full((48, 64, 3), 20 * i))
    for codec, name in (("x264", "a.mkv"), ("mpeg4", "b.avi")):
        out = compress(folder, tmp_path / name, lossy_codec(codec, 100_000))
        np.testing.assert_allclose(frame_times(out), np.array(stamps_ms) / 1000, atol=0.02)


def test_container_that_cannot_hold_the_codec(videos, tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"a .avi file cannot hold libx265 video; use .mkv"):
        compress(videos["short"][0], tmp_path / "x.avi", lossy_codec("x265", 200_000))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_levels_parse() -> None:
    levels = parse_levels("x264:1000k, mpeg4:250k,x265:crf28")
    assert [lv.name for lv in levels] == [
        "0-original",
        "1-x264-1000k",
        "2-mpeg4-250k",
        "3-x265-crf28",
    ]
    assert levels[3].crf == 28 and levels[1].bitrate == 1_000_000
    with pytest.raises(RppgError, match="needs codec:bitrate"):
        parse_levels("x264")
    with pytest.raises(RppgError, match="mpeg4 has no CRF"):
        parse_levels("mpeg4:crf20")


def test_ladder_index_resume_and_evaluation_by_level(videos, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "clip").symlink_to(videos["short"][0].parent)
    out = tmp_path / "ladder"
    levels = parse_levels("x264:300k,mpeg4:300k")
    index = json.loads(build_ladder("synthetic", data, out, levels).read_text())
    assert [v["level"] for v in index["videos"]] == ["0-original", "1-x264-300k", "2-mpeg4-300k"]
    assert index["videos"][0]["path"] == str(videos["short"][0].resolve())
    encoded = out / "1-x264-300k" / "clip" / "video.mkv"
    stamp = encoded.stat().st_mtime_ns
    build_ladder("synthetic", data, out, levels)
    assert encoded.stat().st_mtime_ns == stamp  # already there: not encoded again

    recs = load_dataset("ladder", out)
    assert [(r.id, r.group) for r in recs][1] == ("1-x264-300k/clip", "1-x264-300k")
    assert recs[1].reference().pulse.size == recs[0].reference().pulse.size
    result = evaluate("ladder", out, ["pos"], tmp_path / "eval", Options(window_s=5))
    assert set(result.metrics) == {"pos"} | {f"pos @ {lv.name}" for lv in levels}
    assert result.metrics["pos @ 0-original"].video.mae.value < 3


def test_cli_compress(videos, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app, ["compress", str(videos["short"][0]), str(tmp_path / "o.mp4"), "--bitrate", "150k"]
    )
    assert ok.exit_code == 0, ok.stderr
    assert "kb/s" in ok.stdout
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert float(c.streams.video[0].average_rate) == pytest.approx(30, abs=0.01)
    bad = runner.invoke(app, ["compress", str(videos["short"][0]), str(tmp_path / "p.mp4")])
    assert bad.exit_code == 1 and "exactly one of --bitrate and --crf" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
