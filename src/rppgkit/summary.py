"""The digest of one measurement: what summary.json holds, the console prints and the HTML
report shows.

Numbers are rounded as they are written and None where they could not be computed (JSON has no
NaN), so every reader shows the same figures. `Summary.as_dict` is the JSON object, its keys in
the order of the fields here; users read summary.json, so renaming or reordering a field changes
a published format.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class QualitySummary:
    """The whole video's signal quality (`rppgkit.pulse.Quality`) and the method it was checked
    against."""

    snr_db: float | None
    template_r: float | None
    agreement_bpm: float | None
    index: float | None  # 0 (noise) .. 1 (clean pulse)
    second_method: str  # the independent method whose HR `agreement_bpm` compares with


@dataclass(frozen=True)
class WindowsSummary:
    """The sliding heart-rate windows: their settings and statistics of those that kept an HR."""

    window_s: float
    step_s: float
    count: int
    with_hr: int
    min_quality: float
    below_min_quality: int
    hr_mean_bpm: float | None
    hr_min_bpm: float | None
    hr_max_bpm: float | None
    snr_mean_db: float | None
    quality_mean: float | None


@dataclass(frozen=True)
class BeatsSummary:
    """How many systolic peaks were found and how many look like the clip's median beat."""

    count: int
    good: int
    good_fraction: float | None


@dataclass(frozen=True)
class HRVSummary:
    """`rppgkit.pulse.HRV`, every figure but the count rounded to 2 decimals."""

    n_intervals: int
    mean_ibi_ms: float | None
    sdnn_ms: float | None
    rmssd_ms: float | None
    pnn50_pct: float | None
    lf_hf: float | None
    respiration_rate_bpm: float | None


@dataclass(frozen=True)
class TimingsSummary:
    """Where the time went, in seconds: streaming the video into a trace (decoding, face path),
    the network's forward passes and its adaptation (None for classic methods), and the whole
    analysis after streaming (the network included)."""

    stream_s: float | None
    network_s: float | None
    adaptation_s: float | None
    analysis_s: float | None


@dataclass(frozen=True)
class Summary:
    """A JSON-ready digest of a `rppgkit.pipeline.Measurement` (`Measurement.summary()`)."""

    video: str
    method: str
    detector: str
    roi: str  # "frame": whole frames, no face sought
    duration_s: float
    n_frames: int
    fps: float  # the analysis rate
    face_fraction: float
    frames_per_s: float | None  # processing speed
    face_gaps_s: tuple[tuple[float, float], ...]  # (start, end) without a usable face
    frame_gaps_s: tuple[tuple[float, float], ...]  # (start, end) without frames
    time_source: str
    rotation: int
    decode_errors: int
    hr_bpm: float
    hr_snr_db: float
    quality: QualitySummary
    windows: WindowsSummary
    beats: BeatsSummary
    hrv: HRVSummary | None
    hrv_reason: str | None  # why hrv is None
    notes: tuple[str, ...]  # what the user needs to know to read the numbers right
    timings: TimingsSummary

    def as_dict(self) -> dict[str, object]:
        """The summary as the JSON object summary.json holds.

        Returns
        -------
        dict[str, object]
            Keys in field order, nested digests as objects, pairs as lists once dumped.
        """
        return dataclasses.asdict(self)
