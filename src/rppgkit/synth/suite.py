"""The fixed synthetic benchmark suite: one baseline and one-factor-at-a-time variations of skin
tone, head motion, illumination and face, each rendered for several seeds (subjects).

Compression is the further axis: `rppgkit ladder` encodes the baseline at the usual levels.
The suite is deterministic, so its tables can be compared across versions of rppgkit.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from pathlib import Path

import numpy as np

from rppgkit.parallel import process_pool
from rppgkit.synth.generate import SynthConfig, write_synth
from rppgkit.synth.optics import LIGHTS

BASELINE: dict[str, object] = {"skin_tone": 3, "motion": 0.0, "lighting": 0.0, "noise": 2.0}
CONDITIONS: dict[str, dict[str, object]] = {
    "baseline": {},
    "tone-1": {"skin_tone": 1},
    "tone-5": {"skin_tone": 5},
    "tone-6": {"skin_tone": 6},
    "motion-1": {"motion": 1.0},
    "motion-2": {"motion": 2.0},
    "lighting-1": {"lighting": 1.0},
    "lighting-2": {"lighting": 2.0},
    "astronaut": {"face": "astronaut"},
}
SEED_HR_BPM = (66.0, 96.0, 78.0, 120.0, 54.0)  # seed i renders a subject at this mean HR


def suite_config(
    condition: str, seed: int, duration_s: float = 30.0, size: tuple[int, int] = (640, 480)
) -> SynthConfig:
    """The SynthConfig of one suite video."""
    width, height = size
    return SynthConfig(
        duration_s=duration_s,
        width=width,
        height=height,
        hr_bpm=SEED_HR_BPM[seed % len(SEED_HR_BPM)],
        seed=1000 + seed,
        **{**BASELINE, **CONDITIONS[condition]},
    )


def write_suite(
    out_dir: str | os.PathLike,
    seeds: int = 2,
    duration_s: float = 30.0,
    size: tuple[int, int] = (640, 480),
    conditions: list[str] | None = None,
    on_video: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Render the suite as one `synthetic` dataset folder per condition (videos already there
    are kept); return the folders by condition."""
    folders = {}
    for condition in conditions or list(CONDITIONS):
        folder = Path(out_dir) / condition
        for seed in range(seeds):
            target = folder / f"s{seed}"
            if not (target / "meta.json").exists():
                write_synth(suite_config(condition, seed, duration_s, size), target, masks=False)
            if on_video is not None:
                on_video(f"{condition}/s{seed}")
        folders[condition] = folder
    return folders


# Training data for neural baselines: subjects (seeds) never shared between splits, random HRs.
# Training covers every skin type, motion and lighting condition of the test set (on other
# subjects); the test set adds a face the training never shows (the astronaut photo, a real
# face's texture), so the test figure measures generalisation to new people and a new face.
# Skin type VI was first held out of training as the unseen condition; every method failed on
# it, seen in training or not, because the pipeline's face region loses its weak pulse
# (benchmarks/README.md has those runs and the diagnosis).
TRAINING_SPLITS: dict[str, tuple[range, tuple[str, ...]]] = {
    "train": (
        range(0, 6),
        (
            "baseline",
            "tone-1",
            "tone-5",
            "tone-6",
            "motion-1",
            "motion-2",
            "lighting-1",
            "lighting-2",
        ),
    ),
    "val": (range(6, 8), ("baseline", "tone-6", "motion-2", "lighting-2")),
    "test": (range(8, 12), ("baseline", "tone-6", "motion-2", "lighting-2", "astronaut")),
}
TRAINING_HR_BPM = (48.0, 132.0)  # each video's mean HR is drawn uniformly from this range


def training_config(
    condition: str,
    seed: int,
    duration_s: float = 20.0,
    size: tuple[int, int] = (320, 240),
    generator: int = 1,
) -> SynthConfig:
    """One video of the training data: the suite's condition, at a seeded random HR.

    Generator 2 also draws the subject's light (one of `optics.LIGHTS`), the recording camera
    (two phones for one webcam: consumer video is mostly phone video) and the share of the clip
    spent talking (0-30%), all from the seed and the condition.
    """
    rng = np.random.default_rng([seed, list(CONDITIONS).index(condition)])
    base = suite_config(condition, seed, duration_s, size)
    config = dataclasses.replace(base, hr_bpm=round(float(rng.uniform(*TRAINING_HR_BPM)), 1))
    if generator == 1:
        return config
    return dataclasses.replace(
        config,
        generator=generator,
        light=str(rng.choice(list(LIGHTS))),
        camera="webcam" if rng.random() < 1 / 3 else "phone",
        talking=round(float(rng.uniform(0.0, 0.3)), 2),
    )


def write_training_set(
    out_dir: str | os.PathLike,
    duration_s: float = 20.0,
    size: tuple[int, int] = (320, 240),
    on_video: Callable[[str], None] | None = None,
    workers: int = 1,
    generator: int = 1,
    splits: tuple[str, ...] = tuple(TRAINING_SPLITS),
    subjects: Sequence[int] | None = None,
) -> dict[str, list[Path]]:
    """Render `splits` of TRAINING_SPLITS as `synthetic` dataset folders
    `<out>/<split>/<condition>/s<seed>` (videos already there are kept), `workers` at a time;
    return the condition folders of each split. Generator 2 draws faces only, so its splits leave
    out the astronaut photo.

    `subjects` replaces the splits' own subject seeds, e.g. more test subjects than the test
    split's four, where its differences are too small for four to resolve. Seeds another split
    uses are refused (ValueError): they would leak its subjects into this one.
    """
    folders: dict[str, list[Path]] = {}
    missing: dict[str, tuple[SynthConfig, Path]] = {}
    for split in splits:
        seeds, conditions = TRAINING_SPLITS[split]
        if subjects is not None:
            _check_subjects(split, subjects)
            seeds = subjects
        kept = [c for c in conditions if generator == 1 or "face" not in CONDITIONS[c]]
        folders[split] = [Path(out_dir) / split / condition for condition in kept]
        for folder in folders[split]:
            for seed in seeds:
                target = folder / f"s{seed}"
                name = f"{split}/{folder.name}/s{seed}"
                if (target / "meta.json").exists():
                    continue
                config = training_config(folder.name, seed, duration_s, size, generator)
                missing[name] = (config, target)
    with process_pool(max(workers, 1)) as pool:
        futures = {pool.submit(write_synth, c, t, masks=False): n for n, (c, t) in missing.items()}
        for future in as_completed(futures):
            future.result()
            if on_video is not None:
                on_video(futures[future])
    return folders


def _check_subjects(split: str, subjects: Sequence[int]) -> None:
    """Refuse `subjects` that another split of TRAINING_SPLITS draws, and negative seeds."""
    if any(seed < 0 for seed in subjects):
        raise ValueError(f"subjects are seeds, 0 or more, not {sorted(subjects)}")
    for other, (seeds, _) in TRAINING_SPLITS.items():
        shared = sorted(set(seeds) & set(subjects))
        if other != split and shared:
            raise ValueError(f"subjects {shared} belong to the {other} split, not to {split}")
