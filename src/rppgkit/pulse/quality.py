"""A signal-quality index for a pulse segment: how far its heart rate and beats can be trusted.

Three published cues, each mapped onto 0 (bad) .. 1 (good) and averaged:

- spectral SNR (de Haan & Jeanne 2013): pulse power at the HR and its harmonic over the rest
  of the band;
- beat template correlation (Orphanidou et al. 2015; Li & Clifford 2012): how much each beat
  looks like the clip's median beat;
- agreement between methods (the fusion idea of pyVHR and of Wang et al. 2017's comparisons):
  the HR that an independent method reads from the same skin trace.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rppgkit.pulse.beats import Beats
    from rppgkit.pulse.heart_rate import WindowHR

SNR_RANGE_DB = (-3.0, 3.0)
"""SNR scores 0 at or below the first value and 1 at or above the second."""
TEMPLATE_RANGE = (0.5, 0.9)
"""Median beat correlation scoring 0 and 1."""
AGREEMENT_RANGE_BPM = (10.0, 2.0)
"""HR difference between methods scoring 0 (10 bpm or more) and 1 (2 bpm or less)."""
MAX_TIMING_SD_MS = 3.0
"""Largest beat-timing noise estimate (:attr:`Beats.timing_sd_s`) for HRV. Chosen on simulated
traces, not on the benchmark videos (``benchmarks/beats_hrv.py --calibrate``): below it the
median RMSSD error was under 4 ms, above it 17 ms and more."""
MIN_GOOD_BEATS = 0.8
"""Least share of good beats (template correlation) for HRV."""


@dataclass(frozen=True)
class Quality:
    """Signal quality of a pulse segment; NaN marks a cue that could not be computed.

    ``index`` is the mean of the available cues' scores, from 0 (noise) to 1 (clean pulse).
    """

    snr_db: float
    template_r: float
    agreement_bpm: float
    index: float


def assess(snr_db: float, template_r: float, agreement_bpm: float) -> Quality:
    """Combine the three cues into a :class:`Quality`.

    Parameters
    ----------
    snr_db : float
        Spectral SNR of the segment in dB.
    template_r : float
        Median correlation of the segment's beats with the median beat (NaN without beats).
    agreement_bpm : float
        Absolute HR difference to an independent method (NaN when there is none).

    Returns
    -------
    Quality
        The cues and their combined index (NaN when no cue is available).

    Examples
    --------
    >>> assess(6.0, 0.95, 1.0).index
    1.0
    >>> round(assess(0.0, 0.7, float("nan")).index, 2)
    0.5
    """
    scores = [
        _ramp(snr_db, *SNR_RANGE_DB),
        _ramp(template_r, *TEMPLATE_RANGE),
        _ramp(agreement_bpm, *AGREEMENT_RANGE_BPM),
    ]
    known = [s for s in scores if not math.isnan(s)]
    index = float(np.mean(known)) if known else float("nan")
    return Quality(float(snr_db), float(template_r), float(agreement_bpm), index)


def discount_damage(quality: Quality, decode_errors: int, n_frames: int) -> Quality:
    """`quality` with its index scaled by the share of frames the decoder did not damage.

    Parameters
    ----------
    quality : Quality
        The signal quality of a video's pulse.
    decode_errors : int
        Errors the decoder reported while decoding the video: damaged data it concealed with
        guessed pixels. Each counts as one damaged frame, a lower bound (damage to a frame that
        others are predicted from spreads to them).
    n_frames : int
        Frames in the video.

    Returns
    -------
    Quality
        The same cues; the index lower by the damaged share (NaN stays NaN).

    Examples
    --------
    >>> q = assess(6.0, 0.95, 1.0)
    >>> discount_damage(q, 30, 300).index
    0.9
    """
    if decode_errors <= 0 or n_frames <= 0:
        return quality
    share = min(1.0, decode_errors / n_frames)
    return dataclasses.replace(quality, index=quality.index * (1.0 - share))


def _ramp(value: float, zero_at: float, one_at: float) -> float:
    """Linear score between ``zero_at`` (0) and ``one_at`` (1), clipped; NaN stays NaN."""
    if math.isnan(value):
        return float("nan")
    return float(np.clip((value - zero_at) / (one_at - zero_at), 0.0, 1.0))


def score_windows(
    windows: list[WindowHR], beats: Beats, second: list[WindowHR] | None
) -> list[WindowHR]:
    """``windows`` with their :class:`Quality`: each window's SNR, the median quality of the
    beats inside it, and its HR difference to the same window of a second method (``second``,
    aligned with ``windows``; None when there is no second method)."""
    scored = []
    for i, w in enumerate(windows):
        inside = (beats.times_s >= w.start_s) & (beats.times_s < w.end_s)
        template_r = float(np.median(beats.quality[inside])) if inside.any() else float("nan")
        other = second[i].bpm if second is not None else float("nan")
        quality = assess(w.snr_db, template_r, abs(w.bpm - other))
        scored.append(dataclasses.replace(w, quality=quality))
    return scored


def hrv_refusal(beats: Beats, decode_errors: int = 0) -> str | None:
    """Why the beats of a pulse are not good enough for HRV, or None when they are.

    HRV needs every beat in place and well timed: a missed or false beat, or 10 ms of timing
    noise, changes RMSSD by tens of ms where a heart rate from the spectrum barely moves. So a
    video whose decoder reported errors (``decode_errors``: frames it patched with guessed
    pixels) gets no HRV at all, however clean its beats look: the guesses shift beat times.
    """
    if decode_errors > 0:
        return (
            f"the decoder reported {decode_errors} error{'s' if decode_errors > 1 else ''} in "
            "the video (damaged data it concealed), which shifts beat times; an undamaged copy "
            "of the video is needed"
        )
    timing_ms = 1000 * beats.timing_sd_s
    if not timing_ms <= MAX_TIMING_SD_MS:  # NaN too: no two whole beats to time
        return (
            f"beat timing noise {timing_ms:.1f} ms is above the {MAX_TIMING_SD_MS:g} ms that HRV "
            "needs (RMSSD would be off by 10 ms or more); more skin in view, more light or a "
            "higher frame rate help"
        )
    if beats.good_fraction < MIN_GOOD_BEATS:
        return (
            f"only {beats.good_fraction:.0%} of the beats match the clip's typical beat "
            f"(at least {MIN_GOOD_BEATS:.0%} needed)"
        )
    return None
