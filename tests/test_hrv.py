import math

import numpy as np
import pytest

from rppgkit.errors import TooShortError
from rppgkit.pulse import detect_beats, hrv

FS = 30.0


def ppg_like(beat_times: np.ndarray, seconds: float, fs: float = FS) -> np.ndarray:
    """A PPG-shaped wave: a systolic bump at each beat time and a smaller diastolic one after."""
    t = np.arange(int(seconds * fs)) / fs
    offsets = t[:, None] - beat_times[None, :]
    systolic = np.exp(-0.5 * (offsets / 0.08) ** 2)
    diastolic = 0.4 * np.exp(-0.5 * ((offsets - 0.3) / 0.1) ** 2)
    return (systolic + diastolic).sum(axis=1)


def modulated_beats(seconds: float, mean_ibi_s: float, depth_s: float, rate_hz: float):
    """Beat times whose interval oscillates by ``depth_s`` at ``rate_hz`` (breathing)."""
    t = np.arange(0, seconds, 0.001)
    beats_so_far = np.cumsum(0.001 / (mean_ibi_s + depth_s * np.sin(2 * np.pi * rate_hz * t)))
    return t[np.flatnonzero(np.diff(np.floor(beats_so_far)) > 0)]


def test_constant_rhythm_gives_zero_variability():
    beats = np.arange(0.5, 40, 0.8)  # 0.8 s = 24 frames exactly
    found = detect_beats(ppg_like(beats, 40), FS, 1 / 0.8)
    assert found.times_s.size == beats.size
    assert found.good[1:-1].all()  # a beat cut by the clip's end is not good
    # the summed waves peak 2.4 ms after the systolic wave; the edge beats lack a neighbour's
    # diastolic wave (ppg_like starts and ends with nothing), so they are left out
    inner = found.times_s[1:-1]
    np.testing.assert_allclose(inner, beats[1:-1] + 0.0024, atol=0.0005)
    result = hrv(inner * FS, FS)
    assert result.n_intervals == beats.size - 3
    assert result.mean_ibi_ms == pytest.approx(800, abs=0.5)
    assert result.rmssd_ms < 1 and result.sdnn_ms < 1 and result.pnn50_pct == 0
    assert math.isnan(result.lf_hf)  # 40 s < 60 s
    assert math.isnan(result.respiration_rate_bpm)  # nothing varies


def test_alternating_intervals_give_known_rmssd():
    intervals = np.tile([800, 900], 30)  # milliseconds, at fs 1000: peaks are exact
    peaks = np.concatenate([[0], np.cumsum(intervals)])
    result = hrv(peaks, 1000.0)
    assert result.rmssd_ms == pytest.approx(100, abs=1e-6)
    assert result.mean_ibi_ms == pytest.approx(850)
    assert result.sdnn_ms == pytest.approx(np.std(intervals, ddof=1))
    assert result.pnn50_pct > 95


def test_ectopic_and_implausible_intervals_are_removed():
    intervals = np.full(40, 800)
    intervals[10:12] = [480, 1120]  # premature beat and compensatory pause
    intervals[25] = 2000  # a missed beat
    peaks = np.concatenate([[0], np.cumsum(intervals)])
    result = hrv(peaks, 1000.0)
    assert result.n_intervals == 37
    assert result.mean_ibi_ms == pytest.approx(800)
    assert result.rmssd_ms == pytest.approx(0, abs=1e-6)


def test_respiration_from_heart_rate_modulated_at_quarter_hertz():
    beats = modulated_beats(90, mean_ibi_s=0.85, depth_s=0.06, rate_hz=0.25)
    found = detect_beats(ppg_like(beats, 90), FS, 1 / 0.85)
    assert abs(found.times_s.size - beats.size) <= 1
    result = hrv(found.times_s * FS, FS)
    assert result.respiration_rate_bpm == pytest.approx(15, abs=1)
    assert 0 < result.lf_hf < 1  # breathing at 0.25 Hz puts the variability in the HF band
    assert result.rmssd_ms > 20


def test_too_few_beats_raise():
    with pytest.raises(TooShortError, match="at least 3"):
        hrv(np.array([0, 25, 50]), FS)


def test_time_domain_is_neurokit2s():
    """The time-domain indices are neurokit2's hrv_time, computed without importing it (two
    seconds): random rhythms with random intervals removed, and the cases neurokit2 treats
    apart (no successive pair left; evenly spaced interval times)."""
    import warnings

    import neurokit2 as nk

    from rppgkit.pulse.hrv import _time_domain

    rng = np.random.default_rng(0)
    cases = []
    for _ in range(200):
        n = int(rng.integers(3, 80))
        beats = np.concatenate([[rng.uniform(0, 2)], rng.uniform(0.4, 1.2, n)]).cumsum()
        keep = rng.uniform(size=n) > rng.choice([0.0, 0.1, 0.5, 0.9])
        if keep.sum() >= 3:
            cases.append((np.diff(beats)[keep] * 1000, beats[1:][keep]))
    every_other = np.arange(0.0, 40.0, 0.8)  # constant rhythm, every other interval removed
    cases.append((np.full(every_other[2::2].size, 800.0), every_other[2::2]))
    for ibi_ms, times_s in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = nk.hrv_time({"RRI": ibi_ms, "RRI_Time": times_s}).iloc[0]
        np.testing.assert_allclose(
            _time_domain(ibi_ms, times_s),
            [want[f"HRV_{k}"] for k in ("MeanNN", "SDNN", "RMSSD", "pNN50")],
            rtol=1e-12,
            atol=1e-12,
        )


def test_summary_keeps_the_interval_count_whole_and_rounds_the_rest():
    from rppgkit.pipeline import _hrv_summary

    intervals = np.tile([800.123, 900.456], 30)
    peaks = np.concatenate([[0], np.cumsum(intervals)])
    result = hrv(peaks, 1000.0)
    summary = _hrv_summary(result)
    assert summary.n_intervals == result.n_intervals == 60
    assert isinstance(summary.n_intervals, int)
    assert summary.mean_ibi_ms == round(result.mean_ibi_ms, 2) == 850.29
    assert summary.lf_hf is None  # NaN: 50 s is too short for the LF band
