"""From video and face track to network inputs: face crops on a uniform clock, their
normalisations, and a memory-mapped cache of a whole dataset cut into overlapping chunks."""

from rppgkit.clip.crop import ClipSpec, crop_faces, uniform_grid
from rppgkit.clip.normalize import NORMALIZATIONS, normalize_frames, normalize_label

__all__ = [
    "NORMALIZATIONS",
    "ClipSpec",
    "crop_faces",
    "normalize_frames",
    "normalize_label",
    "uniform_grid",
]
