"""From a pulse waveform to heart rate (whole clip or over time), beats, their quality and HRV."""

from rppgkit.pulse.beats import Beats, detect_beats
from rppgkit.pulse.heart_rate import HeartRate, WindowHR, heart_rate, sliding_heart_rate
from rppgkit.pulse.hrv import HRV, hrv
from rppgkit.pulse.quality import Quality, assess, hrv_refusal, score_windows

__all__ = [
    "HRV",
    "Beats",
    "HeartRate",
    "Quality",
    "WindowHR",
    "assess",
    "detect_beats",
    "heart_rate",
    "hrv",
    "hrv_refusal",
    "score_windows",
    "sliding_heart_rate",
]
