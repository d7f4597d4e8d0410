"""VIPL-HR: `data/p<subject>/v<scenario>/source<camera>/` with the video and its ground truth.

Each folder holds `video.avi` (already cropped to the face), `wave.csv` (the BVP of a CONTEC
CMS60C finger oximeter: a header `Wave`, then one value per row, at 60 Hz), `gt_HR.csv` (header
`HR`, one value per second), `gt_SpO2.csv` (not used) and, for sources 1, 3 and 4, `time.txt`:
the time of each frame in ms, one integer per line. The cameras: 1 = Logitech C310 webcam
(~25 fps), 2 = HUAWEI P9 phone front camera (30 fps, no `time.txt`), 3 = RealSense F200 colour,
4 = RealSense F200 near-infrared (~30 fps). Scenario folders are `v1`..`v9`, plus second takes
named like `v1-2`; not every subject has every scenario and source.

The rate of `wave.csv` is stated nowhere in the files: 60 Hz is what real files show (2084 rows
over the 34.7 s that `time.txt` spans in p1/v1/source1, 2621 rows over source2's 43.7 s at
30 fps), and one row per ~16.7 ms matches the oximeter; pyVHR's loader assumes 50 Hz, which
would make the wave outlast its video. The wave is taken to start with the first frame.

The container frame rate of these AVIs is a re-encoding artefact (25 fps whatever the camera),
so frame times come from `time.txt` where there is one, else 30 fps for the phone (source2):
see :func:`vipl_recordings`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from pathlib import Path

import numpy as np

from rppgkit.datasets.base import (
    DatasetError,
    Recording,
    Reference,
    read_csv_columns,
    register_dataset,
)
from rppgkit.video.reader import natural_key

WAVE_HZ = 60.0
"""Sampling rate of `wave.csv` (not stored in the file; see the module docstring)."""
DEFAULT_SOURCES = (1, 2, 3)
"""The colour cameras, as the AutoHR and rPPGNet papers use them; source 4 is near-infrared."""
PHONE_FPS = 30.0
"""Frame rate of source2 (the phone), which has no `time.txt`; its AVI header says 25."""

_PARTS = (r"p\d+", r"v\d+(-\d+)?", r"source(\d+)")


@register_dataset("vipl-hr")
def vipl_hr(root: Path) -> list[Recording]:
    """`data/p<n>/v<k>/source<1-3>/video.avi` with `wave.csv` (BVP at 60 Hz) and `gt_HR.csv`.

    The colour sources 1-3 only (the near-infrared source 4 is left out, as the AutoHR and
    rPPGNet papers do); see :func:`vipl_recordings` to choose others.
    """
    return vipl_recordings(root)


def vipl_recordings(root: Path, sources: Collection[int] = DEFAULT_SOURCES) -> list[Recording]:
    """The VIPL-HR recordings under `root` (the dataset folder or its `data/`), natural order.

    Parameters
    ----------
    root
        The folder that holds `data/`, or `data/` itself.
    sources
        Camera numbers to keep (1 webcam, 2 phone, 3 RealSense colour, 4 RealSense NIR).

    Returns
    -------
    One recording per `p<n>/v<k>/source<s>` folder with a `video.avi`: id `p<n>/v<k>/source<s>`,
    subject `p<n>`, group `source<s>` (to report each camera apart). Its `fps` is the mean rate
    of `time.txt` where there is one (the reader cannot take per-frame times, so frames are
    placed on that even grid and the reference is mapped onto it; see
    :func:`to_frame_clock`), 30 for the phone, else None (the container's).
    """
    data = root / "data" if (root / "data").is_dir() else root
    return [
        Recording(
            dataset="vipl-hr",
            id=f"{folder.parent.parent.name}/{folder.parent.name}/{folder.name}",
            subject=folder.parent.parent.name,
            video=folder / "video.avi",
            read_reference=functools.partial(vipl_reference, folder),
            fps=_listed_fps(folder),
            group=folder.name,
        )
        for folder in _folders(data, sources)
    ]


def _folders(data: Path, sources: Collection[int]) -> list[Path]:
    """The `p<n>/v<k>/source<s>` folders with a `video.avi` and `s` in `sources`, in natural
    order of subject, scenario and source (p2 before p10, v1 before v1-2)."""
    found = []
    for video in data.glob("p*/v*/source*/video.avi"):
        folder = video.parent
        names = (folder.parent.parent.name, folder.parent.name, folder.name)
        matches = [re.fullmatch(pattern, name) for pattern, name in zip(_PARTS, names)]
        if all(matches) and int(matches[2].group(1)) in sources:
            found.append(folder)
    return sorted(
        found,
        key=lambda f: [*natural_key(f.parent.parent), *natural_key(f.parent), *natural_key(f)],
    )


def _listed_fps(folder: Path) -> float | None:
    """The frame rate a recording is listed with (see :func:`vipl_recordings`)."""
    stamps = folder / "time.txt"
    if stamps.exists():
        try:
            times = read_frame_times(stamps)
        except DatasetError:
            return None  # listing stays cheap and whole; reading the reference names the file
        return (len(times) - 1) / times[-1]
    return PHONE_FPS if folder.name == "source2" else None


def read_frame_times(path: Path) -> np.ndarray:
    """The frame times in `time.txt` (one integer in ms per line), in s from the first frame.

    Parameters
    ----------
    path
        A `time.txt` file.

    Returns
    -------
    The times, starting at 0 and increasing.

    Raises
    ------
    DatasetError
        If the file is unreadable, holds something other than numbers, fewer than two, or times
        that do not increase; the message never quotes the file.
    """
    try:
        ms = np.loadtxt(path, ndmin=1, dtype=float)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc.strerror or 'read error'})") from None
    except ValueError:  # its text may quote the file, which can be any file: it is not shown
        raise DatasetError(
            f"{path}: expected one frame time in ms per line; a line is not a number"
        ) from None
    if ms.ndim != 1 or len(ms) < 2 or not np.all(np.isfinite(ms)) or np.any(np.diff(ms) <= 0):
        raise DatasetError(
            f"{path}: expected at least two increasing frame times in ms, one per line"
        )
    return (ms - ms[0]) / 1000.0


def to_frame_clock(times: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
    """Map `times` (s, on the recording's clock) onto the even grid the frames are read on.

    Frame `i`, captured at `frame_times[i]`, is read at `i / fps` with `fps` the mean rate of
    `frame_times` (first and last frame land where they were); a time between two frames is
    interpolated between their grid places, so the reference sampled at a frame's grid time is
    the value at that frame's capture. Outside the frames, times shift by the nearest end's
    offset (which is zero).

    Parameters
    ----------
    times
        Increasing times (s) on the clock of `frame_times`.
    frame_times
        Increasing capture times (s) of the frames, at least two.

    Returns
    -------
    The times on the frame grid, increasing as `times` do.
    """
    n = len(frame_times)
    grid = np.arange(n) * (frame_times[-1] / (n - 1))
    mapped = np.interp(times, frame_times, grid)
    before, after = times < frame_times[0], times > frame_times[-1]
    mapped[before] = grid[0] + times[before] - frame_times[0]
    mapped[after] = grid[-1] + times[after] - frame_times[-1]
    return mapped


def hold_per_second(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """A once-a-second series at `times`, each value held for its second.

    Parameters
    ----------
    values
        Value `k` covers `[k, k + 1)` s (as `gt_HR.csv` has one HR per second).
    times
        Times (s) to read it at.

    Returns
    -------
    The value of each time's second; NaN before 0 s and past the series' end.
    """
    index = np.floor(times).astype(int)
    out = np.full(len(times), np.nan)
    inside = (index >= 0) & (index < len(values))
    out[inside] = values[index[inside]]
    return out


def vipl_reference(folder: Path) -> Reference:
    """The reference of one VIPL-HR folder, read now.

    Parameters
    ----------
    folder
        A `p<n>/v<k>/source<s>` folder.

    Returns
    -------
    `wave.csv` at 60 Hz from the first frame, mapped onto the frame clock where `time.txt`
    times the frames (:func:`to_frame_clock`), with `gt_HR.csv` held per second as `hr_bpm`
    (NaN where it is shorter than the wave; None without the file). DatasetError names a
    missing or malformed file.
    """
    wave_path = folder / "wave.csv"
    if not wave_path.exists():
        raise DatasetError(f"{wave_path} is missing; VIPL-HR keeps the BVP beside video.avi")
    wave = _column(wave_path, "Wave")
    times = np.arange(len(wave)) / WAVE_HZ
    hr_path = folder / "gt_HR.csv"
    hr = hold_per_second(_column(hr_path, "HR"), times) if hr_path.exists() else None
    stamps = folder / "time.txt"
    if stamps.exists():
        times = to_frame_clock(times, read_frame_times(stamps))
    return Reference(wave_path, times, wave, hr)


def _column(path: Path, name: str) -> np.ndarray:
    """Column `name` of a CSV file with a header row; DatasetError if it has none."""
    columns = read_csv_columns(path)
    if name not in columns:
        raise DatasetError(f"{path}: no column {name}; VIPL-HR's {path.name} has a {name} header")
    return columns[name]
