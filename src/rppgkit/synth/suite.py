"""The fixed synthetic benchmark suite: one baseline and one-factor-at-a-time variations of skin
tone, head motion, illumination and face, each rendered for several seeds (subjects).

Compression is the further axis: `rppgkit ladder` encodes the baseline at the usual levels.
The suite is deterministic, so its tables can be compared across versions of rppgkit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rppgkit.synth.generate import SynthConfig, write_synth

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
