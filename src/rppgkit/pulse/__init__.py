"""From a pulse waveform to heart rate (whole clip or over time) and heart rate variability."""

from rppgkit.pulse.heart_rate import HeartRate, WindowHR, heart_rate, sliding_heart_rate
from rppgkit.pulse.hrv import HRV, hrv, systolic_peaks

__all__ = [
    "HRV",
    "HeartRate",
    "WindowHR",
    "heart_rate",
    "hrv",
    "sliding_heart_rate",
    "systolic_peaks",
]
