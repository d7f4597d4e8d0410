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
from rppgkit.datasets.splits import split_by_list, split_by_rule
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


class ClipDataset(Dataset):
    """Overlapping chunks of cached recordings, normalised as the spec says.

    Items are dicts: ``clip`` float32 ``[3, T, H, W]``, ``label`` float32 ``[T]``, ``skin``
    uint8 ``[T, H, W]`` (0/1 skin mask of each crop), ``index``.
    """

    def __init__(self, recordings: list[CachedRecording], spec: ClipSpec, step: int) -> None:
        self.recordings, self.spec = recordings, spec
        self.items = [
            (i, start)
            for i, rec in enumerate(recordings)
            for start in chunk_starts(rec.valid(), spec.frames, step)
        ]
        self._open: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i, start = self.items[index]
        if i not in self._open:  # memory maps are opened lazily, once per worker process
            rec = self.recordings[i]
            self._open[i] = (rec.frames(), rec.label(), rec.skin())
        frames, label, skin = self._open[i]
        stop = start + self.spec.frames
        clip = normalize_frames(np.asarray(frames[start:stop]), self.spec.norm)
        return {
            "clip": torch.from_numpy(clip).permute(3, 0, 1, 2).contiguous(),
            "label": torch.from_numpy(
                normalize_label(np.asarray(label[start:stop]), self.spec.norm)
            ),
            "skin": torch.from_numpy(np.array(skin[start:stop])),
            "index": torch.tensor(index),
        }


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
