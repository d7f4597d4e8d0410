import itertools
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.fft
from scipy import ndimage, signal, sparse
from scipy.sparse.linalg import spsolve

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


def _harmonic_spectrum(second: float, third: float = 0.0, seconds: float = 10):
    """Spectrum of a 1.1 Hz pulse whose second and third harmonics have these amplitudes."""
    t = _times(seconds)
    x = sum(a * np.sin(2 * np.pi * 1.1 * k * t + k) for k, a in ((1, 1.0), (2, second), (3, third)))
    return dsp.power_spectrum(x, FS)


def test_fundamental_peak_reads_an_over_drawn_harmonic_as_its_fundamental():
    freqs, power = _harmonic_spectrum(second=1.5)  # the fundamental has 0.44 of its power
    assert dsp.fundamental_peak(freqs, power, 0.7, 3.0) == pytest.approx(2.2, abs=0.01)
    for rho in (0.2, 0.4):
        assert dsp.fundamental_peak(freqs, power, 0.7, 3.0, rho) == pytest.approx(1.1, abs=0.01)
    assert dsp.fundamental_peak(freqs, power, 0.7, 3.0, 0.5) == pytest.approx(2.2, abs=0.01)
    # the third harmonic highest: the lowest qualifying peak is the rate
    freqs, power = _harmonic_spectrum(second=1.2, third=1.5)
    assert dsp.fundamental_peak(freqs, power, 0.7, 4.0, 0.4) == pytest.approx(1.1, abs=0.01)


def test_fundamental_peak_keeps_the_highest_peak_without_a_sub_harmonic_peak():
    # a pure 2.2 Hz pulse: nothing at 1.1 or 0.73 Hz, however low the threshold
    freqs, power = dsp.power_spectrum(np.sin(2 * np.pi * 2.2 * _times(10)), FS)
    assert dsp.fundamental_peak(freqs, power, 0.7, 3.0, 0.01) == pytest.approx(2.2, abs=0.01)
    # strong power at 1.1 Hz on the flank of a 0.9 Hz bump is a slope, not a peak
    bump = power + 0.9 * power.max() * np.exp(-(((freqs - 0.9) / 0.3) ** 2))
    assert bump[np.argmin(np.abs(freqs - 1.1))] > 0.5 * power.max()
    assert dsp.fundamental_peak(freqs, bump, 0.7, 3.0, 0.1) == pytest.approx(2.2, abs=0.01)
    # a 1.3 Hz pulse: its half (0.65 Hz) lies below the band and is not searched
    freqs, power = dsp.power_spectrum(np.sin(2 * np.pi * 1.3 * _times(10)), FS)
    low = power + power.max() * np.exp(-(((freqs - 0.65) / 0.03) ** 2))
    assert dsp.fundamental_peak(freqs, low, 0.7, 3.0, 0.1) == pytest.approx(1.3, abs=0.01)


# The numpy versions of scipy's pieces (rppgkit.dsp imports no scipy: its import time), each
# against scipy itself.

BANDS = [  # (order, fs, lo, hi): the pulse band, beat picking's order 2, odd orders, extremes
    (4, 30.0, 0.7, 3.0),
    (2, 30.0, 0.42, 2.7),
    (4, 240.0, 0.7, 3.0),
    (1, 30.0, 0.7, 3.0),
    (3, 15.0, 0.05, 7.0),  # wide: the real prototype pole gives two real poles
    (5, 4.0, 0.1, 0.5),
    (8, 30.0, 0.05, 1.9),  # ill-conditioned: poles within 0.004 of the unit circle
]


@pytest.mark.parametrize(("order", "fs", "lo", "hi"), BANDS)
def test_butter_bandpass_sos_is_scipys(order, fs, lo, hi):
    ours = dsp.butter_bandpass_sos(order, lo, hi, fs)
    theirs = signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    assert ours.shape == theirs.shape == (order, 6)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13 * np.abs(theirs).max())


@pytest.mark.parametrize(("order", "fs", "lo", "hi"), BANDS)
def test_sosfiltfilt_is_scipys(order, fs, lo, hi):
    rng = np.random.default_rng(order)
    x = rng.normal(size=(700, 3)).cumsum(axis=0)  # a random walk: most power below the band
    sos = signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    padlen = 3 * (2 * order + 1)
    ours = dsp.sosfiltfilt(sos, x, padlen)
    theirs = signal.sosfiltfilt(sos, x, axis=0, padlen=padlen)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * np.abs(theirs).max())
    np.testing.assert_allclose(dsp.sosfiltfilt(sos, x[:, 1], padlen), ours[:, 1], atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 27, 28, 63, 64, 65, 130])
def test_bandpass_is_scipys_at_every_length(n):
    """Short inputs (padding shortened to n - 1), and lengths around the filter's blocks."""
    x = np.random.default_rng(n).normal(size=(n, 2))
    sos = signal.butter(4, [0.7, 3.0], btype="bandpass", fs=FS, output="sos")
    theirs = signal.sosfiltfilt(sos, x, axis=0, padlen=min(27, n - 1))
    np.testing.assert_allclose(dsp.bandpass(x, FS), theirs, rtol=0, atol=1e-12)


def test_bandpass_of_nothing_raises_as_scipy_did():
    with pytest.raises(ValueError, match="greater than padlen"):
        dsp.bandpass(np.zeros(0), FS)
    sos = dsp.butter_bandpass_sos(4, 0.7, 3.0, FS)
    with pytest.raises(ValueError, match="greater than padlen"):
        dsp.sosfiltfilt(sos, np.zeros(27), padlen=27)


def test_sos_steady_state_is_scipys():
    for order, fs, lo, hi in BANDS:
        sos = signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
        np.testing.assert_allclose(
            dsp.sos_steady_state(sos), signal.sosfilt_zi(sos), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("n", [1, 2, 3, 10, 301, 1000])
def test_periodogram_is_scipys(n):
    x = np.random.default_rng(n).normal(size=n) + 5.0
    for nfft in (n, n + 1, 3000, 3001):
        freqs, power = dsp.periodogram(x, FS, nfft)
        want_freqs, want_power = signal.periodogram(
            x, fs=FS, window="hann", nfft=nfft, detrend="constant"
        )
        np.testing.assert_array_equal(freqs, want_freqs)
        np.testing.assert_allclose(power, want_power, rtol=0, atol=1e-12 * want_power.max())
    assert [a.size for a in dsp.periodogram(np.zeros(0), FS, 3000)] == [0, 0]


def test_next_fast_len_is_scipys():
    assert [dsp.next_fast_len(n) for n in range(1, 5000)] == [
        scipy.fft.next_fast_len(n) for n in range(1, 5000)
    ]
    assert dsp.next_fast_len(18001) == scipy.fft.next_fast_len(18001)


def test_find_peaks_is_scipys_with_plateaus_ties_and_distance():
    rng = np.random.default_rng(3)
    for _ in range(500):  # few levels: many plateaus and equal heights
        x = rng.integers(0, 5, size=rng.integers(0, 60)).astype(float)
        distance = int(rng.integers(1, 9))
        np.testing.assert_array_equal(
            dsp.find_peaks(x, distance=distance), signal.find_peaks(x, distance=distance)[0]
        )
    x = np.sin(np.linspace(0, 40, 2000)) + rng.normal(0, 0.1, 2000)
    for distance in (1, 7, 7.5, 50):
        np.testing.assert_array_equal(
            dsp.find_peaks(x, distance=distance), signal.find_peaks(x, distance=distance)[0]
        )
    np.testing.assert_array_equal(dsp.find_peaks(np.array([0.0, 1.0, 1.0, 0.0])), [1])
    assert dsp.find_peaks(np.array([0.0, 1.0, 1.0])).size == 0  # a plateau at the end
    with pytest.raises(ValueError, match="distance"):
        dsp.find_peaks(x, distance=0.5)


def test_running_median_is_scipys():
    rng = np.random.default_rng(4)
    for size in range(1, 9):  # even sizes: the higher middle value, as scipy
        for n in (1, 2, 5, 40):
            x = rng.integers(0, 6, size=n).astype(float)
            np.testing.assert_array_equal(
                dsp.running_median(x, size), ndimage.median_filter(x, size=size, mode="nearest")
            )
            columns = rng.normal(size=(n, 3))
            np.testing.assert_array_equal(
                dsp.running_median(columns, size),
                ndimage.median_filter(columns, size=(size, 1), mode="nearest"),
            )
    assert dsp.running_median(np.zeros(0), 5).size == 0


@pytest.mark.parametrize("lam", [1.0, 10.0, 100.0, 400.0])
def test_detrend_is_the_sparse_solution(lam):
    rng = np.random.default_rng(int(lam))
    for n in (3, 4, 5, 6, 50, 900):
        x = rng.normal(size=(n, 3)).cumsum(axis=0)
        second_diff = sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n), format="csc")
        system = sparse.identity(n, format="csc") + lam**2 * (second_diff.T @ second_diff)
        centred = x - x.mean(axis=0)
        want = centred - spsolve(sparse.csc_matrix(system), centred)
        np.testing.assert_allclose(dsp.detrend(x, lam), want, atol=1e-9 * np.abs(want).max())
        np.testing.assert_allclose(dsp.detrend(x[:, 0], lam), want[:, 0], atol=1e-9)


def test_measure_path_imports_no_scipy():
    """`rppgkit measure` with a classic method runs on these functions: importing scipy.signal
    (or ndimage, stats, sparse) would cost it a second or more."""
    code = (
        "import sys, rppgkit.pipeline, rppgkit.pulse, rppgkit.estimators.classic;"
        "print(' '.join(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


@pytest.mark.parametrize("rho", [0.0, -0.2, 1.5, float("nan"), float("inf")])
def test_fundamental_peak_refuses_a_share_outside_zero_to_one(rho: float) -> None:
    freqs, power = dsp.power_spectrum(np.sin(2 * np.pi * 1.2 * np.arange(300) / 30.0), 30.0)
    with pytest.raises(RppgError, match=r"in \(0, 1\]"):
        dsp.fundamental_peak(freqs, power, 0.7, 3.0, rho)
