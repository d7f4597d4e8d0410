"""`rppgkit adapt`: a transductive network adapted once to a person or a camera, saved.

`rppgkit measure` already adapts a copy of such a network (Meta-rPPG) to every video it reads.
Adapting to several videos of one person or camera and keeping the result gives a checkpoint
that starts each later measurement from there (`measure --weights person.pt`). The videos need
no reference pulse. The faces are tracked and cropped exactly as `measure` crops them, and the
windows are those inference reads.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rppgkit.clip import ClipSpec
from rppgkit.clip.crop import crop_recorder
from rppgkit.dsp import uniform_grid
from rppgkit.errors import NoFaceError, RppgError, TooShortError
from rppgkit.face.detect import check_detector
from rppgkit.fileio import check_distinct, prepared_output, scratch_array
from rppgkit.models.checkpoint import PARTS, load_checkpoint, save_checkpoint
from rppgkit.models.inference import load_network, window_clips
from rppgkit.models.task import Task
from rppgkit.trace.extract import Roi, check_roi, extract_trace
from rppgkit.video.reader import FileVideo, FrameFolder, open_video


@dataclass(frozen=True)
class Adapted:
    """What `adapt_checkpoint` wrote: the checkpoint, the method, how many videos it adapted
    to, and the seconds the adaptation itself took (after the faces were cropped)."""

    path: Path
    method: str
    videos: int
    seconds: float


def adapt_checkpoint(
    weights: str | os.PathLike,
    videos: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    method: str | None = None,
    detector: str = "yunet",
    fps: float | None = None,
    roi: Roi = "face",
    on_video: Callable[[Path], None] | None = None,
) -> Adapted:
    """Adapt the transductive network in `weights` to the unlabelled `videos`; save it to `out`.

    Parameters
    ----------
    weights
        A checkpoint of a method whose task adapts (``meta-rppg``).
    videos
        Video files or frame folders of the person or camera; all are checked to open before
        any work. The task reads batches of their windows from each video in turn (Meta-rPPG
        takes its ``adapt_steps`` batches, so it sees the first windows of every video).
    out
        The adapted checkpoint (.pt): the same description and clip format, the adapted
        weights, and the videos it adapted to under ``adapted_to``; written atomically.
    method
        The method the checkpoint must hold (None: any that adapts).
    detector, fps, roi
        As for `rppgkit measure`.
    on_video
        Called with each video once its faces are cropped.

    Returns
    -------
    `Adapted`; RppgError for a network that does not adapt, a video that does not open, shows
    no face or is shorter than one window of the network, or an unusable `out`.
    """
    target = Path(out)
    if target.suffix != ".pt":
        raise RppgError(f"{target}: name the adapted checkpoint with the .pt suffix")
    check_distinct(target, weights)
    check_detector(detector)
    check_roi(roi)
    net = load_network(weights, expect=method)
    if type(net.task).adapt is Task.adapt:
        raise RppgError(
            f"{weights} holds a {net.name!r} network, which does not adapt to unlabelled video; "
            "give a checkpoint of a transductive method such as meta-rppg"
        )
    sources = [open_video(v, fps) for v in videos]  # a missing video fails before any work
    with prepared_output(target):
        crops = []
        for source in sources:
            crops.append(_crops(source, net.spec, detector, roi))
            if on_video is not None:
                on_video(source.info.path)
        start = time.perf_counter()
        adapted = net.task.adapt(_in_turn([window_clips(net.spec, c) for c in crops]))
        seconds = time.perf_counter() - start
        state = {k: v for k, v in load_checkpoint(weights).items() if k in (*PARTS, "extra")}
        state |= {
            "state_dict": adapted.network.state_dict(),  # inference runs on the CPU
            "extra": adapted.extra_state_dict(),
            "adapted_to": [str(Path(v)) for v in videos],
        }
        save_checkpoint(state, target)
    return Adapted(target, net.name, len(videos), seconds)


def _in_turn(streams: list[Iterator[torch.Tensor]]) -> Iterator[torch.Tensor]:
    """The first batch of every stream, then the second of each, and so on."""
    for batches in itertools.zip_longest(*streams):
        yield from (b for b in batches if b is not None)


def _crops(source: FileVideo | FrameFolder, spec: ClipSpec, detector: str, roi: Roi) -> np.ndarray:
    """The face crops of an opened video on the network's clock, in an unnamed temporary file."""
    with crop_recorder(spec.size, spec.face_scale, roi) as recorder:
        trace = extract_trace(source, detector, on_face=recorder, roi=roi)
        per_frame = recorder.crops()
    if trace.face_fraction == 0:
        raise NoFaceError(
            f"no face found in {source.info.path}; adapt to videos of a visible face (or use "
            "--roi frame for video already cropped to skin)"
        )
    grid = uniform_grid(trace.times, spec.fs)
    if len(grid) < spec.frames:  # it would add no window, yet be named in adapted_to
        raise TooShortError(
            f"{source.info.path} is {trace.times[-1] - trace.times[0]:.2f} s long, shorter than "
            f"one {spec.frames}-frame window of the network ({spec.frames / spec.fs:.2f} s); "
            "adapt to longer videos"
        )
    out = scratch_array((len(grid), spec.size, spec.size, 3), np.uint8)
    return per_frame.on_grid(trace.times, grid, out=out)
