"""Skin-only video (`--roi frame`): the whole frame is the region, no face is sought."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import rppgkit
from rppgkit.cli import app
from rppgkit.clip.cache import prepare
from rppgkit.clip.crop import ClipSpec, recut_crops
from rppgkit.datasets import load_dataset
from rppgkit.errors import NoFaceError, RppgError
from rppgkit.evaluate import evaluate
from rppgkit.pipeline import Options
from rppgkit.trace.extract import FaceStatus, extract_trace
from rppgkit.train.config import validate
from rppgkit.video.reader import open_video
from rppgkit.video.writer import write_video

FS, SECONDS, HR = 30, 20, 72.0
SKIN = np.array([190.0, 140.0, 115.0])  # RGB
PULSE_RGB = np.array([0.3, 1.0, 0.5])  # pulse amplitude per channel, grey levels


def skin_frames(pulse: np.ndarray, seed: int = 0, shape: tuple[int, int] = (48, 64)):
    """Uniform skin-coloured frames whose colour follows `pulse`, with sensor noise."""
    rng = np.random.default_rng(seed)
    for p in pulse:
        frame = SKIN + PULSE_RGB * p + rng.normal(0, 3, (*shape, 3))
        yield np.clip(np.round(frame), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def forehead(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of a 64x48 skin patch pulsing at 72 bpm, lossless, with a manifest and labels."""
    root = tmp_path_factory.mktemp("roi")
    pulse = np.sin(2 * np.pi * HR / 60 * np.arange(FS * SECONDS) / FS)
    path = write_video(root / "forehead.mkv", skin_frames(pulse), FS)
    (root / "pulse.csv").write_text("pulse\n" + "\n".join(f"{v:.5f}" for v in pulse) + "\n")
    (root / "manifest.csv").write_text("video,labels,fs\nforehead.mkv,pulse.csv,30\n")
    return path


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_frame_reads_the_pulse_of_a_skin_only_video(forehead: Path) -> None:
    m = rppgkit.measure(forehead, roi="frame", min_face_fraction=1.0)
    assert m.heart_rate.bpm == pytest.approx(HR, abs=1.5)
    assert (m.trace.status == FaceStatus.FRAME).all() and m.trace.roi == "frame"
    np.testing.assert_array_equal(m.trace.boxes, np.tile([0, 0, 64, 48], (m.trace.n_frames, 1)))
    assert m.valid.all() and m.summary().roi == "frame"


def test_face_on_a_skin_only_video_suggests_frame(forehead: Path) -> None:
    with pytest.raises(NoFaceError, match=r"no face found .*--roi frame"):
        rppgkit.measure(forehead)
    with pytest.raises(RppgError, match=r"unknown --roi 'palm'; choose face .* or frame"):
        rppgkit.measure(forehead, Options(roi="palm"))  # type: ignore[arg-type]


def test_skin_model_drops_a_dark_background(tmp_path: Path) -> None:
    """A palm on black: the mean is the skin's colour, not diluted by the background."""
    frames = []
    for frame in skin_frames(np.zeros(30), shape=(60, 80)):
        frame[:, :16] = frame[:, -16:] = frame[:8] = frame[-8:] = 15  # 60% of the frame is skin
        frames.append(frame)
    trace = extract_trace(open_video(write_video(tmp_path / "palm.mkv", frames, FS)), roi="frame")
    np.testing.assert_allclose(trace.rgb, np.tile(SKIN, (30, 1)), atol=1.5)
    assert 0.4 < trace.skin_fraction.mean() < 0.6


def test_lost_skin_model_falls_back_to_the_whole_frame(tmp_path: Path) -> None:
    """A sudden change of colour, which the skin model follows only over seconds: the whole
    frame is averaged meanwhile, never NaN."""
    frames = list(skin_frames(np.zeros(40)))
    frames[20:] = [np.ascontiguousarray(f[..., ::-1]) for f in frames[20:]]  # now blue, not skin
    trace = extract_trace(open_video(write_video(tmp_path / "jump.mkv", frames, FS)), roi="frame")
    assert np.isfinite(trace.rgb).all()
    assert (trace.skin_fraction[20:] == 1).all() and (trace.skin_fraction[:20] < 1).all()
    np.testing.assert_allclose(trace.rgb[20:], np.tile(SKIN[::-1], (20, 1)), atol=0.5)


def test_cli_measure_with_roi_frame(forehead: Path, tmp_path: Path) -> None:
    code, stdout, stderr = run("measure", forehead, "--roi", "frame", "--out", tmp_path / "res")
    assert code == 0, stderr
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert summary["roi"] == "frame" and abs(summary["hr_bpm"] - HR) < 1.5
    assert "whole frame (--roi frame) in 100% of 600 frames" in stdout
    pulse = np.loadtxt(tmp_path / "res" / "pulse.csv", delimiter=",", skiprows=1)
    assert (pulse[:, 2] == 1).all()


def test_cli_bad_roi_is_one_line(forehead: Path, tmp_path: Path) -> None:
    code, _, stderr = run("measure", forehead, "--roi", "palm", "--out", tmp_path / "res")
    lines = stderr.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "Traceback" not in stderr
    assert "unknown --roi 'palm'" in lines[0]
    assert not (tmp_path / "res").exists()


def test_evaluate_caches_frame_and_face_traces_apart(forehead: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = evaluate("manifest", forehead.parent, ["pos"], out, Options(roi="frame"))
    assert result.metrics["pos"].video.mae.value < 1.5
    assert json.loads(next((out / "results").rglob("*.json")).read_text())["roi"] == "frame"
    # the same output folder in face mode neither reuses the frame trace nor its result
    with pytest.raises(RppgError, match="none of the 1 recordings"):
        evaluate("manifest", forehead.parent, ["pos"], out, Options(roi="face"))
    assert len(list((out / "traces").glob("*.npz"))) == 2


def test_clips_are_whole_frames(tmp_path: Path) -> None:
    pulse = np.sin(2 * np.pi * HR / 60 * np.arange(60) / FS)
    video = write_video(tmp_path / "short.mkv", skin_frames(pulse), FS)
    (tmp_path / "pulse.csv").write_text("pulse\n" + "\n".join(f"{v:.5f}" for v in pulse) + "\n")
    (tmp_path / "manifest.csv").write_text("video,labels,fs\nshort.mkv,pulse.csv,30\n")
    recs = load_dataset("manifest", tmp_path)
    spec = ClipSpec(frames=32, size=16)
    _, skipped = prepare(recs, spec, tmp_path / "cache")
    assert "no face" in next(iter(skipped.values()))
    [cached], _ = prepare(recs, spec, tmp_path / "cache", roi="frame")
    frames = np.asarray(cached.frames())
    assert frames.shape == (60, 16, 16, 3) and cached.valid().all() and cached.skin().any()
    np.testing.assert_allclose(frames.mean(axis=(0, 1, 2)), SKIN, atol=1)
    trace = extract_trace(open_video(video), roi="frame")  # the path of measure's networks
    crops = recut_crops(trace, 16, 1.5).on_grid(trace.times, trace.times[:3])
    first = next(open_video(video).frames()).rgb
    np.testing.assert_array_equal(
        crops[0], cv2.resize(first, (16, 16), interpolation=cv2.INTER_AREA)
    )


def test_config_roi_key_is_validated() -> None:
    raw = {"data": {"dataset": "manifest", "root": "x"}, "model": {"name": "physnet"}}
    assert validate(raw).data.roi == "face"
    assert validate({**raw, "data": {**raw["data"], "roi": "frame"}}).data.roi == "frame"
    with pytest.raises(RppgError, match=r"data\.roi: .*'face' or 'frame'.*\(got 'palm'\)"):
        validate({**raw, "data": {**raw["data"], "roi": "palm"}})
