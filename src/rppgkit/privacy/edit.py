"""Privacy-Phys (Sun and Li, IEEE SPL 2022): rewrite the pulse a face video carries.

The video itself is optimised, never the network: a frozen rPPG network G reads the edited clip
x, and x minimises ``NegPearson(G(x), y) + lambda * ||x - z||^2 / (T*C*H*W)`` against the target
pulse y, starting from the original z, with only skin pixels free to change. One term is added
to the paper's loss (`EditSettings.rhythm`; 0 gives the paper's): the share of the edit's mean
skin colour change, per face region, that neither the target nor the original pulse explains
(`off_pulse`). Without it an edit can reach the network's target through other rhythms, which
readers that average skin colour (POS, CHROM) then report.

How it runs, in three bounded-memory passes over the video:
1. track the face as for measurement and keep, per frame, the network's face crop, how much of
   each crop pixel is skin, and the full-frame skin mask (bit-packed, on disk);
2. optimise the edit window by window with Adam: windows of the network's clip length,
   half-overlapping, where the half an earlier window already edited is fixed context and only
   the new frames change, so the edit runs on without a seam;
3. decode again and add the edit to each frame's skin pixels; every other pixel is copied as is,
   and the result is written losslessly with the original audio.

The edit is parameterised at the network's crop resolution: one value per crop pixel and
channel, spread over the skin pixels that crop pixel averages. The network sees pixels only
through those averages, so spreading the change evenly is also what keeps ``||x - z||^2``
smallest for the same effect on G; it makes a step cost one small forward/backward pass instead
of an update of every full-resolution pixel.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from rppgkit.checks import COUNT, WEIGHT, Range, check_fields
from rppgkit.clip.crop import nearest_index, square_bounds, square_crop
from rppgkit.clip.normalize import normalize_frames, normalize_label
from rppgkit.dsp import uniform_grid, window_starts
from rppgkit.errors import NoFaceError, RppgError, TooShortError
from rppgkit.fileio import check_distinct, prepared_output, record_files
from rppgkit.models.inference import Network, load_network
from rppgkit.models.losses import neg_pearson
from rppgkit.models.method import METHODS
from rppgkit.privacy.target import Target
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import FileVideo, FrameFolder, open_video
from rppgkit.video.writer import VideoWriter


@dataclass(frozen=True)
class EditSettings:
    """How hard the editor works; the defaults are the paper's lambda with Adam."""

    lam: float = 0.1  # weight of the mean squared change, in 8-bit grey levels squared
    steps: int = 100  # Adam iterations per window
    lr: float = 1.0  # Adam step, grey levels
    max_change: float = 24.0  # no pixel moves further than this many grey levels
    rhythm: float = 1.0  # weight of colour changes that neither pulse explains; 0: the paper

    def __post_init__(self) -> None:
        check_fields(self, _EDIT_LIMITS)


# EditSettings field -> (CLI option, accepted values)
_EDIT_LIMITS = {
    "lam": ("--lambda", WEIGHT),
    "steps": ("--steps", COUNT),
    "lr": ("--lr", Range(0, above=True)),
    "max_change": ("max_change", Range(0, 255, above=True)),
    "rhythm": ("--rhythm", WEIGHT),
}


@dataclass(frozen=True)
class Edited:
    """What `anonymize_video` wrote and how the optimisation ended."""

    path: Path
    frames: int
    windows: int
    fs: float
    estimator: str
    target: Target
    final_pearson: float  # mean over windows of the network's correlation with the target
    seconds: float


@dataclass
class _Faces:
    """Pass 1's per-frame record, in memory maps of unnamed temporary files."""

    crops: np.ndarray  # [N, S, S, 3] uint8: the network's face crop of the original
    cover: np.ndarray  # [N, S, S] float32: skin share of each crop pixel
    masks: np.ndarray  # [N, ceil(H*W/8)] uint8: bit-packed full-frame skin mask
    boxes: np.ndarray  # [N, 4] face box (NaN without a face)
    times: np.ndarray  # [N] s
    shape: tuple[int, int]  # frame height, width


def anonymize_video(
    video: str | os.PathLike,
    out: str | os.PathLike,
    target: Callable[[float], Target],
    weights: str | os.PathLike,
    settings: EditSettings | None = None,
    detector: str = "yunet",
    fps: float | None = None,
    on_window: Callable[[int, int], None] | None = None,
) -> Edited:
    """Write `video` to `out` (.mkv, lossless) carrying the pulse `target(duration_s)` instead of
    its own, as read by the frozen network in `weights`; `on_window(i, n)` reports progress.

    `out` must not be `video`; its folder is created if missing (and removed again if the run
    fails) and must be writable, both checked before any work. The face crops and skin masks
    live in unnamed temporary files, so no face is left behind however the run ends, even when
    it is killed.
    """
    start = time.perf_counter()
    settings = settings or EditSettings()
    target_path = Path(out)
    if target_path.suffix.lower() != ".mkv":
        raise RppgError(f"{target_path}: write the edited video as .mkv (lossless FFV1)")
    check_distinct(target_path, video)
    with prepared_output(target_path):
        net = load_network(weights)
        if not METHODS.get(net.name).pulse:
            readers = [name for name, m in METHODS.items() if m.pulse]
            raise RppgError(
                f"{weights} holds {net.name!r}, which reads no pulse; edit through one of "
                f"{', '.join(readers)}"
            )
        faces = _track(open_video(video, fps=fps), net, detector)
        duration = float(faces.times[-1] - faces.times[0])
        grid = uniform_grid(faces.times, net.spec.fs)
        if len(grid) < net.spec.frames:
            raise TooShortError(
                f"{video} lasts {duration:.1f} s; the {net.name} network needs at least "
                f"{net.spec.frames / net.spec.fs:.1f} s to edit"
            )
        wanted = target(duration)
        y = wanted.pulse(grid - grid[0])
        frame_of = nearest_index(faces.times, grid)
        edit, pearson, windows = _optimise(net, faces, frame_of, y, settings, on_window)
        _write(open_video(video, fps=fps), faces, edit, net.spec.face_scale, target_path)
    return Edited(
        target_path,
        len(faces.times),
        windows,
        net.spec.fs,
        net.name,
        wanted,
        pearson,
        time.perf_counter() - start,
    )


def _track(source: FileVideo | FrameFolder, net: Network, detector: str) -> _Faces:
    """Pass 1: the face crops, skin cover and skin masks of every frame, streamed into unnamed
    temporary files (deleted on open: nothing is left if the process is killed)."""
    size, scale = net.spec.size, net.spec.face_scale
    h, w = source.info.height, source.info.width
    layout = {
        "crops": ((size, size, 3), np.uint8),
        "cover": ((size, size), np.float32),
        "masks": (((h * w + 7) // 8,), np.uint8),
    }

    def keep(rgb: np.ndarray, box: np.ndarray | None, skin: np.ndarray | None) -> None:
        if box is None or skin is None:
            files.append_blank()
            return
        files.append("crops", square_crop(rgb, box, size, scale))
        cut = square_crop(skin.view(np.uint8) * np.uint8(255), box, size, scale)
        files.append("cover", cut.astype(np.float32) / 255.0)
        files.append("masks", np.packbits(skin.ravel()))

    with record_files(layout) as files:
        trace = extract_trace(source, detector, on_face=keep)
        if trace.face_fraction == 0:
            raise NoFaceError(f"no face found in {source.path}; there is no pulse to edit")
        arrays = files.arrays()
    return _Faces(**arrays, boxes=trace.boxes.astype(np.float64), times=trace.times, shape=(h, w))


def _optimise(
    net: Network,
    faces: _Faces,
    frame_of: np.ndarray,
    target: np.ndarray,
    settings: EditSettings,
    on_window: Callable[[int, int], None] | None,
) -> tuple[np.ndarray, float, int]:
    """Pass 2: the edit ``[N, S, S, 3]`` (grey levels at crop resolution) of every frame."""
    editor = _WindowEditor(net, faces, settings)
    length = net.spec.frames
    edit = np.zeros((len(faces.times), net.spec.size, net.spec.size, 3), np.float32)
    settled = np.zeros(len(faces.times), bool)  # edited by an earlier window: context, fixed
    starts = window_starts(len(frame_of), length)
    scores = []
    for i, s in enumerate(starts):
        frames, inverse = np.unique(frame_of[s : s + length], return_inverse=True)
        edit[frames], score = editor.edit(
            frames, inverse, target[s : s + length], edit[frames], settled[frames]
        )
        settled[frames] = True
        scores.append(score)
        if on_window is not None:
            on_window(i, len(starts))
    return edit, float(np.mean(scores)), len(starts)


class _WindowEditor:
    """Optimises the edit of one clip window at a time against a frozen copy of the network."""

    def __init__(self, net: Network, faces: _Faces, settings: EditSettings) -> None:
        self.spec, self.faces, self.settings = net.spec, faces, settings
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.task = net.copy().task.to(self.device)  # gradient flags change: not the shared one
        self.task.requires_grad_(False)
        # full-resolution pixels each crop pixel stands for: the squared change counts this often
        sides = np.array(
            [
                square_bounds(b, self.spec.face_scale)[2] if np.isfinite(b[0]) else 0
                for b in faces.boxes
            ]
        )
        self.weight = ((sides / self.spec.size) ** 2).astype(np.float32)
        self.frame_values = float(faces.shape[0] * faces.shape[1] * 3)  # H*W*C

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def edit(
        self,
        frames: np.ndarray,
        inverse: np.ndarray,
        wanted: np.ndarray,
        start: np.ndarray,
        fixed: np.ndarray,
    ) -> tuple[np.ndarray, float]:
        """The edit of ``frames`` (distinct frames; ``inverse`` maps clip frames to them) that
        makes the network read ``wanted``, from ``start``; ``fixed`` frames keep theirs.

        Returns the edit ``[len(frames), S, S, 3]`` and the network's Pearson r with ``wanted``.
        """
        spec, settings, faces = self.spec, self.settings, self.faces
        idx, still = self._tensor(inverse), self._tensor(fixed)
        pixels = self._tensor(self.weight[frames])[:, None, None, None]
        crops = self._tensor(faces.crops[frames].astype(np.float32))[idx]  # per clip frame
        cover = self._tensor(faces.cover[frames])[..., None]
        y = self._tensor(normalize_label(wanted, spec.norm))[None]
        delta = torch.tensor(start, requires_grad=True, device=self.device)
        opt = torch.optim.Adam([delta], lr=settings.lr)
        with torch.no_grad():  # the pulse the network reads in the original: to cancel
            seen = self.task.predict(normalize_frames(crops, spec.norm).permute(3, 0, 1, 2)[None])
        basis = pulse_basis(self._tensor(wanted.astype(np.float32)), seen[0])
        for _ in range(settings.steps):
            change = delta.clamp(-settings.max_change, settings.max_change) * cover
            per_frame = change[idx]
            clip = (crops + per_frame).clamp(0, 255)
            pulse = self.task.predict(normalize_frames(clip, spec.norm).permute(3, 0, 1, 2)[None])
            # squared change over the whole frames of this window, as the paper's mean
            mse = (change**2 * pixels).sum() / (len(frames) * self.frame_values)
            loss = neg_pearson(pulse, y) + settings.lam * mse
            if settings.rhythm:
                loss = loss + settings.rhythm * off_pulse(per_frame, cover[idx], basis)
            opt.zero_grad()
            loss.backward()
            delta.grad[still] = 0  # Adam leaves entries that never had a gradient where they are
            opt.step()
        done = delta.detach().clamp(-settings.max_change, settings.max_change).cpu().numpy()
        return done, 1.0 - float(neg_pearson(pulse.detach(), y))


PATCHES = 4  # the crop is split into PATCHES x PATCHES regions for `off_pulse`


def pulse_basis(*pulses: torch.Tensor) -> torch.Tensor:
    """Orthonormal ``[T, 2k]`` basis of the given pulses and their derivatives: every waveform
    that is a mix of them at any phase (a narrow-band pulse's derivative is its quadrature)."""
    columns = []
    for p in pulses:
        for c in (p, torch.gradient(p)[0]):
            c = c - c.mean()
            columns.append(c / c.norm().clamp_min(1e-12))
    return torch.linalg.qr(torch.stack(columns, dim=1))[0]


def off_pulse(change: torch.Tensor, cover: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Share of the edit's mean skin colour change, per channel and per region of the crop, that
    no waveform of `basis` explains: 0 when the mean colour moves only with those pulses.

    The network alone does not care how a change is spread over time, and an edit that reaches
    its target through other rhythms (seen: 2 Hz in green for a 50 bpm target) moves the mean
    skin colour that the classic readers average at those rhythms too, so they read them. The
    editor's basis holds the target pulse and the original pulse (which the edit must cancel).
    `change` is ``[T, S, S, 3]`` grey levels, `cover` ``[T, S, S, 1]`` skin shares.
    """
    pool = torch.nn.functional.adaptive_avg_pool2d
    skin = pool(cover.permute(0, 3, 1, 2), PATCHES)  # [T, 1, P, P]
    mean = pool((change * cover).permute(0, 3, 1, 2), PATCHES) / skin.clamp_min(1e-6)
    mean = (mean - mean.mean(dim=0)) * skin.mean(dim=0).sqrt()  # regions weigh by their skin
    mean = mean.flatten(1)
    rest = mean - basis @ (basis.T @ mean)
    return (rest**2).sum() / (mean**2).sum().clamp_min(1e-12)


def _write(
    source: FileVideo | FrameFolder, faces: _Faces, edit: np.ndarray, face_scale: float, out: Path
) -> None:
    """Pass 3: each frame with its edit on the skin pixels, losslessly, with the audio."""
    audio = source.path if isinstance(source, FileVideo) else None
    with VideoWriter(out, source.info.fps, audio_from=audio) as writer:
        for frame in source.frames():
            i, rgb = frame.index, frame.rgb
            if i < len(faces.times) and np.isfinite(faces.boxes[i, 0]) and edit[i].any():
                rgb = _apply(rgb, faces.boxes[i], faces.masks[i], edit[i], face_scale)
            writer.write(rgb, frame.time_s)


def _apply(
    rgb: np.ndarray, box: np.ndarray, packed: np.ndarray, edit: np.ndarray, face_scale: float
) -> np.ndarray:
    """One frame with a crop-resolution edit spread over its skin pixels, rounded to 8 bits."""
    h, w = rgb.shape[:2]
    x0, y0, side = square_bounds(box, face_scale)
    full = cv2.resize(edit, (side, side), interpolation=cv2.INTER_LINEAR)
    skin = np.unpackbits(packed, count=h * w).reshape(h, w).astype(bool)
    a0, b0 = max(x0, 0), max(y0, 0)
    a1, b1 = min(x0 + side, w), min(y0 + side, h)
    if a1 <= a0 or b1 <= b0:
        return rgb
    region = rgb[b0:b1, a0:a1].astype(np.float32) + full[b0 - y0 : b1 - y0, a0 - x0 : a1 - x0]
    changed = np.clip(np.round(region), 0, 255).astype(np.uint8)
    out = rgb.copy()
    inside = skin[b0:b1, a0:a1]
    out[b0:b1, a0:a1][inside] = changed[inside]
    return out
