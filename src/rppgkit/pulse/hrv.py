"""Heart rate variability (HRV) from beat times (:mod:`rppgkit.pulse.beats` finds them).

neurokit2 computes the indices (well tested against published HRV tools); it is imported inside
the functions because it takes about two seconds to import and only these functions need it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from rppgkit import dsp
from rppgkit.errors import TooShortError

MAX_JUMP = 0.3
"""Largest relative deviation of an interval from its local median before it counts as ectopic."""
MIN_LF_HF_S = 60.0
MIN_RESPIRATION_S = 30.0
RESPIRATION_BAND = (0.1, 0.5)
"""Breathing frequencies in Hz: 6-30 breaths per minute."""
IBI_RESAMPLE_HZ = 4.0


@dataclass(frozen=True)
class HRV:
    """Time-domain HRV, the LF/HF ratio and a respiration rate derived from the beat intervals.

    ``n_beats`` counts the beat intervals kept after artefact removal; the statistics use only
    those. ``lf_hf`` and ``respiration_rate_bpm`` are NaN when the beats span too little time.
    """

    n_beats: int
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
    local = median_filter(ibi_ms, size=5, mode="nearest")
    shortest, longest = 1000 / band_hz[1], 1000 / band_hz[0]
    plausible = (ibi_ms >= shortest) & (ibi_ms <= longest)
    return plausible & (np.abs(ibi_ms - local) <= MAX_JUMP * local)


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
    """HRV of the beats at sample positions ``peaks`` (fractional positions refined between
    samples are welcome) of a signal sampled at ``fs`` Hz.

    Implausible and ectopic intervals are removed first (plausible: a heart rate in
    ``band_hz``, the band the pulse was read in); successive differences (RMSSD, pNN50) are
    taken only between intervals that were adjacent before removal (neurokit2's ``hrv_time``
    checks this from the interval times). LF/HF needs at least 60 s of beats and is only a rough
    figure below the conventional 2-5 minutes; the respiration rate needs 30 s.
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

    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        time_domain = nk.hrv_time(intervals).iloc[0]
    return HRV(
        n_beats=int(keep.sum()),
        mean_ibi_ms=float(time_domain["HRV_MeanNN"]),
        sdnn_ms=float(time_domain["HRV_SDNN"]),
        rmssd_ms=float(time_domain["HRV_RMSSD"]),
        pnn50_pct=float(time_domain["HRV_pNN50"]),
        lf_hf=_lf_hf(intervals) if span_s >= MIN_LF_HF_S else float("nan"),
        respiration_rate_bpm=(
            _respiration_rate(intervals["RRI"], intervals["RRI_Time"])
            if span_s >= MIN_RESPIRATION_S
            else float("nan")
        ),
    )
