"""Each classic method against a separate, loop-by-loop implementation of its paper's algorithm.

The references below are written from the papers (see docs/methods/classic.md), frame by frame
and window by window, sharing no code with rppgkit.estimators.classic; they end with the same
documented finishing step (0.7-3 Hz band-pass, blood-volume polarity).
"""

import numpy as np
import pytest
from scipy import signal
from sklearn.decomposition import FastICA

from rppgkit import estimators
from test_classic import FS, simulate


def band(x: np.ndarray, fs: float) -> np.ndarray:
    """4th-order Butterworth 0.7-3 Hz, forward and backward (odd padding of 27 samples)."""
    sos = signal.butter(4, [0.7, 3.0], btype="bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x, axis=0, padlen=min(27, len(x) - 1))


def finish(raw: np.ndarray, rgb: np.ndarray, fs: float) -> np.ndarray:
    pulse = band(raw, fs)
    pulse = pulse - pulse.mean()
    return pulse if np.dot(pulse, band(rgb[:, 1], fs)) < 0 else -pulse


def reference_chrom(rgb: np.ndarray, fs: float) -> np.ndarray:
    """de Haan & Jeanne 2013: per half-overlapping 1.6 s interval, normalise by the interval
    mean, band-pass X and Y, alpha = std Xf / std Yf, Hann window, add."""
    n, length = len(rgb), round(1.6 * fs)
    out = np.zeros(n)
    for start in range(0, n - length + 1, length // 2):
        c = rgb[start : start + length]
        cn = c / c.mean(axis=0)
        x = 3 * cn[:, 0] - 2 * cn[:, 1]
        y = 1.5 * cn[:, 0] + cn[:, 1] - 1.5 * cn[:, 2]
        xf, yf = band(x, fs), band(y, fs)
        s = xf - (np.std(xf) / np.std(yf)) * yf
        out[start : start + length] += np.hanning(length) * s
    return finish(out, rgb, fs)


def reference_pos(rgb: np.ndarray, fs: float) -> np.ndarray:
    """Wang et al. 2017, Algorithm 1, literally: one window ending at every frame n."""
    n, length = len(rgb), round(1.6 * fs)
    projection = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])
    h_total = np.zeros(n)
    for end in range(n):
        m = end - length + 1
        if m < 0:
            continue
        c = rgb[m : end + 1].T  # [3, l]
        cn = c / c.mean(axis=1, keepdims=True)
        s = projection @ cn
        h = s[0] + (np.std(s[0]) / np.std(s[1])) * s[1]
        h_total[m : end + 1] += h - h.mean()
    return finish(h_total, rgb, fs)


def reference_pbv(rgb: np.ndarray, fs: float) -> np.ndarray:
    """de Haan & van Leest 2014: W = k Pbv Q^-1 on each normalised interval (unfiltered)."""
    pbv = np.array([0.33, 0.77, 0.53])
    n, length = len(rgb), round(1.6 * fs)
    out = np.zeros(n)
    for start in range(0, n - length + 1, length // 2):
        c = rgb[start : start + length]
        cn = (c / c.mean(axis=0)).T  # [3, l]
        cn = cn - cn.mean(axis=1, keepdims=True)
        w = pbv @ np.linalg.inv(cn @ cn.T)
        w = w / (w @ pbv)
        out[start : start + length] += np.hanning(length) * (w @ cn)
    return finish(out, rgb, fs)


def reference_lgi(rgb: np.ndarray, fs: float) -> np.ndarray:
    """Pilz et al. 2018: remove the principal direction of the colour matrix, keep green."""
    u = np.linalg.svd(rgb.T)[0][:, :1]
    return finish(((np.eye(3) - u @ u.T) @ rgb.T)[1], rgb, fs)


def reference_omit(rgb: np.ndarray, fs: float) -> np.ndarray:
    """Casado & Lopez 2023: the first QR basis vector is the first frame's colour, normalised."""
    q = rgb[0][:, None] / np.linalg.norm(rgb[0])
    return finish(((np.eye(3) - q @ q.T) @ rgb.T)[1], rgb, fs)


def reference_green(rgb: np.ndarray, fs: float) -> np.ndarray:
    return finish(rgb[:, 1], rgb, fs)


def smoothness_priors(x: np.ndarray, lam: float) -> np.ndarray:
    """Tarvainen 2002 with the dense formula: x - (I + lam^2 D2'D2)^-1 x."""
    n = len(x)
    d2 = np.diff(np.eye(n), n=2, axis=0)
    return x - np.linalg.solve(np.eye(n) + lam**2 * d2.T @ d2, x)


def reference_ica(rgb: np.ndarray, fs: float) -> np.ndarray:
    """Poh et al. 2011 on one window (the trace is 30 s): detrend, z-score, ICA, the source
    with the highest spectral peak in the band, standardised, oriented like the pulse."""
    detrended = smoothness_priors(rgb - rgb.mean(axis=0), 10 * (fs / 15) ** 2)
    z = (detrended - detrended.mean(axis=0)) / detrended.std(axis=0)
    sources = FastICA(3, whiten="unit-variance", max_iter=1000, random_state=0).fit_transform(z)
    freqs, power = signal.periodogram(sources, fs, window="hann", axis=0, nfft=3000)
    in_band = (freqs >= 0.7) & (freqs <= 3.0)
    best = sources[:, np.argmax(power[in_band].max(axis=0))]
    best = (best - best.mean()) / best.std()
    return finish(best, rgb, fs)


REFERENCES = {
    "chrom": reference_chrom,
    "pos": reference_pos,
    "pbv": reference_pbv,
    "lgi": reference_lgi,
    "omit": reference_omit,
    "green": reference_green,
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("method", sorted(REFERENCES))
def test_method_equals_the_papers_algorithm(method, seed):
    rgb, _ = simulate(60.0 + 25 * seed, seed=seed, seconds=20.0)
    ours = estimators.create(method)(rgb, FS)
    reference = REFERENCES[method](rgb, FS)
    np.testing.assert_allclose(ours, reference, atol=1e-6 * reference.std())


def test_ica_equals_poh_on_one_window():
    rgb, _ = simulate(84.0, seed=4, seconds=30.0)
    ours = estimators.create("ica")(rgb, FS)
    reference = reference_ica(rgb, FS)
    assert np.corrcoef(ours, reference)[0, 1] > 0.999


def test_ica_windows_slide_by_one_second_and_follow_a_changing_rate():
    rgb_a, _ = simulate(60.0, seed=5, seconds=45.0)
    rgb_b, _ = simulate(110.0, seed=6, seconds=45.0)
    rgb = np.concatenate([rgb_a, rgb_b * rgb_a[-1] / rgb_b[0]])  # 60 bpm, then 110 bpm
    pulse = estimators.create("ica")(rgb, FS)
    first, last = pulse[: int(30 * FS)], pulse[-int(30 * FS) :]
    spectrum = [np.abs(np.fft.rfft(x * np.hanning(len(x)), 30 * len(x))) for x in (first, last)]
    freqs = np.fft.rfftfreq(30 * len(first), 1 / FS)
    assert 60 * freqs[np.argmax(spectrum[0])] == pytest.approx(60, abs=2)
    assert 60 * freqs[np.argmax(spectrum[1])] == pytest.approx(110, abs=2)
