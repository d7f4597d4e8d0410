"""Privacy-Phys (seed 004): rewrite the pulse hidden in a face video, and check the result."""

from rppgkit.privacy.edit import Edited, EditSettings, anonymize_video
from rppgkit.privacy.report import EditReport, edit_report, independent_readers, likeness
from rppgkit.privacy.target import Target, random_target, target_from_csv, target_from_hr

__all__ = [
    "EditReport",
    "EditSettings",
    "Edited",
    "Target",
    "anonymize_video",
    "edit_report",
    "independent_readers",
    "likeness",
    "random_target",
    "target_from_csv",
    "target_from_hr",
]
