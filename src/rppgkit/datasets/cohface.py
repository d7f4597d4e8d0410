"""COHFACE: `<subject>/<session>/data.avi` with `data.hdf5` (pulse and its time in s)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from rppgkit.datasets.base import DatasetError, Recording, Reference, register_dataset
from rppgkit.video.reader import natural_key


@register_dataset("cohface")
def cohface(root: Path) -> list[Recording]:
    """`<subject>/<session>/data.avi` with `data.hdf5` (pulse at 256 Hz and its time)."""
    recordings = []
    for video in sorted(
        root.glob("*/*/data.avi"),
        key=lambda p: [*natural_key(p.parent.parent), *natural_key(p.parent)],
    ):
        subject, session = video.parent.parent.name, video.parent.name
        recordings.append(
            Recording(
                dataset="cohface",
                id=f"{subject}/{session}",
                subject=subject,
                video=video,
                read_reference=functools.partial(_hdf5_reference, video.with_suffix(".hdf5")),
            )
        )
    return recordings


def _hdf5_reference(path: Path) -> Reference:
    import h5py

    if not path.exists():
        raise DatasetError(f"{path} is missing; COHFACE keeps data.hdf5 beside data.avi")
    try:
        with h5py.File(path, "r") as f:
            pulse, times = np.asarray(f["pulse"], float), np.asarray(f["time"], float)
    except (OSError, KeyError) as exc:
        raise DatasetError(f"{path}: expected HDF5 datasets 'pulse' and 'time' ({exc})") from None
    return Reference(path, times - times[0], pulse)
