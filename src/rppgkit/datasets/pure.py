"""PURE: per-recording folders of PNG frames and a JSON file of timestamped measurements."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from rppgkit.datasets.base import DatasetError, Recording, Reference, register_dataset
from rppgkit.video.reader import natural_key


@register_dataset("pure")
def pure(root: Path) -> list[Recording]:
    """`XX-YY/XX-YY.json` beside `XX-YY/XX-YY/Image<ns>.png`; subject = XX."""
    recordings = []
    for meta in sorted(root.glob("*/*.json"), key=natural_key):
        frames = meta.with_suffix("")
        if meta.stem != meta.parent.name or not frames.is_dir():
            continue
        recordings.append(
            Recording(
                dataset="pure",
                id=meta.stem,
                subject=meta.stem.split("-")[0],
                video=frames,
                read_reference=functools.partial(_pure_reference, meta),
            )
        )
    return recordings


def _pure_reference(path: Path) -> Reference:
    """Pulse oximeter samples placed on the frames' clock by their own timestamps (ns)."""
    try:
        data = json.loads(path.read_text())
        images = np.array([e["Timestamp"] for e in data["/Image"]], dtype=np.int64)
        samples = data["/FullPackage"]
        stamps = np.array([s["Timestamp"] for s in samples], dtype=np.int64)
        pulse = np.array([s["Value"]["waveform"] for s in samples], dtype=float)
        hr = np.array([s["Value"]["pulseRate"] for s in samples], dtype=float)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{path}: not PURE's JSON layout (/FullPackage with Timestamp and Value.waveform, "
            f"/Image with Timestamp): {exc}"
        ) from None
    if not len(images) or not len(stamps):
        raise DatasetError(f"{path}: no image or pulse-oximeter timestamps")
    return Reference(path, (stamps - images.min()) / 1e9, pulse, hr)
