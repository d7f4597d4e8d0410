"""Training data: dataset splits -> cached face clips -> the items of the kind of data a task
learns from (`make_dataset`): overlapping normalised chunks with or without their labels,
compression-ladder pairs, or episodes of support and query clips.

The sampler deals each epoch's shuffled order out in *global* batches and gives each process
its slice of every batch, so a run on N processes sees exactly the batches of a one-process run
with the same global batch size; shuffles are seeded by (seed, epoch), so a resumed run repeats
the order of an uninterrupted one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from rppgkit.clip import ClipSpec
from rppgkit.clip.cache import CachedRecording, chunk_starts
from rppgkit.clip.normalize import normalize_frames, normalize_label
from rppgkit.datasets import Recording, load_dataset
from rppgkit.datasets.base import DataKind, DatasetError
from rppgkit.datasets.ladder import level_index, source_id
from rppgkit.datasets.splits import split_by_list, split_by_rule
from rppgkit.errors import RppgError
from rppgkit.train import augment
from rppgkit.train.config import DataConfig

SPLITS = ("train", "val", "test")


def resolve_splits(cfg: DataConfig) -> dict[str, list[Recording]]:
    """The recordings of each split named by the data config, the training split cut to its
    share ``data.train_share`` (`keep_share`)."""
    splits = _named_splits(cfg)
    splits["train"] = keep_share(splits.get("train", []), cfg.train_share)
    return splits


def keep_share(recordings: list[Recording], share: float, seed: int = 0) -> list[Recording]:
    """A seeded share of the recordings, for label-efficiency runs (fine-tuning on 10% of the
    labelled recordings). A compression ladder's levels of one video are kept or dropped
    together, so every kept re-encoding keeps its original.

    Parameters
    ----------
    recordings
        The recordings of one split.
    share
        The share to keep, in (0, 1]; at least one recording is kept.
    seed
        Seeds the one shuffle that orders the recordings; each share keeps the first of that
        order, so a smaller share keeps a subset of a larger one's recordings.

    Returns
    -------
    The kept recordings, in their given order.
    """
    if share >= 1 or not recordings:
        return recordings
    units = list(dict.fromkeys(_share_unit(rec) for rec in recordings))
    order = np.random.default_rng(seed).permutation(len(units))
    kept = {units[i] for i in order[: max(1, round(share * len(units)))]}
    return [rec for rec in recordings if _share_unit(rec) in kept]


def _share_unit(rec: Recording) -> str:
    """What `keep_share` keeps or drops whole: a ladder's source video, else the recording."""
    return source_id(rec.id, rec.group) if rec.dataset == "ladder" else rec.id


def _named_splits(cfg: DataConfig) -> dict[str, list[Recording]]:
    """The recordings of each split, as the data config names them."""
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
        parts: dict[str, list[Recording]] = {}
        for source in getattr(cfg, name):
            found = load_dataset(source.dataset, source.root)
            if source.subjects is not None:
                found = split_by_list(found, {name: source.subjects})[name]
            parts.setdefault(Path(source.root).name, []).extend(found)
        out[name] = _unique_ids(parts)
    return out


def _unique_ids(parts: dict[str, list[Recording]]) -> list[Recording]:
    """The recordings of several sources (by folder name), each id prefixed by its folder's
    name where ids would repeat (two condition folders both holding "s8"); refused if that
    still does."""
    recordings = [rec for found in parts.values() for rec in found]
    if not _repeated(recordings):
        return recordings
    renamed = [replace(rec, id=f"{folder}/{rec.id}") for folder, f in parts.items() for rec in f]
    repeated = _repeated(renamed)
    if repeated:
        raise DatasetError(
            f"recording ids repeat across the data sources ({_named(repeated)}); list each "
            "folder once, or give the folders distinct names"
        )
    return renamed


def _repeated(recordings: list[Recording]) -> list[str]:
    """The ids that more than one of `recordings` has, sorted."""
    return sorted(i for i, n in Counter(rec.id for rec in recordings).items() if n > 1)


class EpochDataset(Dataset):
    """Training items whose random draws are seeded by (seed, epoch, index), so a resumed run
    repeats an uninterrupted one; `labelled` says whether items carry labels."""

    items: list
    epoch: int = 0
    labelled: bool = True

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)


def make_dataset(
    kind: DataKind,
    recordings: list[CachedRecording],
    spec: ClipSpec,
    step: int,
    aug: augment.Augment | None = None,
    seed: int = 0,
    shots: int = 2,
) -> EpochDataset:
    """The items a task that learns from `kind` of data trains (or is scored) on.

    Parameters
    ----------
    kind
        "labelled": `ClipDataset` (clips with their reference pulse); "unlabelled": the same
        clips without ``label``, of any recording; "paired": `PairedClipDataset` (a
        compression ladder's re-encoded clips beside their originals); "episodic":
        `EpisodeDataset` (one recording per item, split into support and query clips).
    recordings
        The cached recordings of one split.
    spec
        How the clips are cut and normalised.
    step
        Samples between chunk starts (the clip length: back to back); episodes ignore it,
        their chunks never overlap.
    aug
        Per-clip augmentation, for the training split of labelled and unlabelled data; the
        other kinds refuse an active one.
    seed
        Seeds augmentation and the choice of each episode's chunks, with the epoch and index.
    shots
        Clips in each of an episode's support and query sets (K).

    Returns
    -------
    The dataset; DatasetError (RppgError for augmentation) if the recordings do not fit the kind.
    """
    if kind == "labelled":
        return ClipDataset(recordings, spec, step, aug, seed)
    if kind == "unlabelled":
        return ClipDataset(recordings, spec, step, aug, seed, labelled=False)
    if aug is not None and aug.active:
        raise RppgError(f"data.augment does not apply to {kind} training; remove it")
    if kind == "paired":
        return PairedClipDataset(recordings, spec, step)
    if kind == "episodic":
        return EpisodeDataset(recordings, spec, shots, seed)
    raise ValueError(f"unknown data kind {kind!r}")


class ClipDataset(EpochDataset):
    """Overlapping chunks of cached recordings, normalised as the spec says, augmented (for
    training) as `aug` says.

    Items are dicts: ``clip`` float32 ``[3, T, H, W]``, ``label`` float32 ``[T]`` (only when
    `labelled`), ``skin`` uint8 ``[T, H, W]`` (0/1 skin mask of each crop), ``index``. Labelled
    data refuses recordings without a reference; unlabelled data takes any recording.
    """

    def __init__(
        self,
        recordings: list[CachedRecording],
        spec: ClipSpec,
        step: int,
        aug: augment.Augment | None = None,
        seed: int = 0,
        labelled: bool = True,
    ) -> None:
        if labelled:
            _require_labels(recordings)
        self.recordings, self.spec, self.labelled = recordings, spec, labelled
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
        if label is None:  # a stand-in the augmentation may stretch; never returned
            label = np.broadcast_to(np.float32(0), (len(frames),))
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
        item = {
            "clip": _clip(x, self.spec.norm),
            "skin": torch.from_numpy(np.array(s)),
            "index": torch.tensor(index),
        }
        if self.labelled:
            item["label"] = _label(y, self.spec.norm)
        return item


class PairedClipDataset(EpochDataset):
    """Chunks of a compression ladder (dataset ``ladder``), each re-encoded clip beside the
    same chunk of its original: the pairs that STVEN trains on. The cache cuts every level at
    the original's face track, so a pair is aligned pixel for pixel.

    Items are ClipDataset's (``clip`` is the re-encoded clip) plus ``clean`` (the original's
    clip) and ``level`` (the re-encoding's ladder level, 1..); ``label`` (the original's) only
    when every original has a reference (`labelled`), as a batch has one set of keys.
    """

    def __init__(self, recordings: list[CachedRecording], spec: ClipSpec, step: int) -> None:
        self.spec = spec
        by_source: dict[str, dict[int, CachedRecording]] = {}
        for rec in recordings:
            by_source.setdefault(source_id(rec.id, rec.group), {})[level_index(rec.group)] = rec
        self.pairs: list[tuple[CachedRecording, CachedRecording, int]] = []
        self.items: list[tuple[int, int]] = []
        for source, levels in by_source.items():
            if 0 not in levels:
                raise DatasetError(
                    f"the ladder holds no original (level 0) of {source}; keep level 0 in the "
                    "data split, as paired training learns from pairs"
                )
            clean = levels.pop(0)
            for k, rec in sorted(levels.items()):
                valid = rec.valid()[: clean.length] & clean.valid()[: rec.length]
                for start in chunk_starts(valid, spec.frames, step):
                    self.items.append((len(self.pairs), start))
                self.pairs.append((rec, clean, k))
        self.levels = 1 + max((k for _, _, k in self.pairs), default=0)
        self.labelled = all(clean.labelled for _, clean, _ in self.pairs)
        self._arrays = _Arrays()

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        p, start = self.items[index]
        rec, clean, level = self.pairs[p]
        stop = start + self.spec.frames
        frames, label, skin = self._arrays[clean]
        item = {
            "clip": _clip(self._arrays[rec][0][start:stop], self.spec.norm),
            "clean": _clip(frames[start:stop], self.spec.norm),
            "level": torch.tensor(level),
            "skin": torch.from_numpy(np.array(skin[start:stop])),
            "index": torch.tensor(index),
        }
        if label is not None and self.labelled:
            item["label"] = _label(label[start:stop], self.spec.norm)
        return item


class EpisodeDataset(EpochDataset):
    """Each item one recording as one task, as Meta-rPPG trains: `shots` support clips to adapt
    on and `shots` query clips to be judged on, disjoint chunks of its video.

    A recording's clip-long chunks are cut back to back (valid throughout); an episode takes a
    run of 2K consecutive ones, the first K the support and the last K the query, so support
    comes before query in time. Where a video holds more chunks, where the run starts is drawn
    per (seed, epoch, index). Recordings with fewer than 2K chunks are left out (`skipped`
    lists their ids); DatasetError if none is left.

    Items: ``support_clip`` and ``query_clip`` float32 ``[K, 3, T, H, W]``, ``support_label``
    and ``query_label`` float32 ``[K, T]`` when every recording has a reference (`labelled`),
    as a batch has one set of keys, and ``index``.
    """

    def __init__(
        self, recordings: list[CachedRecording], spec: ClipSpec, shots: int = 2, seed: int = 0
    ) -> None:
        if shots < 1:
            raise ValueError(f"an episode needs at least 1 support and 1 query clip, not {shots}")
        self.spec, self.shots, self.seed = spec, shots, seed
        self.items: list[tuple[CachedRecording, list[int]]] = []
        self.skipped: list[str] = []
        for rec in recordings:
            starts = chunk_starts(rec.valid(), spec.frames, spec.frames)
            if len(starts) >= 2 * shots:
                self.items.append((rec, starts))
            else:
                self.skipped.append(rec.id)
        if not self.items:
            raise DatasetError(
                f"no recording holds {2 * shots} face clips of {spec.frames / spec.fs:.3g} s for "
                f"an episode ({_named(self.skipped) or 'none given'}); use longer videos, fewer "
                "shots or shorter clips"
            )
        self.labelled = all(rec.labelled for rec, _ in self.items)
        self._arrays = _Arrays()

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rec, starts = self.items[index]
        k, n, norm = self.shots, self.spec.frames, self.spec.norm
        rng = np.random.default_rng([self.seed, self.epoch, index])
        first = int(rng.integers(len(starts) - 2 * k + 1))
        chosen = starts[first : first + 2 * k]
        frames, label, _ = self._arrays[rec]
        clips = torch.stack([_clip(frames[s : s + n], norm) for s in chosen])
        item = {"support_clip": clips[:k], "query_clip": clips[k:], "index": torch.tensor(index)}
        if label is not None and self.labelled:
            labels = torch.stack([_label(label[s : s + n], norm) for s in chosen])
            item |= {"support_label": labels[:k], "query_label": labels[k:]}
        return item


def _require_labels(recordings: list[CachedRecording]) -> None:
    """Refuse recordings without a reference pulse, naming them."""
    unlabelled = [rec.id for rec in recordings if not rec.labelled]
    if unlabelled:
        raise DatasetError(
            f"labelled training needs a reference pulse, which {_named(unlabelled)} lack; "
            "remove them from the split or train a task that learns from unlabelled clips"
        )


def _named(ids: list[str], most: int = 3) -> str:
    """Up to `most` ids, then how many more."""
    shown = ", ".join(ids[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


class _Arrays(dict):
    """Each recording's memory maps (frames, label or None, skin), opened lazily once per
    (worker) process."""

    def __missing__(self, rec: CachedRecording) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        self[rec] = (rec.frames(), rec.label() if rec.labelled else None, rec.skin())
        return self[rec]


def _clip(frames: np.ndarray, norm: str) -> torch.Tensor:
    """Frames [T, H, W, 3] as a normalised clip tensor [3, T, H, W]."""
    x = normalize_frames(np.asarray(frames), norm)
    return torch.from_numpy(x).permute(3, 0, 1, 2).contiguous()


def _label(label: np.ndarray, norm: str) -> torch.Tensor:
    """A label window [T] as a normalised float32 tensor."""
    return torch.from_numpy(normalize_label(np.asarray(label), norm))


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
