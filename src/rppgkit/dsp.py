"""Pure signal-processing building blocks shared by the estimators and the pulse analysis.

Every function takes time along axis 0 and returns new arrays (or fills the ``out`` it is
given); none keeps state.

Only numpy is imported: ``rppgkit measure`` runs on this module, and importing
``scipy.signal`` alone takes a second or more (scipy 1.16 imports ``scipy.stats`` with it,
1.17 also parses hundreds of docstrings), as long as measuring a short clip. The few scipy
pieces the measure path needs are written out here, each checked against scipy in
``tests/test_dsp.py``: the Butterworth band-pass design (:func:`butter_bandpass_sos`), zero-phase
filtering (:func:`sosfiltfilt`), the periodogram (:func:`periodogram`, :func:`next_fast_len`),
peak picking (:func:`find_peaks`), the running median (:func:`running_median`) and the banded
solve of :func:`detrend`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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
    operator; the system is pentadiagonal, so a banded solve costs O(N) instead of the O(N^3) of
    the dense formula.

    Parameters
    ----------
    x : np.ndarray
        ``[N]`` or ``[N, C]`` signal(s), each column detrended independently.
    lam : float
        Smoothness of the trend. Its half-power frequency is about ``fs / (2 pi sqrt(lam))``:
        0.48 Hz for the default at 30 fps, below the slowest pulse (0.7 Hz). Scale `lam` with
        ``fs**2`` to keep it.

    Returns
    -------
    np.ndarray
        Float array shaped like `x`: the signal minus its trend, so with zero mean.

    Examples
    --------
    >>> t = np.arange(300) / 30.0
    >>> pulse = np.sin(2 * np.pi * 1.2 * t)
    >>> round(float(np.corrcoef(detrend(pulse + 0.5 * t), pulse)[0, 1]), 2)
    0.99
    """
    values = np.asarray(x, dtype=float)
    centred = values - values.mean(axis=0)  # exact zeros for flat input, less rounding otherwise
    n = values.shape[0]
    if n < 3:
        return centred
    columns = centred.reshape(n, -1)
    trend = _smoothness_priors_trend(columns, lam)
    return centred - trend.reshape(values.shape)


def _smoothness_priors_trend(columns: np.ndarray, lam: float) -> np.ndarray:
    """Solve ``(I + lam^2 D2'D2) z = columns`` for every column of ``[N, C]`` (N >= 3).

    The matrix is symmetric, positive definite and pentadiagonal, so its factorisation
    ``L diag(d) L'`` (``L`` unit lower triangular with two sub-diagonals ``l1``, ``l2``) needs no
    pivoting and costs O(N); a forward and a backward substitution then solve each column.
    The loops run on Python floats (faster than numpy calls on single numbers).
    """
    n = columns.shape[0]
    weight = lam**2
    main = np.ones(n)  # the diagonals of I + lam^2 D2'D2, D2's rows being [1, -2, 1]
    main[:-2] += weight
    main[1:-1] += 4 * weight
    main[2:] += weight
    first = np.zeros(n - 1)  # M[i + 1, i]
    first[: n - 2] -= 2 * weight
    first[1:] -= 2 * weight
    second = weight  # M[i + 2, i]: the same everywhere
    d, l1, l2 = [0.0] * n, [0.0] * n, [0.0] * n
    d[0] = float(main[0])
    l1[1] = float(first[0]) / d[0]
    d[1] = float(main[1]) - l1[1] ** 2 * d[0]
    for i in range(2, n):
        l2[i] = second / d[i - 2]
        l1[i] = (float(first[i - 1]) - l2[i] * l1[i - 1] * d[i - 2]) / d[i - 1]
        d[i] = float(main[i]) - l1[i] ** 2 * d[i - 1] - l2[i] ** 2 * d[i - 2]
    trend = np.empty_like(columns)
    for c, column in enumerate(columns.T.tolist()):
        y = column  # forward: L y = b, then y / d
        y[1] -= l1[1] * y[0]
        for i in range(2, n):
            y[i] -= l1[i] * y[i - 1] + l2[i] * y[i - 2]
        z = [yi / di for yi, di in zip(y, d)]
        z[n - 2] -= l1[n - 1] * z[n - 1]  # backward: L' z = y / d
        for i in range(n - 3, -1, -1):
            z[i] -= l1[i + 1] * z[i + 1] + l2[i + 2] * z[i + 2]
        trend[:, c] = z
    return trend


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

    Parameters
    ----------
    x : np.ndarray
        ``[N, ...]`` signal(s), time along axis 0.
    fs : float
        Sampling rate in Hz.
    lo, hi : float
        Band edges in Hz (the -3 dB points); by default :data:`PULSE_BAND_HZ`.
    order : int
        Order of the Butterworth prototype; forward-backward filtering doubles it.

    Returns
    -------
    np.ndarray
        The filtered signal(s), float, shaped like `x`.

    Raises
    ------
    RppgError
        When the band does not satisfy ``0 < lo < hi < fs / 2``.

    Examples
    --------
    >>> t = np.arange(300) / 30.0
    >>> pulse = np.sin(2 * np.pi * 1.2 * t)
    >>> filtered = bandpass(pulse + np.sin(2 * np.pi * 8.0 * t), 30.0)
    >>> round(float(np.abs(filtered - pulse)[30:-30].max()), 2)  # the 8 Hz tone is gone
    0.04
    """
    if not 0 < lo < hi < fs / 2:
        raise RppgError(
            f"band {lo:g}-{hi:g} Hz does not fit below the Nyquist frequency {fs / 2:g} Hz; "
            "use a higher frame rate or a narrower band"
        )
    values = np.asarray(x, dtype=float)
    sos = _butter_bandpass(order, lo, hi, fs)
    padlen = min(3 * (2 * len(sos) + 1), values.shape[0] - 1)
    return sosfiltfilt(sos, values, padlen=max(padlen, 0))


@functools.lru_cache(maxsize=64)
def _butter_bandpass(order: int, lo: float, hi: float, fs: float) -> np.ndarray:
    """:func:`butter_bandpass_sos`, cached (windowed methods reuse one); read-only."""
    sos = butter_bandpass_sos(order, lo, hi, fs)
    sos.flags.writeable = False
    return sos


def butter_bandpass_sos(order: int, lo: float, hi: float, fs: float) -> np.ndarray:
    """Digital Butterworth band-pass as second-order sections, designed as scipy designs it.

    The analogue low-pass prototype (`order` poles evenly spaced on the left half of the unit
    circle) is turned into a band-pass between the pre-warped edges ``4 tan(pi f / fs)`` (so
    that the digital filter's -3 dB points fall exactly on `lo` and `hi`), then mapped to the
    z-plane by the bilinear transform ``z = (4 + s) / (4 - s)``; its `order` zeros at ``s = 0``
    land on ``z = 1`` and the `order` zeros at infinity on ``z = -1``.

    Parameters
    ----------
    order : int
        Order of the prototype: the band-pass has ``2 * order`` poles in `order` sections.
    lo, hi : float
        Band edges in Hz, ``0 < lo < hi < fs / 2``.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    np.ndarray
        ``[order, 6]`` sections ``[b0, b1, b2, 1, a1, a2]`` (scipy's ``sos`` layout) with the
        gain in the first: those of ``scipy.signal.butter(order, [lo, hi], "bandpass", fs=fs,
        output="sos")``. Paired as scipy pairs them ("nearest"): each conjugate (or real) pair
        of poles, from the pair nearest the unit circle on, takes the two zeros left that lie
        nearest to it, and sections with poles nearer the unit circle come later.
    """
    low, high = 4.0 * np.tan(np.pi * np.array([lo, hi], dtype=float) / fs)
    width, centre = high - low, np.sqrt(low * high)
    steps = np.arange(-order + 1, order, 2)
    prototype = -np.exp(1j * np.pi * steps / (2 * order))  # scipy's buttap
    shifted = prototype * width / 2  # the low-pass to band-pass transform: each prototype
    split = np.sqrt(shifted**2 - centre**2)  # pole p gives p/2 bw +- sqrt((p/2 bw)^2 - w0^2)
    pairs = []  # analogue pole pairs, one per section
    for p, root in zip(shifted[steps < 0], split[steps < 0]):  # conjugates: from steps > 0
        pairs += [(p + root, np.conj(p + root)), (p - root, np.conj(p - root))]
    if order % 2:  # the real prototype pole: a conjugate or a real pair
        middle = order // 2
        pairs.append((shifted[middle] + split[middle], shifted[middle] - split[middle]))
    analogue = np.array(pairs)  # [order, 2]
    gain = ((width * 4.0) ** order / np.prod(4.0 - analogue)).real
    poles = (4.0 + analogue) / (4.0 - analogue)  # the bilinear transform
    worst_first = np.argsort(-np.abs(poles).max(axis=1), kind="stable")
    zeros_left = {-1.0: order, 1.0: order}
    sos = np.zeros((order, 6))
    for row, k in enumerate(worst_first):  # the worst in the last section, as scipy
        pole = poles[k, np.argmax(np.abs(poles[k]))]
        zeros = []
        for _ in range(2):  # the nearest zero left, -1 on a tie (scipy's order)
            zero = min((z for z in (-1.0, 1.0) if zeros_left[z]), key=lambda z: abs(pole - z))
            zeros_left[zero] -= 1
            zeros.append(zero)
        sos[order - 1 - row] = [1.0, -sum(zeros), zeros[0] * zeros[1], 1.0, 0.0, 0.0]
        sos[order - 1 - row, 4:] = -(poles[k].sum()).real, (poles[k].prod()).real
    sos[0, :3] *= gain
    return sos


def sosfiltfilt(sos: np.ndarray, x: np.ndarray, padlen: int) -> np.ndarray:
    """Zero-phase filtering along axis 0: second-order sections forward, then backward.

    As ``scipy.signal.sosfiltfilt(sos, x, axis=0, padtype="odd", padlen=padlen)``: the signal
    is extended at each end by `padlen` samples reflected through its end value (odd
    extension, so a trend continues instead of jumping), and each pass starts from the
    filter's steady state for the first sample it meets (:func:`sos_steady_state`), which
    keeps the ends free of a start-up transient.

    Parameters
    ----------
    sos : np.ndarray
        ``[S, 6]`` sections ``[b0, b1, b2, 1, a1, a2]``.
    x : np.ndarray
        ``[N, ...]`` signal(s), time along axis 0; all columns are filtered together.
    padlen : int
        Samples added at each end, at most ``N - 1``.

    Returns
    -------
    np.ndarray
        The filtered signal(s), shaped like `x`.

    Raises
    ------
    ValueError
        When `padlen` is not below ``N`` (scipy's message).
    """
    values = np.asarray(x, dtype=float)
    n = values.shape[0]
    if padlen >= n:
        raise ValueError(
            f"The length of the input vector x must be greater than padlen, which is {padlen}."
        )
    columns = values.reshape(n, -1)
    if padlen > 0:
        before = 2 * columns[0] - columns[padlen:0:-1]
        after = 2 * columns[-1] - columns[-2 : -padlen - 2 : -1]
        columns = np.concatenate([before, columns, after])
    steady = sos_steady_state(sos)[:, :, None]  # [S, 2, 1]
    forward = _sosfilt(sos, columns, steady * columns[0])
    backward = _sosfilt(sos, forward[::-1], steady * forward[-1])[::-1]
    return backward[padlen : padlen + n].reshape(values.shape)


def sos_steady_state(sos: np.ndarray) -> np.ndarray:
    """States ``[S, 2]`` in which the sections rest under a constant input of 1.

    As ``scipy.signal.sosfilt_zi``: each section's states (transposed direct form II) for a
    unit step, scaled by the DC gain of the sections before it. A section with output ``g``
    (its DC gain) holds ``z0 = g - b0`` and ``z1 = b2 - a2 g``.

    Parameters
    ----------
    sos : np.ndarray
        ``[S, 6]`` sections ``[b0, b1, b2, 1, a1, a2]``.

    Returns
    -------
    np.ndarray
        ``[S, 2]`` states; scale them by a signal's first value to start it without a
        transient (:func:`sosfiltfilt`).

    Examples
    --------
    >>> sos_steady_state(butter_bandpass_sos(4, 0.7, 3.0, 30.0)).shape
    (4, 2)
    """
    states = np.empty((len(sos), 2))
    scale = 1.0
    for k, (b0, b1, b2, _, a1, a2) in enumerate(np.asarray(sos, dtype=float).tolist()):
        gain = (b0 + b1 + b2) / (1.0 + a1 + a2)
        states[k] = scale * (gain - b0), scale * (b2 - a2 * gain)
        scale *= gain
    return states


def _sosfilt(sos: np.ndarray, x: np.ndarray, states: np.ndarray) -> np.ndarray:
    """``[N, C]`` through the sections in turn, from ``states [S, 2, C]`` (scipy's sosfilt)."""
    for section, state in zip(np.asarray(sos, dtype=float).tolist(), states):
        x = _filter_section(tuple(section), x, state)
    return x


_BLOCK = 64
"""Samples per block of :func:`_filter_section`: one matrix product per block and column."""


def _filter_section(section: tuple[float, ...], x: np.ndarray, state: np.ndarray) -> np.ndarray:
    """One second-order section over ``x [N, C]`` from ``state [2, C]``, a block at a time.

    The recursion ``y[k] = b0 u[k] + z0``, ``z <- A z + w u[k]`` (transposed direct form II,
    ``A = [[-a1, 1], [-a2, 0]]``, ``w = [b1 - a1 b0, b2 - a2 b0]``) is linear, so a block's
    outputs are a matrix (the impulse response, lower triangular) times its inputs plus a
    matrix times the state it starts in: numpy's matrix products instead of a Python loop over
    samples. The results are the recursion's, summed in another order.
    """
    from_state, from_input, to_state, across = _section_blocks(section)
    out = np.empty_like(x)
    for start in range(0, x.shape[0], _BLOCK):
        u = x[start : start + _BLOCK]
        m = u.shape[0]
        out[start : start + m] = from_state[:m] @ state + from_input[:m, :m] @ u
        if m == _BLOCK:
            state = across @ state + to_state @ u
    return out


@functools.lru_cache(maxsize=256)
def _section_blocks(section: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """The block matrices of :func:`_filter_section`: block output from the starting state
    ``[B, 2]`` and from the inputs ``[B, B]``; next state from the inputs ``[2, B]`` and from
    the starting state ``[2, 2]``."""
    b0, b1, b2, _, a1, a2 = section
    step = np.array([[-a1, 1.0], [-a2, 0.0]])
    drive = np.array([b1 - a1 * b0, b2 - a2 * b0])
    powers = [np.eye(2)]
    for _ in range(_BLOCK):
        powers.append(step @ powers[-1])
    power = np.array(powers)  # [B + 1, 2, 2]: step^k
    from_state = power[:_BLOCK, 0]  # y[k] sees the state through the first row of step^k
    impulse = np.concatenate([[b0], from_state[:-1] @ drive])
    lag = np.subtract.outer(np.arange(_BLOCK), np.arange(_BLOCK))
    from_input = np.where(lag >= 0, impulse[np.maximum(lag, 0)], 0.0)
    to_state = (power[_BLOCK - 1 :: -1] @ drive).T  # input j reaches the end through step^(B-1-j)
    return from_state, from_input, to_state, power[_BLOCK]


def resample_uniform(t: np.ndarray, x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Linearly resample samples taken at irregular times ``t`` onto a grid of step ``1/fs``.

    Gaps from dropped frames are bridged by interpolation; NaN samples (frames without a face)
    count as missing in their own column and are interpolated across, never spread. Before the
    first and after the last valid sample the nearest valid value is held.

    Parameters
    ----------
    t : np.ndarray
        ``[N]`` strictly increasing sample times in seconds.
    x : np.ndarray
        ``[N, ...]`` samples, NaN where missing.
    fs : float
        Rate of the grid in Hz.

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``(t_uniform, x_uniform)``: the grid ``[M]``, which starts at ``t[0]`` and ends at or
        before ``t[-1]`` (:func:`uniform_grid`), and the samples on it ``[M, ...]``.

    Raises
    ------
    RppgError
        When `t` is not one time per sample, not strictly increasing, or under two samples.
    TooShortError
        When a column has fewer than two valid (non-NaN) samples.

    Examples
    --------
    >>> t = np.array([0.0, 0.1, 0.3, 0.4])  # the frame at 0.2 s was dropped
    >>> grid, values = resample_uniform(t, np.array([1.0, 2.0, np.nan, 5.0]), 10.0)
    >>> np.round(grid, 2).tolist(), np.round(values, 2).tolist()
    ([0.0, 0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0, 5.0])
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
    """Hann-windowed, zero-padded periodogram of a 1-D signal.

    Zero padding adds no resolution (the Hann main lobe of a T-second window stays 4/T Hz wide)
    but samples the spectrum densely: with bins no wider than ``min_resolution_hz`` (0.01 Hz =
    0.6 bpm by default, so nfft >= fs / 0.01) the three bins around a peak lie on its smooth top
    and parabolic refinement (:func:`spectral_peak`) is accurate to well under 0.1 bpm.

    Parameters
    ----------
    x : np.ndarray
        ``[N]`` signal.
    fs : float
        Sampling rate in Hz.
    min_resolution_hz : float
        Widest frequency bin allowed, in Hz.

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``(freqs, power)``, each ``[F]``: the one-sided spectrum of :func:`periodogram`.

    Raises
    ------
    RppgError
        When `x` is not 1-D.

    Examples
    --------
    >>> t = np.arange(300) / 30.0
    >>> freqs, power = power_spectrum(np.sin(2 * np.pi * 1.2 * t), 30.0)
    >>> round(float(freqs[1]), 4), round(float(freqs[np.argmax(power)]), 2)
    (0.01, 1.2)
    """
    values = np.asarray(x, dtype=float)
    if values.ndim != 1:
        raise RppgError(f"expected a 1-D signal, got shape {values.shape}")
    nfft = next_fast_len(max(values.size, int(np.ceil(fs / min_resolution_hz))))
    return periodogram(values, fs, nfft)


def periodogram(x: np.ndarray, fs: float, nfft: int) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectral density of a 1-D signal through a Hann window.

    As ``scipy.signal.periodogram(x, fs, window="hann", nfft=nfft, detrend="constant")``: the
    mean is removed, the signal multiplied by a periodic Hann window of its length, zero-padded
    to `nfft` samples, and ``|FFT|^2 / (fs sum(window^2))`` doubled at every frequency but 0 and
    Nyquist (the power of the negative frequencies).

    Parameters
    ----------
    x, fs
        As in :func:`power_spectrum`.
    nfft : int
        FFT length, at least ``N``.

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``(freqs, power)``, each ``[nfft // 2 + 1]`` (both empty for an empty signal); power
        in units of ``x**2 / Hz``.
    """
    values = np.asarray(x, dtype=float)
    if values.size == 0:
        return np.empty(0), np.empty(0)
    if values.size == 1:
        window = np.ones(1)  # scipy's windows of one sample
    else:  # periodic Hann, computed as scipy does
        window = 0.5 + 0.5 * np.cos(np.linspace(-np.pi, np.pi, values.size + 1)[:-1])
    spectrum = np.fft.rfft(window * (values - values.mean()), nfft)
    power = (spectrum.real**2 + spectrum.imag**2) / (fs * np.sum(window**2))
    power[1 : None if nfft % 2 else -1] *= 2
    return np.fft.rfftfreq(nfft, 1 / fs), power


def next_fast_len(target: int) -> int:
    """The smallest FFT length of at least `target` whose prime factors are all at most 11.

    pocketfft (numpy's and scipy's FFT) is fastest on such lengths; this is
    ``scipy.fft.next_fast_len(target)``. Such numbers are dense, so counting up is quick.

    Parameters
    ----------
    target : int
        Least length wanted (below 1 counts as 1).

    Returns
    -------
    int
        The FFT length.

    Examples
    --------
    >>> next_fast_len(1001)  # 1008 = 2**4 * 3**2 * 7
    1008
    """
    length = max(int(target), 1)
    while True:
        rest = length
        for prime in (2, 3, 5, 7, 11):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return length
        length += 1


def find_peaks(x: np.ndarray, distance: float = 1) -> np.ndarray:
    """Indices of the local maxima of a 1-D signal, at least `distance` samples apart.

    As ``scipy.signal.find_peaks(x, distance=distance)[0]``: a peak is a sample, or a run of
    equal samples (a plateau, whose middle sample is reported, rounding down), with lower
    samples on both sides; the first and last samples are never peaks. Of peaks closer than
    `distance` the highest is kept, then the next highest of those left, and so on.

    Parameters
    ----------
    x : np.ndarray
        ``[N]`` signal.
    distance : float
        Least distance between peaks in samples (rounded up), at least 1.

    Returns
    -------
    np.ndarray
        Increasing indices of the peaks kept.
    """
    values = np.asarray(x, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {values.shape}")
    if distance < 1:
        raise ValueError("`distance` must be greater or equal to 1")
    if values.size == 0:
        return np.empty(0, dtype=np.intp)
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    ends = np.append(starts[1:] - 1, values.size - 1)
    level = values[starts]  # one value per run of equal samples
    inner = np.flatnonzero((level[1:-1] > level[:-2]) & (level[1:-1] > level[2:])) + 1
    peaks = (starts[inner] + ends[inner]) // 2
    apart = math.ceil(distance)
    keep = np.ones(peaks.size, dtype=bool)
    for j in np.argsort(values[peaks])[::-1]:  # highest first, ties as scipy orders them
        if keep[j]:
            keep[np.searchsorted(peaks, peaks[j] - apart, side="right") : j] = False
            keep[j + 1 : np.searchsorted(peaks, peaks[j] + apart, side="left")] = False
    return peaks[keep]


def running_median(x: np.ndarray, size: int) -> np.ndarray:
    """Median of each sample and its neighbours along axis 0, the ends extended by repetition.

    As ``scipy.ndimage.median_filter(x, size, mode="nearest")`` on a 1-D signal (each column
    of ``[N, C]`` on its own, as ``size=(size, 1)``): the window holds ``size // 2`` samples
    before and ``(size - 1) // 2`` after; of an even number, the higher middle value is taken.

    Parameters
    ----------
    x : np.ndarray
        ``[N, ...]`` signal(s).
    size : int
        Samples in the window, at least 1.

    Returns
    -------
    np.ndarray
        Float array shaped like `x`.
    """
    values = np.asarray(x, dtype=float)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if values.shape[0] == 0:
        return values.copy()
    before = size // 2
    padded = np.pad(
        values, [(before, size - 1 - before)] + [(0, 0)] * (values.ndim - 1), mode="edge"
    )
    windows = sliding_window_view(padded, size, axis=0)  # [N, ..., size]
    return np.partition(windows, size // 2, axis=-1)[..., size // 2]


def random_sinusoids(
    times: np.ndarray,
    rng: np.random.Generator,
    band_hz: tuple[float, float],
    weight_range: tuple[float, float] = (0.5, 1.0),
) -> np.ndarray:
    """A smooth random wave: three sinusoids of random rate in `band_hz`, phase and weight.

    Synthetic head motion and light, and the training augmentations that mimic them, need a
    wobble confined to a band but not a pure tone.

    Parameters
    ----------
    times : np.ndarray
        ``[N]`` sample times in seconds.
    rng : np.random.Generator
        Draws the rates, then the phases, then the weights.
    band_hz : tuple of float
        Range the three rates are drawn from.
    weight_range : tuple of float
        Range each sinusoid's weight is drawn from.

    Returns
    -------
    np.ndarray
        ``[N]`` the weighted sum divided by the weights' sum, so it peaks at about +-1.

    Examples
    --------
    >>> wave = random_sinusoids(np.arange(300) / 30.0, np.random.default_rng(0), (0.5, 1.5))
    >>> wave.shape, bool(np.abs(wave).max() <= 1.0)
    ((300,), True)
    """
    freqs = rng.uniform(*band_hz, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    weights = rng.uniform(*weight_range, 3)
    waves = np.sin(2 * np.pi * freqs[:, None] * times[None, :] + phases[:, None])
    return (weights[:, None] * waves).sum(axis=0) / weights.sum()


def spectral_peak(freqs: np.ndarray, power: np.ndarray, lo: float, hi: float) -> float:
    """Frequency of the highest spectral peak in ``[lo, hi]``, refined between bins.

    A parabola through the log-power of the maximum bin and its two neighbours (neighbours may
    lie just outside the band) gives the vertex; a Hann peak is close to Gaussian, so on a log
    scale the parabola fits it almost exactly. This removes the bin-width quantisation of HR.

    Parameters
    ----------
    freqs, power : np.ndarray
        ``[F]`` a power spectrum on evenly spaced bins (:func:`power_spectrum`).
    lo, hi : float
        The band searched, in Hz.

    Returns
    -------
    float
        The peak's frequency in Hz, clipped to ``[lo, hi]``. When the in-band maximum sits on a
        slope at the band edge (no local peak) it is that bin's frequency, unrefined.

    Raises
    ------
    RppgError
        When no bin lies in ``[lo, hi]``.

    Examples
    --------
    >>> t = np.arange(300) / 30.0
    >>> freqs, power = power_spectrum(np.sin(2 * np.pi * 1.2 * t), 30.0)
    >>> round(60 * spectral_peak(freqs, power, 0.7, 3.0), 2)  # in bpm
    72.0
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


SUBHARMONIC_NEAR_HZ = 0.08
"""How far from f/2 or f/3 (Hz) a peak may lie to count as the fundamental of a peak at f: 4.8
bpm, room for a harmonic drawn a little off a whole multiple of the rate, and inside the +-0.2
Hz main lobe of a 10 s Hann window, so the search stays on one peak."""


def fundamental_peak(
    freqs: np.ndarray, power: np.ndarray, lo: float, hi: float, rho: float | None = None
) -> float:
    """Frequency of the pulse's fundamental: the highest peak in ``[lo, hi]``, or a peak at a half
    or a third of it that holds at least `rho` of its power.

    A pulse waveform's fundamental carries most of its power, but some estimators (networks
    trained on short clips) over-draw its harmonics and then read slow pulses at two or three
    times their rate. With `rho` set, a local maximum within `SUBHARMONIC_NEAR_HZ` of f/2 or f/3
    (and in the band) whose power is at least ``rho`` times the highest peak's is taken as the
    fundamental, the lowest such one first. ``rho=None`` is :func:`spectral_peak`.

    Parameters
    ----------
    freqs, power : np.ndarray
        ``[F]`` a power spectrum (:func:`power_spectrum`).
    lo, hi : float
        The band searched, in Hz.
    rho : float, optional
        Least power of a sub-harmonic peak, as a share of the highest peak's (0-1]; None: off.

    Returns
    -------
    float
        The fundamental in Hz, refined between bins as :func:`spectral_peak` does.

    Raises
    ------
    RppgError
        When `rho` is outside (0, 1] or NaN.

    Examples
    --------
    >>> fs, t = 30.0, np.arange(300) / 30.0
    >>> x = 0.7 * np.sin(2 * np.pi * 1.0 * t) + np.sin(2 * np.pi * 2.0 * t)
    >>> freqs, power = power_spectrum(x, fs)
    >>> [round(fundamental_peak(freqs, power, 0.7, 3.0, rho), 2) for rho in (None, 0.4)]
    [2.0, 1.0]
    """
    if rho is not None and not 0 < rho <= 1:  # NaN fails too
        raise RppgError(f"subharmonic rho {rho!r} must be a share of the peak's power, in (0, 1]")
    peak = spectral_peak(freqs, power, lo, hi)
    if rho is None:
        return peak
    floor = rho * power[np.argmin(np.abs(freqs - peak))]
    for k in (3, 2):  # the lowest first
        near = np.flatnonzero(
            (np.abs(freqs - peak / k) <= SUBHARMONIC_NEAR_HZ) & (freqs >= lo) & (freqs <= hi)
        )
        if near.size < 3:
            continue
        top = near[np.argmax(power[near])]
        if near[0] < top < near[-1] and power[top] >= floor:
            return spectral_peak(freqs, power, freqs[near[0]], freqs[near[-1]])
    return peak
