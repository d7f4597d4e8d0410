"""A paper's training procedure, as the shared engine (`rppgkit.train`) runs it.

A `Task` owns the networks it trains (``self.network`` reads the pulse; other parts -- an
augmenter, a synthetic-gradient generator, architecture weights -- are further sub-modules),
says what data it learns from (`data`), builds its optimisers, returns its loss as named parts,
and may replace the default optimisation step (a bi-level or episodic step). At inference it
predicts the pulse of clips and may adapt a *copy* of itself to one video's unlabelled clips.

The engine owns everything else: data, schedule, mixed precision, gradient clipping and
averaging over processes (through `Stepper`), checkpoints, resume, logging and testing. It knows
no method by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.datasets.base import DataKind
from rppgkit.errors import RppgError

Batch = dict[str, torch.Tensor]  # a collated batch: clip [B, 3, T, H, W], label [B, T], ...
MakeOptimizer = Callable[..., torch.optim.Optimizer]  # (params, **overrides) -> optimiser


class Stepper:
    """The engine's side of one optimisation step: gradient scaling for mixed precision,
    averaging over processes, clipping, and stepping the named optimisers."""

    def __init__(
        self,
        optimizers: dict[str, torch.optim.Optimizer],
        scaler: torch.amp.GradScaler,
        grad_clip: float | None,
        average: Callable[[list[torch.Tensor]], None],
    ) -> None:
        self.optimizers, self.scaler = optimizers, scaler
        self.grad_clip, self.average = grad_clip, average

    def minimise(self, loss: torch.Tensor, *names: str) -> None:
        """Backpropagate `loss` and step the optimisers `names` (every one when none is named);
        the others' parameters keep their values."""
        chosen = [self.optimizers[n] for n in names or self.optimizers]
        for optimizer in chosen:
            optimizer.zero_grad(set_to_none=True)
        with torch.autocast(loss.device.type, enabled=False):
            self.scaler.scale(loss).backward()
        params = [p for o in chosen for g in o.param_groups for p in g["params"]]
        self.average([p.grad for p in params if p.grad is not None])
        for optimizer in chosen:
            if self.grad_clip is not None:
                self.scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(
                    [p for g in optimizer.param_groups for p in g["params"]], self.grad_clip
                )
            self.scaler.step(optimizer)
        self.scaler.update()


class Task(nn.Module):
    """Base of the training tasks; subclasses implement `losses` (or `train_step`).

    Class attributes: ``data`` is the data kind it learns from; ``bilevel=True`` makes the
    engine split the training recordings into two halves and pass `train_step` a batch of each
    (the second as ``held_out``), as DARTS-style searches need; ``aside`` names loss parts that
    are logged but are not the network's loss (an auxiliary network's own): they stay out of
    the training and validation loss, so out of the choice of best.pt.
    """

    data: ClassVar[DataKind] = "labelled"
    bilevel: ClassVar[bool] = False
    aside: ClassVar[tuple[str, ...]] = ()

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def setup(self) -> None:
        """Before training: load pre-trained parts and freeze what the task does not train."""

    def check(self, data: Any) -> None:
        """Refuse, with a one-line RppgError, training data the task cannot learn from; by
        default, clips the network says it cannot read (`check_clip`)."""
        check_clip(self.network, data.spec)

    def optimizers(self, make: MakeOptimizer) -> dict[str, torch.optim.Optimizer]:
        """The optimisers by name; by default one, as configured, over every trainable
        parameter. `make(params, **overrides)` builds the configured optimiser."""
        return {"network": make(trainable(self))}

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        """The loss of one batch as named, weighted parts; training minimises their sum."""
        raise NotImplementedError

    def train_step(
        self, batch: Batch, spec: ClipSpec, step: Stepper, held_out: Batch | None = None
    ) -> dict[str, torch.Tensor]:
        """One optimisation step on `batch`; returns the loss parts it logged."""
        parts = self.losses(batch, spec)
        step.minimise(total(parts))
        return parts

    def predict(self, clip: torch.Tensor) -> torch.Tensor | None:
        """The pulse ``[B, T]`` of clips ``[B, 3, T, H, W]`` (None for a network that reads no
        pulse)."""
        return self.network(clip)

    def adapt(self, clips: Iterator[torch.Tensor]) -> Task:
        """A copy of the task adapted to one video's unlabelled clips (batches
        ``[b, 3, T, H, W]`` of its windows, as inference reads them), leaving this one
        unchanged; tasks without transductive adaptation return themselves unread."""
        return self

    def extra_state_dict(self) -> dict[str, torch.Tensor]:
        """The task's state beyond the pulse network (other networks, buffers), for
        checkpoints."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("network.")}


def total(parts: dict[str, torch.Tensor]) -> torch.Tensor:
    """The sum of named loss parts."""
    return torch.stack([v.float() for v in parts.values()]).sum()


def trainable(module: nn.Module | Iterable[nn.Module]) -> list[nn.Parameter]:
    """The parameters of `module` (or modules) that require gradients."""
    modules = [module] if isinstance(module, nn.Module) else list(module)
    return [p for m in modules for p in m.parameters() if p.requires_grad]


def check_clip(network: nn.Module, spec: ClipSpec) -> None:
    """RppgError if `network` has a ``clip_problem(frames, size)`` that finds one in `spec`
    (a network whose pooling needs a least crop size or a clip length multiple says so there,
    and training refuses the config in one line instead of failing inside a layer)."""
    rule = getattr(network, "clip_problem", None)
    problem = rule(spec.frames, spec.size) if rule is not None else None
    if problem:
        raise RppgError(f"{type(network).__name__} {problem}; change data.clip in the config")
