"""From video and face track to network inputs: face crops on a uniform clock, their
normalisations, and a memory-mapped cache of a whole dataset cut into overlapping chunks."""

from rppgkit.clip.crop import ClipSpec, FrameCrops, crop_recorder, recut_crops, uniform_grid
from rppgkit.clip.normalize import NORMALIZATIONS, normalize_frames, normalize_label

__all__ = [
    "NORMALIZATIONS",
    "ClipSpec",
    "FrameCrops",
    "crop_recorder",
    "normalize_frames",
    "normalize_label",
    "recut_crops",
    "uniform_grid",
]
