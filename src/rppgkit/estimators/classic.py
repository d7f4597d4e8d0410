"""Training-free rPPG methods: mean skin RGB trace ``[N, 3]`` in, pulse ``[N]`` out.

All methods take linear R, G, B (any scale) sampled uniformly at ``fs`` Hz and return a
zero-mean pulse band-passed to 0.7-3.0 Hz, oriented so that more blood (darker skin) is up
(judged by anti-correlation with the band-passed green channel).
That makes the methods interchangeable downstream: same band, same polarity for peak detection.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from rppgkit import dsp
from rppgkit.errors import RppgError
from rppgkit.estimators.registry import register

PULSE_BAND = (0.7, 3.0)
WINDOW_S = 1.6
"""Window (s) of the overlap-added per-window processing of CHROM, POS and PBV: ~1 pulse period."""
PBV_SIGNATURE = np.array([0.33, 0.77, 0.53])
"""Relative pulsatile strength of R, G, B for skin under white light (de Haan & van Leest 2014)."""
_GREEN = 1


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


def _normalise(rgb: np.ndarray) -> np.ndarray:
    """Each channel divided by its mean, minus 1: relative colour changes, free of skin tone."""
    return _safe_div(rgb, rgb.mean(axis=0)) - 1.0


def _alpha_combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - (std a / std b) b``: cancels what ``a`` and ``b`` share (CHROM and POS tuning)."""
    return a - _safe_div(a.std(), b.std()) * b


def _overlap_add(
    signals: np.ndarray, fs: float, combine: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Apply ``combine`` to Hann-tapered half-overlapping windows of ``WINDOW_S`` and join them.

    Each window's output is tapered and summed; dividing by the summed taper keeps the gain flat
    even where the last window overlaps irregularly.
    """
    n = signals.shape[0]
    length = min(n, max(4, round(WINDOW_S * fs)))
    starts = list(range(0, n - length + 1, max(1, length // 2)))
    if starts[-1] + length < n:
        starts.append(n - length)
    taper = np.hanning(length + 2)[1:-1]
    total, weight = np.zeros(n), np.zeros(n)
    for start in starts:
        segment = combine(signals[start : start + length])
        total[start : start + length] += taper * (segment - segment.mean())
        weight[start : start + length] += taper
    return _safe_div(total, weight)


def _finish(raw: np.ndarray, rgb: np.ndarray, fs: float) -> np.ndarray:
    """Band-pass ``raw`` to the pulse band and flip it to anti-correlate with the green channel."""
    pulse = dsp.bandpass(raw, fs, *PULSE_BAND)
    pulse -= pulse.mean()
    green = dsp.bandpass(rgb[:, _GREEN], fs, *PULSE_BAND)
    return -pulse if np.dot(pulse, green) > 0 else pulse


def _project_out(rgb: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Green channel of the trace after removing its component along ``direction`` (unit)."""
    residual = rgb - np.outer(rgb @ direction, direction)
    return residual[:, _GREEN]


def _band_peak_ratio(x: np.ndarray, fs: float) -> float:
    """Highest spectral power inside the pulse band over the total power: periodicity score."""
    freqs, power = dsp.power_spectrum(x, fs)
    in_band = (freqs >= PULSE_BAND[0]) & (freqs <= PULSE_BAND[1])
    return float(_safe_div(power[in_band].max(), power.sum()))


@register("green", description="GREEN (Verkruysse 2008): the band-passed green channel")
def green(rgb: np.ndarray, fs: float) -> np.ndarray:
    """GREEN: the green channel alone, where haemoglobin absorption gives the strongest pulse."""
    trace = _as_trace(rgb)
    return _finish(trace[:, _GREEN], trace, fs)


@register("ica", description="ICA (Poh 2010): most periodic of three FastICA sources")
def ica(rgb: np.ndarray, fs: float, seed: int = 0) -> np.ndarray:
    """ICA: detrend and standardise R, G, B, unmix with FastICA, keep the most periodic source.

    The most periodic source is the one with the largest in-band spectral peak relative to its
    total power. The number of sources drops to the rank of the data so flat channels are safe.
    """
    # Imported here: scikit-learn takes over a second to import and only ICA needs it.
    from sklearn.decomposition import FastICA
    from sklearn.exceptions import ConvergenceWarning

    trace = _as_trace(rgb)
    detrended = dsp.detrend(trace)
    standardised = _safe_div(detrended - detrended.mean(axis=0), detrended.std(axis=0))
    rank = np.linalg.matrix_rank(standardised)
    if rank == 0:
        return np.zeros(trace.shape[0])
    unmixer = FastICA(n_components=rank, whiten="unit-variance", max_iter=1000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sources = unmixer.fit_transform(standardised)
    best = max(sources.T, key=lambda source: _band_peak_ratio(source, fs))
    return _finish(best, trace, fs)


def _chrom_window(xy: np.ndarray) -> np.ndarray:
    """CHROM's per-window alpha tuning of the band-passed chrominance pair ``[L, 2]``."""
    return _alpha_combine(xy[:, 0], xy[:, 1])


@register("chrom", description="CHROM (de Haan & Jeanne 2013): chrominance, alpha-tuned")
def chrom(rgb: np.ndarray, fs: float) -> np.ndarray:
    """CHROM: ``X = 3R - 2G`` and ``Y = 1.5R + G - 1.5B`` of the normalised trace cancel specular
    light for standard skin; both are band-passed, then ``X - alpha Y`` with ``alpha = std X /
    std Y`` per 1.6 s window removes the remaining intensity changes; windows are overlap-added.
    """
    trace = _as_trace(rgb)
    r, g, b = _normalise(trace).T
    chroma = np.column_stack([3 * r - 2 * g, 1.5 * r + g - 1.5 * b])
    filtered = dsp.bandpass(chroma, fs, *PULSE_BAND)
    return _finish(_overlap_add(filtered, fs, _chrom_window), trace, fs)


def _pos_window(rgb: np.ndarray) -> np.ndarray:
    """POS on one window: normalise, project onto the plane orthogonal to skin tone, tune."""
    r, g, b = _normalise(rgb).T
    return _alpha_combine(g - b, 2 * r - g - b)


@register("pos", description="POS (Wang 2017): plane-orthogonal-to-skin projection")
def pos(rgb: np.ndarray, fs: float) -> np.ndarray:
    """POS: per 1.6 s window, ``S1 = G - B`` and ``S2 = G + B - 2R`` of the temporally normalised
    trace, combined as ``S1 + alpha S2`` (``alpha = std S1 / std S2``); windows overlap-added.
    """
    trace = _as_trace(rgb)
    return _finish(_overlap_add(trace, fs, _pos_window), trace, fs)


def _pbv_window(rgb: np.ndarray) -> np.ndarray:
    """PBV on one window: the least-energy projection with unit gain along the pulse signature.

    Minimising ``w' Q w`` subject to ``w . Pbv = 1`` (``Q`` the covariance of the normalised
    trace) gives ``w ~ Q^-1 Pbv``; a small ridge keeps ``Q`` invertible for flat input.
    """
    normalised = _normalise(rgb)
    normalised -= normalised.mean(axis=0)
    covariance = normalised.T @ normalised
    ridge = 1e-6 * np.trace(covariance) + 1e-12
    weights = np.linalg.solve(covariance + ridge * np.eye(3), PBV_SIGNATURE)
    return normalised @ weights / (PBV_SIGNATURE @ weights)


@register("pbv", description="PBV (de Haan & van Leest 2014): blood-volume signature projection")
def pbv(rgb: np.ndarray, fs: float) -> np.ndarray:
    """PBV: per 1.6 s window, the colour direction that passes the blood volume signature
    ``Pbv`` with unit gain and suppresses everything else; windows are overlap-added.
    """
    trace = _as_trace(rgb)
    return _finish(_overlap_add(trace, fs, _pbv_window), trace, fs)


@register("lgi", description="LGI (Pilz 2018): project out the principal colour component")
def lgi(rgb: np.ndarray, fs: float) -> np.ndarray:
    """LGI: the first right singular vector of the trace is the skin-colour direction along which
    intensity changes act; its orthogonal complement keeps the pulse (green component).
    """
    trace = _as_trace(rgb)
    principal = np.linalg.svd(trace, full_matrices=False)[2][0]
    return _finish(_project_out(trace, principal), trace, fs)


@register("omit", description="OMIT (Casado & Lopez 2023): QR basis, first vector projected out")
def omit(rgb: np.ndarray, fs: float) -> np.ndarray:
    """OMIT: QR-decompose the ``[3, N]`` colour matrix and remove the first orthonormal basis
    vector (the first frame's colour, i.e. the skin-colour and intensity direction) from the
    trace; keep the green component.
    """
    trace = _as_trace(rgb)
    basis = np.linalg.qr(trace.T)[0][:, 0]
    return _finish(_project_out(trace, basis), trace, fs)
