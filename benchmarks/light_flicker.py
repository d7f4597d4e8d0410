"""Light flicker: do networks read the brightness of a face instead of the colour of its pulse?

The one referenced real clip (vitallens-sample1) carries, besides its pulse at 75 bpm, a change
of brightness at 55 and 95 bpm along the grey direction (0.95, 1, 1.04) of normalised colour,
of about the pulse's size. POS and CHROM reject it by construction; the networks trained on
generator 2 read it (+16 to +21 bpm). Generator 2's light changes only slowly (0.01-0.1 Hz),
so in-band brightness never misled its training clips. The training augmentation
``data.augment.flicker`` adds such changes; this script builds the validation and test sets
that measure the effect without touching a real clip:

- a copy of a synthetic split with one common-mode light factor per frame (the augmentation's
  three sinusoids at 0.6-3.5 Hz, RMS drawn per video from [0, --rms]), written lossless;
- per-window MAE (10 s windows) of each method on the split as rendered and on its copy.

A third part asks which a network reads on a real clip (`--colour-probe VIDEO`): its HR on the
clip as it is, on the clip reduced to each pixel's brightness changes (the mean of the three
channels' relative changes) and reduced to its colour changes (the rest).

Usage: python benchmarks/light_flicker.py SPLIT [--rms 0.003] [--seed 0] [--extra-seeds 12 16]
       [-m NAME[=WEIGHTS] ...] [--work benchmarks/out/light-flicker] [--workers 1]
e.g.   python benchmarks/light_flicker.py benchmarks/out/v2/data/val -m pos -m physnet
       -m physnet=benchmarks/out/v2/physnet-flicker/best.pt
       python benchmarks/light_flicker.py - -m physnet
       -m physnet=benchmarks/out/v2/physnet-flicker10/best.pt
       --colour-probe benchmarks/realdev/data/vitallens-sample1/video.mp4
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from rppgkit.clip.crop import FrameCrops, recut_crops
from rppgkit.errors import RppgError
from rppgkit.fileio import write_text
from rppgkit.pipeline import Options, analyse, method_estimator
from rppgkit.synth import TRAINING_SPLITS, write_training_set
from rppgkit.trace.extract import extract_trace
from rppgkit.train.augment import flicker_path
from rppgkit.video.reader import open_video
from rppgkit.video.writer import write_video
from sim_to_real import EXTRA_TEST_SUBJECTS, window_mae


def flickered_copy(video: Path, out: Path, rms: float, rng: np.random.Generator) -> None:
    """`video` with every frame scaled by one light factor (`flicker_path`), as FFV1 `out`."""
    source = open_video(video)
    frames = [frame.rgb for frame in source.frames()]
    light = flicker_path(len(frames), source.info.fps, rms, rng)
    lit = (np.clip(np.rint(rgb * f), 0, 255).astype(np.uint8) for rgb, f in zip(frames, light))
    write_video(out, lit, source.info.fps)


def flickered_split(split: Path, out: Path, rms_max: float, seed: int) -> Path:
    """A copy of every recording under `split` (folders holding ground_truth.csv) with light
    flicker; its other files are copied as they are. Made whole in a hidden folder, then
    renamed to `out`, so an interrupted run leaves no partial copy; an existing `out` is kept."""
    if out.is_dir():
        return out
    work = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(work, ignore_errors=True)  # what an interrupted run left
    rng = np.random.default_rng(seed)
    for truth in sorted(split.rglob("ground_truth.csv")):
        folder = truth.parent
        target = work / folder.relative_to(split)
        target.mkdir(parents=True)
        rms = float(rng.uniform(0.0, rms_max))
        for item in folder.iterdir():
            if item.name.startswith("video."):
                flickered_copy(item, target / "video.mkv", rms, rng)
            else:
                shutil.copy2(item, target / item.name)
    work.rename(out)
    return out


def extra_validation(out: Path, seeds: range, workers: int = 1) -> Path:
    """More generator-2 validation videos: `seeds` (subjects no split of `write_training_set`
    uses) x the validation split's conditions, under `out/val`."""
    folders = write_training_set(out, generator=2, splits=("val",), subjects=seeds, workers=workers)
    return folders["val"][0].parent


def combined(parts: list[Path], out: Path) -> Path:
    """One dataset folder `out` holding every recording of the folders in `parts`, each file
    a symlink to its original."""
    for part in parts:
        for truth in sorted(part.rglob("ground_truth.csv")):
            folder = out / truth.parent.relative_to(part)
            folder.mkdir(parents=True, exist_ok=True)
            for item in truth.parent.iterdir():
                if not (folder / item.name).exists():
                    (folder / item.name).symlink_to(item.resolve())
    return out


def colour_split(crops: FrameCrops) -> dict[str, FrameCrops]:
    """`crops` as they are, with only their brightness changes, and with only their colour
    changes: each pixel's change relative to its mean over the clip, split into the mean of
    the three channels (grey) and the rest."""
    mean = np.maximum(crops.frames[crops.have].astype(np.float32).mean(axis=0), 1.0)
    rel = crops.frames.astype(np.float32) / mean - 1.0
    grey = rel.mean(axis=-1, keepdims=True)
    variants = {"as is": rel, "brightness only": np.repeat(grey, 3, -1), "colour only": rel - grey}
    return {
        name: replace(crops, frames=np.clip(np.rint(mean * (1 + r)), 0, 255).astype(np.uint8))
        for name, r in variants.items()
    }


def colour_probe(video: Path, specs: list[str]) -> list[str]:
    """Table rows: each network's whole-clip HR on `video` as it is, reduced to its brightness
    changes and reduced to its colour changes (`colour_split`)."""
    rows = ["| method | weights | as is | brightness only | colour only |", "|---|---|---|---|---|"]
    trace = extract_trace(open_video(video), reads_crops=True)
    splits: dict[tuple[int, float], dict[str, FrameCrops]] = {}  # one decoding per crop format
    for spec in specs:
        method, _, weights = spec.partition("=")
        opts = Options(method=method, weights=weights or None)
        clip = method_estimator(opts).clip
        if clip is None:
            raise SystemExit(f"{method} reads the skin-colour trace, not face crops: leave it out")
        key = (clip.size, clip.face_scale)
        if key not in splits:
            splits[key] = colour_split(recut_crops(trace, *key))
        hrs = [analyse(trace, opts, variant).summary().hr_bpm for variant in splits[key].values()]
        tag = Path(weights).parent.name if weights else "shipped"
        rows.append(f"| {method} | {tag} | " + " | ".join(f"{hr:.1f}" for hr in hrs) + " |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", type=Path)
    parser.add_argument("--rms", type=float, default=0.003)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-m", "--method", action="append", default=[], help="NAME or NAME=PATH")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/light-flicker"))
    parser.add_argument(
        "--extra-seeds",
        type=int,
        nargs=2,
        metavar=("FIRST", "STOP"),
        help="add generator-2 validation subjects FIRST..STOP-1 (e.g. 12 16) to SPLIT",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--colour-probe",
        type=Path,
        metavar="VIDEO",
        help="instead: each method's HR on VIDEO as is, brightness only, colour only",
    )
    args = parser.parse_args()
    if not 0.0 <= args.rms <= 0.1:  # also refuses NaN
        parser.error(f"--rms must be a relative RMS change in [0, 0.1], not {args.rms}")
    seen = {*TRAINING_SPLITS["train"][0], *TRAINING_SPLITS["test"][0], *EXTRA_TEST_SUBJECTS}
    if args.extra_seeds and seen & set(range(*args.extra_seeds)):
        parser.error("--extra-seeds: subjects 0-5, 8-11 and 16-27 are training or test subjects")
    try:
        run(args)
    except RppgError as exc:
        raise SystemExit(f"error: {exc}") from None


def run(args: argparse.Namespace) -> None:
    """The colour probe, or the split and its flickered copy scored by every method."""
    if args.colour_probe:
        rows = colour_probe(args.colour_probe, args.method)
        write_text(
            args.work / f"colour-probe-{args.colour_probe.parent.name}.md", "\n".join(rows) + "\n"
        )
        return
    split, name = args.split, args.split.name
    if args.extra_seeds:
        extra = extra_validation(args.work / "val-extra", range(*args.extra_seeds), args.workers)
        name = f"{name}+extra"
        split = combined([args.split, extra], args.work / name)
    flicker = flickered_split(split, args.work / f"{name}-flicker", args.rms, args.seed)
    rows = ["| method | weights | as rendered | flicker | mean |", "|---|---|---|---|---|"]
    for spec in args.method:
        method, _, weights = spec.partition("=")
        tag = Path(weights).parent.name if weights else "shipped"
        opts = Options(method=method, weights=weights or None)
        maes = [
            window_mae(part, method, opts, args.work / "eval" / f"{part.name}-{method}-{tag}", 1)
            for part in (split, flicker)
        ]
        rows.append(f"| {method} | {tag} | {maes[0]:.2f} | {maes[1]:.2f} | {np.mean(maes):.2f} |")
        print(rows[-1], flush=True)
    write_text(args.work / f"{name}-table.md", "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
