"""Training configuration: a YAML file validated against typed sections, plus `key=value`
overrides from the command line (`train.epochs=3 optim.lr=3e-4`).

pydantic does the validation so that a typo or a wrong type is one clear line naming the key,
before any data is touched. Relative paths are taken from the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.trace.extract import Roi
from rppgkit.train.augment import Augment


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # no NaN or infinity anywhere


class Source(_Section):
    """One dataset folder; `subjects` keeps only those subjects."""

    dataset: str
    root: str
    subjects: list[str] | None = None


class SplitRule(_Section):
    """Subject-disjoint shares, dealt out after a seeded shuffle of the subjects."""

    train: float = Field(default=0.6, ge=0)
    val: float = Field(default=0.2, ge=0)
    test: float = Field(default=0.2, ge=0)
    seed: int = Field(default=0, ge=0)


class ClipConfig(_Section):
    frames: int = Field(default=128, ge=8)
    size: int = Field(default=72, ge=8)
    face_scale: float = Field(default=1.5, gt=0)
    fs: float = Field(default=30.0, gt=0)
    norm: Literal["raw", "diffnormalized", "standardized"] = "diffnormalized"

    def spec(self) -> ClipSpec:
        return ClipSpec(**self.model_dump())


class AugmentConfig(_Section):
    """Training-clip augmentations (rppgkit.train.augment); the defaults change nothing."""

    speed: tuple[float, float] = (1.0, 1.0)  # heart-rate factor range, e.g. [0.7, 1.4]
    noise: float = Field(default=0.0, ge=0)  # largest noise standard deviation, grey levels
    flip: bool = False
    motion: float = Field(default=0.0, ge=0, le=0.25)  # largest shift/zoom, share of the crop
    gain: float = Field(default=0.0, ge=0, lt=1)  # darkening: brightness factor in [1-gain, 1]
    flicker: float = Field(default=0.0, ge=0, le=0.1)  # largest relative RMS light change
    shade: float = Field(default=0.0, ge=0, le=0.1)  # the same in a soft patch of the crop

    @model_validator(mode="after")
    def _ordered(self) -> AugmentConfig:
        lo, hi = self.speed
        if not 0 < lo <= hi:
            raise ValueError(
                f"augment.speed must be [low, high] with 0 < low <= high, not {[lo, hi]}"
            )
        return self

    def build(self) -> Augment:
        return Augment(**self.model_dump())


class DataConfig(_Section):
    """Either one dataset split by rule or by subject lists (`dataset`, `root`, `split`), or
    explicit lists of sources per split (`train`, `val`, `test`)."""

    dataset: str | None = None
    root: str | None = None
    split: SplitRule | dict[str, list[str]] | None = None
    train: list[Source] = Field(default_factory=list)
    val: list[Source] = Field(default_factory=list)
    test: list[Source] = Field(default_factory=list)
    clip: ClipConfig = Field(default_factory=ClipConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)  # training split only
    step: int | None = Field(default=None, gt=0)  # between chunk starts; default frames // 2
    # share of the training recordings used (seeded, nested: rppgkit.train.data.keep_share),
    # e.g. 0.1 to fine-tune on 10% of the labelled recordings
    train_share: float = Field(default=1.0, gt=0, le=1)
    cache: str = "rppgkit-cache"
    detector: str = "yunet"
    roi: Roi = "face"  # frame: clips are whole frames resized, for video already cropped to skin
    workers: int = Field(default=2, ge=1)  # processes cutting face clips
    loader_workers: int = Field(default=0, ge=0)  # DataLoader worker processes

    @model_validator(mode="after")
    def _one_layout(self) -> DataConfig:
        single = self.dataset is not None or self.root is not None
        if single and (self.dataset is None or self.root is None):
            raise ValueError("data needs both dataset and root")
        if single == bool(self.train):
            raise ValueError(
                "give either data.dataset + data.root (+ data.split) or data.train source lists"
            )
        return self


class ModelConfig(_Section):
    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class TaskConfig(_Section):
    name: str | None = None  # default: the model's method's own task
    options: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(_Section):
    name: Literal["adam", "adamw", "adamax", "sgd"] = "adamw"
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    momentum: float = Field(default=0.9, ge=0)  # sgd only


class ScheduleConfig(_Section):
    name: Literal["constant", "cosine", "step"] = "cosine"
    warmup_epochs: int = Field(default=0, ge=0)
    step_epochs: int = Field(default=10, gt=0)  # step: decay every this many epochs
    gamma: float = Field(default=0.1, gt=0)  # step: decay factor


class TrainConfig(_Section):
    epochs: int = Field(default=10, gt=0)
    batch_size: int = Field(default=4, gt=0)  # global: split over the processes of torchrun
    seed: int = Field(default=0, ge=0, lt=2**32)  # numpy's global seed takes 32 bits
    deterministic: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True  # mixed precision, on CUDA only
    grad_clip: float | None = Field(default=1.0, gt=0)
    threads: int | None = Field(default=None, gt=0)  # CPU threads per process
    select: Literal["mae", "loss"] = "mae"  # validation figure that picks best.pt
    # wall-clock budget of this process in minutes (a cluster job's limit): no epoch starts
    # that would end past it, judged by the last epoch's time; the run then ends as if
    # finished (test split scored). The schedule still spans train.epochs.
    time_limit_min: float | None = Field(default=None, gt=0)


class LogConfig(_Section):
    out: str = "runs/train"
    tensorboard: bool = False
    progress: bool = True


class Config(_Section):
    data: DataConfig
    model: ModelConfig
    task: TaskConfig = Field(default_factory=TaskConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    log: LogConfig = Field(default_factory=LogConfig)

    @property
    def task_name(self) -> str:
        return self.task.name or self.model.name


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> Config:
    """Read, override and validate a config; RppgError names the file and the bad key."""
    p = Path(path)
    if not p.is_file():
        raise RppgError(f"config {p} does not exist; see configs/ for examples")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise RppgError(f"{p} is not valid YAML{where}; fix the syntax") from None
    if not isinstance(raw, dict):
        raise RppgError(f"{p} must hold a mapping of sections (data, model, train, ...)")
    for item in overrides or []:
        apply_override(raw, item)
    return validate(raw, str(p))


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Set a dotted key in the raw config, e.g. ``train.epochs=3``; the value is YAML."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise RppgError(f"override {item!r} must look like section.key=value")
    *parents, leaf = key.strip().split(".")
    node = raw
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RppgError(f"override {item!r}: {part} is not a section")
        node = child
    try:
        node[leaf] = yaml.safe_load(value)
    except yaml.YAMLError:
        raise RppgError(f"override {item!r}: the value is not valid YAML") from None


def validate(raw: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        parts = [str(x) for x in error["loc"] if not _union_member(str(x))]
        key = ".".join(parts) or "(top level)"
        if error["type"] == "extra_forbidden":
            raise RppgError(f"{source}: unknown key {key}; check its spelling") from None
        if error["type"] == "missing":
            raise RppgError(f"{source}: {key} is required") from None
        got = error.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        raise RppgError(f"{source}: {key}: {error['msg']}{shown}") from None


def _union_member(part: str) -> bool:
    """Whether a part of pydantic's error location names the member of a union that was tried
    (``SplitRule``, ``dict[str,list[str]]``), not a config key (keys are lower case)."""
    return part[:1].isupper() or "[" in part
