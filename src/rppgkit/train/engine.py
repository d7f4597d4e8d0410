"""The one training engine behind every task.

Given a validated `Config` it prepares the clips, builds the network and its task (by name,
from the method registry), and runs epochs with: seeded, optionally deterministic execution;
the task's optimisers with the configured schedule; gradient clipping; mixed precision on CUDA;
data-parallel training under torchrun (gradients averaged over processes, BatchNorm over the
global batch); an atomic `last.pt` after every epoch (`resume=True` continues from it) and
`best.pt` on the best validation figure; `metrics.csv` with every named loss part (and
TensorBoard if asked); and finally the test split scored with `best.pt` (without a
validation split, with `last.pt`).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader

from rppgkit.clip import ClipSpec
from rppgkit.clip.cache import CachedRecording, prepare
from rppgkit.datasets.base import Recording
from rppgkit.errors import RppgError
from rppgkit.fileio import ensure_dir, write_text
from rppgkit.models import create_task
from rppgkit.models.checkpoint import load_checkpoint, load_task_weights, save_checkpoint
from rppgkit.models.task import Stepper, Task
from rppgkit.progress import progress_bar
from rppgkit.train import history as hist
from rppgkit.train.config import Config
from rppgkit.train.data import SPLITS, GlobalBatchSampler, make_dataset, resolve_splits
from rppgkit.train.distributed import Context, setup, sync_batchnorm
from rppgkit.train.evaluation import Score, score
from rppgkit.train.optim import Optimisation, build_optimisation

RESUMED = ("optimizers", "schedulers", "scaler", "history", "best", "config")  # in last.pt
# config keys a resumed run must keep: its weights, optimiser state and clips depend on them
KEPT_ON_RESUME = ("model", "task.name", "data.clip", "optim.name")


@dataclass(frozen=True)
class TrainResult:
    out: Path
    history: list[dict[str, float]]  # one row per epoch, as in metrics.csv
    best_epoch: int
    test: Score | None  # test-split figures of best.pt (or last.pt: no validation split)


def train(
    config: Config,
    resume: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train as configured; `on_progress` receives one line per prepared recording and epoch."""
    ctx = setup(config.train.device)
    try:
        return _Run(config, ctx, on_progress if ctx.main else None).run(resume)
    finally:
        ctx.close()


class _Run:
    def __init__(self, cfg: Config, ctx: Context, say: Callable[[str], None] | None) -> None:
        self.cfg, self.ctx, self.say = cfg, ctx, say or (lambda _: None)
        self.out = Path(cfg.log.out)
        self.spec: ClipSpec = cfg.data.clip.spec()
        self.step = cfg.data.step or max(self.spec.frames // 2, 1)

    def run(self, resume: bool) -> TrainResult:
        """Check everything that can be checked (network and task options, the run being
        resumed, the data folders), then create log.out and train; a run that fails before its
        first checkpoint leaves no new folder behind."""
        cfg, ctx = self.cfg, self.ctx
        state = self._resumed(resume)
        _seed(cfg.train.seed, cfg.train.deterministic)
        torch.set_num_threads(cfg.train.threads or max(1, (os.cpu_count() or 1) // ctx.world))
        task = create_task(cfg.model.name, cfg.model.options, cfg.task_name, cfg.task.options)
        task.setup()
        splits = resolve_splits(cfg.data) if ctx.main else None
        if splits is not None and not splits.get("train"):
            raise RppgError("the training split is empty; check data in the config")
        with _run_folder(self.out, ctx.main):
            if state is None and ctx.main:
                dump = yaml.safe_dump(cfg.model_dump(), sort_keys=False)
                write_text(self.out / "config.yaml", dump)
            return self._fit(task, state, self._data(splits))

    def _resumed(self, resume: bool) -> dict[str, Any] | None:
        """The checkpoint of the run in log.out to continue (None: a new run); refused unless
        --resume is given and the settings the checkpoint depends on are unchanged."""
        last = self.out / "last.pt"
        if not last.exists():
            return None
        if not resume:
            raise RppgError(
                f"{self.out} already holds a training run; add --resume to continue it or "
                "set log.out to a new folder"
            )
        state = load_checkpoint(last, RESUMED)
        now = self.cfg.model_dump()
        for key in KEPT_ON_RESUME:
            changed = _difference(_at(state["config"], key), _at(now, key), key)
            if changed is not None:
                name, was, new = changed
                raise RppgError(
                    f"the config differs from the run being resumed in {self.out}: {name} was "
                    f"{_shown(was)}, now {_shown(new)}; set {name} back to {_shown(was)} to "
                    "resume, or set log.out to a new folder for a new run"
                )
        return state

    def _fit(
        self, task: Task, state: dict[str, Any] | None, data: dict[str, list[CachedRecording]]
    ) -> TrainResult:
        """Train from scratch or from the resumed `state`; score the test split at the end."""
        cfg, ctx = self.cfg, self.ctx
        task = sync_batchnorm(task.to(ctx.device), ctx)  # statistics over the global batch
        opt = build_optimisation(cfg, task, ctx)
        progress = hist.Progress()
        if state is not None:
            progress = self._restore(state, task, opt)
        loaders = self._loaders(task, data["train"])
        val_recs = data["val"]
        if not val_recs:
            self.say(
                "no validation split: no best.pt is picked; last.pt holds the last epoch's "
                "weights" + (" and scores the test split" if data["test"] else "")
            )
        board = self._tensorboard() if ctx.main else None
        clock = _Budget(cfg.train.time_limit_min)
        for epoch in range(len(progress.rows), cfg.train.epochs):
            if ctx.mean(float(clock.spent())) > 0:  # every process stops at the same epoch
                self.say(f"time limit reached: stopping after epoch {epoch}")
                break
            torch.manual_seed(cfg.train.seed * 100_003 + epoch)  # dropout etc. repeat on resume
            for loader in loaders:
                loader.batch_sampler.set_epoch(epoch)
                loader.dataset.set_epoch(epoch)
            lr = opt.lr()
            start = time.perf_counter()
            parts = self._epoch(task, loaders, opt.stepper)
            seconds = time.perf_counter() - start
            opt.schedule()
            val = score(task, val_recs, self.spec, cfg.train.batch_size, ctx.device)
            clips = len(loaders[0].batch_sampler) * cfg.train.batch_size
            speed = clips / seconds
            row = hist.row(epoch + 1, lr, parts, val, speed, seconds, ctx.mean, task.aside)
            improved = progress.add(row, cfg.train.select)
            if ctx.main:
                if improved:
                    save_checkpoint(self._state(task), self.out / "best.pt")
                self._save_last(task, opt, progress)
                hist.to_board(board, row)
            self.say(hist.line(row, cfg.train.epochs, validated=bool(val_recs)))
            clock.lap()
            ctx.barrier()
        if board is not None:
            board.close()
        test = self._test(task, data["test"])
        return TrainResult(self.out, progress.rows, progress.best_epoch, test)

    def _loaders(self, task: Task, recs: list[CachedRecording]) -> list[DataLoader]:
        """The training data of the task's kind, augmented; for a bi-level task, two loaders
        over the two halves of the recordings (weights learn on the first, the task's other
        parameters on the second)."""
        halves = [recs[0::2], recs[1::2]] if task.bilevel else [recs]
        if task.bilevel and not all(halves):
            raise RppgError(
                "a bi-level task needs at least two training recordings (one per half); add data"
            )
        return [self._loader(task, part) for part in halves]

    def _loader(self, task: Task, recs: list[CachedRecording]) -> DataLoader:
        cfg, ctx = self.cfg, self.ctx
        aug = cfg.data.augment.build()
        data = make_dataset(task.data, recs, self.spec, self.step, aug, cfg.train.seed)
        task.check(data)
        if len(data) < cfg.train.batch_size:
            raise RppgError(
                f"the training split has {len(data)} {_items(task)}, fewer than one batch of "
                f"{cfg.train.batch_size}; add data or lower train.batch_size"
            )
        sampler = GlobalBatchSampler(
            len(data), cfg.train.batch_size, ctx.rank, ctx.world, cfg.train.seed
        )
        return DataLoader(
            data,
            batch_sampler=sampler,
            num_workers=cfg.data.loader_workers,
            pin_memory=ctx.device.type == "cuda",
        )

    def _epoch(self, task: Task, loaders: list[DataLoader], stepper: Stepper) -> dict[str, float]:
        """One pass over the training data; the mean of each loss part."""
        task.train()
        sums: dict[str, float] = {}
        count = 0
        device, amp = self.ctx.device, self.cfg.train.amp and self.ctx.device.type == "cuda"
        dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
        main, *held = loaders
        held_out = _cycle(held[0]) if held else None
        enabled = self.ctx.main and self.cfg.log.progress
        with progress_bar("training", len(main), enabled) as tick:
            for i, batch in enumerate(main):
                other = _to(next(held_out), device) if held_out is not None else None
                with torch.autocast(device.type, dtype=dtype, enabled=amp):
                    parts = task.train_step(_to(batch, device), self.spec, stepper, other)
                for name, value in parts.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach())
                count += 1
                tick(i)
        return {name: value / max(count, 1) for name, value in sums.items()}

    def _restore(self, state: dict[str, Any], task: Task, opt: Optimisation) -> hist.Progress:
        """Load last.pt's weights and optimisation state; return its history and best."""
        load_task_weights(task, state, self.out / "last.pt")
        opt.load_state_dict(state, len(state["history"]))
        self.say(f"resuming {self.out} after epoch {len(state['history'])}")
        return hist.Progress(state["history"], state["best"])

    def _save_last(self, task: Task, opt: Optimisation, progress: hist.Progress) -> None:
        """Write last.pt (weights, optimisation state, progress) and metrics.csv."""
        extra = opt.state_dict() | {"history": progress.rows, "best": progress.best}
        save_checkpoint(self._state(task) | extra, self.out / "last.pt")
        write_text(self.out / "metrics.csv", hist.csv_text(progress.rows))

    def _test(self, task: Task, recs: list[CachedRecording]) -> Score | None:
        """Score best.pt (last.pt if none was picked) on the test split (None without one);
        write test.csv."""
        best = self.out / "best.pt"
        if not best.exists():
            best = self.out / "last.pt"
        if not recs or not best.exists():
            return None
        load_task_weights(task, load_checkpoint(best), best)
        test = score(task, recs, self.spec, self.cfg.train.batch_size, self.ctx.device)
        if self.ctx.main:
            write_text(self.out / "test.csv", hist.csv_text([{"split": "test", **test.as_row()}]))
        return test

    def _data(self, splits: dict[str, list[Recording]] | None) -> dict[str, list[CachedRecording]]:
        """Cut the clips of the `splits` on the main process (in parallel), then share the
        result."""
        cfg, prepared = self.cfg.data, None
        if self.ctx.main and splits is not None:
            prepared = {}
            for name in SPLITS:
                recs, skipped = prepare(
                    splits.get(name, []),
                    self.spec,
                    cfg.cache,
                    cfg.workers,
                    cfg.detector,
                    on_done=lambda rid, err, n=name: self.say(
                        f"{n}: {rid} " + (f"skipped: {err}" if err else "ready")
                    ),
                    roi=cfg.roi,
                )
                prepared[name] = recs
                if not recs and splits.get(name):
                    raise RppgError(
                        f"no {name} recording could be prepared; first problem: "
                        f"{next(iter(skipped.values()))}"
                    )
        return self.ctx.share(prepared)

    def _state(self, task: Task) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "model": {"name": cfg.model.name, "options": cfg.model.options},
            "task": {"name": cfg.task_name, "options": cfg.task.options},
            "clip": self.spec.as_dict(),
            "config": cfg.model_dump(),
            "state_dict": _cpu(task.network.state_dict()),
            "extra": _cpu(task.extra_state_dict()),
        }

    def _tensorboard(self) -> Any:
        if not self.cfg.log.tensorboard:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise RppgError(
                "log.tensorboard needs the tensorboard package: pip install tensorboard"
            ) from None
        return SummaryWriter(str(self.out / "tensorboard"))


def _cpu(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in weights.items()}


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _cycle(loader: DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of `loader` without end (the held-out half of a bi-level task)."""
    while True:
        yield from loader


def _items(task: Task) -> str:
    return "episodes" if task.data == "episodic" else "clips"


@contextlib.contextmanager
def _run_folder(out: Path, main: bool) -> Iterator[None]:
    """Create `out` (on the main process); when the run fails before its first checkpoint,
    remove what it created, parents included, so a failed run leaves no empty folders."""
    created = None
    if main:
        for folder in (out, *out.parents):
            if folder.exists():
                break
            created = folder
        ensure_dir(out)
    try:
        yield
    except BaseException:
        if created is not None and not (out / "last.pt").exists():
            shutil.rmtree(created, ignore_errors=True)
        raise


def _at(config: dict[str, Any], key: str) -> Any:
    """The value at a dotted key of a config dump (None where it is not set)."""
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _difference(was: Any, now: Any, key: str) -> tuple[str, Any, Any] | None:
    """The first dotted key at or below `key` whose value differs: (key, was, now)."""
    if isinstance(was, dict) and isinstance(now, dict):
        for part in [*was, *(k for k in now if k not in was)]:
            found = _difference(was.get(part), now.get(part), f"{key}.{part}")
            if found is not None:
                return found
        return None
    return None if was == now else (key, was, now)


def _shown(value: Any) -> str:
    return "unset" if value is None else repr(value)


class _Budget:
    """A wall-clock budget in minutes (None: none): `spent` once the time left is shorter
    than the last lap (an epoch with its validation)."""

    def __init__(self, minutes: float | None) -> None:
        self.minutes = minutes
        self.start = self.mark = time.monotonic()
        self.last = 0.0

    def lap(self) -> None:
        now = time.monotonic()
        self.last, self.mark = now - self.mark, now

    def spent(self) -> bool:
        if self.minutes is None:
            return False
        return time.monotonic() + self.last > self.start + 60.0 * self.minutes


def _seed(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic  # fastest kernels, chosen per shape
