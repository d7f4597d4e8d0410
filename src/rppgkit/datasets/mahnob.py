"""MAHNOB-HCI (the HCI-Tagging database): `Sessions/<n>/` with video, BDF recording, session.xml.

A session folder holds the colour camera's video (camera 1, 780x580 at 61 fps, named like
`P1-Rec1-2009.07.09.17.53.46_C1 trigger _C_Section_2.avi`), the physiological recording in
BioSemi's BDF format (`Part_<p>_S_Trial<t>_emotion.bdf` for the emotion-elicitation trials:
32 EEG channels, the ECG leads EXG1-EXG3 in uV, GSR, respiration, temperature and `Status`),
and `session.xml`, whose `<subject id=...>` names the participant. The rPPG papers use these
stimulus ("S") trials only, 527 of them from 27 subjects; the neutral ("N") and tagging trials
(10-25 s) are left out here too.

Timing: the video spans the samples where the BDF's `Status` trigger bits are set (the first
such sample is the first frame), as Idiap's `bob.db.hci_tagging` interface reads it; BioSemi
keeps system flags in the upper byte of `Status`, so only its lower 16 bits count.

Reference: the heart rate of MAHNOB-HCI comes from the ECG's R peaks. They are found by
neurokit2 in one lead (EXG2 by default, as rPPG loaders that follow Li et al. 2014 / Meta-rPPG
read it; Idiap's interface reads EXG1-3 and keeps those that agree) and turned into a pulse-like
signal (see :func:`beat_wave`) with the beat-to-beat rate as `hr_bpm`.

The papers' protocol scores the 30 s from frame 306 to 2135 of each video (5 s to 35 s at
61 fps, :data:`PAPER_WINDOW_S`); `mahnob_recordings(..., window_s=PAPER_WINDOW_S)` cuts the
reference to it. The registered loader keeps the whole video, because evaluation and training
read whole videos and check that the reference covers them.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from rppgkit.datasets.base import DatasetError, Recording, Reference, register_dataset
from rppgkit.video.reader import natural_key

ECG_CHANNEL = "EXG2"
"""The ECG lead read by default (EXG1: right collarbone, EXG2: left collarbone, EXG3: abdomen)."""
PAPER_WINDOW_S = (305 / 61, 2135 / 61)
"""Frames 306-2135 (1-based) at 61 fps: the 30 s window the MAHNOB-HCI rPPG papers score."""
TRIGGER_BITS = 0xFFFF
"""The bits of BioSemi's `Status` channel that carry triggers (the upper byte is system state)."""
BDF_HINT = "MAHNOB-HCI's BDF holds the ECG in EXG1-EXG3 and the video trigger in Status"


@register_dataset("mahnob-hci")
def mahnob_hci(root: Path) -> list[Recording]:
    """`Sessions/<n>/` with the `*C1 trigger*.avi` video and an emotion-trial BDF (ECG in EXG2).

    The reference covers the whole video; see :func:`mahnob_recordings` for the papers' 30 s
    window or another ECG lead.
    """
    return mahnob_recordings(root)


def mahnob_recordings(
    root: Path, channel: str = ECG_CHANNEL, window_s: tuple[float, float] | None = None
) -> list[Recording]:
    """The MAHNOB-HCI stimulus trials under `root` (the dataset folder or its `Sessions/`).

    Parameters
    ----------
    root
        The folder that holds `Sessions/`, or `Sessions/` itself.
    channel
        The BDF channel holding the ECG lead to detect R peaks in.
    window_s
        If given, (start, end) in s on the video's clock: the reference is cut to it, e.g.
        :data:`PAPER_WINDOW_S` for the papers' protocol.

    Returns
    -------
    One recording per session folder with a `*C1 trigger*.avi` and a
    `Part_<p>_S_Trial<t>_emotion.bdf`, in natural order: id = the session number, subject = the
    `<subject id>` of `session.xml` (or, if that file is missing or unreadable, the `<p>` of
    the BDF's name, which names the same participant).
    """
    sessions = root / "Sessions" if (root / "Sessions").is_dir() else root
    recordings = []
    for bdf in sorted(
        sessions.glob("*/Part_*_S_Trial*_emotion.bdf"), key=lambda p: natural_key(p.parent)
    ):
        videos = sorted(bdf.parent.glob("*C1 trigger*.avi"))
        if not videos:
            continue
        recordings.append(
            Recording(
                dataset="mahnob-hci",
                id=bdf.parent.name,
                subject=_subject(bdf),
                video=videos[0],
                read_reference=functools.partial(mahnob_reference, bdf, channel, window_s),
            )
        )
    return recordings


def _subject(bdf: Path) -> str:
    """The participant of a session: `session.xml`'s `<subject id>`, else from the BDF's name."""
    try:
        subject = ET.parse(bdf.parent / "session.xml").getroot().find("subject")
    except (OSError, ET.ParseError):
        subject = None
    if subject is not None and subject.get("id"):
        return str(subject.get("id"))
    return bdf.name.split("_")[1]


def mahnob_reference(bdf: Path, channel: str, window_s: tuple[float, float] | None) -> Reference:
    """The ECG-derived reference of one session, read now.

    Parameters
    ----------
    bdf
        The session's BDF file.
    channel
        The ECG lead to find R peaks in.
    window_s
        (start, end) in s on the video's clock to cut the reference to, or None for the video.

    Returns
    -------
    On the video's clock (0 = first frame, where the `Status` trigger rises), at the ECG's rate:
    :func:`beat_wave` of the R peaks as the pulse, :func:`beat_rate` as `hr_bpm`. DatasetError
    names the file if it is unreadable, lacks the channel or a trigger, shows under two R
    peaks, or is shorter than `window_s`.
    """
    ecg, fs, status, status_fs = read_bdf_channels(bdf, channel)
    on = np.flatnonzero(status.astype(np.int64) & TRIGGER_BITS)
    if on.size < 2:
        raise DatasetError(
            f"{bdf}: its Status channel has no trigger marking the video; is it a MAHNOB-HCI "
            "session recording?"
        )
    start, end = on[0] / status_fs, on[-1] / status_fs
    peaks = r_peak_times(ecg, fs)
    if len(peaks) < 2:
        raise DatasetError(
            f"{bdf}: found {len(peaks)} R peaks in {channel}; the lead is flat or too noisy, "
            "try another ECG lead (EXG1-EXG3)"
        )
    times = np.arange(np.ceil(start * fs), np.floor(end * fs) + 1) / fs - start
    if window_s is not None:
        times = _cut(times, window_s, bdf)
    return Reference(bdf, times, beat_wave(times, peaks - start), beat_rate(times, peaks - start))


def _cut(times: np.ndarray, window_s: tuple[float, float], bdf: Path) -> np.ndarray:
    """The `times` inside `window_s`; DatasetError if the video does not span it."""
    lo, hi = window_s
    if not 0 <= lo < hi <= times[-1] + 1e-9:
        raise DatasetError(
            f"{bdf}: the trigger marks {times[-1]:.1f} s of video, which does not hold the "
            f"window {lo:g}-{hi:g} s; use a shorter window or leave the session out"
        )
    return times[(times >= lo) & (times <= hi)]


def read_bdf_channels(
    bdf: Path, channel: str, hint: str = BDF_HINT
) -> tuple[np.ndarray, float, np.ndarray, float]:
    """`channel` and `Status` of a BDF file, with their rates.

    Parameters
    ----------
    bdf
        A BDF (or EDF) file.
    channel
        The label of the channel to read besides `Status`.
    hint
        What the dataset's BDF should hold, said when a channel is missing.

    Returns
    -------
    `channel` in physical units (uV for the ECG), its rate (Hz), `Status` as raw integers, and
    its rate.

    Raises
    ------
    DatasetError
        If the file is not a readable BDF or lacks either channel; the message never quotes the
        file.
    """
    import pyedflib

    try:
        with pyedflib.EdfReader(str(bdf)) as f:
            labels = [label.strip() for label in f.getSignalLabels()]
            for name in (channel, "Status"):
                if name not in labels:
                    raise DatasetError(f"{bdf}: no {name} channel; {hint}")
            ecg, status = labels.index(channel), labels.index("Status")
            return (
                f.readSignal(ecg),
                float(f.getSampleFrequency(ecg)),
                f.readSignal(status, digital=True),
                float(f.getSampleFrequency(status)),
            )
    except OSError:  # pyedflib's text may quote the file, which can be any file: it is not shown
        raise DatasetError(
            f"{bdf}: not a readable BDF file; it is cut short, damaged or of another format"
        ) from None


def r_peak_times(ecg: np.ndarray, fs: float) -> np.ndarray:
    """R-peak times of an ECG lead, found by neurokit2.

    Parameters
    ----------
    ecg
        One ECG lead.
    fs
        Its sampling rate (Hz).

    Returns
    -------
    The times (s from the first sample) of the R peaks that neurokit2's default detector finds
    after its cleaning filter, with ectopic and missed beats corrected; empty if there are none.
    """
    import neurokit2 as nk

    try:
        cleaned = nk.ecg_clean(ecg, sampling_rate=fs)
        _, info = nk.ecg_peaks(cleaned, sampling_rate=fs, correct_artifacts=True)
    except (ValueError, IndexError):  # too short, or flat, for its filters and thresholds
        return np.empty(0)
    return np.asarray(info["ECG_R_Peaks"], dtype=float) / fs


def _beat_phase(times: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Beats elapsed at `times`: k at the k-th peak, linear between peaks, and extended before
    the first and after the last at the rate of the nearest interval."""
    k = np.arange(len(peaks), dtype=float)
    phase = np.interp(times, peaks, k)
    before, after = times < peaks[0], times > peaks[-1]
    phase[before] = (times[before] - peaks[0]) / (peaks[1] - peaks[0])
    phase[after] = k[-1] + (times[after] - peaks[-1]) / (peaks[-1] - peaks[-2])
    return phase


def beat_wave(times: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """A pulse-like signal from R-peak times: cos(2 pi * beats elapsed), 1 at every R peak.

    Its instantaneous frequency is the beat-to-beat heart rate, so a spectral HR of it is the
    ECG's HR. Its peaks sit on the R peaks, not where a PPG's would (a pulse transit time,
    ~0.2 s, later): do not use it to time pulse arrival.

    Parameters
    ----------
    times
        Times (s) to sample it at.
    peaks
        Increasing R-peak times (s), at least two.

    Returns
    -------
    The signal at `times`, in [-1, 1].
    """
    return np.cos(2 * np.pi * _beat_phase(times, peaks))


def beat_rate(times: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """The beat-to-beat heart rate at `times`.

    Parameters
    ----------
    times
        Times (s) to read it at.
    peaks
        Increasing R-peak times (s), at least two.

    Returns
    -------
    60 / the R-R interval (s) each time falls in (the first or last interval outside the
    peaks), in bpm.
    """
    intervals = np.diff(peaks)
    index = np.clip(np.searchsorted(peaks, times, side="right") - 1, 0, len(intervals) - 1)
    return 60.0 / intervals[index]
