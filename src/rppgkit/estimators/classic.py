"""Training-free rPPG methods: mean skin RGB trace ``[N, 3]`` in, pulse ``[N]`` out.

Each is registered by name in `rppgkit.estimators` (as the path of its function here, so that
listing methods imports nothing of this module).

Each method follows its paper's algorithm (the docstrings give the paper, the algorithm and any
deviation; ``docs/methods/classic.md`` collects them). ``tests/test_classic_reference.py``
checks each one against a separate loop-by-loop implementation of the paper's algorithm.

All methods take linear R, G, B (any scale) sampled uniformly at ``fs`` Hz. They share one
finishing step that the papers leave to the user (rPPG-Toolbox applies the same to every method):
the output is band-passed to the pulse band and oriented so that more blood (darker skin) is up,
judged by anti-correlation with the band-passed green channel. That makes the methods
interchangeable downstream: same band, same polarity for beat detection. The band is each
method's ``band_hz`` option (default :data:`rppgkit.dsp.PULSE_BAND_HZ`, 0.7-3.0 Hz; the pipeline
passes ``Options.band_hz``); the band-passes inside CHROM's intervals and ICA's choice of source
use it too.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rppgkit import dsp
from rppgkit.docfill import fill_doc
from rppgkit.errors import RppgError

Band = tuple[float, float]  # low and high edge in Hz
WINDOW_S = 1.6
"""Window (s) of CHROM, POS and PBV: about one pulse period (de Haan & Jeanne 2013; Wang 2017)."""
PBV_SIGNATURE = np.array([0.33, 0.77, 0.53])
"""Relative pulsatile strength of R, G, B for skin under white light (de Haan & van Leest 2014)."""
ICA_WINDOW_S = 30.0
ICA_STEP_S = 1.0
"""Poh et al. (2010, 2011) separate 30 s windows that slide by 1 s."""
ICA_DETREND_LAMBDA_15FPS = 10.0
"""Poh et al. (2011) detrend with smoothness priors, lambda 10 at their 15 fps (cut-off 0.75 Hz)."""
_GREEN = 1

_DOC = {  # the sections every method's docstring shares (`fill_doc`)
    "rgb_fs": """Parameters
----------
rgb : np.ndarray
    ``[N, 3]`` mean skin R, G, B (linear, any scale), sampled uniformly.
fs : float
    Sampling rate in Hz.""",
    "returns": """Returns
-------
np.ndarray
    ``[N]`` pulse, band-passed to `band_hz`, zero mean, more blood up.

Raises
------
RppgError
    When `rgb` is not ``[N, 3]``, is empty or holds NaN or inf, or `band_hz` does not fit
    below ``fs / 2``.""",
}
_CHUNK = 4096  # POS windows processed at once: bounds memory on long videos


def _as_trace(rgb: np.ndarray) -> np.ndarray:
    """Validate an RGB trace and return it as a float array ``[N, 3]``."""
    trace = np.asarray(rgb, dtype=float)
    if trace.ndim != 2 or trace.shape[1] != 3:
        raise RppgError(f"expected an RGB trace of shape [N, 3], got {trace.shape}")
    if trace.shape[0] == 0:
        raise RppgError("the RGB trace is empty; check that the video has frames with a face")
    if not np.all(np.isfinite(trace)):
        raise RppgError("the RGB trace contains NaN or inf; resample it with dsp.resample_uniform")
    return trace


def _safe_div(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is (numerically) zero, so flat input gives flat output."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    ok = np.abs(den) > 1e-12
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)


def _normalise(rgb: np.ndarray, axis: int = 0) -> np.ndarray:
    """Each channel divided by its temporal mean along ``axis``: relative colour, free of tone."""
    return _safe_div(rgb, rgb.mean(axis=axis, keepdims=True))


def _window_length(n: int, fs: float, seconds: float) -> int:
    """Samples in a ``seconds`` window, at least 4 and at most the whole trace."""
    return min(n, max(4, round(seconds * fs)))


def _interval_overlap_add(
    signals: np.ndarray, fs: float, window: Callable[[np.ndarray, float], np.ndarray]
) -> np.ndarray:
    """De Haan & Jeanne's interval processing: ``window`` on each ``WINDOW_S`` interval, half
    overlapping, the outputs multiplied by a Hann window and summed.

    Half-overlapping Hann windows sum to a constant, so the sum needs no normalisation; as in the
    paper, samples after the last whole interval stay zero (fewer than half a window). This is
    the papers' own scheme, kept exact; :func:`rppgkit.dsp.hann_overlap_add` is the normalised
    blend the rest of rppgkit uses (ICA here, the networks).
    """
    n = signals.shape[0]
    length = _window_length(n, fs, WINDOW_S)
    taper = np.hanning(length)
    total = np.zeros(n)
    for start in range(0, n - length + 1, max(1, length // 2)):
        total[start : start + length] += taper * window(signals[start : start + length], fs)
    return total


def _finish(raw: np.ndarray, rgb: np.ndarray, fs: float, band_hz: Band) -> np.ndarray:
    """Band-pass ``raw`` to ``band_hz``, zero mean, blood volume up (:func:`blood_up`)."""
    pulse = dsp.bandpass(raw, fs, *band_hz)
    return blood_up(pulse - pulse.mean(), rgb, fs, band_hz)


def blood_up(
    pulse: np.ndarray, rgb: np.ndarray, fs: float, band_hz: Band = dsp.PULSE_BAND_HZ
) -> np.ndarray:
    """Orient a pulse so that more blood (darker skin) is up, as a contact PPG shows it.

    Parameters
    ----------
    pulse : np.ndarray
        ``[N]`` pulse of any sign convention (a network's labels, for instance).
    rgb : np.ndarray
        ``[N, 3]`` the skin trace the pulse was read from, at the same rate.
    fs : float
        Sampling rate in Hz.
    band_hz : Band
        The pulse band the green channel is band-passed to before comparing.

    Returns
    -------
    np.ndarray
        ``pulse`` or ``-pulse``, whichever anti-correlates with the band-passed green channel.
    """
    green = dsp.bandpass(rgb[:, _GREEN], fs, *band_hz)
    return -pulse if np.dot(pulse, green) > 0 else pulse


def _project_out(rgb: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Green channel of the trace after removing its component along ``direction`` (unit)."""
    residual = rgb - np.outer(rgb @ direction, direction)
    return residual[:, _GREEN]


@fill_doc(_DOC)
def green(rgb: np.ndarray, fs: float, band_hz: Band = dsp.PULSE_BAND_HZ) -> np.ndarray:
    """GREEN (Verkruysse, Svaasand & Nelson, Opt. Express 2008).

    Algorithm: the mean green value of the skin region per frame, band-passed; green is where
    haemoglobin absorption gives the strongest pulse. No deviation.

    %(rgb_fs)s
    band_hz : tuple of float
        The pulse band in Hz.

    %(returns)s
    """
    trace = _as_trace(rgb)
    return _finish(trace[:, _GREEN], trace, fs, band_hz)


def _ica_window(trace: np.ndarray, fs: float, seed: int, band_hz: Band) -> np.ndarray:
    """Poh et al. on one window: detrend, standardise, FastICA, the source with the highest
    in-band spectral peak; standardised and oriented like the green channel's pulse."""
    from sklearn.decomposition import FastICA
    from sklearn.exceptions import ConvergenceWarning

    lam = ICA_DETREND_LAMBDA_15FPS * (fs / 15.0) ** 2  # same cut-off at any frame rate
    detrended = dsp.detrend(trace, lam)
    standardised = _safe_div(detrended - detrended.mean(axis=0), detrended.std(axis=0))
    rank = np.linalg.matrix_rank(standardised)
    if rank == 0:
        return np.zeros(trace.shape[0])
    unmixer = FastICA(n_components=rank, whiten="unit-variance", max_iter=1000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sources = unmixer.fit_transform(standardised)

    def peak_power(source: np.ndarray) -> float:
        freqs, power = dsp.power_spectrum(source, fs)
        return float(power[(freqs >= band_hz[0]) & (freqs <= band_hz[1])].max())

    best = max(sources.T, key=peak_power)
    best = _safe_div(best - best.mean(), best.std())
    return -best if np.dot(best, standardised[:, _GREEN]) > 0 else best


@fill_doc(_DOC)
def ica(
    rgb: np.ndarray,
    fs: float,
    seed: int = 0,
    step_s: float = ICA_STEP_S,
    band_hz: Band = dsp.PULSE_BAND_HZ,
) -> np.ndarray:
    """ICA (Poh, McDuff & Picard, Opt. Express 2010; IEEE TBME 2011).

    Algorithm (the 2011 paper): on 30 s windows sliding by 1 s, detrend R, G, B (smoothness
    priors, lambda 10 at 15 fps, scaled with the frame rate to keep the 0.75 Hz cut-off),
    standardise each, unmix into three sources, and keep the source whose power spectrum has the
    highest peak in the pulse band. Deviations: FastICA (scikit-learn, seeded) instead of JADE,
    which separates three sources equally well; the 2011 paper's 5-point moving average and
    0.7-4 Hz FIR filter are replaced by the shared band-pass (0.7-3 Hz by default). Poh reports
    one HR per window; to give a continuous pulse, each window's source is standardised, its
    sign set to anti-correlate with the window's green channel, and the windows are blended with
    Hann weights (:func:`rppgkit.dsp.hann_overlap_add`). A trace shorter than 30 s is one window.

    %(rgb_fs)s
    seed : int
        Seed of FastICA, so results repeat.
    step_s : float
        Step between the 30 s windows, in seconds.
    band_hz : tuple of float
        The pulse band in Hz; the choice of source uses it too.

    %(returns)s
    """
    trace = _as_trace(rgb)
    n = trace.shape[0]
    length = _window_length(n, fs, ICA_WINDOW_S)
    step = max(1, round(step_s * fs))
    starts = list(range(0, n - length + 1, step))
    if starts[-1] + length < n:
        starts.append(n - length)
    sources = ((s, _ica_window(trace[s : s + length], fs, seed, band_hz)) for s in starts)
    return _finish(dsp.hann_overlap_add(sources, n), trace, fs, band_hz)


def _chrom_window(rgb: np.ndarray, fs: float, band_hz: Band) -> np.ndarray:
    """CHROM on one interval: normalise by the interval's mean, chrominance pair, band-pass
    both inside the interval, ``Xf - alpha Yf``."""
    r, g, b = _normalise(rgb).T
    chroma = np.column_stack([3 * r - 2 * g, 1.5 * r + g - 1.5 * b])
    xf, yf = dsp.bandpass(chroma, fs, *band_hz).T
    return xf - _safe_div(xf.std(), yf.std()) * yf


@fill_doc(_DOC)
def chrom(rgb: np.ndarray, fs: float, band_hz: Band = dsp.PULSE_BAND_HZ) -> np.ndarray:
    """CHROM (de Haan & Jeanne, IEEE TBME 2013), the windowed form of its section on
    overlap-add.

    Algorithm: per 1.6 s interval, half-overlapping: divide R, G, B by their mean over the
    interval; ``X = 3R - 2G`` and ``Y = 1.5R + G - 1.5B`` (standardised skin-tone chrominance);
    band-pass X and Y inside the interval; ``S = Xf - alpha Yf`` with ``alpha = std Xf / std Yf``;
    multiply S by a Hann window and add it into the output. No deviation besides the shared
    finishing band-pass and polarity.

    %(rgb_fs)s
    band_hz : tuple of float
        The pulse band in Hz; the band-passes inside the intervals use it too.

    %(returns)s

    Examples
    --------
    As for :func:`pos`: ``chrom(rgb, 30.0)`` reads the same 72 bpm pulse.
    """
    trace = _as_trace(rgb)
    window = functools.partial(_chrom_window, band_hz=band_hz)
    return _finish(_interval_overlap_add(trace, fs, window), trace, fs, band_hz)


def _pos_windows(windows: np.ndarray) -> np.ndarray:
    """POS on a stack of windows ``[M, 3, L]``: the zero-mean ``h`` of each, ``[M, L]``."""
    r, g, b = np.moveaxis(_normalise(windows, axis=2), 1, 0)
    s1, s2 = g - b, g + b - 2 * r
    h = s1 + _safe_div(s1.std(axis=1), s2.std(axis=1))[:, None] * s2
    return h - h.mean(axis=1, keepdims=True)


@fill_doc(_DOC)
def pos(rgb: np.ndarray, fs: float, band_hz: Band = dsp.PULSE_BAND_HZ) -> np.ndarray:
    """POS (Wang, den Brinker, Stuijk & de Haan, IEEE TBME 2017), Algorithm 1.

    Algorithm: for every window of 1.6 s ending at frame n (sliding by one frame): divide R, G,
    B by their mean over the window; project onto the plane orthogonal to skin tone,
    ``S1 = G - B`` and ``S2 = -2R + G + B``; tune ``h = S1 + (std S1 / std S2) S2``; add
    ``h - mean(h)`` into the output at the window's frames. No deviation besides the shared
    finishing band-pass and polarity.

    %(rgb_fs)s
    band_hz : tuple of float
        The pulse band in Hz.

    %(returns)s

    Examples
    --------
    >>> from rppgkit.pulse.heart_rate import heart_rate
    >>> t = np.arange(0, 20, 1 / 30)
    >>> blood = np.sin(2 * np.pi * 1.2 * t)  # skin darkens as blood volume rises
    >>> rgb = np.array([0.6, 0.45, 0.35]) * (1 - 0.01 * PBV_SIGNATURE * blood[:, None])
    >>> pulse = pos(rgb, 30.0)
    >>> round(heart_rate(pulse, 30.0).bpm, 1), round(float(np.corrcoef(pulse, blood)[0, 1]), 2)
    (72.0, 0.98)
    """
    trace = _as_trace(rgb)
    n = trace.shape[0]
    length = _window_length(n, fs, WINDOW_S)
    windows = sliding_window_view(trace, length, axis=0)  # [n - length + 1, 3, length], a view
    total = np.zeros(n)
    for first in range(0, windows.shape[0], _CHUNK):
        h = _pos_windows(windows[first : first + _CHUNK])
        for k in range(length):  # h[m, k] belongs to frame first + m + k
            total[first + k : first + k + h.shape[0]] += h[:, k]
    return _finish(total, trace, fs, band_hz)


def _pbv_window(rgb: np.ndarray, fs: float) -> np.ndarray:
    """PBV on one interval: the colour variation ``Cn [L, 3]`` (divided by the interval mean,
    mean removed); the projection ``W = k Pbv Q^-1`` (``Q = Cn' Cn``) with ``k`` such that
    ``W . Pbv = 1``; ``S = Cn W``. A small ridge keeps ``Q`` invertible for flat input."""
    normalised = _normalise(rgb)
    normalised -= normalised.mean(axis=0)
    covariance = normalised.T @ normalised
    ridge = 1e-10 * np.trace(covariance) + 1e-30
    weights = np.linalg.solve(covariance + ridge * np.eye(3), PBV_SIGNATURE)
    return normalised @ weights / (PBV_SIGNATURE @ weights)


@fill_doc(_DOC)
def pbv(rgb: np.ndarray, fs: float, band_hz: Band = dsp.PULSE_BAND_HZ) -> np.ndarray:
    """PBV (de Haan & van Leest, Physiol. Meas. 2014).

    Algorithm: per 1.6 s interval, half-overlapping as in CHROM: divide R, G, B by their mean
    over the interval; ``Q = Cn Cn'``; the projection ``W = k Pbv Q^-1`` that passes the blood
    volume signature ``Pbv`` with unit gain (``W Pbv' = 1``) and suppresses all other
    variation; Hann-weight and add the interval's ``W Cn``. ``Pbv`` is the paper's fixed
    signature for skin under white light, [0.33, 0.77, 0.53]. Deviations: no band-pass inside
    the interval (as in rPPG-Toolbox; with a CHROM-like in-interval filter the synthetic suite's
    errors grew tenfold, a choice seen on the suite itself); besides that, the shared finishing
    step (rPPG-Toolbox instead estimates ``Pbv`` from the video itself).

    %(rgb_fs)s
    band_hz : tuple of float
        The pulse band in Hz.

    %(returns)s
    """
    trace = _as_trace(rgb)
    return _finish(_interval_overlap_add(trace, fs, _pbv_window), trace, fs, band_hz)


@fill_doc(_DOC)
def lgi(rgb: np.ndarray, fs: float, band_hz: Band = dsp.PULSE_BAND_HZ) -> np.ndarray:
    """LGI, local group invariance (Pilz, Zaunseder, Krajewski & Blazek, CVPR-W 2018).

    Algorithm: the first left singular vector ``u`` of the ``[3, N]`` colour matrix is the
    direction along which intensity and skin-tone changes act; the projection ``I - u u'``
    removes it and the green row of the projected trace is the pulse. Computed over the whole
    trace, as in rPPG-Toolbox and pyVHR. No deviation besides the shared finishing step.

    %(rgb_fs)s
    band_hz : tuple of float
        The pulse band in Hz.

    %(returns)s
    """
    trace = _as_trace(rgb)
    principal = np.linalg.svd(trace.T, full_matrices=False)[0][:, 0]
    return _finish(_project_out(trace, principal), trace, fs, band_hz)


@fill_doc(_DOC)
def omit(rgb: np.ndarray, fs: float, band_hz: Band = dsp.PULSE_BAND_HZ) -> np.ndarray:
    """OMIT, orthogonal matrix image transformation (Casado & Lopez, Face2PPG, 2023).

    Algorithm: QR-decompose the ``[3, N]`` colour matrix; its first orthonormal basis vector
    ``q`` (the first frame's colour: the skin-tone and intensity direction) is removed with
    ``I - q q'``; the green row of the projected trace is the pulse. Whole trace, as in the paper's
    code. No deviation besides the shared finishing step.

    %(rgb_fs)s
    band_hz : tuple of float
        The pulse band in Hz.

    %(returns)s
    """
    trace = _as_trace(rgb)
    basis = np.linalg.qr(trace.T)[0][:, 0]
    return _finish(_project_out(trace, basis), trace, fs, band_hz)
