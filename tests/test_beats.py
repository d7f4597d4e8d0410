"""Beat detection, signal quality and the HRV gate against known beat times."""

import math

import numpy as np
import pytest

from rppgkit.estimators import create
from rppgkit.pulse import assess, detect_beats, heart_rate, hrv, hrv_refusal
from rppgkit.pulse.quality import MAX_TIMING_SD_MS
from rppgkit.synth.waveform import pulse_waveform

FS = 30.0
SKIN = np.array([180.0, 120.0, 100.0])
SIGNATURE = np.array([0.33, 0.77, 0.53])


def camera_pulse(hr_bpm: float, noise: float, seed: int = 0, seconds: float = 60.0):
    """POS pulse of a simulated skin trace whose blood volume follows a synthetic PPG with
    known beat times (HR drift, breathing and beat-to-beat jitter); skin darkens with blood."""
    t = np.arange(0, seconds, 1 / FS)
    wave = pulse_waveform(t, hr_bpm, seed=seed)
    rgb = SKIN * (1 - 0.005 * SIGNATURE * (2 * wave.pulse[:, None] - 1))
    rgb = rgb * (1 + noise * np.random.default_rng(seed).standard_normal(rgb.shape))
    return create("pos")(rgb, FS), wave.beat_times


def rmssd(times_s: np.ndarray) -> float:
    return hrv(times_s * 1000, 1000.0).rmssd_ms


@pytest.mark.parametrize("hr_bpm", [54.0, 78.0, 120.0])
def test_clean_camera_pulse_gives_every_beat_and_the_true_rmssd(hr_bpm):
    pulse, truth = camera_pulse(hr_bpm, noise=0.0001, seed=int(hr_bpm))
    beats = detect_beats(pulse, FS, heart_rate(pulse, FS).freq_hz)
    assert abs(beats.times_s.size - truth.size) <= 1
    assert beats.good_fraction > 0.95
    assert abs(rmssd(beats.times_s[beats.good]) - rmssd(truth)) < 10
    assert hrv_refusal(beats) is None


def test_noisy_camera_pulse_still_counts_beats_but_hrv_is_refused():
    pulse, truth = camera_pulse(72.0, noise=0.0013, seed=3)
    beats = detect_beats(pulse, FS, heart_rate(pulse, FS).freq_hz)
    assert abs(beats.times_s.size - truth.size) <= 2  # within 1 per 30 s
    assert 1000 * beats.timing_sd_s > MAX_TIMING_SD_MS
    assert rmssd(beats.times_s[beats.good]) - rmssd(truth) > 10  # what the gate prevents
    assert "timing noise" in hrv_refusal(beats)


def test_a_strong_diastolic_wave_is_not_a_second_beat():
    beats_true = np.arange(0.4, 30, 0.9)
    t = np.arange(0, 30, 1 / FS)
    offsets = t[:, None] - beats_true[None, :]
    systolic = np.exp(-0.5 * (offsets / 0.07) ** 2)
    diastolic = 0.85 * np.exp(-0.5 * ((offsets - 0.38) / 0.07) ** 2)  # nearly as high
    beats = detect_beats((systolic + diastolic).sum(axis=1), FS, 1 / 0.9)
    assert beats.times_s.size == beats_true.size
    np.testing.assert_allclose(np.diff(beats.times_s), 0.9, atol=0.005)


def test_beats_follow_a_changing_heart_rate_with_a_per_sample_guide():
    t = np.arange(0, 60, 1 / FS)
    rate = np.interp(t, [0, 60], [1.0, 2.0])  # 60 -> 120 bpm
    phase = 2 * np.pi * np.cumsum(rate) / FS
    beats = detect_beats(np.sin(phase), FS, rate)
    tops = np.interp(np.arange(np.pi / 2, phase[-1], 2 * np.pi), phase, t)  # where sin is 1
    assert beats.times_s.size == tops.size
    np.testing.assert_allclose(beats.times_s[1:-1], tops[1:-1], atol=0.03)


def test_an_artefact_makes_its_beats_bad():
    pulse, _ = camera_pulse(72.0, noise=0.0001, seed=5)
    spoiled = pulse.copy()
    spoiled[600:660] += np.random.default_rng(0).normal(0, 5 * pulse.std(), 60)
    beats = detect_beats(spoiled, FS, 1.2)
    inside = (beats.times_s > 20.2) & (beats.times_s < 21.8)
    assert not beats.good[inside].all()
    assert beats.good[beats.times_s < 15].all()
    kept = beats.where(beats.good)
    assert kept.good.all() and kept.times_s.size == beats.good.sum()


def test_too_few_beats_are_no_hrv_with_a_reason():
    beats = detect_beats(np.sin(2 * np.pi * np.arange(0, 1.5, 1 / FS)), FS, 1.0)
    assert math.isnan(beats.timing_sd_s) and not beats.good.any()
    assert "timing noise" in hrv_refusal(beats)


def test_quality_index_combines_the_available_cues():
    assert assess(6.0, 0.95, 1.0).index == 1.0
    assert assess(-6.0, 0.3, 15.0).index == 0.0
    assert assess(0.0, 0.7, float("nan")).index == pytest.approx(0.5)
    assert assess(float("inf"), float("nan"), 6.0).index == pytest.approx(0.75)
    assert math.isnan(assess(float("nan"), float("nan"), float("nan")).index)
