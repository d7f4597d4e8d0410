import numpy as np
import pytest

from rppgkit.errors import RppgError, TooShortError
from rppgkit.pulse import WindowHR, heart_rate, sliding_heart_rate

FS = 30.0


def _sine(bpm: float, seconds: float, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    return np.sin(2 * np.pi * bpm / 60 * t + phase)


@pytest.mark.parametrize(
    "bpm",
    [42.0, 43.7, 50.0, 58.9, 66.6, 72.0, 73.3, 81.25, 99.9, 120.0, 137.4, 151.1, 179.5, 180.0],
)
@pytest.mark.parametrize("phase", [0.0, 1.1, 2.5])
def test_pure_10s_sinusoid_gives_exact_hr(bpm, phase):
    hr = heart_rate(_sine(bpm, 10, phase), FS)
    assert hr.bpm == pytest.approx(bpm, abs=0.5)
    assert hr.freq_hz * 60 == pytest.approx(hr.bpm)


def test_snr_falls_with_noise():
    rng = np.random.default_rng(0)
    clean = _sine(75, 20)
    snrs = [heart_rate(clean + rng.normal(0, s, clean.size), FS).snr_db for s in (0.0, 0.5, 2.0)]
    assert snrs[0] > 25
    assert snrs[0] > snrs[1] > snrs[2]


def test_snr_counts_the_first_harmonic_as_signal():
    pulse = _sine(60, 20) + 0.7 * _sine(120, 20, phase=0.4)
    hr = heart_rate(pulse, FS)
    assert hr.bpm == pytest.approx(60, abs=0.5)
    assert hr.snr_db > 20  # as noise the harmonic alone would cap the SNR near 3 dB


def test_peak_outside_band_is_ignored():
    pulse = 5 * _sine(15, 20) + _sine(90, 20)  # strong breathing at 0.25 Hz
    assert heart_rate(pulse, FS).bpm == pytest.approx(90, abs=0.5)


def test_flat_and_too_short_pulses_raise():
    with pytest.raises(RppgError, match="flat"):
        heart_rate(np.zeros(300), FS)
    with pytest.raises(TooShortError, match="at least"):
        heart_rate(_sine(70, 1.5), FS)


def test_sliding_window_count_times_and_tracking():
    pulse = np.concatenate([_sine(60, 15), _sine(90, 15)])
    windows = sliding_heart_rate(pulse, FS, window_s=10.0, step_s=1.0)
    assert len(windows) == 21
    assert all(isinstance(w, WindowHR) for w in windows)
    assert windows[0].start_s == 0.0 and windows[0].end_s == 10.0
    assert windows[-1].start_s == 20.0 and windows[-1].end_s == 30.0
    assert windows[0].bpm == pytest.approx(60, abs=0.5)
    assert windows[-1].bpm == pytest.approx(90, abs=0.5)


def test_sliding_window_step_changes_count():
    assert len(sliding_heart_rate(_sine(70, 30), FS, window_s=8.0, step_s=2.0)) == 12


def test_sliding_window_longer_than_pulse_raises():
    with pytest.raises(TooShortError, match=r"8\.0 s long, shorter than the 10 s HR window"):
        sliding_heart_rate(_sine(70, 8), FS)


def test_subharmonic_reads_an_over_drawn_second_harmonic_as_the_rate():
    pulse = _sine(60, 20) + 1.5 * _sine(120, 20, phase=0.4)  # as a peaky network draws it
    assert heart_rate(pulse, FS).bpm == pytest.approx(120, abs=0.5)
    assert heart_rate(pulse, FS, subharmonic=0.4).bpm == pytest.approx(60, abs=0.5)
    windows = sliding_heart_rate(pulse, FS, window_s=10, step_s=5, subharmonic=0.4)
    assert [round(w.bpm) for w in windows] == [60, 60, 60]
