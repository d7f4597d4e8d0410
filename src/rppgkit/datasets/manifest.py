"""Any other data: a manifest CSV listing videos and label files; and rppgkit's synthetic videos.

Manifest columns: `video`, `labels` (paths relative to the manifest), optional `subject`, and
how to read the label CSV: `pulse_column` (default "pulse"), optional `hr_column`, and either
`time_column` (seconds) or `fs` (sampling rate, Hz). Empty cells take the defaults.
"""

from __future__ import annotations

import csv
import functools
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


@register_dataset("manifest")
def manifest(path: Path) -> list[Recording]:
    if path.is_dir():
        path = path / "manifest.csv"
    if not path.is_file():
        raise DatasetError(
            f"{path} is not a file; a manifest is a CSV with columns video, labels and optionally "
            "subject, pulse_column, hr_column, time_column, fs"
        )
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    missing = {"video", "labels"} - set(rows[0] if rows else {})
    if missing:
        raise DatasetError(f"{path}: the manifest needs the columns video and labels")
    recordings = []
    for i, row in enumerate(rows, start=2):  # line numbers as an editor shows them
        video = path.parent / row["video"]
        get = functools.partial(_cell, row)
        fs = get("fs")
        time_column = get("time_column")
        if fs is None and time_column is None:
            raise DatasetError(f"{path} line {i}: give fs or time_column for {row['labels']}")
        recordings.append(
            Recording(
                dataset="manifest",
                id=get("id") or Path(row["video"]).with_suffix("").as_posix(),
                subject=get("subject") or video.stem,
                video=video,
                read_reference=functools.partial(
                    csv_reference,
                    path.parent / row["labels"],
                    get("pulse_column") or "pulse",
                    time_column,
                    float(fs) if fs else None,
                    get("hr_column"),
                ),
            )
        )
    return recordings


def _cell(row: dict[str, str | None], key: str) -> str | None:
    value = (row.get(key) or "").strip()
    return value or None


def csv_reference(
    path: Path,
    pulse_column: str,
    time_column: str | None,
    fs: float | None,
    hr_column: str | None = None,
) -> Reference:
    """A reference from a label CSV with named columns."""
    if not path.exists():
        raise DatasetError(f"{path} is missing")
    columns = read_csv_columns(path)
    wanted = [c for c in (pulse_column, time_column, hr_column) if c]
    absent = [c for c in wanted if c not in columns]
    if absent:
        raise DatasetError(f"{path}: no column {', '.join(absent)}; it has {', '.join(columns)}")
    pulse = columns[pulse_column]
    times = columns[time_column] if time_column else np.arange(len(pulse)) / fs
    return Reference(path, times - times[0], pulse, columns[hr_column] if hr_column else None)


@register_dataset("synthetic")
def synthetic(root: Path) -> list[Recording]:
    """Folders written by `rppgkit synth` (video.mkv, ground_truth.csv, meta.json), at `root` or
    one or two levels below it. A video's subject is its folder's name (the seed), its group the
    folder above it (e.g. the condition), its id the path below `root`."""
    recordings = []
    metas = [root / "meta.json"]
    if not metas[0].exists():
        metas = [*root.glob("*/meta.json"), *root.glob("*/*/meta.json")]
    for meta in sorted(metas, key=lambda p: [natural_key(Path(d)) for d in p.parts]):
        folder = meta.parent
        rel = folder.relative_to(root)
        recordings.append(
            Recording(
                dataset="synthetic",
                id=rel.as_posix() if rel.parts else folder.name,
                subject=folder.name,
                video=folder / "video.mkv",
                read_reference=functools.partial(
                    csv_reference, folder / "ground_truth.csv", "pulse", "time_s", None, "hr_bpm"
                ),
                group=rel.parent.as_posix() if len(rel.parts) > 1 else "",
                skin_masks=masks if (masks := folder / "skin_masks.npz").exists() else None,
            )
        )
    return recordings
