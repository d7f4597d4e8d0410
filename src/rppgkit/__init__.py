"""rppgkit: pulse, heart rate and heart-rate variability from face video.

The public API is imported lazily, so `import rppgkit` (and the CLI's start-up) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_API = {
    "measure": "rppgkit.pipeline",
    "analyse": "rppgkit.pipeline",
    "Measurement": "rppgkit.pipeline",
    "Options": "rppgkit.pipeline",
    "write_report": "rppgkit.report",
    "open_video": "rppgkit.video.reader",
    "extract_trace": "rppgkit.trace.extract",
    "LiveReading": "rppgkit.live",  # live() itself: rppgkit.live.live (the name is its module's)
    "SynthConfig": "rppgkit.synth",
    "synthesize": "rppgkit.synth",
    "write_synth": "rppgkit.synth",
    "RppgError": "rppgkit.errors",
}
__all__ = [  # noqa: RUF022  (same order as _API)
    "measure",
    "analyse",
    "Measurement",
    "Options",
    "write_report",
    "open_video",
    "extract_trace",
    "LiveReading",
    "SynthConfig",
    "synthesize",
    "write_synth",
    "RppgError",
]

if TYPE_CHECKING:
    from rppgkit.errors import RppgError
    from rppgkit.live import LiveReading
    from rppgkit.pipeline import Measurement, Options, analyse, measure
    from rppgkit.report import write_report
    from rppgkit.synth import SynthConfig, synthesize, write_synth
    from rppgkit.trace.extract import extract_trace
    from rppgkit.video.reader import open_video


def __getattr__(name: str) -> object:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'rppgkit' has no attribute {name!r}")
