"""Heart rate variability (HRV) from beat times (:mod:`rppgkit.pulse.beats` finds them).

The time-domain indices are computed here exactly as neurokit2's ``hrv_time`` computes them
(checked against it in ``tests/test_hrv.py``); neurokit2 (well tested against published HRV
tools) computes LF/HF, and is imported only then (a minute of beats or more), because it takes
about two seconds to import.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from rppgkit import dsp
from rppgkit.errors import TooShortError

MAX_JUMP = 0.3
"""Largest relative deviation of an interval from its local median before it counts as ectopic."""
MIN_LF_HF_S = 60.0
MIN_RESPIRATION_S = 30.0
RESPIRATION_BAND = (0.1, 0.5)
"""Breathing frequencies in Hz: 6-30 breaths per minute."""
IBI_RESAMPLE_HZ = 4.0
SUCCESSIVE_MS = 10.0
"""Two kept intervals are successive (were adjacent before removal) when the time between
their ends differs from the later interval by at most this (neurokit2's threshold)."""


@dataclass(frozen=True)
class HRV:
    """Time-domain HRV, the LF/HF ratio and a respiration rate derived from the beat intervals.

    ``n_intervals`` counts the beat-to-beat intervals kept after artefact removal; the
    statistics use only those. ``lf_hf`` and ``respiration_rate_bpm`` are NaN when the beats
    span too little time.
    """

    n_intervals: int
    mean_ibi_ms: float
    sdnn_ms: float
    rmssd_ms: float
    pnn50_pct: float
    lf_hf: float
    respiration_rate_bpm: float


def _clean_intervals(ibi_ms: np.ndarray, band_hz: tuple[float, float]) -> np.ndarray:
    """Mask of the intervals that are plausible and not ectopic.

    An interval is dropped when it is no heartbeat of the pulse band (shorter than a beat at
    its upper edge or longer than one at its lower edge: the heart rate is sought only in that
    band, which the pulse was band-passed to, so a longer interval is a missed beat and a
    shorter one a spurious beat; the same 42-180 bpm by default) or deviates more than
    :data:`MAX_JUMP` from the median of the five intervals around it (a premature beat gives
    a short interval followed by a long one; both jump away from the local rhythm).
    """
    local = dsp.running_median(ibi_ms, 5)
    shortest, longest = 1000 / band_hz[1], 1000 / band_hz[0]
    plausible = (ibi_ms >= shortest) & (ibi_ms <= longest)
    return plausible & (np.abs(ibi_ms - local) <= MAX_JUMP * local)


def _time_domain(ibi_ms: np.ndarray, times_s: np.ndarray) -> tuple[float, float, float, float]:
    """Mean interval, SDNN, RMSSD (ms) and pNN50 (%) as neurokit2's ``hrv_time`` gives them.

    Parameters
    ----------
    ibi_ms : np.ndarray
        ``[M]`` kept beat intervals in ms (M >= 2).
    times_s : np.ndarray
        ``[M]`` the time each interval ends, in seconds.

    Returns
    -------
    tuple[float, float, float, float]
        The mean, the standard deviation (``ddof=1``), the root mean square of successive
        differences and the percentage of them above 50 ms. Successive differences are taken
        between successive intervals only (:data:`SUCCESSIVE_MS`) where some but not all are,
        and the interval times are not evenly spaced (neurokit2 reads even spacing as
        interpolated intervals, and no successive pair at all as intervals without gaps); as
        in neurokit2, pNN50 divides by the number of differences plus one.
    """
    differences = np.diff(ibi_ms)
    successive = np.abs(np.diff(times_s) * 1000 - ibi_ms[1:]) <= SUCCESSIVE_MS
    evenly = np.unique(np.round(np.diff(times_s), 3)).size == 1
    if successive.any() and not successive.all() and not evenly:
        differences = differences[successive]
    return (
        float(np.mean(ibi_ms)),
        float(np.std(ibi_ms, ddof=1)),
        float(np.sqrt(np.mean(differences**2))),
        float(np.sum(np.abs(differences) > 50) / (differences.size + 1) * 100),
    )


def _lf_hf(intervals: dict[str, np.ndarray]) -> float:
    """LF/HF power ratio from neurokit2 (Welch spectrum of the interpolated intervals)."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(nk.hrv_frequency(intervals)["HRV_LFHF"].iloc[0])


def _respiration_rate(ibi_ms: np.ndarray, times_s: np.ndarray) -> float:
    """Breaths per minute from respiratory sinus arrhythmia: the IBI series, evenly resampled and
    detrended, oscillates at the breathing rate; take its spectral peak in 6-30 breaths/min.
    NaN when the intervals do not vary at all (no arrhythmia to read the breathing from).
    """
    if np.ptp(ibi_ms) < 1.0:
        return float("nan")
    _, evenly = dsp.resample_uniform(times_s, ibi_ms, IBI_RESAMPLE_HZ)
    freqs, power = dsp.power_spectrum(dsp.detrend(evenly), IBI_RESAMPLE_HZ)
    return 60 * dsp.spectral_peak(freqs, power, *RESPIRATION_BAND)


def hrv(peaks: np.ndarray, fs: float, band_hz: tuple[float, float] = dsp.PULSE_BAND_HZ) -> HRV:
    """HRV of the beats at sample positions ``peaks`` of a signal sampled at ``fs`` Hz.

    Implausible and ectopic intervals are removed first; successive differences (RMSSD, pNN50)
    are taken only between intervals that were adjacent before removal (:func:`_time_domain`
    checks this from the interval times, as neurokit2's ``hrv_time`` does).

    Parameters
    ----------
    peaks : np.ndarray
        ``[B]`` beat positions in samples; fractional positions refined between samples are
        welcome.
    fs : float
        Sampling rate in Hz.
    band_hz : tuple of float
        The band the pulse was read in: an interval is plausible when its heart rate lies in it.

    Returns
    -------
    HRV
        Time-domain indices of the kept intervals, LF/HF (NaN under 60 s of beats, and only a
        rough figure below the conventional 2-5 minutes) and the respiration rate (NaN under
        30 s).

    Raises
    ------
    TooShortError
        When fewer than 3 intervals are left after artefact removal.

    Examples
    --------
    >>> peaks = np.cumsum(np.tile([25, 27], 10))  # beats 833 and 900 ms apart at 30 fps
    >>> h = hrv(peaks, 30.0)
    >>> h.n_intervals, round(h.mean_ibi_ms, 1), round(h.rmssd_ms, 1)
    (19, 868.4, 66.7)
    """
    beats = np.sort(np.asarray(peaks, dtype=float)) / fs
    ibi_ms = np.diff(beats) * 1000
    keep = _clean_intervals(ibi_ms, band_hz)
    if keep.sum() < 3:
        raise TooShortError(
            f"only {int(keep.sum())} usable beat intervals; HRV needs at least 3, "
            "use a longer or cleaner clip"
        )
    intervals = {"RRI": ibi_ms[keep], "RRI_Time": beats[1:][keep]}
    span_s = intervals["RRI_Time"][-1] - intervals["RRI_Time"][0]
    mean_ibi_ms, sdnn_ms, rmssd_ms, pnn50_pct = _time_domain(
        intervals["RRI"], intervals["RRI_Time"]
    )
    return HRV(
        n_intervals=int(keep.sum()),
        mean_ibi_ms=mean_ibi_ms,
        sdnn_ms=sdnn_ms,
        rmssd_ms=rmssd_ms,
        pnn50_pct=pnn50_pct,
        lf_hf=_lf_hf(intervals) if span_s >= MIN_LF_HF_S else float("nan"),
        respiration_rate_bpm=(
            _respiration_rate(intervals["RRI"], intervals["RRI_Time"])
            if span_s >= MIN_RESPIRATION_S
            else float("nan")
        ),
    )
