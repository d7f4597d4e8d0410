"""Heart rate and its signal-to-noise ratio from a pulse waveform, whole or in sliding windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rppgkit import dsp
from rppgkit.errors import RppgError, TooShortError
from rppgkit.pulse.quality import Quality

FUNDAMENTAL_HALF_WIDTH_HZ = 0.1
HARMONIC_HALF_WIDTH_HZ = 0.2


@dataclass(frozen=True)
class HeartRate:
    """Heart rate of a pulse segment, its frequency, and how clearly it stands out (SNR)."""

    bpm: float
    snr_db: float
    freq_hz: float


@dataclass(frozen=True)
class WindowHR:
    """Heart rate of the window ``[start_s, end_s)`` of a pulse (seconds from its first sample),
    with its signal quality once assessed (:func:`rppgkit.pulse.quality.score_windows`)."""

    start_s: float
    end_s: float
    bpm: float
    snr_db: float
    quality: Quality | None = None

    @property
    def quality_index(self) -> float:
        """The window's quality index, NaN when it was not assessed."""
        return self.quality.index if self.quality is not None else float("nan")


def _snr_db(
    freqs: np.ndarray, power: np.ndarray, f0: float, band: tuple[float, float], duration_s: float
) -> float:
    """SNR after de Haan & Jeanne (2013): pulse power over the rest of the band, in dB.

    Signal: bins within +-0.1 Hz of ``f0`` and within +-0.2 Hz of its first harmonic ``2 f0``
    (wherever that lies, even above the band). Both half-widths grow to the Hann main-lobe
    half-width ``2 / duration_s`` when that is wider (windows under 20 s), so a clean pulse in a
    short window is not scored as noise through its own leakage. Noise: all other bins in ``band``.
    """
    main_lobe = 2 / duration_s
    near_pulse = (np.abs(freqs - f0) <= max(FUNDAMENTAL_HALF_WIDTH_HZ, main_lobe)) | (
        np.abs(freqs - 2 * f0) <= max(HARMONIC_HALF_WIDTH_HZ, main_lobe)
    )
    in_band = (freqs >= band[0]) & (freqs <= band[1])
    noise = power[in_band & ~near_pulse].sum()
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(power[near_pulse].sum() / noise))


def heart_rate(
    pulse: np.ndarray,
    fs: float,
    band: tuple[float, float] = dsp.PULSE_BAND_HZ,
    subharmonic: float | None = None,
) -> HeartRate:
    """Heart rate from the highest spectral peak of ``pulse`` in ``band`` (Hz), with its SNR.

    The pulse is expected to be band-passed already (every estimator returns it so), hence no
    detrending here; the periodogram only removes the mean. The peak is interpolated between
    bins (:func:`rppgkit.dsp.spectral_peak`) so short windows are not quantised to the bin width.

    Parameters
    ----------
    pulse : np.ndarray
        ``[N]`` pulse waveform, band-passed.
    fs : float
        Sampling rate in Hz.
    band : tuple of float
        Heart rates searched, in Hz.
    subharmonic : float, optional
        When set, a peak at a half or a third of the highest that holds this share of its power
        is the rate instead (:func:`rppgkit.dsp.fundamental_peak`; for estimators that over-draw
        the pulse's harmonics). None: the highest peak.

    Returns
    -------
    HeartRate
        The rate in bpm and Hz, and its SNR in dB (de Haan & Jeanne 2013); the SNR is infinite
        when nothing but the pulse is in the band.

    Raises
    ------
    TooShortError
        When the pulse spans less than two beats at the band's lowest rate.
    RppgError
        When the pulse is flat.

    Examples
    --------
    >>> t = np.arange(0, 20, 1 / 30)
    >>> hr = heart_rate(np.sin(2 * np.pi * 1.2 * t), 30.0)
    >>> round(hr.bpm, 1), round(hr.snr_db, 1)
    (72.0, 32.9)
    """
    values = np.asarray(pulse, dtype=float)
    min_s = 2 / band[0]
    if values.size < min_s * fs:
        raise TooShortError(
            f"the pulse is {values.size / fs:.1f} s long; a heart rate needs at least "
            f"{min_s:.1f} s (two beats at {60 * band[0]:g} bpm); use a longer clip"
        )
    freqs, power = dsp.power_spectrum(values, fs)
    if not np.any(power > 0):
        raise RppgError("the pulse is flat (no signal); check the face region and the video")
    freq = dsp.fundamental_peak(freqs, power, *band, subharmonic)
    return HeartRate(
        bpm=60 * freq, snr_db=_snr_db(freqs, power, freq, band, values.size / fs), freq_hz=freq
    )


def sliding_heart_rate(
    pulse: np.ndarray,
    fs: float,
    window_s: float = 10.0,
    step_s: float = 1.0,
    band: tuple[float, float] = dsp.PULSE_BAND_HZ,
    subharmonic: float | None = None,
) -> list[WindowHR]:
    """Heart rate over time: :func:`heart_rate` of every ``window_s`` window, ``step_s`` apart.

    Windows start at 0 and only whole windows are used, so a pulse of ``T`` seconds gives
    ``floor((T - window_s) / step_s) + 1`` estimates (counted in samples).

    Parameters
    ----------
    pulse, fs
        As in :func:`heart_rate`.
    window_s, step_s : float
        Window length and the step between window starts, in seconds.
    band : tuple of float
        Heart rates searched, in Hz.
    subharmonic : float, optional
        As in :func:`heart_rate`.

    Returns
    -------
    list[WindowHR]
        One per window, in time order, with times in seconds from the first sample; their
        quality is not assessed yet (:func:`rppgkit.pulse.quality.score_windows`).

    Raises
    ------
    TooShortError
        When the pulse is shorter than one window, or a window shorter than :func:`heart_rate`
        needs.
    RppgError
        When a window is flat.

    Examples
    --------
    >>> t = np.arange(0, 20, 1 / 30)
    >>> windows = sliding_heart_rate(np.sin(2 * np.pi * 1.2 * t), 30.0, window_s=10, step_s=1)
    >>> len(windows), windows[-1].start_s, round(windows[-1].bpm, 1)
    (11, 10.0, 72.0)
    """
    values = np.asarray(pulse, dtype=float)
    length, step = round(window_s * fs), max(1, round(step_s * fs))
    if values.size < length:
        raise TooShortError(
            f"the pulse is {values.size / fs:.1f} s long, shorter than the {window_s:g} s HR "
            "window; use a longer clip or --window"
        )
    estimates = []
    for start in range(0, values.size - length + 1, step):
        hr = heart_rate(values[start : start + length], fs, band, subharmonic)
        estimates.append(WindowHR(start / fs, (start + length) / fs, hr.bpm, hr.snr_db))
    return estimates
