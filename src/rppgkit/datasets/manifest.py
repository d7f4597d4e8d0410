"""Any other data: a manifest CSV listing videos and label files; and rppgkit's synthetic videos.

Manifest columns: `video`, `labels` (paths relative to the manifest), optional `id` (default:
the video's path without its extension) and `subject`, and how to read the label CSV:
`pulse_column` (default "pulse"), optional `hr_column`, and either `time_column` (seconds) or `fs`
(sampling rate, Hz). Empty cells take the defaults. The manifest and label files are UTF-8.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from rppgkit.datasets.base import (
    DatasetError,
    Recording,
    Reference,
    read_csv_columns,
    read_csv_rows,
    register_dataset,
)
from rppgkit.video.reader import natural_key

COLUMNS = "video, labels and optionally id, subject, pulse_column, hr_column, time_column, fs"


@register_dataset("manifest")
def manifest(path: Path) -> list[Recording]:
    """Any videos listed in a CSV with their label files (columns video, labels, fs or time)."""
    if path.is_dir():
        path = path / "manifest.csv"
    if not path.is_file():
        raise DatasetError(f"{path} is not a file; a manifest is a CSV with columns {COLUMNS}")
    return [_recording(path, line, row) for line, row in _rows(path)]


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The manifest's rows by column name, each with its line number as an editor shows it."""
    rows = read_csv_rows(path)
    if not rows:
        raise DatasetError(f"{path} is empty; a manifest is a CSV with columns {COLUMNS}")
    header = [h.strip() for h in rows[0]]
    if {"video", "labels"} - set(header):
        raise DatasetError(f"{path}: the manifest needs the columns video and labels")
    named = [(i, dict(zip(header, r))) for i, r in enumerate(rows[1:], start=2) if any(r)]
    if not named:
        raise DatasetError(f"{path} has a header but no rows; add a row for each video")
    return named


def _recording(path: Path, line: int, row: dict[str, str]) -> Recording:
    """The recording that one manifest row describes."""
    get = functools.partial(_cell, row)
    video, labels, time_column = get("video"), get("labels"), get("time_column")
    if video is None or labels is None:
        raise DatasetError(f"{path} line {line}: the video or labels cell is empty")
    if "\0" in video + labels:
        raise DatasetError(f"{path} line {line}: the video or labels path holds a NUL character")
    fs = _rate(path, line, get("fs"))
    if fs is None and time_column is None:
        raise DatasetError(f"{path} line {line}: give fs or time_column for {labels}")
    return Recording(
        dataset="manifest",
        id=get("id") or Path(video).with_suffix("").as_posix(),
        subject=get("subject") or Path(video).stem,
        video=path.parent / video,
        read_reference=functools.partial(
            csv_reference,
            path.parent / labels,
            get("pulse_column") or "pulse",
            time_column,
            fs,
            get("hr_column"),
        ),
    )


def _cell(row: dict[str, str], key: str) -> str | None:
    value = (row.get(key) or "").strip()
    return value or None


def _rate(path: Path, line: int, text: str | None) -> float | None:
    """The fs cell as a sampling rate; the cell is not quoted in the message."""
    if text is None:
        return None
    try:
        fs = float(text)
    except ValueError:
        fs = math.nan
    if not (math.isfinite(fs) and fs > 0):
        raise DatasetError(
            f"{path} line {line}, column fs: the labels' sampling rate must be a positive number "
            "of Hz"
        )
    return fs


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
    """Videos made by `rppgkit synth`, with their exact pulse and heart rate.

    Folders holding video.mkv, ground_truth.csv and meta.json, at `root` or one or two levels
    below it. A video's subject is its folder's name (the seed), its group the folder above it
    (e.g. the condition), its id the path below `root`.
    """
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
