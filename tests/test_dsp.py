import itertools
import time

import numpy as np
import pytest

from rppgkit import dsp
from rppgkit.errors import RppgError, TooShortError

FS = 30.0


def _times(seconds: float, fs: float = FS) -> np.ndarray:
    return np.arange(int(seconds * fs)) / fs


def _peak_hz(x: np.ndarray, fs: float = FS, lo: float = 0.5, hi: float = 4.0) -> float:
    return dsp.spectral_peak(*dsp.power_spectrum(x, fs), lo, hi)


def test_detrend_removes_slow_drift_and_keeps_1hz_sine():
    t = _times(60)
    sine = np.sin(2 * np.pi * 1.0 * t)
    drift = 20 * (t / t[-1]) ** 2 + 5 * np.sin(2 * np.pi * 0.02 * t)
    cleaned = dsp.detrend(sine + drift)
    middle = slice(150, -150)
    assert np.max(np.abs(cleaned[middle] - sine[middle])) < 0.1
    assert np.corrcoef(cleaned, sine)[0, 1] > 0.99


def test_detrend_treats_columns_independently():
    t = _times(20)
    columns = np.column_stack([np.sin(2 * np.pi * t) + t, 3 * np.cos(2 * np.pi * 1.5 * t) - t**2])
    together = dsp.detrend(columns)
    assert together.shape == columns.shape
    for c in range(2):
        np.testing.assert_allclose(together[:, c], dsp.detrend(columns[:, c]), atol=1e-9)


def test_detrend_ten_minutes_is_fast():
    x = np.random.default_rng(0).normal(size=(18000, 3)).cumsum(axis=0)
    start = time.perf_counter()
    dsp.detrend(x)
    assert time.perf_counter() - start < 0.5


def test_bandpass_passes_pulse_band_and_rejects_outside():
    t = _times(30)
    inside, slow, fast = (np.sin(2 * np.pi * f * t) for f in (1.5, 0.1, 8.0))
    middle = slice(100, -100)
    assert np.std(dsp.bandpass(inside, FS)[middle]) > 0.95 * np.std(inside)
    assert np.std(dsp.bandpass(slow, FS)[middle]) < 0.01
    assert np.std(dsp.bandpass(fast, FS)[middle]) < 0.01


def test_bandpass_is_zero_phase_and_works_per_column():
    t = _times(20)
    pulse = np.sin(2 * np.pi * 1.2 * t)
    filtered = dsp.bandpass(np.column_stack([pulse, -pulse]), FS)
    lags = np.arange(-5, 6)
    scores = [np.dot(np.roll(filtered[:, 0], lag)[50:-50], pulse[50:-50]) for lag in lags]
    assert lags[int(np.argmax(scores))] == 0
    np.testing.assert_allclose(filtered[:, 1], -filtered[:, 0], atol=1e-12)


@pytest.mark.parametrize("n", [2, 5, 20])
def test_bandpass_short_input_keeps_shape(n):
    out = dsp.bandpass(np.arange(float(n)), FS)
    assert out.shape == (n,)
    assert np.all(np.isfinite(out))


def test_bandpass_rejects_band_above_nyquist():
    with pytest.raises(RppgError, match="Nyquist"):
        dsp.bandpass(np.zeros(100), fs=5.0, hi=3.0)


def test_resample_uniform_jitter_gap_and_nan_keep_the_sine():
    rng = np.random.default_rng(1)
    nominal = _times(20)
    t = nominal + rng.uniform(-0.004, 0.004, nominal.size)
    keep = np.ones(t.size, dtype=bool)
    keep[200:212] = False  # twelve dropped frames
    t = t[keep]
    x = np.column_stack([np.sin(2 * np.pi * 1.3 * t), np.cos(2 * np.pi * 1.3 * t)])
    x[[50, 51, 300], 0] = np.nan  # frames without a face in one column
    t_uniform, x_uniform = dsp.resample_uniform(t, x, FS)
    np.testing.assert_allclose(np.diff(t_uniform), 1 / FS, atol=1e-12)
    assert t_uniform[0] == t[0] and t_uniform[-1] <= t[-1]
    assert x_uniform.shape == (t_uniform.size, 2)
    assert np.all(np.isfinite(x_uniform))
    away_from_gap = (t_uniform < 6.6) | (t_uniform > 7.1)
    truth = np.column_stack(
        [np.sin(2 * np.pi * 1.3 * t_uniform), np.cos(2 * np.pi * 1.3 * t_uniform)]
    )
    error = np.abs(x_uniform - truth)[away_from_gap]
    assert np.max(error[:, 1]) < 0.015  # jitter only
    assert np.max(error[:, 0]) < 0.1  # also bridges the NaN frames
    assert _peak_hz(x_uniform[:, 0]) == pytest.approx(1.3, abs=0.005)


def test_resample_uniform_rejects_bad_input():
    with pytest.raises(RppgError, match="increasing"):
        dsp.resample_uniform(np.array([0.0, 0.1, 0.1]), np.zeros(3), FS)
    with pytest.raises(RppgError, match="timestamps"):
        dsp.resample_uniform(np.arange(3.0), np.zeros(4), FS)
    with pytest.raises(TooShortError):
        dsp.resample_uniform(np.arange(3.0), np.array([np.nan, 1.0, np.nan]), FS)


def test_uniform_grid_keeps_a_last_frame_that_rounding_moved_off_the_grid():
    late_start = 1000.1 + np.arange(9001) / FS  # 300 s of frames from a stream's start time
    assert (late_start[-1] - late_start[0]) * FS < 9000  # rounding: a hair short of the grid ...
    assert len(dsp.uniform_grid(late_start, FS)) == 9001  # ... and the last frame is kept
    late = np.array([0.0, 1.0 + 0.5 / FS])  # half a period past 1 s is no grid point
    np.testing.assert_allclose(dsp.uniform_grid(late, FS), np.arange(31) / FS)


@pytest.mark.parametrize("length", [5, 10, 11, 64])
def test_window_starts_cover_every_sample_half_overlapping(length):
    starts = dsp.window_starts(length, 10)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + 10] = True
    assert covered.all() and starts[0] == 0
    assert starts[-1] == max(length - 10, 0)
    assert all(b - a <= 5 for a, b in itertools.pairwise(starts))


def test_hann_overlap_add_is_the_weighted_mean_of_the_windows_covering_a_sample():
    length, window = 23, 8
    pieces = [(s, np.ones((window, 2)) * (s + 1)) for s in dsp.window_starts(length, window)]
    out = np.zeros((length, 2))
    blended = dsp.hann_overlap_add(pieces, length, out=out)
    assert blended is out and blended.shape == (length, 2)
    np.testing.assert_allclose(blended[:4], 1.0)  # only the first window covers these
    np.testing.assert_allclose(blended[-1], pieces[-1][0] + 1)  # only the last one
    assert np.all(np.diff(blended[:, 0]) >= 0)  # between them, a smooth blend: no steps back
    constant = dsp.hann_overlap_add(((s, np.full(window, 3.0)) for s in range(0, 20, 3)), 24)
    np.testing.assert_allclose(constant, 3.0)  # any overlap; a window past the end is cut


def test_power_spectrum_bins_are_fine_and_peak_is_at_the_sine():
    freqs, power = dsp.power_spectrum(np.sin(2 * np.pi * 2.0 * _times(5)), FS)
    assert freqs[1] - freqs[0] <= 0.01
    assert freqs[np.argmax(power)] == pytest.approx(2.0, abs=0.01)


def test_spectral_peak_interpolates_between_coarse_bins():
    x = np.sin(2 * np.pi * 1.2345 * _times(10))
    freqs, power = dsp.power_spectrum(x, FS, min_resolution_hz=0.1)
    nearest_bin = freqs[np.argmax(power)]
    assert abs(nearest_bin - 1.2345) > 0.02  # the bin alone is off by ~2 bpm
    assert dsp.spectral_peak(freqs, power, 0.7, 3.0) == pytest.approx(1.2345, abs=0.003)


def test_spectral_peak_stays_inside_the_band():
    freqs, power = dsp.power_spectrum(np.sin(2 * np.pi * 0.4 * _times(10)), FS)
    assert 0.7 <= dsp.spectral_peak(freqs, power, 0.7, 3.0) <= 3.0
    with pytest.raises(RppgError, match="no spectral bins"):
        dsp.spectral_peak(freqs, power, 20.0, 21.0)
