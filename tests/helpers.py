"""Helpers several test modules share: BioSemi BDF files as the datasets record them, and
evaluation results with chosen window HRs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyedflib

from rppgkit.evaluate import Result, WindowResults

SYSTEM_BIT = 1 << 20  # BioSemi keeps system bits set above the 16 trigger bits


def write_bdf(path: Path, channels: dict[str, np.ndarray], fs: int) -> None:
    """Write `channels` (label -> samples at `fs`, "Status" as trigger codes) as a BioSemi BDF
    with the 24-bit ranges and units the real recordings carry."""
    headers = []
    for label in channels:
        trig = label == "Status"
        headers.append(
            {
                "label": label,
                "dimension": "Boolean" if trig else "uV",
                "sample_frequency": fs,
                "physical_min": -8388608 if trig else -262144,
                "physical_max": 8388607 if trig else 262143,
                "digital_min": -8388608,
                "digital_max": 8388607,
                "transducer": "Triggers and Status" if trig else "Active Electrode",
                "prefilter": "No filtering" if trig else "HP: DC; LP: 52 Hz",
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = pyedflib.EdfWriter(str(path), len(channels), file_type=pyedflib.FILETYPE_BDF)
    writer.setSignalHeaders(headers)
    writer.writeSamples([np.asarray(x, float) for x in channels.values()])
    writer.close()


def window_result(recording: str, hr: list[float | None], group: str = "") -> Result:
    """An evaluation result whose windows (1 s apart, from 0 s) read `hr` against 70 bpm."""
    n = len(hr)
    starts = tuple(float(i) for i in range(n))
    ends = tuple(t + 10 for t in starts)
    windows = WindowResults(starts, ends, tuple(hr), (1.0,) * n, (1.0,) * n, (70.0,) * n)
    return Result(recording, "s0", group, "v.mkv", {}, 70.0, 70.0, 1.0, 1.0, windows)
