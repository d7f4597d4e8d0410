"""Training data: dataset splits -> cached face clips -> overlapping normalised chunks.

The sampler deals each epoch's shuffled order out in *global* batches and gives each process
its slice of every batch, so a run on N processes sees exactly the batches of a one-process run
with the same global batch size; shuffles are seeded by (seed, epoch), so a resumed run repeats
the order of an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from rppgkit.clip import ClipSpec
from rppgkit.clip.cache import CachedRecording, chunk_starts
from rppgkit.clip.normalize import normalize_frames, normalize_label
from rppgkit.datasets import Recording, load_dataset
from rppgkit.datasets.base import DatasetError
from rppgkit.datasets.ladder import level_index, source_id
from rppgkit.datasets.splits import split_by_list, split_by_rule
from rppgkit.train import augment
from rppgkit.train.config import DataConfig

SPLITS = ("train", "val", "test")


def resolve_splits(cfg: DataConfig) -> dict[str, list[Recording]]:
    """The recordings of each split named by the data config."""
    if cfg.dataset is not None:
        recordings = load_dataset(cfg.dataset, cfg.root)
        if cfg.split is None:
            return split_by_rule(recordings)
        if isinstance(cfg.split, dict):
            unknown = sorted(set(cfg.split) - set(SPLITS))
            if unknown:
                raise DatasetError(f"data.split has unknown parts {unknown}; use {SPLITS}")
            return split_by_list(recordings, cfg.split)
        rule = cfg.split.model_dump()
        return split_by_rule(recordings, {k: rule[k] for k in SPLITS}, rule["seed"])
    out: dict[str, list[Recording]] = {}
    for name in SPLITS:
        recs: list[Recording] = []
        for source in getattr(cfg, name):
            found = load_dataset(source.dataset, source.root)
            if source.subjects is not None:
                found = split_by_list(found, {name: source.subjects})[name]
            recs.extend(found)
        out[name] = recs
    return out


class _Chunks(Dataset):
    """Chunks ``items`` of cached recordings; the epoch seeds per-clip augmentation."""

    items: list[tuple[int, int]]
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)


class ClipDataset(_Chunks):
    """Overlapping chunks of cached recordings, normalised as the spec says, augmented (for
    training) as `aug` says.

    Items are dicts: ``clip`` float32 ``[3, T, H, W]``, ``label`` float32 ``[T]``, ``skin``
    uint8 ``[T, H, W]`` (0/1 skin mask of each crop), ``index``.
    """

    def __init__(
        self,
        recordings: list[CachedRecording],
        spec: ClipSpec,
        step: int,
        aug: augment.Augment | None = None,
        seed: int = 0,
    ) -> None:
        self.recordings, self.spec = recordings, spec
        self.aug = aug if aug is not None and aug.active else None
        self.seed = seed
        self.items: list[tuple[int, int]] = []
        self._room: list[int] = []  # valid samples from each item's start on
        for i, rec in enumerate(recordings):
            valid = rec.valid()
            room = _valid_run(valid)
            for start in chunk_starts(valid, spec.frames, step):
                self.items.append((i, start))
                self._room.append(int(room[start]))
        self._arrays = _Arrays()

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i, start = self.items[index]
        frames, label, skin = self._arrays[self.recordings[i]]
        n = self.spec.frames
        if self.aug is None:
            x, y, s = frames[start : start + n], label[start : start + n], skin[start : start + n]
        else:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            d = augment.draw(self.aug, rng)
            stop = start + min(augment.span(n, d.factor), self._room[index])
            x, y, s = augment.apply(
                frames[start:stop], label[start:stop], skin[start:stop], n, d, rng, self.spec.fs
            )
        return {
            "clip": _clip(x, self.spec.norm),
            "label": torch.from_numpy(normalize_label(np.asarray(y), self.spec.norm)),
            "skin": torch.from_numpy(np.array(s)),
            "index": torch.tensor(index),
        }


class PairedClipDataset(_Chunks):
    """Chunks of a compression ladder (dataset ``ladder``), each re-encoded clip beside the
    same chunk of its original: STVEN's training pairs. The cache cuts every level at the
    original's face track, so a pair is aligned pixel for pixel.

    Items are ClipDataset's (``clip`` is the re-encoded clip) plus ``clean`` (the original's
    clip) and ``level`` (the re-encoding's ladder level, 1..).
    """

    def __init__(self, recordings: list[CachedRecording], spec: ClipSpec, step: int) -> None:
        self.spec = spec
        by_source: dict[str, dict[int, CachedRecording]] = {}
        for rec in recordings:
            by_source.setdefault(source_id(rec.id), {})[level_index(rec.group)] = rec
        self.pairs: list[tuple[CachedRecording, CachedRecording, int]] = []
        self.items: list[tuple[int, int]] = []
        for source, levels in by_source.items():
            if 0 not in levels:
                raise DatasetError(
                    f"the ladder holds no original (level 0) of {source}; keep level 0 in the "
                    "data split, as STVEN learns from pairs"
                )
            clean = levels.pop(0)
            for k, rec in sorted(levels.items()):
                valid = rec.valid()[: clean.length] & clean.valid()[: rec.length]
                for start in chunk_starts(valid, spec.frames, step):
                    self.items.append((len(self.pairs), start))
                self.pairs.append((rec, clean, k))
        self.levels = 1 + max((k for _, _, k in self.pairs), default=0)
        self._arrays = _Arrays()

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        p, start = self.items[index]
        rec, clean, level = self.pairs[p]
        stop = start + self.spec.frames
        frames, label, skin = self._arrays[clean]
        return {
            "clip": _clip(self._arrays[rec][0][start:stop], self.spec.norm),
            "clean": _clip(frames[start:stop], self.spec.norm),
            "level": torch.tensor(level),
            "label": torch.from_numpy(
                normalize_label(np.asarray(label[start:stop]), self.spec.norm)
            ),
            "skin": torch.from_numpy(np.array(skin[start:stop])),
            "index": torch.tensor(index),
        }


class _Arrays(dict):
    """Each recording's memory maps, opened lazily once per (worker) process."""

    def __missing__(self, rec: CachedRecording) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self[rec] = (rec.frames(), rec.label(), rec.skin())
        return self[rec]


def _clip(frames: np.ndarray, norm: str) -> torch.Tensor:
    """Frames [T, H, W, 3] as a normalised clip tensor [3, T, H, W]."""
    x = normalize_frames(np.asarray(frames), norm)
    return torch.from_numpy(x).permute(3, 0, 1, 2).contiguous()


def _valid_run(valid: np.ndarray) -> np.ndarray:
    """For each sample, how many consecutive valid samples start there."""
    run = np.zeros(len(valid) + 1, np.int64)
    for t in range(len(valid) - 1, -1, -1):
        run[t] = run[t + 1] + 1 if valid[t] else 0
    return run[:-1]


class GlobalBatchSampler(Sampler[list[int]]):
    """This process's share of each global batch of a seeded per-epoch shuffle."""

    def __init__(
        self, size: int, batch_size: int, rank: int, world: int, seed: int, shuffle: bool = True
    ) -> None:
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} must be divisible by {world} processes")
        self.size, self.batch, self.rank, self.world = size, batch_size, rank, world
        self.seed, self.shuffle, self.epoch = seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size // self.batch

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        share = self.batch // self.world
        for b in range(len(self)):
            batch = order[b * self.batch : (b + 1) * self.batch]
            yield batch[self.rank * share : (self.rank + 1) * share]
