"""A task's optimisers with the configured learning-rate schedule, gradient scaler and step."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from rppgkit.models.task import Stepper, Task
from rppgkit.train.config import Config, OptimConfig
from rppgkit.train.distributed import Context


class Optimisation:
    """Everything that changes weights: the task's optimisers by name, one schedule each (the
    configured one), the gradient scaler, and the `Stepper` the task's step uses."""

    def __init__(
        self,
        optimizers: dict[str, torch.optim.Optimizer],
        factor: Callable[[int], float],
        scaler: torch.amp.GradScaler,
        stepper: Stepper,
    ) -> None:
        self.optimizers, self.factor, self.scaler, self.stepper = (
            optimizers,
            factor,
            scaler,
            stepper,
        )
        self.schedulers = {
            name: torch.optim.lr_scheduler.LambdaLR(o, factor) for name, o in optimizers.items()
        }

    def lr(self) -> float:
        """The learning rate of the first optimiser's first group (the one metrics.csv shows)."""
        return next(iter(self.optimizers.values())).param_groups[0]["lr"]

    def schedule(self) -> None:
        """Advance every schedule by one epoch."""
        for scheduler in self.schedulers.values():
            scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], epochs_done: int) -> None:
        """Restore from a checkpoint after `epochs_done` epochs; the learning rates follow the
        schedule of this run's config (its epoch count may have changed)."""
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
            scheduler = self.schedulers[name]
            scheduler.load_state_dict(state["schedulers"][name])
            for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
                group["lr"] = base * self.factor(epochs_done)
        self.scaler.load_state_dict(state["scaler"])


def build_optimisation(cfg: Config, task: Task, ctx: Context) -> Optimisation:
    """The task's optimisers (built from the config's `optim` section, with the task's own
    overrides), scheduled as configured, with mixed precision on CUDA."""
    amp = cfg.train.amp and ctx.device.type == "cuda"
    fp16 = amp and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)
    optimizers = task.optimizers(lambda params, **kw: make_optimizer(cfg.optim, params, **kw))
    stepper = Stepper(optimizers, scaler, cfg.train.grad_clip, ctx.average)
    return Optimisation(optimizers, lr_factor(cfg), scaler, stepper)


def make_optimizer(
    o: OptimConfig, params: Iterable[torch.nn.Parameter], **overrides: Any
) -> torch.optim.Optimizer:
    """The configured optimiser over `params`; `overrides` replace config fields (``name``,
    ``lr``, ``weight_decay``, ``momentum``, and Adam's ``betas``)."""
    settings = o.model_dump() | overrides
    name, lr, decay = settings.pop("name"), settings.pop("lr"), settings.pop("weight_decay")
    momentum = settings.pop("momentum")
    if name == "sgd":
        return torch.optim.SGD(params, lr, momentum=momentum, weight_decay=decay, **settings)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adamax": torch.optim.Adamax}
    return cls[name](params, lr=lr, weight_decay=decay, **settings)


def lr_factor(cfg: Config) -> Callable[[int], float]:
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
