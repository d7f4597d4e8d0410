"""Synthetic PPG: a beat-by-beat pulse wave driven by a drifting, breathing-modulated heart rate.

Each beat is a periodic sum of Gaussians (a sharp systolic peak, then a smaller diastolic wave;
the valley between them is the dicrotic notch) stretched over its inter-beat interval. The intervals
follow an instantaneous heart rate made of a mean, a slow random walk (drift), respiratory sinus
arrhythmia (RSA) and white beat-to-beat jitter (HRV); pulse amplitude also breathes (RIAV).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

# (centre, width, amplitude) of each wave, centre and width as fractions of the beat interval:
# systolic peak, its late-systolic shoulder, the diastolic (reflected) wave, the diastolic run-off.
_WAVES = ((0.16, 0.055, 1.0), (0.27, 0.08, 0.3), (0.44, 0.09, 0.42), (0.66, 0.17, 0.18))
_GRID_HZ = 50.0  # sampling of the heart-rate curve that drives beat generation
_DRIFT_KNOT_S = 8.0  # spacing of the random-walk knots of the slow drift
_MIN_IBI_S = 0.2  # floor on an inter-beat interval, so jitter can never stall or reverse time


@dataclass(frozen=True)
class PulseWave:
    """Ground truth at the requested sample times.

    `pulse` is normalised to 0..1 over the clip (0 = diastolic foot, 1 = highest systolic peak);
    `hr_bpm` is the instantaneous heart rate that drives the beats (mean + drift + RSA, without
    the beat-to-beat jitter); `beat_times` are the systolic peaks inside the clip, in seconds.
    """

    times: np.ndarray
    pulse: np.ndarray
    hr_bpm: np.ndarray
    beat_times: np.ndarray


def beat_template(phase: np.ndarray) -> np.ndarray:
    """PPG shape at beat phase 0..1, scaled to 0..1; periodic so consecutive beats join smoothly."""
    low, high, _ = _template_stats()
    return (_raw_template(np.asarray(phase, dtype=np.float64)) - low) / (high - low)


def _raw_template(phase: np.ndarray) -> np.ndarray:
    """Sum of the waves, each wrapped around the beat so the shape is periodic in phase."""
    out = np.zeros_like(phase)
    for centre, width, amplitude in _WAVES:
        for wrap in (-1.0, 0.0, 1.0):
            out += amplitude * np.exp(-0.5 * ((phase - centre + wrap) / width) ** 2)
    return out


@functools.cache
def _template_stats() -> tuple[float, float, float]:
    """Minimum and maximum of the raw template over one beat, and the phase of its peak."""
    phase = np.linspace(0.0, 1.0, 2001)
    raw = _raw_template(phase)
    return float(raw.min()), float(raw.max()), float(phase[np.argmax(raw)])


def breathing(times: np.ndarray, resp_rate_bpm: float, phase0: float) -> np.ndarray:
    """Respiration as a unit sinusoid at `resp_rate_bpm` breaths per minute."""
    return np.sin(2 * np.pi * resp_rate_bpm / 60.0 * times + phase0)


def heart_rate_curve(
    times: np.ndarray,
    hr_bpm: float,
    drift_bpm: float,
    breath: np.ndarray,
    rsa_bpm: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Instantaneous HR at `times`: mean + slow drift (peak-to-peak `drift_bpm`) + RSA.

    `breath` is the respiration signal at `times` (-1..1); RSA adds `rsa_bpm * breath`.

    The deviations are made zero-mean over `times`, so the clip's mean HR is exactly `hr_bpm`.
    """
    t0, t1 = float(times[0]), float(times[-1])
    n_knots = max(4, int(np.ceil((t1 - t0) / _DRIFT_KNOT_S)) + 1)
    walk = np.cumsum(rng.standard_normal(n_knots))
    slow = PchipInterpolator(np.linspace(t0, t1 + 1e-9, n_knots), walk)(times)
    span = np.ptp(slow)
    slow = slow / span * drift_bpm if span > 0 else np.zeros_like(slow)
    deviation = slow + rsa_bpm * breath
    return hr_bpm + deviation - deviation.mean()


def beat_onsets(
    grid: np.ndarray, grid_hr: np.ndarray, jitter_ms: float, rng: np.random.Generator
) -> np.ndarray:
    """Beat onsets, one interval at a time from the HR at each onset, covering `grid` entirely.

    The first onset is at or before grid[0] (the clip starts mid-beat at a random phase) and the
    last one is after grid[-1], so every sample lies inside a complete beat.
    """
    t = float(grid[0]) - rng.uniform(0.0, 60.0 / grid_hr[0])
    onsets = [t]
    while t <= grid[-1]:
        ibi = 60.0 / float(np.interp(t, grid, grid_hr)) + jitter_ms / 1000.0 * rng.standard_normal()
        t += max(ibi, _MIN_IBI_S)
        onsets.append(t)
    return np.asarray(onsets)


def pulse_waveform(
    times: np.ndarray,
    hr_bpm: float = 72.0,
    hr_drift_bpm: float = 4.0,
    resp_rate_bpm: float = 15.0,
    seed: int = 0,
    rsa_bpm: float = 2.0,
    jitter_ms: float = 15.0,
    riav: float = 0.1,
) -> PulseWave:
    """Sample a synthetic PPG at `times` (seconds, increasing); deterministic for a given seed.

    `rsa_bpm` is the RSA amplitude (HR swings by +-rsa_bpm with each breath), `jitter_ms` the
    standard deviation of white inter-beat-interval noise and `riav` the relative breathing
    modulation of beat amplitude.
    """
    times = np.asarray(times, dtype=np.float64)
    rng = np.random.default_rng(seed)
    grid = np.arange(times[0], times[-1] + 1.0 / _GRID_HZ, 1.0 / _GRID_HZ)
    phase0 = rng.uniform(0.0, 2 * np.pi)
    grid_breath = breathing(grid, resp_rate_bpm, phase0)
    grid_hr = heart_rate_curve(grid, hr_bpm, hr_drift_bpm, grid_breath, rsa_bpm, rng)
    onsets = beat_onsets(grid, grid_hr, jitter_ms, rng)
    beat = np.searchsorted(onsets, times, side="right") - 1
    intervals = np.diff(onsets)
    phase = (times - onsets[beat]) / intervals[beat]
    pulse = beat_template(phase) * (1.0 - riav * breathing(times, resp_rate_bpm, phase0))
    pulse = (pulse - pulse.min()) / max(float(np.ptp(pulse)), 1e-12)
    peaks = onsets[:-1] + _template_stats()[2] * intervals
    inside = (peaks >= times[0]) & (peaks <= times[-1])
    return PulseWave(times, pulse, np.interp(times, grid, grid_hr), peaks[inside])
