"""Subject-disjoint train/validation/test splits, by rule or by list."""

from __future__ import annotations

import numpy as np

from rppgkit.datasets.base import DatasetError, Recording


def split_by_rule(
    recordings: list[Recording],
    fractions: dict[str, float] | None = None,
    seed: int = 0,
) -> dict[str, list[Recording]]:
    """Shuffle the subjects with `seed` and deal them out in the given shares (default
    train 0.6, val 0.2, test 0.2); every recording of a subject lands in the same split."""
    fractions = fractions or {"train": 0.6, "val": 0.2, "test": 0.2}
    if any(f < 0 for f in fractions.values()) or not np.isclose(sum(fractions.values()), 1.0):
        raise DatasetError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    subjects = sorted({r.subject for r in recordings})
    order = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    bounds = np.round(np.cumsum([0.0, *fractions.values()]) * len(subjects)).astype(int)
    groups = {name: order[lo:hi] for name, lo, hi in zip(fractions, bounds[:-1], bounds[1:])}
    return split_by_list(recordings, groups)


def split_by_list(
    recordings: list[Recording], subjects: dict[str, list[str]]
) -> dict[str, list[Recording]]:
    """Put each recording in the split that lists its subject; subjects listed nowhere are
    left out. A subject in two splits, or one the dataset does not have, is an error."""
    owner: dict[str, str] = {}
    for split, names in subjects.items():
        for name in map(str, names):
            if name in owner:
                raise DatasetError(f"subject {name} is in both {owner[name]} and {split}")
            owner[name] = split
    unknown = sorted(set(owner) - {r.subject for r in recordings})
    if unknown:
        raise DatasetError(f"the split lists subjects the dataset lacks: {', '.join(unknown)}")
    out: dict[str, list[Recording]] = {split: [] for split in subjects}
    for r in recordings:
        if r.subject in owner:
            out[owner[r.subject]].append(r)
    return out
