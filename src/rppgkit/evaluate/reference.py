"""Reference heart rate for each estimate window, by the same spectral path as the estimate, or
from the dataset's own HR column."""

from __future__ import annotations

from typing import Literal

import numpy as np

from rppgkit.datasets import DatasetError, Reference
from rppgkit.pipeline import Measurement
from rppgkit.pulse import heart_rate

ReferenceSource = Literal["spectral", "dataset"]


def reference_hr(
    ref: Reference, m: Measurement, source: ReferenceSource = "spectral"
) -> tuple[np.ndarray, float]:
    """Reference HR (bpm) for each of `m.windows` and for the whole video."""
    if source == "dataset":
        if ref.hr_bpm is None:
            raise DatasetError(f"{ref.source}: this dataset has no HR column; use the spectral one")
        return _mean_hr(ref, m), float(np.nanmean(ref.hr_bpm))
    pulse = ref.on_clock(m.times, m.options.band_hz)
    per_window = np.full(len(m.windows), np.nan)
    for i, w in enumerate(m.windows):
        lo, hi = round(w.start_s * m.fs), round(w.end_s * m.fs)
        segment = pulse[lo:hi]
        if segment.size and np.all(np.isfinite(segment)):
            per_window[i] = heart_rate(segment, m.fs, m.options.band_hz).bpm
    ok = np.isfinite(pulse)
    whole = heart_rate(pulse[ok], m.fs, m.options.band_hz).bpm if ok.sum() > 2 else np.nan
    return per_window, float(whole)


def _mean_hr(ref: Reference, m: Measurement) -> np.ndarray:
    t0 = m.times[0]
    out = np.full(len(m.windows), np.nan)
    for i, w in enumerate(m.windows):
        inside = (ref.times >= t0 + w.start_s) & (ref.times < t0 + w.end_s)
        if inside.any():
            out[i] = float(np.mean(ref.hr_bpm[inside]))
    return out
