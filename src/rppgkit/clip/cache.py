"""A dataset cut into face clips once, cached on disk as memory-mapped arrays.

Each recording becomes a folder `<cache>/<key>/` holding `frames.npy` (uint8 crops
[M, size, size, 3] on a uniform clock), `skin.npy` (the skin mask of each crop, 0/1 uint8
[M, size, size]: the exact masks of synthetic videos, else the project's skin segmenter),
`label.npy` (the filtered reference pulse on the same clock), `valid.npy` (a face and a
reference at that sample) and `meta.json` (with `labelled`: whether there is a label).
A recording without a reference (dataset "videos") has no `label.npy`, and its `valid.npy` marks
only where there is a face: reading its label is an error, never a silent zero or NaN pulse.
The key covers the recording, its video file (path, size, time) and the crop settings, so
changing either recomputes it, while the clip length, overlap and normalisation are applied at
load time and can change freely (after editing a label file, delete the cache).
Recordings are processed in parallel worker processes; each streams its video and writes
through a memory map, so memory stays bounded whatever the dataset's size.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgkit.clip.crop import (
    ClipSpec,
    clip_crop,
    filled_boxes,
    nearest_index,
    open_memmap,
    uniform_grid,
)
from rppgkit.datasets import DatasetError, Recording
from rppgkit.errors import RppgError
from rppgkit.fileio import content_key, ensure_dir, record_files
from rppgkit.parallel import process_pool
from rppgkit.trace.extract import FACE_PATH_VERSION, Roi, Trace, extract_trace
from rppgkit.video.reader import FileVideo, FrameFolder, open_video

LABEL_BAND_HZ = (0.5, 4.0)  # keeps harmonics of the pulse shape, drops drift
CACHE_FORMAT = 3  # part of every key: a cache written by an older layout is rebuilt


@dataclass(frozen=True)
class CachedRecording:
    """One preprocessed recording: lazily memory-mapped arrays on the clip clock."""

    id: str
    subject: str
    group: str
    folder: Path
    length: int  # samples M
    fs: float
    labelled: bool = True  # whether it has a reference pulse (a label)

    def frames(self) -> np.ndarray:
        return np.load(self.folder / "frames.npy", mmap_mode="r")

    def skin(self) -> np.ndarray:
        return np.load(self.folder / "skin.npy", mmap_mode="r")

    def label(self) -> np.ndarray:
        """The reference pulse on the clip clock; DatasetError for a recording without one."""
        if not self.labelled:
            raise DatasetError(
                f"{self.id} has no reference pulse, so no label; train on it with a task that "
                "learns from unlabelled clips"
            )
        return np.load(self.folder / "label.npy", mmap_mode="r")

    def valid(self) -> np.ndarray:
        return np.load(self.folder / "valid.npy")


def prepare(
    recordings: Iterable[Recording],
    spec: ClipSpec,
    cache_dir: str | os.PathLike,
    workers: int = 1,
    detector: str = "yunet",
    on_done: Callable[[str, str | None], None] | None = None,
    roi: Roi = "face",
) -> tuple[list[CachedRecording], dict[str, str]]:
    """Cut every recording into face crops (whole frames with roi "frame"), reusing cached
    ones; returns the prepared ones, in input order, and why the others were skipped."""
    recs = list(recordings)
    root = ensure_dir(cache_dir, "choose another cache folder (data.cache in the training config)")
    done: dict[str, CachedRecording] = {}
    skipped: dict[str, str] = {}

    def record(rec_id: str, result: CachedRecording | str) -> None:
        if isinstance(result, str):
            skipped[rec_id] = result
        else:
            done[rec_id] = result
        if on_done:
            on_done(rec_id, skipped.get(rec_id))

    if workers <= 1:
        for rec in recs:
            record(rec.id, prepare_one(rec, spec, root, detector, roi))
    else:
        with process_pool(workers) as pool:
            futures = {pool.submit(prepare_one, r, spec, root, detector, roi): r.id for r in recs}
            for future in as_completed(futures):
                record(futures[future], future.result())
    return [done[r.id] for r in recs if r.id in done], skipped


def prepare_one(
    rec: Recording, spec: ClipSpec, root: Path, detector: str = "yunet", roi: Roi = "face"
) -> CachedRecording | str:
    """The cached crops of one recording, made now if missing; a message if it is unusable."""
    folder = root / _key(rec, spec, detector, roi)
    try:
        if not (folder / "meta.json").exists():
            _write(rec, spec, folder, detector, roi)
        meta = json.loads((folder / "meta.json").read_text())
    except RppgError as exc:
        return str(exc)
    return CachedRecording(
        rec.id,
        rec.subject,
        rec.group,
        folder,
        meta["length"],
        meta["fs"],
        meta.get("labelled", True),  # caches written before unlabelled ones all had labels
    )


def _write(rec: Recording, spec: ClipSpec, folder: Path, detector: str, roi: Roi) -> None:
    """One decoding pass: the face track and each frame's face and skin crops, then both placed
    on the uniform clock with the label (if the recording has a reference) and `valid`."""
    ref = rec.reference() if rec.labelled else None
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        trace, per_frame = _crops(rec, spec, detector, roi, tmp)
        if ref is not None:
            ref.check(float(trace.times[-1] - trace.times[0]))
        grid = uniform_grid(trace.times, spec.fs)
        frame_of = nearest_index(trace.times, grid)
        for name, records in per_frame.items():
            _save_on_grid(tmp / f"{name}.npy", records, frame_of)
        del per_frame, records  # unmaps the scratch files, freeing their disk space
        _, have = filled_boxes(trace)
        valid = have[frame_of]
        if ref is not None:
            label = ref.on_clock(grid, LABEL_BAND_HZ)
            np.save(tmp / "label.npy", np.nan_to_num(label).astype(np.float32))
            valid &= np.isfinite(label)
        np.save(tmp / "valid.npy", valid)
        meta = {
            "id": rec.id,
            "video": str(rec.video),
            "length": len(grid),
            "fs": spec.fs,
            "labelled": ref is not None,
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.replace(tmp, folder)
        except OSError:  # kept only if another process cut the same recording meanwhile
            if not (folder / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _crops(
    rec: Recording, spec: ClipSpec, detector: str, roi: Roi, scratch: Path
) -> tuple[Trace, dict[str, np.ndarray]]:
    """Track the face and cut each frame's crop ("frames") and skin-mask crop ("skin"),
    streamed to unnamed files in `scratch` and returned memory-mapped, one record per frame."""
    exact = _PackedMasks(rec.skin_masks) if rec.skin_masks is not None else None
    size, scale = spec.size, spec.face_scale
    layout = {"frames": ((size, size, 3), np.uint8), "skin": ((size, size), np.uint8)}
    with record_files(layout, beside=scratch) as files:

        def keep(rgb: np.ndarray, box: np.ndarray | None, skin: np.ndarray | None) -> None:
            mask = exact.next() if exact is not None else skin  # one mask per frame
            if box is None:
                files.append_blank()
                return
            files.append("frames", clip_crop(rgb, box, size, scale, roi))
            if mask is None:
                mask = np.zeros(rgb.shape[:2], bool)
            cut = clip_crop(mask.view(np.uint8) * np.uint8(255), box, size, scale, roi)
            files.append("skin", (cut > 127).astype(np.uint8))

        video = open_video(rec.video, fps=rec.fps)
        if rec.clean is None:
            trace = extract_trace(video, detector, on_face=keep, roi=roi)
        else:  # track the face on the original and cut this re-encoding at the same boxes
            clean = open_video(rec.clean, fps=rec.fps)
            trace = extract_trace(clean, detector, on_face=_paired(video, keep), roi=roi)
        return trace, files.arrays()


def _save_on_grid(path: Path, per_frame: np.ndarray, frame_of: np.ndarray) -> None:
    """Save the records of frames `frame_of` (one per grid sample) as a .npy file, a block of
    records at a time, so memory stays bounded."""
    out = open_memmap(path, (len(frame_of), *per_frame.shape[1:]), per_frame.dtype.str)
    for lo in range(0, len(frame_of), 1024):
        out[lo : lo + 1024] = per_frame[frame_of[lo : lo + 1024]]
    out.flush()
    del out


def _paired(
    video: FileVideo | FrameFolder,
    keep: Callable[[np.ndarray, np.ndarray | None, np.ndarray | None], None],
) -> Callable[[np.ndarray, np.ndarray | None, np.ndarray | None], None]:
    """An on_face callback that hands `keep` the matching frame of `video` instead."""
    frames = video.frames()

    def swap(rgb: np.ndarray, box: np.ndarray | None, skin: np.ndarray | None) -> None:
        other = next(frames, None)
        if other is None or other.rgb.shape != rgb.shape:
            raise RppgError(
                f"{video.path} does not match its original frame for frame; re-encode it"
            )
        keep(other.rgb, box, skin)

    return swap


class _PackedMasks:
    """The synthetic generator's bit-packed skin masks, unpacked one frame at a time."""

    def __init__(self, path: Path) -> None:
        with np.load(path) as data:
            self.packed, self.shape = data["packed"], tuple(int(n) for n in data["shape"])
        self.index = 0

    def next(self) -> np.ndarray:
        n, h, w = self.shape
        row = self.packed[min(self.index, n - 1)]
        self.index += 1
        return np.unpackbits(row, count=h * w).reshape(h, w).astype(bool)


def _key(rec: Recording, spec: ClipSpec, detector: str, roi: Roi) -> str:
    video = rec.video.resolve()
    stat = video.stat() if video.exists() else None
    parts = [
        CACHE_FORMAT,
        FACE_PATH_VERSION,
        rec.dataset,
        rec.id,
        str(rec.video.absolute()),
        str(video),
        stat.st_size if stat else None,
        stat.st_mtime_ns if stat else None,
        rec.fps,
        detector,
        spec.size,
        spec.face_scale,
        spec.fs,
    ]
    if rec.clean is not None:  # cut at the original's face track
        parts.append(str(rec.clean.resolve()))
    if roi != "face":  # whole frames; face caches keep their keys
        parts.append(roi)
    if not rec.labelled:  # labelled recordings keep their keys
        parts.append("unlabelled")
    return content_key(parts)


def chunk_starts(valid: np.ndarray, frames: int, step: int) -> list[int]:
    """Starts of the overlapping windows of `frames` samples, `step` apart, that are valid
    throughout."""
    bad = np.concatenate([[0], np.cumsum(~valid)])
    return [s for s in range(0, len(valid) - frames + 1, step) if bad[s + frames] - bad[s] == 0]
