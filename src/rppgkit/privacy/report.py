"""Does an edited video look the same, and what pulse do independent readers now find in it?

The report compares the edited file with its original frame by frame (PSNR, SSIM, the share of
pixels that changed) and reads the heart rate of both with estimators that took no part in the
edit -- the classic POS and CHROM, and a second network -- against the target. An edit is only
as good as what readers it never saw make of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity

from rppgkit.errors import RppgError
from rppgkit.fileio import write_text
from rppgkit.models.method import first_with, with_role
from rppgkit.models.zoo import shipped_weights
from rppgkit.pipeline import analyse
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import open_video

CLASSIC_READERS = ("pos", "chrom")  # training-free: no network of theirs saw the edit


def independent_readers(editor: str) -> tuple[str, ...]:
    """Readers that took no part in an edit through network `editor`: two classic methods and
    the first network registered as a ``reader`` (see `rppgkit.models.method`) of another
    architecture, trained separately."""
    networks = [m.name for m in with_role("reader") if m.name != editor.lower()]
    return (*CLASSIC_READERS, *networks[:1])


@dataclass(frozen=True)
class Reading:
    """The whole-video heart rate one estimator reads from the original and the edited file."""

    estimator: str
    original_bpm: float
    edited_bpm: float


@dataclass(frozen=True)
class Likeness:
    """How close the edited frames are to the original ones (all frames, all channels)."""

    frames: int
    psnr_db: float
    ssim: float
    changed: float  # share of pixel values that differ at all


@dataclass(frozen=True)
class EditReport:
    original: str
    edited: str
    target: str
    target_bpm: float
    likeness: Likeness
    readings: list[Reading] = field(default_factory=list)

    def markdown(self) -> str:
        lk = self.likeness
        lines = [
            f"# Pulse edit: {Path(self.edited).name}",
            "",
            f"- original: {self.original}",
            f"- target: {self.target}",
            f"- frames: {lk.frames}; PSNR {lk.psnr_db:.2f} dB; SSIM {lk.ssim:.5f}; "
            f"pixel values changed: {100 * lk.changed:.2f}%",
            "",
            "| estimator (not used to edit) | original (bpm) | edited (bpm) | edited - target |",
            "|---|---|---|---|",
        ]
        for r in self.readings:
            off = r.edited_bpm - self.target_bpm
            lines.append(
                f"| {r.estimator} | {r.original_bpm:.1f} | {r.edited_bpm:.1f} | "
                + ("-" if np.isnan(off) else f"{off:+.1f}")
                + " |"
            )
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Write the report as JSON (`path`) and Markdown (same name, .md), atomically."""
        write_text(path, json.dumps(asdict(self), indent=1, default=float) + "\n")
        write_text(Path(path).with_suffix(".md"), self.markdown())


def likeness(original: str | os.PathLike, edited: str | os.PathLike) -> Likeness:
    """Frame-by-frame PSNR (pooled MSE), mean SSIM and share of changed values."""
    squared, changed, values, ssim, n = 0.0, 0, 0, 0.0, 0
    a_frames = open_video(original).frames()
    for b in open_video(edited).frames():
        a = next(a_frames, None)
        if a is None or a.rgb.shape != b.rgb.shape:
            raise RppgError(f"{edited} is not an edit of {original}: frames or sizes differ")
        diff = a.rgb.astype(np.int32) - b.rgb
        squared += float(np.square(diff, dtype=np.float64).sum())
        changed += int(np.count_nonzero(diff))
        values += diff.size
        ssim += structural_similarity(a.rgb, b.rgb, channel_axis=2, data_range=255)
        n += 1
    if next(a_frames, None) is not None:
        raise RppgError(f"{edited} has fewer frames than {original}; it is not a whole edit")
    mse = squared / values
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
    return Likeness(n, float(psnr), ssim / n, changed / values)


def edit_report(
    original: str | os.PathLike,
    edited: str | os.PathLike,
    target: str,
    target_bpm: float,
    readers: tuple[str, ...] | None = None,
    weights: dict[str, str | os.PathLike] | None = None,
) -> EditReport:
    """Compare an edited video with its original and read both with `readers`; a network reader
    takes its checkpoint from `weights` or the one shipped with rppgkit."""
    weights = weights or {}
    readers = readers or independent_readers(first_with("editor").name)
    duration = open_video(original).info.duration_s or 10.0
    window = min(10.0, 0.8 * duration)  # the whole-video HR of a short clip needs a short window
    # one decode each, at the boxes a network's crops need (the readers include one)
    traces = [extract_trace(open_video(v), reads_crops=True) for v in (original, edited)]
    readings = []
    for name in readers:
        ckpt = weights.get(name) or shipped_weights(name)
        options = {"weights": str(ckpt)} if ckpt is not None else {}
        bpm = [analyse(t, method=name, window_s=window, **options).heart_rate.bpm for t in traces]
        readings.append(Reading(name, float(bpm[0]), float(bpm[1])))
    return EditReport(
        str(original), str(edited), target, target_bpm, likeness(original, edited), readings
    )
