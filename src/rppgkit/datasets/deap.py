"""DEAP (Koelstra et al., IEEE Trans. Affective Computing 2012): face videos of 22 participants
watching music videos, with the plethysmograph of their original BioSemi recording.

Layout, as DEAP's Face_video.zip and Data_original.zip unpack side by side:
``<root>/face_video/sXX/sXX_trialYY.avi`` (participants s01-s22, up to 40 trials; a few trials
are missing from the distribution) and ``<root>/data_original/sXX.bdf`` (one BDF per
participant, 512 Hz: 32 EEG, EXG1-EXG8, GSR1, GSR2, Erg1, Erg2, Resp, ``Plet`` -- the
plethysmograph on a thumb -- Temp and ``Status``). The two folders may also be the root itself.

Trials: the ``Status`` channel carries the presentation software's markers in its low byte
(BioSemi keeps system state in the upper bits): 1 the start of the experiment, the baseline
or a rating screen, 2 the video synchronisation screen, 3 the 5 s fixation cross before a
trial, 4 the start of the 60 s music-video playback, 5 the 3 s fixation after it, 7 the end.
Trial YY is the YY-th onset of marker 4, as DEAP numbers trials in presentation order.

Assumption (not stated by DEAP's documentation): a trial's face video starts at the onset of
its playback marker; `deap_recordings` takes ``lead_s`` if a copy's videos start that long
earlier (e.g. 5 for the fixation cross). The reference is ``Plet`` from the video's start to
3 s past the 60 s playback (where the recording holds it); training and evaluation check that
it covers the video.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from rppgkit.datasets.base import DatasetError, Recording, Reference, register_dataset
from rppgkit.datasets.mahnob import read_bdf_channels
from rppgkit.video.reader import natural_key

PLETH_CHANNEL = "Plet"
PLAYBACK_MARKER = 4  # Status code at the start of a trial's music-video playback
MARKER_BITS = 0xFF  # the low byte of Status holds DEAP's markers (codes 1-7)
TRIAL_S = 60.0 + 3.0  # the playback and the fixation after it
BDF_HINT = "DEAP's original BDF holds the plethysmograph in Plet and the trial markers in Status"
VIDEO_NAME = re.compile(r"(s\d+)_trial(\d+)\.avi$", re.IGNORECASE)


@register_dataset("deap")
def deap(root: Path) -> list[Recording]:
    """`face_video/sXX/sXX_trialYY.avi` with the Plet channel of `data_original/sXX.bdf`."""
    return deap_recordings(root)


def deap_recordings(root: Path, lead_s: float = 0.0) -> list[Recording]:
    """The DEAP trials with a face video under `root`.

    Parameters
    ----------
    root
        The folder holding `face_video/` and `data_original/` (or the videos' participant
        folders and the BDF files themselves).
    lead_s
        How long before its playback marker a trial's video starts, s (0: at the marker).

    Returns
    -------
    One recording per `sXX_trialYY.avi`, in natural order: id ``sXX_trialYY``, subject ``sXX``.
    Its reference is read when asked; a missing BDF is a DatasetError then, naming the file.
    """
    videos_root = root / "face_video" if (root / "face_video").is_dir() else root
    bdf_root = root / "data_original" if (root / "data_original").is_dir() else root
    recordings = []
    for video in sorted(videos_root.glob("s*/s*_trial*.avi"), key=natural_key):
        found = VIDEO_NAME.search(video.name)
        if found is None:
            continue
        subject, trial = found.group(1).lower(), int(found.group(2))
        recordings.append(
            Recording(
                dataset="deap",
                id=f"{subject}_trial{trial:02d}",
                subject=subject,
                video=video,
                read_reference=functools.partial(
                    deap_reference, bdf_root / f"{subject}.bdf", trial, lead_s
                ),
            )
        )
    return recordings


def deap_reference(bdf: Path, trial: int, lead_s: float = 0.0) -> Reference:
    """The plethysmograph of one trial, on its face video's clock.

    Parameters
    ----------
    bdf
        The participant's original BDF recording.
    trial
        The trial number (1-based, presentation order).
    lead_s
        How long before the playback marker the video starts, s.

    Returns
    -------
    ``Plet`` from the video's start (time 0) to `TRIAL_S` past the playback marker, at the
    BDF's rate; DatasetError if the file is missing, unreadable, lacks Plet or Status, or marks
    fewer playbacks than `trial`.
    """
    if not bdf.is_file():
        raise DatasetError(
            f"{bdf} does not exist; unpack DEAP's Data_original.zip next to face_video/ (the "
            "face videos' pulse is the Plet channel of each participant's BDF)"
        )
    pleth, fs, status, status_fs = read_bdf_channels(bdf, PLETH_CHANNEL, BDF_HINT)
    onsets = playback_onsets(status)
    if len(onsets) < trial:
        raise DatasetError(
            f"{bdf}: its Status channel marks {len(onsets)} music-video playbacks (code "
            f"{PLAYBACK_MARKER}), so trial {trial} has no start; is it DEAP's original recording?"
        )
    start = onsets[trial - 1] / status_fs - lead_s
    first = max(int(np.ceil(start * fs)), 0)
    stop = min(int((start + lead_s + TRIAL_S) * fs), len(pleth))
    samples = np.arange(first, stop)
    return Reference(bdf, samples / fs - start, np.asarray(pleth, float)[samples])


def playback_onsets(status: np.ndarray) -> np.ndarray:
    """The samples where `status`'s marker byte turns to the playback code."""
    marker = status.astype(np.int64) & MARKER_BITS
    on = marker == PLAYBACK_MARKER
    return np.flatnonzero(on & ~np.concatenate([[False], on[:-1]]))
