"""The measurement pipeline on synthetic face videos with a known heart rate."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rppgkit import dsp
from rppgkit.errors import NoFaceError, RppgError, TooShortError
from rppgkit.estimators import Estimator, available
from rppgkit.pipeline import Options, analyse, measure
from rppgkit.pulse import hrv
from rppgkit.synth import SynthConfig, synthesize
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import FileVideo, Frame, open_video
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
    config = SynthConfig(width=320, height=240, duration_s=30, hr_bpm=78, seed=11)  # conftest's
    beats = synthesize(config).beat_times
    assert abs(len(m.peaks) - beats.size) <= 1
    # HRV only where it is right: RMSSD within 10 ms of the truth, else refused with a reason
    if m.hrv is not None:
        assert abs(m.hrv.rmssd_ms - hrv(beats * 1000, 1000.0).rmssd_ms) < 10
    else:
        assert m.hrv_reason and m.summary().hrv_reason == m.hrv_reason


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


def test_summary_json_keeps_its_published_keys(clean_trace) -> None:
    s = analyse(clean_trace[0], method="pos").summary().as_dict()
    assert list(s) == [
        *("video", "method", "detector", "roi", "duration_s", "n_frames", "fps"),
        *("face_fraction", "frames_per_s", "face_gaps_s", "frame_gaps_s", "time_source"),
        *("rotation", "decode_errors", "hr_bpm", "hr_snr_db", "quality", "windows", "beats"),
        *("hrv", "hrv_reason", "notes", "timings"),
    ]
    quality = ["snr_db", "template_r", "agreement_bpm", "index", "second_method"]
    assert list(s["quality"]) == quality
    assert list(s["beats"]) == ["count", "good", "good_fraction"]
    assert list(s["windows"])[:3] == ["window_s", "step_s", "count"]
    assert s["hrv"] is None or list(s["hrv"])[:2] == ["n_intervals", "mean_ibi_ms"]
    assert list(s["timings"]) == ["stream_s", "network_s", "adaptation_s", "analysis_s"]
    assert s["timings"]["network_s"] is None and s["timings"]["analysis_s"] > 0  # classic
    json.dumps(s)


def test_the_band_reaches_the_classic_methods(clean_trace) -> None:
    """A band above the true HR band-passes the pulse itself, not only the HR search."""
    trace, truth = clean_trace
    m = analyse(trace, method="pos", band_hz=(1.6, 3.0))
    peak_hz = dsp.spectral_peak(*dsp.power_spectrum(m.pulse, m.fs), *dsp.PULSE_BAND_HZ)
    assert truth / 60 < 1.6 <= peak_hz and m.heart_rate.bpm >= 96


def test_a_neural_method_decodes_the_video_once(videos, monkeypatch) -> None:
    path, _ = videos["short"]
    trace = extract_trace(open_video(path), reads_crops=True)  # boxes for a network's crops
    again = analyse(trace, method="physnet", window_s=4)
    passes = []
    decode = FileVideo.frames

    def counted(video: FileVideo, whole: bool = True) -> Iterator[Frame]:
        passes.append(video.path)
        return decode(video, whole)

    monkeypatch.setattr(FileVideo, "frames", counted)
    once = measure(path, method="physnet", window_s=4)
    assert passes == [path]  # the crops were cut in the trace's pass ...
    np.testing.assert_allclose(once.pulse, again.pulse)  # ... as a second decoding cuts them


def test_unknown_method_fails_before_decoding(tmp_path: Path) -> None:
    with pytest.raises(RppgError, match="unknown method 'posx'; choose one of:"):
        measure(tmp_path / "missing.mkv", Options(method="posx"))


def test_quality_and_beats_are_reported_and_min_quality_removes_windows(clean_trace) -> None:
    trace, _ = clean_trace
    m = analyse(trace, method="chrom")
    assert 0.7 < m.quality.index <= 1.0  # a clean clip: high SNR, regular beats, POS agrees
    assert m.quality.agreement_bpm < 2.0
    assert all(w.quality is not None and 0 <= w.quality_index <= 1 for w in m.windows)
    s = m.summary()
    assert s.quality.second_method == "pos" and s.beats.count == m.peaks.size
    # bury the pulse of the last third in noise: those windows lose quality and, gated, their HR
    rgb = trace.rgb.copy()
    late = trace.times > 20
    rgb[late] += np.random.default_rng(0).normal(0, 3.0, (late.sum(), 3))
    noisy = dataclasses.replace(trace, rgb=rgb)
    early = [w.quality_index for w in analyse(noisy).windows if w.end_s <= 20]
    worst = min(w.quality_index for w in analyse(noisy).windows)
    assert min(early) > 0.8 > worst
    gated = analyse(noisy, min_quality=0.8)
    lost = [w for w in gated.windows if np.isnan(w.bpm)]
    assert lost and all(w.quality_index < 0.8 and w.end_s > 20 for w in lost)
    assert gated.summary().windows.below_min_quality == len(lost)
    with pytest.raises(RppgError, match="--min-quality"):
        analyse(trace, min_quality=1.5)


def test_the_estimators_subharmonic_setting_reads_the_heart_rate(clean_trace, monkeypatch) -> None:
    """An estimator registered with `subharmonic` (the rPPGNet family) has its whole-video and
    window HR read at the fundamental when its pulse over-draws the second harmonic."""
    trace, truth = clean_trace

    def peaky(rgb: np.ndarray, fs: float) -> np.ndarray:
        t = np.arange(len(rgb)) / fs
        return np.sin(2 * np.pi * truth / 60 * t) + 1.5 * np.sin(2 * np.pi * truth / 30 * t + 1)

    readings = {}
    for rho in (None, 0.4):
        estimator = Estimator("peaky", "trace", peaky, "test", subharmonic=rho)
        monkeypatch.setattr("rppgkit.pipeline.method_estimator", lambda opts, e=estimator: e)
        m = analyse(trace, method="pos")
        readings[rho] = [m.heart_rate.bpm, *(w.bpm for w in m.windows)]
    assert readings[None] == pytest.approx([2 * truth] * len(readings[None]), abs=1.0)
    assert readings[0.4] == pytest.approx([truth] * len(readings[0.4]), abs=1.0)
