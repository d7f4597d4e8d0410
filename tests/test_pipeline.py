"""The measurement pipeline on synthetic face videos with a known heart rate."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rppgkit.errors import NoFaceError, RppgError, TooShortError
from rppgkit.estimators import available
from rppgkit.pipeline import Options, analyse, measure
from rppgkit.synth import SynthConfig, synthesize
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import open_video
from rppgkit.video.writer import write_video

CLASSIC = ["chrom", "green", "ica", "lgi", "omit", "pbv", "pos"]


@pytest.fixture(scope="module")
def clean_trace(videos):
    path, truth = videos["clean"]
    return extract_trace(open_video(path)), truth


def test_all_classic_methods_are_registered() -> None:
    assert set(CLASSIC) <= set(available())


@pytest.mark.parametrize("method", CLASSIC)
def test_every_method_within_3_bpm_on_a_clean_clip(clean_trace, method: str) -> None:
    trace, truth = clean_trace
    m = analyse(trace, method=method)
    assert abs(m.heart_rate.bpm - truth) < 3.0, (method, m.heart_rate.bpm, truth)


def test_clean_clip_face_and_windows(clean_trace) -> None:
    trace, truth = clean_trace
    assert trace.face_fraction == 1.0
    assert trace.preview is not None and trace.preview.skin.any()
    m = analyse(trace, method="pos")
    assert len(m.windows) == 21  # 30 s, 10 s windows, 1 s step
    assert np.ptp(np.diff(trace.times)) > 5e-4  # Matroska rounds timestamps to 33 or 34 ms ...
    assert m.fs == pytest.approx(30.0, abs=0.01)  # ... which must not bias the frame rate
    hrs = np.array([w.bpm for w in m.windows])
    assert np.all(np.abs(hrs - truth) < 6.0)  # HR drifts a few bpm around its mean
    # beats: about one per 60/HR seconds
    assert abs(len(m.peaks) - 30 * truth / 60) <= 3
    assert m.hrv is not None and 600 < m.hrv.mean_ibi_ms < 900


@pytest.mark.parametrize("method", ["pos", "chrom"])
def test_pos_and_chrom_with_motion_and_lighting(videos, method: str) -> None:
    path, truth = videos["moving"]
    m = measure(path, method=method)
    assert abs(m.heart_rate.bpm - truth) < 3.0, (method, m.heart_rate.bpm, truth)


def test_dropped_frames_and_variable_frame_rate(tmp_path: Path, small: dict[str, int]) -> None:
    """Drop a fifth of the frames at random and jitter the rest: HR must not shift."""
    video = synthesize(SynthConfig(**small, duration_s=20, hr_bpm=70, seed=21, hr_drift_bpm=0))
    rng = np.random.default_rng(0)
    keep = rng.random(video.n_frames) > 0.2
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=1000)
        stream.width, stream.height, stream.pix_fmt = small["width"], small["height"], "bgr0"
        for (rgb, _), t, k in zip(video.frames(), video.times, keep):
            if k:
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = round((t + rng.uniform(-0.004, 0.004)) * 1000) + 5
                frame.time_base = Fraction(1, 1000)
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    m = measure(path, method="pos")
    assert m.trace.n_frames == keep.sum()
    assert m.fs == pytest.approx(30, abs=0.5)
    assert abs(m.heart_rate.bpm - video.mean_hr_bpm) < 1.5


def test_face_gap_is_marked_not_bridged(tmp_path: Path, small: dict[str, int]) -> None:
    """3 s without a face in a 25 s clip: frames marked missing, windows over it get no HR."""
    video = synthesize(SynthConfig(**small, duration_s=25, hr_bpm=80, seed=5))
    blank = np.full((small["height"], small["width"], 3), 90, np.uint8)
    gap = (video.times >= 10) & (video.times < 13)
    frames = (blank if g else rgb for (rgb, _), g in zip(video.frames(), gap))
    path = write_video(tmp_path / "gap.mkv", frames, 30)
    m = measure(path, method="pos")
    assert m.trace.face_fraction == pytest.approx(1 - gap.mean(), abs=0.04)
    ((start, end),) = m.trace.gaps(1.0)
    assert 9.5 < start < 10.8 and 12.8 < end < 13.5
    assert not m.valid[(m.times > 11) & (m.times < 12.5)].any()
    nan_windows = [w for w in m.windows if np.isnan(w.bpm)]
    assert nan_windows and all(w.start_s < 13 and w.end_s > 10 for w in nan_windows)
    ok = [w.bpm for w in m.windows if not np.isnan(w.bpm)]
    assert ok and abs(np.median(ok) - video.mean_hr_bpm) < 4


def test_no_face_is_an_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(330))
    path = write_video(tmp_path / "noise.mkv", frames, 30)
    with pytest.raises(NoFaceError, match="no face found"):
        measure(path)


def test_too_short_is_an_error(videos) -> None:
    path, _ = videos["short"]
    with pytest.raises(TooShortError, match=r"6\.0 s long, shorter than the 10 s"):
        measure(path)
    assert measure(path, window_s=5.0).windows  # a shorter window works


def test_unknown_method_fails_before_decoding(tmp_path: Path) -> None:
    with pytest.raises(RppgError, match="unknown method 'posx'; choose one of:"):
        measure(tmp_path / "missing.mkv", Options(method="posx"))


def test_too_few_beats_for_hrv_is_no_hrv_not_an_error() -> None:
    from rppgkit.pipeline import _hrv_or_none

    assert _hrv_or_none(np.array([0, 30, 60]), 30.0) is None  # two intervals: HR yes, HRV no
    assert _hrv_or_none(np.arange(0, 600, 25), 30.0) is not None
