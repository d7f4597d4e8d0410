"""The one training engine behind every recipe.

Given a validated `Config` it prepares the clips, builds the model and the recipe's loss, and
runs epochs with: seeded, optionally deterministic execution; the configured optimiser and LR
schedule; gradient clipping; mixed precision on CUDA; DistributedDataParallel under torchrun;
an atomic `last.pt` after every epoch (`resume=True` continues from it) and `best.pt` on the best
validation figure; `metrics.csv` (and TensorBoard if asked); and finally the test split scored
with `best.pt`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
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
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from rppgkit.clip import ClipSpec
from rppgkit.clip.cache import CachedRecording, prepare
from rppgkit.clip.normalize import to_pulse
from rppgkit.datasets.base import Recording
from rppgkit.errors import RppgError
from rppgkit.fileio import ensure_dir, write_text
from rppgkit.models import create
from rppgkit.models.checkpoint import load_checkpoint, load_weights, save_checkpoint
from rppgkit.models.recipe import Recipe, create_recipe
from rppgkit.progress import progress_bar
from rppgkit.pulse import heart_rate
from rppgkit.train.config import Config
from rppgkit.train.data import (
    SPLITS,
    ClipDataset,
    GlobalBatchSampler,
    PairedClipDataset,
    resolve_splits,
)
from rppgkit.train.distributed import Context, setup, sync_batchnorm

HR_BAND_HZ = (0.7, 3.0)
MIN_HR_CLIP_S = 3.0  # a clip needs two beats at 42 bpm for a spectral HR
COLUMNS = ("epoch", "lr", "train_loss", "val_loss", "val_mae", "clips_per_s", "epoch_s")
RESUMED = ("optimizer", "scheduler", "scaler", "history", "best", "config")  # in last.pt
# config keys a resumed run must keep: its weights, optimiser state and clips depend on them
KEPT_ON_RESUME = ("model", "recipe.name", "data.clip", "optim.name")


@dataclass(frozen=True)
class TrainResult:
    out: Path
    history: list[dict[str, float]]  # one row per epoch, as in metrics.csv
    best_epoch: int
    test: dict[str, float] | None  # test-split figures of best.pt


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
        """Check everything that can be checked (model and recipe options, the run being
        resumed, the data folders), then create log.out and train; a run that fails before its
        first checkpoint leaves no new folder behind."""
        cfg, ctx = self.cfg, self.ctx
        state = self._resumed(resume)
        _seed(cfg.train.seed, cfg.train.deterministic)
        torch.set_num_threads(cfg.train.threads or max(1, (os.cpu_count() or 1) // ctx.world))
        model = create(cfg.model.name, **cfg.model.options)
        recipe = create_recipe(cfg.recipe_name, **cfg.recipe.options)
        if recipe.paired and ctx.world > 1:
            raise RppgError(
                f"recipe {cfg.recipe_name!r} trains on one process; run it without torchrun"
            )
        recipe.setup(model)
        splits = resolve_splits(cfg.data) if ctx.main else None
        if splits is not None and not splits.get("train"):
            raise RppgError("the training split is empty; check data in the config")
        with _run_folder(self.out, ctx.main):
            if state is None and ctx.main:
                dump = yaml.safe_dump(cfg.model_dump(), sort_keys=False)
                write_text(self.out / "config.yaml", dump)
            return self._fit(model, recipe, state, self._data(splits))

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
        self,
        model: nn.Module,
        recipe: Recipe,
        state: dict[str, Any] | None,
        data: dict[str, list[CachedRecording]],
    ) -> TrainResult:
        """Train from scratch or from the resumed `state`; score the test split at the end."""
        cfg, ctx = self.cfg, self.ctx
        model = model.to(ctx.device)
        model = sync_batchnorm(model, ctx)  # statistics over the global batch, as on one process
        optimizer = _optimizer(cfg, model)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(cfg))
        amp = cfg.train.amp and ctx.device.type == "cuda"
        amp_dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda", enabled=amp and amp_dtype == torch.float16)
        history: list[dict[str, float]] = []
        best: dict[str, Any] = {"epoch": -1, "score": math.inf}
        if state is not None:
            history, best = self._restore(state, model, (optimizer, scheduler, scaler))
        net = model
        if ctx.world > 1:
            ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
            net = DistributedDataParallel(model, device_ids=ids)
        train_set = self._dataset(recipe, data["train"], model, training=True)
        if len(train_set) < cfg.train.batch_size:
            raise RppgError(
                f"the training split has {len(train_set)} clips, fewer than one batch of "
                f"{cfg.train.batch_size}; add data or lower train.batch_size"
            )
        sampler = GlobalBatchSampler(
            len(train_set), cfg.train.batch_size, ctx.rank, ctx.world, cfg.train.seed
        )
        loader = DataLoader(
            train_set,
            batch_sampler=sampler,
            num_workers=cfg.data.loader_workers,
            pin_memory=ctx.device.type == "cuda",
        )
        val_set = self._dataset(recipe, data["val"], model)
        board = self._tensorboard() if ctx.main else None
        for epoch in range(len(history), cfg.train.epochs):
            torch.manual_seed(cfg.train.seed * 100_003 + epoch)  # dropout etc. repeat on resume
            sampler.set_epoch(epoch)
            train_set.set_epoch(epoch)
            lr = optimizer.param_groups[0]["lr"]
            start = time.perf_counter()
            loss = self._epoch(net, recipe, loader, optimizer, scaler, amp, amp_dtype)
            seconds = time.perf_counter() - start
            scheduler.step()
            val = self.score(model, recipe, val_set)
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": ctx.mean(loss),
                "val_loss": val["loss"],
                "val_mae": val["mae"],
                "clips_per_s": len(sampler) * cfg.train.batch_size / seconds,
                "epoch_s": seconds,
            }
            history.append(row)
            score = row[f"val_{cfg.train.select}"]
            if not np.isfinite(score):  # clips too short for an HR: select on the loss
                score = row["val_loss"]
            improved = np.isfinite(score) and score < best["score"]
            if improved:
                best = {"epoch": epoch + 1, "score": float(score)}
            if ctx.main:
                if improved:
                    save_checkpoint(self._state(model), self.out / "best.pt")
                progress = {"history": history, "best": best}
                self._save_last(model, (optimizer, scheduler, scaler), progress)
                if board is not None:
                    for key in COLUMNS[1:]:
                        board.add_scalar(key, row[key], epoch + 1)
            self.say(
                f"epoch {epoch + 1}/{cfg.train.epochs}: train loss {row['train_loss']:.4f}, "
                f"val loss {row['val_loss']:.4f}, val MAE {row['val_mae']:.2f} bpm, "
                f"{row['clips_per_s']:.1f} clips/s"
            )
            ctx.barrier()
        if board is not None:
            board.close()
        test = self._test(model, recipe, data["test"])
        return TrainResult(self.out, history, int(best["epoch"]), test)

    def _restore(
        self, state: dict[str, Any], model: nn.Module, stateful: tuple[Any, ...]
    ) -> tuple[list[dict[str, float]], dict[str, Any]]:
        """Load last.pt's weights, optimiser, schedule and scaler; its history and best."""
        optimizer, scheduler, scaler = stateful
        load_weights(model, state, self.out / "last.pt")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        history = state["history"]
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base * _lr_factor(self.cfg)(len(history))  # epochs may have changed
        self.say(f"resuming {self.out} after epoch {len(history)}")
        return history, state["best"]

    def _save_last(self, model: nn.Module, stateful: tuple[Any, ...], progress: dict) -> None:
        """Write last.pt (model, optimiser, schedule, scaler and `progress`) and metrics.csv."""
        optimizer, scheduler, scaler = stateful
        state = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
        }
        save_checkpoint(self._state(model) | state | progress, self.out / "last.pt")
        write_text(self.out / "metrics.csv", _csv(progress["history"]))

    def _test(
        self, model: nn.Module, recipe: Recipe, recs: list[CachedRecording]
    ) -> dict[str, float] | None:
        """Score best.pt on the test split (None without one); write test.csv."""
        best = self.out / "best.pt"
        if not recs or not best.exists():
            return None
        load_weights(model, load_checkpoint(best), best)
        test = self.score(model, recipe, self._dataset(recipe, recs, model))
        if self.ctx.main:
            write_text(self.out / "test.csv", _csv([{"split": "test", **test}]))
        return test

    def _dataset(
        self, recipe: Recipe, recs: list[CachedRecording], model: nn.Module, training: bool = False
    ) -> ClipDataset | PairedClipDataset:
        """Chunks of the recordings (or compression-ladder pairs, for a paired recipe): the
        training split overlapping and augmented, the others back to back."""
        step = self.step if training else self.spec.frames
        aug = self.cfg.data.augment.build() if training else None
        if not recipe.paired:
            return ClipDataset(recs, self.spec, step, aug, self.cfg.train.seed)
        if aug is not None and aug.active:
            raise RppgError("data.augment does not apply to paired (STVEN) training; remove it")
        pairs = PairedClipDataset(recs, self.spec, step)
        levels = getattr(model, "levels", pairs.levels)
        if pairs.levels > levels:
            raise RppgError(
                f"the ladder has {pairs.levels} levels but the model {levels}; set "
                f"model.options.levels={pairs.levels}"
            )
        return pairs

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

    def _epoch(
        self,
        net: nn.Module,
        recipe: Recipe,
        loader: DataLoader,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        amp: bool,
        amp_dtype: torch.dtype,
    ) -> float:
        net.train()
        total, count = 0.0, 0
        device, clip = self.ctx.device, self.cfg.train.grad_clip
        enabled = self.ctx.main and self.cfg.log.progress
        with progress_bar("training", len(loader), enabled) as tick:
            for i, batch in enumerate(loader):
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                    loss = recipe.loss(net, batch, self.spec)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(net.parameters(), clip)
                scaler.step(optimizer)
                scaler.update()
                total += float(loss.detach())
                count += 1
                tick(i)
        return total / max(count, 1)

    @torch.no_grad()
    def score(
        self, model: nn.Module, recipe: Recipe, data: ClipDataset | PairedClipDataset
    ) -> dict[str, float]:
        """Mean loss, and the MAE of per-clip spectral HR against the label's HR."""
        if not len(data):
            return {"loss": float("nan"), "mae": float("nan"), "clips": 0}
        model.eval()
        losses, errors = [], []
        loader = DataLoader(data, batch_size=self.cfg.train.batch_size)
        fs, norm = self.spec.fs, self.spec.norm
        hr = self.spec.frames / fs >= MIN_HR_CLIP_S  # shorter clips get no HR, only a loss
        for batch in loader:
            batch = {k: v.to(self.ctx.device) for k, v in batch.items()}
            losses.append(float(recipe.loss(model, batch, self.spec)))
            if not hr:
                continue
            pred = recipe.predict(model, batch["clip"])
            if pred is None:  # a model without a pulse (STVEN alone): the loss only
                continue
            for p, y in zip(pred.float().cpu().numpy(), batch["label"].cpu().numpy()):
                est = heart_rate(to_pulse(p, norm), fs, HR_BAND_HZ).bpm
                ref = heart_rate(to_pulse(y, norm), fs, HR_BAND_HZ).bpm
                errors.append(abs(est - ref))
        mae = float(np.mean(errors)) if errors else float("nan")
        return {"loss": float(np.mean(losses)), "mae": mae, "clips": len(data)}

    def _state(self, model: nn.Module) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "model": {"name": cfg.model.name, "options": cfg.model.options},
            "recipe": {"name": cfg.recipe_name, "options": cfg.recipe.options},
            "clip": self.spec.as_dict(),
            "config": cfg.model_dump(),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
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


def _seed(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def _optimizer(cfg: Config, model: nn.Module) -> torch.optim.Optimizer:
    o = cfg.optim
    params = model.parameters()
    if o.name == "sgd":
        return torch.optim.SGD(params, o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adamax": torch.optim.Adamax}
    return cls[o.name](params, lr=o.lr, weight_decay=o.weight_decay)


def _lr_factor(cfg: Config) -> Callable[[int], float]:
    """LR multiplier per epoch: linear warm-up, then constant, cosine to zero, or steps."""
    s, epochs = cfg.schedule, cfg.train.epochs

    def factor(epoch: int) -> float:
        if epoch < s.warmup_epochs:
            return (epoch + 1) / (s.warmup_epochs + 1)
        if s.name == "cosine":
            span = max(epochs - s.warmup_epochs, 1)
            return 0.5 * (1 + math.cos(math.pi * (epoch - s.warmup_epochs) / span))
        if s.name == "step":
            return s.gamma ** ((epoch - s.warmup_epochs) // s.step_epochs)
        return 1.0

    return factor


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
