"""The pulse a video is edited to carry: a chosen heart rate, a given waveform, or a random one.

Targets come from the synthetic generator's PPG (beat-to-beat timing, breathing swing), kept to
the band around its rate (0.5-1.5x): the editing network was trained on frame differences, which
double and triple a beat's harmonics, and an edit driven by the full wave carries so much of
them that readers report twice or three times the target rate (seen at 50 bpm).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgkit.checks import Range, check
from rppgkit.datasets.base import DatasetError, read_csv_columns
from rppgkit.dsp import PULSE_BAND_HZ, bandpass
from rppgkit.errors import RppgError
from rppgkit.synth.waveform import pulse_waveform

HR_RANGE_BPM = (60 * PULSE_BAND_HZ[0], 60 * PULSE_BAND_HZ[1])  # what the estimators read
RANDOM_HR_BPM = (55.0, 110.0)  # --random draws from resting and light-activity rates
FS = 50.0  # sampling of generated targets (Hz); the editor interpolates them to its clock


@dataclass(frozen=True)
class Target:
    """A target pulse: `pulse(times)` samples it; `hr_bpm` is its mean rate (NaN if unknown)."""

    times: np.ndarray  # s, from 0
    values: np.ndarray
    hr_bpm: float
    source: str  # how it was chosen, for the report

    def pulse(self, times: np.ndarray) -> np.ndarray:
        return np.interp(times, self.times, self.values)


def check_hr(hr_bpm: float) -> float:
    """`hr_bpm` if the estimators can read it, else a clear error."""
    return check("--target-hr (bpm)", hr_bpm, Range(*HR_RANGE_BPM))


def check_seed(seed: int | None) -> int | None:
    """`seed` if it can seed a random generator (None: a fresh one), else a clear error."""
    return check("--seed", seed, Range(0, 2**63 - 1, whole=True, optional=True))


def target_from_hr(hr_bpm: float, duration_s: float, seed: int = 0) -> Target:
    """A steady pulse at `hr_bpm` (no drift; the small breathing swing of a real pulse)."""
    check_hr(hr_bpm)
    times = np.arange(0.0, duration_s + 1.0, 1 / FS)
    wave = pulse_waveform(times, hr_bpm, hr_drift_bpm=0.0, rsa_bpm=1.0, jitter_ms=5.0, seed=seed)
    return Target(times, _around(wave.pulse, hr_bpm), hr_bpm, f"{hr_bpm:g} bpm")


def random_target(duration_s: float, seed: int | None = None) -> Target:
    """A pulse at a random resting rate, drifting a little as a real one does."""
    rng = np.random.default_rng(check_seed(seed))
    hr = float(rng.uniform(*RANDOM_HR_BPM))
    times = np.arange(0.0, duration_s + 1.0, 1 / FS)
    wave = pulse_waveform(times, hr, hr_drift_bpm=2.0, seed=int(rng.integers(2**31)))
    return Target(times, _around(wave.pulse, hr), hr, f"random ({hr:.1f} bpm)")


def _around(pulse: np.ndarray, hr_bpm: float) -> np.ndarray:
    """The pulse kept to 0.5-1.5 times its rate: the fundamental, without the harmonics."""
    f = hr_bpm / 60.0
    return bandpass(pulse, FS, 0.5 * f, 1.5 * f)


def target_from_csv(path: str | os.PathLike, duration_s: float) -> Target:
    """A waveform from a CSV with columns `time_s` and `pulse` (a PPG, any scale)."""
    p = Path(path)
    if not p.exists():
        raise RppgError(f"{p} does not exist; give a CSV with columns time_s and pulse")
    try:
        columns = read_csv_columns(p)
    except DatasetError as exc:
        raise RppgError(str(exc)) from None
    if "time_s" not in columns or "pulse" not in columns:
        raise RppgError(f"{p}: needs columns time_s and pulse; it has {', '.join(columns)}")
    times, values = columns["time_s"], columns["pulse"]
    ok = np.isfinite(times) & np.isfinite(values)
    times, values = times[ok] - times[ok][0], values[ok]
    if len(times) < 2 or np.any(np.diff(times) <= 0):
        raise RppgError(f"{p}: time_s must increase, with at least two rows of numbers")
    if times[-1] < duration_s - 0.5:
        raise RppgError(
            f"{p} covers {times[-1]:.1f} s but the video lasts {duration_s:.1f} s; "
            "give a target as long as the video"
        )
    return Target(times, values, float("nan"), f"waveform from {p.name}")
