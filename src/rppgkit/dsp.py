"""Pure signal-processing building blocks shared by the estimators and the pulse analysis.

Every function takes time along axis 0 and returns new arrays (or fills the ``out`` it is
given); none keeps state.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
from scipy import fft, signal, sparse
from scipy.sparse.linalg import spsolve

from rppgkit.errors import RppgError, TooShortError

PULSE_BAND_HZ = (0.7, 3.0)
"""Heart rates rppgkit looks for, in Hz: 42-180 bpm, the band of rPPG-Toolbox and pyVHR. Every
default band derives from it: the estimators' band-pass, the heart-rate search and the beat
intervals HRV accepts (`rppgkit.pulse.hrv`), so no stage keeps what another cannot read."""
GRID_TOLERANCE = 1e-6
"""How close (in sample periods) the last time must come to a grid point for the point to be
kept (:func:`uniform_grid`). Timestamps are floats built from products and sums, so a last frame
that lies exactly on the grid can miss it by rounding: ~1e-15 relative, 1e-8 periods for a day
of video at 1000 fps. A millionth of a period (33 ns at 30 fps) covers that with margin and is
far below any camera clock's resolution, so it never adds a point that really lies beyond."""


def detrend(x: np.ndarray, lam: float = 100.0) -> np.ndarray:
    """Remove slow trends with the smoothness-priors method (Tarvainen et al. 2002).

    The trend is the solution of ``(I + lam^2 D2'D2) z = x`` with ``D2`` the second-difference
    operator; the system is pentadiagonal, so a sparse solve costs O(N) instead of the O(N^3) of
    the dense formula. ``x`` may be ``[N]`` or ``[N, C]`` (each column detrended independently).
    The trend's half-power frequency is about ``fs / (2 pi sqrt(lam))``: 0.48 Hz for the default
    ``lam`` at 30 fps, below the slowest pulse (0.7 Hz). Scale ``lam`` with ``fs**2`` to keep it.
    """
    values = np.asarray(x, dtype=float)
    centred = values - values.mean(axis=0)  # exact zeros for flat input, less rounding otherwise
    n = values.shape[0]
    if n < 3:
        return centred
    second_diff = sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n), format="csc")
    system = sparse.identity(n, format="csc") + lam**2 * (second_diff.T @ second_diff)
    trend = spsolve(sparse.csc_matrix(system), centred)
    return centred - np.reshape(trend, values.shape)


def bandpass(
    x: np.ndarray,
    fs: float,
    lo: float = PULSE_BAND_HZ[0],
    hi: float = PULSE_BAND_HZ[1],
    order: int = 4,
) -> np.ndarray:
    """Zero-phase Butterworth band-pass along axis 0 (second-order sections, forward-backward).

    Zero phase keeps the pulse peaks where they are in time, which matters for beat timing.
    Inputs shorter than the default edge padding get a shorter padding instead of an error.
    """
    if not 0 < lo < hi < fs / 2:
        raise RppgError(
            f"band {lo:g}-{hi:g} Hz does not fit below the Nyquist frequency {fs / 2:g} Hz; "
            "use a higher frame rate or a narrower band"
        )
    values = np.asarray(x, dtype=float)
    sos = _butter_bandpass(order, lo, hi, fs)
    padlen = min(3 * (2 * len(sos) + 1), values.shape[0] - 1)
    return signal.sosfiltfilt(sos, values, axis=0, padlen=max(padlen, 0))


@functools.lru_cache(maxsize=64)
def _butter_bandpass(order: int, lo: float, hi: float, fs: float) -> np.ndarray:
    """Second-order sections of a Butterworth band-pass; cached, as windowed methods reuse one.

    Callers must not modify the array (scipy's filters only read it).
    """
    return signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")


def resample_uniform(t: np.ndarray, x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Linearly resample samples taken at irregular times ``t`` onto a grid of step ``1/fs``.

    The grid starts at ``t[0]`` and ends at or before ``t[-1]``. Gaps from dropped frames are
    bridged by interpolation; NaN samples (frames without a face) count as missing in their own
    column and are interpolated across, never spread. Before the first and after the last valid
    sample the nearest valid value is held. Returns ``(t_uniform, x_uniform)``.
    """
    times = np.asarray(t, dtype=float)
    values = np.asarray(x, dtype=float)
    if times.ndim != 1 or values.shape[0] != times.shape[0]:
        raise RppgError(
            f"got {times.shape[0]} timestamps for {values.shape[0]} samples; pass one per sample"
        )
    if times.shape[0] < 2 or np.any(np.diff(times) <= 0):
        raise RppgError("timestamps must be strictly increasing with at least two samples")
    t_uniform = uniform_grid(times, fs)
    columns = values.reshape(values.shape[0], -1)
    valid = np.isfinite(columns)
    if np.any(valid.sum(axis=0) < 2):
        raise TooShortError("fewer than two valid (non-NaN) samples; check the face detection")
    resampled = np.column_stack(
        [np.interp(t_uniform, times[ok], col[ok]) for col, ok in zip(columns.T, valid.T)]
    )
    return t_uniform, resampled.reshape((t_uniform.size, *values.shape[1:]))


def uniform_grid(times: np.ndarray, fs: float) -> np.ndarray:
    """Sample times a step of ``1/fs`` apart, from the first of increasing `times` to the last.

    Parameters
    ----------
    times : np.ndarray
        ``[N]`` increasing times in seconds (frame timestamps).
    fs : float
        Rate of the grid in Hz.

    Returns
    -------
    np.ndarray
        ``[M]`` times: ``times[0] + k / fs`` for every ``k`` that does not pass ``times[-1]``
        (by more than :data:`GRID_TOLERANCE` periods, which absorbs float rounding).
    """
    steps = int(np.floor((times[-1] - times[0]) * fs + GRID_TOLERANCE))
    return times[0] + np.arange(steps + 1) / fs


def window_starts(length: int, window: int) -> list[int]:
    """Starts of half-overlapping windows covering every one of `length` samples.

    Parameters
    ----------
    length : int
        Samples to cover.
    window : int
        Samples per window.

    Returns
    -------
    list[int]
        Starts `window // 2` apart; the last window ends at the end (it may overlap its
        neighbour more). ``[0]`` when one window covers everything.
    """
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, window // 2))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def hann_overlap_add(
    pieces: Iterable[tuple[int, np.ndarray]], length: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Blend overlapping window outputs into one signal with Hann weights.

    Each output is weighted by a Hann window that is zero just outside it (so its first and
    last samples still count) and the weighted sum divided by the sum of weights: window borders
    leave no steps, and every sample is the weighted mean of the windows that cover it, however
    they overlap (half-overlapping windows, or windows a fixed step apart).

    Parameters
    ----------
    pieces : Iterable[tuple[int, np.ndarray]]
        ``(start, output)`` pairs: a window's output ``[L, ...]`` belongs to samples
        ``start .. start + L``; the part past `length` is dropped.
    length : int
        Samples ``N`` of the blended signal; samples no window covers are 0.
    out : np.ndarray, optional
        Zeros ``[N, ...]`` to blend into (a memory map keeps large outputs off the heap);
        by default a new float array shaped like the outputs.

    Returns
    -------
    np.ndarray
        The blend ``[N, ...]``: `out` itself when given.
    """
    weight = np.zeros(length)
    total = out
    for start, output in pieces:
        if total is None:
            total = np.zeros((length, *output.shape[1:]))
        keep = min(len(output), length - start)
        taper = np.hanning(len(output) + 2)[1 : keep + 1]
        total[start : start + keep] += _along_time(taper, output.ndim) * output[:keep]
        weight[start : start + keep] += taper
    if total is None:  # no windows: nothing covers any sample
        return np.zeros(length)
    total /= _along_time(np.maximum(weight, 1e-8), total.ndim)
    return total


def _along_time(values: np.ndarray, ndim: int) -> np.ndarray:
    """``[N]`` values shaped to broadcast along axis 0 of an ``ndim``-dimensional array."""
    return values.reshape(-1, *(1,) * (ndim - 1))


def power_spectrum(
    x: np.ndarray, fs: float, min_resolution_hz: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed, zero-padded periodogram of a 1-D signal; returns ``(freqs, power)``.

    Zero padding adds no resolution (the Hann main lobe of a T-second window stays 4/T Hz wide)
    but samples the spectrum densely: with bins no wider than ``min_resolution_hz`` (0.01 Hz =
    0.6 bpm by default, so nfft >= fs / 0.01) the three bins around a peak lie on its smooth top
    and parabolic refinement (:func:`spectral_peak`) is accurate to well under 0.1 bpm.
    """
    values = np.asarray(x, dtype=float)
    if values.ndim != 1:
        raise RppgError(f"expected a 1-D signal, got shape {values.shape}")
    nfft = fft.next_fast_len(max(values.size, int(np.ceil(fs / min_resolution_hz))))
    return signal.periodogram(values, fs=fs, window="hann", nfft=nfft, detrend="constant")


def spectral_peak(freqs: np.ndarray, power: np.ndarray, lo: float, hi: float) -> float:
    """Frequency of the highest spectral peak in ``[lo, hi]``, refined between bins.

    A parabola through the log-power of the maximum bin and its two neighbours (neighbours may
    lie just outside the band) gives the vertex; a Hann peak is close to Gaussian, so on a log
    scale the parabola fits it almost exactly. This removes the bin-width quantisation of HR.
    When the in-band maximum sits on a slope at the band edge (no local peak) the bin itself is
    returned; the result is always clipped to ``[lo, hi]``.
    """
    in_band = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    if in_band.size == 0:
        raise RppgError(f"no spectral bins between {lo:g} and {hi:g} Hz; use a longer signal")
    peak = in_band[np.argmax(power[in_band])]
    if peak == 0 or peak == freqs.size - 1:
        return float(freqs[peak])
    left, centre, right = np.log(power[peak - 1 : peak + 2] + np.finfo(float).tiny)
    curvature = left - 2 * centre + right
    if centre < max(left, right) or curvature >= 0:
        return float(freqs[peak])
    offset = 0.5 * (left - right) / curvature
    refined = freqs[peak] + offset * (freqs[1] - freqs[0])
    return float(np.clip(refined, lo, hi))
