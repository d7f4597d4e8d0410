"""UBFC-rPPG (both releases) and UBFC-Phys."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from rppgkit.datasets.base import DatasetError, Recording, Reference, register_dataset
from rppgkit.video.reader import natural_key

UBFC_PHYS_BVP_HZ = 64.0


@register_dataset("ubfc-rppg")
def ubfc_rppg(root: Path) -> list[Recording]:
    """`subjectN/vid.avi` with `ground_truth.txt` (DATASET_2) or `gtdump.xmp` (DATASET_1)."""
    recordings = []
    for video in sorted(root.glob("*/vid.avi"), key=lambda p: natural_key(p.parent)):
        folder = video.parent
        recordings.append(
            Recording(
                dataset="ubfc-rppg",
                id=folder.name,
                subject=folder.name,
                video=video,
                read_reference=functools.partial(_ubfc_reference, folder),
            )
        )
    return recordings


def _ubfc_reference(folder: Path) -> Reference:
    txt, xmp = folder / "ground_truth.txt", folder / "gtdump.xmp"
    if txt.exists():
        return _dataset2(txt)
    if xmp.exists():
        return _dataset1(xmp)
    raise DatasetError(f"{folder}: no ground_truth.txt or gtdump.xmp beside vid.avi")


def _dataset2(path: Path) -> Reference:
    """Three whitespace-separated rows: pulse, HR (bpm), time (s)."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if len(rows) != 3 or len({len(r) for r in rows}) != 1:
        raise DatasetError(
            f"{path}: expected 3 rows of equal length (pulse, HR, time in s), "
            f"found {len(rows)} rows of lengths {[len(r) for r in rows]}"
        )
    pulse, hr, times = (np.array(r, dtype=float) for r in rows)
    return Reference(path, times - times[0], pulse, hr)


def _dataset1(path: Path) -> Reference:
    """Comma-separated rows: time (ms), HR (bpm), SpO2, pulse."""
    data = np.loadtxt(path, delimiter=",", ndmin=2)
    if data.shape[1] < 4:
        raise DatasetError(f"{path}: expected 4 columns (time ms, HR, SpO2, pulse)")
    times = (data[:, 0] - data[0, 0]) / 1000.0
    return Reference(path, times, data[:, 3], data[:, 1])


@register_dataset("ubfc-phys")
def ubfc_phys(root: Path) -> list[Recording]:
    """`sN/vid_sN_TK.avi` with `bvp_sN_TK.csv` (BVP at 64 Hz, one value per line)."""
    recordings = []
    for video in sorted(root.rglob("vid_*.avi"), key=natural_key):
        match = re.fullmatch(r"vid_(s\d+)_(T\d+)", video.stem)
        if not match:
            continue
        subject, task = match.groups()
        recordings.append(
            Recording(
                dataset="ubfc-phys",
                id=f"{subject}_{task}",
                subject=subject,
                video=video,
                read_reference=functools.partial(
                    _bvp_reference, video.with_name(f"bvp_{subject}_{task}.csv")
                ),
            )
        )
    return recordings


def _bvp_reference(path: Path) -> Reference:
    if not path.exists():
        raise DatasetError(f"{path} is missing; UBFC-Phys keeps the BVP beside each video")
    pulse = np.loadtxt(path, delimiter=",", ndmin=1).ravel()
    return Reference(path, np.arange(len(pulse)) / UBFC_PHYS_BVP_HZ, pulse)
