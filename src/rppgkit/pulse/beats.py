"""Beat detection for camera pulses, guided by the measured heart rate, with per-beat quality.

A camera pulse is noisier and smoother than a finger PPG: a detector made for contact PPG
(Elgendi's, for example) finds double peaks inside one beat (the diastolic wave, or noise on a
flat top) and misses beats where the amplitude dips. Knowing the heart rate from the spectrum
fixes both: peaks are picked on the pulse band-limited around it, a refractory period of a
fraction of the local beat period rejects double peaks, each beat is timed by cross-correlation
with the clip's median beat, and scored against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rppgkit import dsp

BAND_AROUND_HR = (0.5, 1.6)
"""Pass band for peak picking, as multiples of the heart rate (lowest and highest in the clip):
the fundamental alone, so the diastolic wave cannot make a second peak."""
REFRACTORY = 0.6
"""Two peaks closer than this fraction of the local beat period are one beat: the higher stays."""
MAX_LAG = 0.2
"""Largest timing correction by cross-correlation, as a fraction of the beat period."""
MIN_BEAT_QUALITY = 0.8
"""Least correlation of a beat with the median beat for it to count as good."""


@dataclass(frozen=True)
class Beats:
    """Systolic beats of a pulse sampled at ``fs``.

    ``times_s`` are the beat times (seconds from the first sample) at the median beat's systolic
    peak, refined between samples; ``indices`` the nearest samples; ``quality`` each beat's
    Pearson correlation with the clip's median beat (template matching, Orphanidou et al.
    2015); ``good`` marks beats whose quality reaches :data:`MIN_BEAT_QUALITY` and that lie
    wholly inside the clip (at its ends the band-pass filters ring and a cut beat cannot be
    compared with the median beat). All arrays are
    ``[B]``. ``timing_sd_s`` estimates how much noise moves a beat time (median over beats; NaN
    with fewer than two whole beats): the residual of each beat around the scaled median beat,
    over the median beat's slope (the least-squares delay error, Woody 1967).
    """

    times_s: np.ndarray
    indices: np.ndarray
    quality: np.ndarray
    good: np.ndarray
    timing_sd_s: float

    @property
    def good_fraction(self) -> float:
        """Share of beats that are good (0 when there are none)."""
        return float(self.good.mean()) if self.good.size else 0.0

    def where(self, keep: np.ndarray) -> Beats:
        """The beats where ``keep`` ``[B]`` is true (e.g. those with a face in view)."""
        return Beats(
            self.times_s[keep],
            self.indices[keep],
            self.quality[keep],
            self.good[keep],
            self.timing_sd_s,
        )


def detect_beats(pulse: np.ndarray, fs: float, hr_hz: float | np.ndarray) -> Beats:
    """Systolic peaks of a camera pulse, guided by its heart rate.

    Parameters
    ----------
    pulse : ndarray, shape (N,)
        Pulse with peaks pointing up, as every rppgkit estimator returns it.
    fs : float
        Sampling rate in Hz.
    hr_hz : float or ndarray, shape (N,)
        Heart rate in Hz, for the whole pulse or per sample (e.g. interpolated window HRs).

    Returns
    -------
    Beats
        Beat times, their quality, which of them are good, and the timing noise.

    Examples
    --------
    >>> t = np.arange(0, 20, 1 / 30)
    >>> beats = detect_beats(np.sin(2 * np.pi * 1.2 * t), 30.0, 1.2)
    >>> len(beats.times_s), int(beats.good.sum())  # the first beat is cut by the clip's start
    (24, 23)
    """
    values = np.asarray(pulse, dtype=float)
    rate = np.broadcast_to(np.asarray(hr_hz, dtype=float), values.shape)
    smooth = _around_heart_rate(values, fs, float(rate.min()), float(rate.max()))
    period = fs / rate
    found = dsp.find_peaks(smooth, distance=max(1, int(0.5 * period.min())))
    peaks = _without_double_peaks(found, smooth, period)
    half = max(2, round(float(np.median(period)) / 2))
    offsets = np.arange(-half, half + 1)
    template = _median_beat(values, peaks, offsets)
    if template is None:  # fewer than two whole beats: nothing to compare them with
        return Beats(peaks / fs, peaks, np.zeros(peaks.size), np.zeros(peaks.size, bool), np.nan)
    lags = np.arange(-max(1, round(MAX_LAG * 2 * half)), max(1, round(MAX_LAG * 2 * half)) + 1)
    times = _aligned(values, peaks, template, offsets, lags)
    quality = np.array([_correlation(*_beat(values, p, template, offsets)) for p in peaks])
    whole = (peaks + offsets[0] >= 0) & (peaks + offsets[-1] < values.size)
    good = (quality >= MIN_BEAT_QUALITY) & np.isfinite(times) & whole
    times = np.where(np.isfinite(times), times, peaks)
    return Beats(
        times / fs,
        np.clip(np.round(times).astype(int), 0, values.size - 1),
        quality,
        good,
        _timing_sd(values, peaks, template, offsets) / fs,
    )


def _around_heart_rate(x: np.ndarray, fs: float, lo_hz: float, hi_hz: float) -> np.ndarray:
    """Band-pass ``x`` around the heart-rate range (:data:`BAND_AROUND_HR`), below Nyquist."""
    lo = BAND_AROUND_HR[0] * lo_hz
    hi = min(BAND_AROUND_HR[1] * hi_hz, 0.45 * fs)
    return dsp.bandpass(x, fs, lo, hi, order=2)


def _without_double_peaks(peaks: np.ndarray, x: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Drop the lower of two peaks closer than :data:`REFRACTORY` times the local period."""
    kept: list[int] = []
    for peak in peaks:
        if kept and peak - kept[-1] < REFRACTORY * period[peak]:
            if x[peak] > x[kept[-1]]:
                kept[-1] = int(peak)
            continue
        kept.append(int(peak))
    return np.asarray(kept, dtype=int)


def _median_beat(x: np.ndarray, peaks: np.ndarray, offsets: np.ndarray) -> np.ndarray | None:
    """Sample-wise median of the beats ``x[peak + offsets]`` that lie wholly inside ``x``, minus
    its mean; None when fewer than two do."""
    inside = (peaks + offsets[0] >= 0) & (peaks + offsets[-1] < x.size)
    if inside.sum() < 2:
        return None
    template = np.median(np.stack([x[p + offsets] for p in peaks[inside]]), axis=0)
    return template - template.mean()


def _beat(
    x: np.ndarray, peak: int, template: np.ndarray, offsets: np.ndarray, lag: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The beat at ``peak + lag`` and the matching part of the template (beats cut by the
    clip's ends keep the part inside it)."""
    at = peak + lag + offsets
    sel = (at >= 0) & (at < x.size)
    return x[at[sel]], template[sel]


def _aligned(
    x: np.ndarray, peaks: np.ndarray, template: np.ndarray, offsets: np.ndarray, lags: np.ndarray
) -> np.ndarray:
    """Beat positions (samples) from cross-correlation with the median beat (Woody 1967),
    placed at the median beat's own peak: the whole beat, not three samples at its top, sets
    its time, so noise moves it less. NaN for a beat too close to the clip's ends to match."""
    top = int(np.argmax(template[1:-1])) + 1
    anchor = offsets[top] + _vertex(template, top)
    out = np.full(peaks.size, np.nan)
    for i, peak in enumerate(peaks):
        # compare over the offsets that stay inside the clip at every lag
        sel = (peak + offsets + lags[0] >= 0) & (peak + offsets + lags[-1] < x.size)
        if sel.sum() < offsets.size // 2:
            continue
        score = np.array([x[peak + lag + offsets[sel]] @ template[sel] for lag in lags])
        best = int(np.argmax(score))
        out[i] = peak + lags[best] + _vertex(score, best) + anchor
    return out


def _vertex(y: np.ndarray, at: int) -> float:
    """Offset from ``at`` of the vertex of a parabola through ``y[at]`` and its neighbours,
    within half a sample; 0 at the ends or where the three samples are not a peak."""
    if not 0 < at < y.size - 1:
        return 0.0
    left, centre, right = y[at - 1 : at + 2]
    curvature = left - 2 * centre + right
    if curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


def _timing_sd(
    x: np.ndarray, peaks: np.ndarray, template: np.ndarray, offsets: np.ndarray
) -> float:
    """Median over whole beats of ``std(residual) / (gain * rms slope)`` of the template, in
    samples: the delay error of a least-squares fit of the scaled template to the beat."""
    slope = np.gradient(template)
    energy = float(slope @ slope)
    sds = []
    for peak in peaks:
        beat, part = _beat(x, peak, template, offsets)
        if beat.size < offsets.size or energy == 0:
            continue
        beat = beat - beat.mean()
        gain = float(beat @ part / (part @ part))
        residual = beat - gain * part
        if gain > 0:
            sds.append(np.sqrt(np.mean(residual**2) / (gain**2 * energy)))
    return float(np.median(sds)) if sds else float("nan")


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation, 0 when either side is flat or too short."""
    if a.size < 3:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / norm) if norm > 0 else 0.0
