"""One method's result on one recording, as `results/<method>/<recording>.json` stores it.

The file is the record's `as_dict()`: the recording's names, every setting the result was made
with (flattened in, so a later run can tell whether it may reuse the file), the whole-video HR
against the reference, and the window columns. Users and scripts read these files, so the keys
and their order stay as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

_NAMES = ("recording", "subject", "group", "video")
_FIGURES = ("hr_bpm", "ref_hr_bpm", "snr_db", "face_fraction")


@dataclass(frozen=True)
class WindowResults:
    """The heart-rate windows of one result, column by column (None: no HR there)."""

    start_s: tuple[float, ...]  # [W] s from the first sample
    end_s: tuple[float, ...]  # [W]
    hr_bpm: tuple[float | None, ...]  # [W] the method's HR
    snr_db: tuple[float | None, ...]  # [W]
    quality: tuple[float | None, ...]  # [W] quality index 0-1
    ref_hr_bpm: tuple[float | None, ...]  # [W] the reference's HR


@dataclass(frozen=True)
class Result:
    """One method on one recording: HR against the reference, for the video and per window."""

    recording: str
    subject: str
    group: str  # condition, e.g. a compression level ("" when the dataset has none)
    video: str
    settings: Mapping[str, object]  # options, reference source, face path: as read back
    hr_bpm: float | None
    ref_hr_bpm: float | None
    snr_db: float | None
    face_fraction: float
    windows: WindowResults

    def as_dict(self) -> dict[str, object]:
        """The JSON object of the result's file.

        Returns
        -------
        dict[str, object]
            The names, then the settings, then the figures and the window columns.
        """
        return {
            **{key: getattr(self, key) for key in _NAMES},
            **self.settings,
            **{key: getattr(self, key) for key in _FIGURES},
            "windows": dataclasses.asdict(self.windows),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Result:
        """The result a file holds (`as_dict` read back).

        Parameters
        ----------
        data : Mapping[str, object]
            The file's JSON object; every key that is no name, figure or window column is a
            setting.

        Returns
        -------
        Result
            The record, with the window columns as tuples.
        """
        known = {*_NAMES, *_FIGURES, "windows"}
        columns: Mapping[str, list] = data["windows"]  # type: ignore[assignment]
        return cls(
            **{key: data[key] for key in (*_NAMES, *_FIGURES)},  # type: ignore[arg-type]
            settings={k: v for k, v in data.items() if k not in known},
            windows=WindowResults(**{k: tuple(v) for k, v in columns.items()}),
        )
