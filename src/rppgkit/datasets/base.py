"""What every dataset yields: recordings (a video, its subject), most with a reference pulse.

Loaders list recordings cheaply; each recording reads and checks its ground truth only when asked,
so one broken label file costs that recording, not the whole dataset.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from rppgkit import dsp
from rppgkit.errors import RppgError
from rppgkit.registry import Registry

DataKind = Literal["labelled", "paired", "unlabelled", "episodic"]
"""What a training task learns from: clips with their reference pulse; compression-ladder pairs
(a re-encoded clip beside its original); clips without any reference; episodes (one video is one
task, its clips split into support and query)."""


class DatasetError(RppgError):
    """A dataset folder, a manifest or a ground-truth file is missing or malformed."""


@dataclass(frozen=True)
class Reference:
    """Ground truth of one recording, on the clock of its video (0 = first frame)."""

    source: Path  # the file it was read from, for messages
    times: np.ndarray  # [N] s, increasing
    pulse: np.ndarray  # [N] contact PPG (or BVP)
    hr_bpm: np.ndarray | None = None  # [N] the dataset's own HR column, where it has one

    @property
    def fs(self) -> float:
        """Mean sampling rate."""
        return float((len(self.times) - 1) / (self.times[-1] - self.times[0]))

    def check(self, video_duration_s: float | None = None) -> Reference:
        """Raise DatasetError, naming the file, if the reference cannot be trusted."""
        n = len(self.pulse)
        if n < 2 or len(self.times) != n or (self.hr_bpm is not None and len(self.hr_bpm) != n):
            raise DatasetError(
                f"{self.source}: the pulse, time and HR columns have different or too few values"
            )
        bad = int(np.sum(~np.isfinite(self.pulse)) + np.sum(~np.isfinite(self.times)))
        if bad:
            raise DatasetError(f"{self.source}: {bad} of {n} reference values are NaN or infinite")
        if np.any(np.diff(self.times) <= 0):
            raise DatasetError(f"{self.source}: the reference timestamps do not increase")
        if video_duration_s is not None:
            span = self.times[-1] - max(self.times[0], 0.0)
            if span < video_duration_s - max(1.0, 0.05 * video_duration_s):
                raise DatasetError(
                    f"{self.source}: the reference covers {span:.1f} s but the video lasts "
                    f"{video_duration_s:.1f} s; the label file is cut short or belongs to "
                    "another video"
                )
        return self

    def on_clock(self, times: np.ndarray, band_hz: tuple[float, float]) -> np.ndarray:
        """The pulse detrended and band-passed at its own rate (as estimators treat theirs),
        then interpolated at `times`; NaN where the reference has no data."""
        fs = self.fs
        if band_hz[1] >= fs / 2:
            raise DatasetError(
                f"{self.source}: the reference is sampled at {fs:.3g} Hz, too slowly for pulses "
                f"up to {band_hz[1]:g} Hz (it needs over {2 * band_hz[1]:g} Hz); check its "
                "sampling rate or time column"
            )
        grid, pulse = dsp.resample_uniform(self.times, self.pulse, fs)
        pulse = dsp.bandpass(dsp.detrend(pulse), fs, *band_hz)
        out = np.interp(times, grid, pulse)
        edge = 1.0 / fs  # within one reference sample of its ends, holding the end value is fine
        out[(times < grid[0] - edge) | (times > grid[-1] + edge)] = np.nan
        return out


@dataclass(frozen=True)
class Recording:
    """One video of one subject, and how to read its reference (None: it has none)."""

    dataset: str
    id: str  # unique within the dataset
    subject: str
    video: Path  # a video file or a folder of frames
    read_reference: Callable[[], Reference] | None = field(default=None, repr=False, compare=False)
    fps: float | None = None  # frame rate to use when the video's own metadata is wrong
    group: str = ""  # a condition to report separately, e.g. the compression level
    skin_masks: Path | None = None  # exact per-frame skin masks (synthetic data), if any
    clean: Path | None = None  # for a re-encoded video: the original, whose face track it shares

    @property
    def labelled(self) -> bool:
        """Whether the recording has a reference pulse (supervised training and evaluation
        need one; self-supervised training does not)."""
        return self.read_reference is not None

    def reference(self) -> Reference:
        """The ground truth, read and checked now; DatasetError names the file if it is bad, or
        says that the recording has none."""
        if self.read_reference is None:
            raise DatasetError(
                f"{self.id}: the {self.dataset} recording has no reference pulse; give a dataset "
                "with ground truth, or use it only to train without labels"
            )
        try:
            return self.read_reference().check()
        except DatasetError:
            raise
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise DatasetError(
                f"{self.id}: cannot read its ground truth{where} ({exc.strerror or 'read error'})"
            ) from None
        except (ValueError, KeyError, IndexError, TypeError):
            # the exception's text may quote the file, which can be any file: it is not shown
            raise DatasetError(
                f"{self.id}: its ground truth is not in the {self.dataset} layout (a value is "
                "not a number, or a row or key is missing)"
            ) from None


Loader = Callable[[Path], list[Recording]]
"""Root folder (or file) -> its recordings; the first line of its docstring describes it."""
DATASETS: Registry[Loader] = Registry("dataset", error=DatasetError)
"""The loaders by dataset name (filled by importing rppgkit.datasets)."""


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    """Add a loader (root folder or file -> recordings) to the registry under `name`."""
    return DATASETS.register(name)


def available_datasets() -> list[str]:
    """The names of the known dataset formats, sorted."""
    return list(DATASETS)


def load_dataset(name: str, root: str | os.PathLike) -> list[Recording]:
    """The recordings of dataset `name` (any case) stored at `root`, in a stable order.

    Parameters
    ----------
    name
        A registered format, such as "ubfc-rppg" or "videos".
    root
        The dataset's folder (or, for some formats, its index file).

    Returns
    -------
    The recordings; DatasetError if the name is unknown, `root` is missing, holds none, or two
    share an id.
    """
    loader = DATASETS.get(name)
    path = Path(root)
    if not path.exists():
        raise DatasetError(f"{path} does not exist; give the dataset's folder")
    recordings = loader(path)
    if not recordings:
        raise DatasetError(f"no {name} recordings found under {path}; is it the right dataset?")
    ids = [r.id for r in recordings]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: recording ids repeat; every recording needs its own")
    return recordings


def read_csv_rows(path: Path) -> list[list[str]]:
    """The rows of a UTF-8 CSV file, as lists of cells.

    Raises
    ------
    DatasetError
        If the file cannot be read or is not UTF-8 text; the message never quotes the file.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.reader(f))
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text; save it as UTF-8 (CSV UTF-8)") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc.strerror})") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: not a CSV file ({exc})") from None


def read_csv_columns(path: Path) -> dict[str, np.ndarray]:
    """A CSV file with a header row, as float columns by name (empty cells become NaN)."""
    rows = [r for r in read_csv_rows(path) if r]
    if len(rows) < 2:
        raise DatasetError(f"{path}: expected a header row and at least one row of values")
    header = [h.strip() for h in rows[0]]
    if any(len(r) != len(header) for r in rows[1:]):
        raise DatasetError(f"{path}: rows have a different number of cells than the header")
    values = np.full((len(rows) - 1, len(header)), np.nan)
    for i, row in enumerate(rows[1:]):
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell) if cell.strip() else np.nan
            except ValueError:  # the cell is not shown: the file may be any file
                raise DatasetError(f"{path}: row {i + 2}, column {j + 1} is not a number") from None
    return dict(zip(header, values.T))
