"""Any folder of face videos, without ground truth: for training methods that need no labels
(self-supervised ones) on a user's own recordings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rppgkit.datasets.base import DatasetError, Recording, register_dataset
from rppgkit.video.reader import IMAGE_SUFFIXES, VIDEO_SUFFIXES, natural_key


@register_dataset("videos")
def videos(root: Path) -> list[Recording]:
    """Any folder of face videos (files or frame folders, searched recursively), with no labels.

    A folder's video files are recordings (images beside them are not frames); a folder of
    images and no video file is one recording, its images the frames. Hidden files and folders
    are passed over. A recording's id is its path below `root`, its subject the first folder of
    that path, or the id itself for a video directly in `root`.
    """
    found = [root] if not root.is_dir() else sorted(_videos_in(root), key=_natural_path)
    recordings = []
    for video in found:
        rel = video.relative_to(root) if video != root else Path(video.name)
        recordings.append(
            Recording(
                dataset="videos",
                id=rel.as_posix(),
                subject=rel.parts[0] if len(rel.parts) > 1 else rel.as_posix(),
                video=video,
            )
        )
    return recordings


def _videos_in(folder: Path, above: tuple[Path, ...] = ()) -> Iterator[Path]:
    """The video files and frame folders at or below `folder` (itself, if it is one); `above`
    holds the real paths of the folders on the way here, so a link back up is not followed."""
    above = (*above, folder.resolve())
    try:
        entries = [e for e in folder.iterdir() if not e.name.startswith(".")]
    except OSError as exc:
        raise DatasetError(
            f"{folder}: cannot list it ({exc.strerror}); make it readable or move it out"
        ) from None
    files = [e for e in entries if e.is_file()]
    movies = [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    if movies:
        yield from movies
    elif sum(f.suffix.lower() in IMAGE_SUFFIXES for f in files) > 1:
        yield folder
        return  # a frame folder's subfolders are not searched
    for sub in entries:
        if sub.is_dir() and sub.resolve() not in above:
            yield from _videos_in(sub, above)


def _natural_path(path: Path) -> list[list[object]]:
    """Sort key: folder by folder in natural order (s2 before s10)."""
    return [natural_key(Path(part)) for part in path.parts]
