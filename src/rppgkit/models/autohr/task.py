"""AutoHR's two training tasks: the architecture search on the supernet, and the retraining of
the derived network from scratch, both on the paper's hybrid loss.

Hybrid loss: ``pearson * NegPearson + frequency * L_freq`` (the paper's
``lambda * L_time + L_freq``), L_freq the cross-entropy between the softmax of the predicted
power over 40-180 bpm (1-bpm bins) and the reference HR's class. methods.md gives no lambda;
both weights default to 1. ``spectrum`` picks the normalisation of the power before the
softmax (`rppgkit.models.losses.frequency_ce`): ``mean`` (rppgkit's default) or ``sum`` (the
authors' released PhysFormer code; the AutoHR paper states none).

Search (DARTS, bi-level): the engine hands each step a batch from one half of the training
recordings and one from the other. Alphas step first, on the held-out batch, then the weights
on the batch. First order takes the held-out loss's gradient at the current weights; second
order (``second_order=True``) takes it at the weights after one virtual gradient step,
``w' = w - xi * grad_w L_train``, and subtracts ``xi`` times the mixed second derivative,
approximated by finite differences (DARTS eq. 7-8). ``xi`` is the weights' current learning
rate; the virtual step is plain gradient descent (DARTS' code adds momentum and decay).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.func import functional_call

from rppgkit.checks import Range, check
from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.models.autohr.augment import cutout, resample_by_rate
from rppgkit.models.losses import BPM_RANGE, frequency_ce, neg_pearson
from rppgkit.models.task import Batch, MakeOptimizer, Stepper, Task, total

# the alphas' Adam: DARTS' settings (methods.md records none for AutoHR)
ALPHA_LR, ALPHA_BETAS, ALPHA_DECAY = 3e-4, (0.5, 0.999), 1e-3
FINITE_STEP = 0.01  # DARTS' finite-difference radius, divided by the gradient's norm
SHARE = Range(0, 1)
Objective = Callable[[dict[str, torch.Tensor], Batch], torch.Tensor]  # (weights, batch) -> loss


@dataclass(frozen=True)
class HybridLoss:
    """AutoHR's loss as named parts: ``pearson`` and ``frequency``."""

    pearson: float = 1.0
    frequency: float = 1.0
    spectrum: Literal["mean", "sum"] = "mean"

    def __call__(
        self, pred: torch.Tensor, label: torch.Tensor, spec: ClipSpec
    ) -> dict[str, torch.Tensor]:
        derivative = spec.norm == "diffnormalized"
        ce = frequency_ce(pred, label, spec.fs, BPM_RANGE, derivative, self.spectrum)
        return {
            "pearson": self.pearson * neg_pearson(pred, label),
            "frequency": self.frequency * ce,
        }


def _hybrid(pearson: float, frequency: float, spectrum: str) -> HybridLoss:
    """The hybrid loss of a task's options; RppgError for an unknown spectrum normalisation."""
    if spectrum not in ("mean", "sum"):
        raise RppgError(f"task.options.spectrum must be 'mean' or 'sum', got {spectrum!r}")
    return HybridLoss(pearson, frequency, spectrum)  # type: ignore[arg-type]


class AutoHRTask(Task):
    """Retraining the derived network: hybrid loss on labelled clips, with AutoHR's cutout and
    conditional temporal resampling applied to each training batch (not to validation).

    ``cutout``: the probability that a clip loses a tube; ``resample``: the probability that a
    clip above 90 or below 70 bpm is resampled (0 turns either off).
    """

    def __init__(
        self,
        network: nn.Module,
        pearson: float = 1.0,
        frequency: float = 1.0,
        spectrum: str = "mean",
        cutout: float = 0.5,
        resample: float = 0.5,
    ) -> None:
        super().__init__(network)
        self.loss = _hybrid(pearson, frequency, spectrum)
        self.cutout = check("task.options.cutout", cutout, SHARE)
        self.resample = check("task.options.resample", resample, SHARE)

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        return self.loss(self.network(batch["clip"]), batch["label"], spec)

    def train_step(
        self, batch: Batch, spec: ClipSpec, step: Stepper, held_out: Batch | None = None
    ) -> dict[str, torch.Tensor]:
        parts = self.losses(self.augmented(batch, spec), spec)
        step.minimise(total(parts))
        return parts

    def augmented(self, batch: Batch, spec: ClipSpec) -> Batch:
        """The batch resampled and cut out, drawn from a generator that the global seed seeds
        (the engine seeds it per epoch, so a resumed run draws the same)."""
        clip = batch["clip"]
        generator = torch.Generator(clip.device)
        generator.manual_seed(int(torch.randint(2**62, ())))
        clip, label = resample_by_rate(
            clip, batch["label"], spec.fs, spec.norm, self.resample, generator
        )
        return batch | {"clip": cutout(clip, self.cutout, generator), "label": label}


class AutoHRSearchTask(Task):
    """The architecture search: the supernet's weights and the alphas (a parameter of this
    task, so checkpoints keep them under ``extra`` and `derive` recovers the genotype from any
    of them) learn on the two halves of the training recordings."""

    bilevel = True

    def __init__(
        self,
        network: nn.Module,
        pearson: float = 1.0,
        frequency: float = 1.0,
        spectrum: str = "mean",
        second_order: bool = False,
        alpha_lr: float = ALPHA_LR,
        alpha_weight_decay: float = ALPHA_DECAY,
    ) -> None:
        super().__init__(network)
        self.loss = _hybrid(pearson, frequency, spectrum)
        self.second_order = second_order
        self.alpha_lr, self.alpha_weight_decay = alpha_lr, alpha_weight_decay
        self.alphas = nn.Parameter(network.initial_alphas())

    def optimizers(self, make: MakeOptimizer) -> dict[str, torch.optim.Optimizer]:
        """The configured optimiser over the weights; Adam over the alphas."""
        alphas = make(
            [self.alphas],
            name="adam",
            lr=self.alpha_lr,
            betas=ALPHA_BETAS,
            weight_decay=self.alpha_weight_decay,
        )
        return {"weights": make(self.network.parameters()), "alphas": alphas}

    def predict(self, clip: torch.Tensor) -> torch.Tensor:
        return self.network(clip, self.alphas)

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        return self.loss(self.predict(batch["clip"]), batch["label"], spec)

    def train_step(
        self, batch: Batch, spec: ClipSpec, step: Stepper, held_out: Batch | None = None
    ) -> dict[str, torch.Tensor]:
        if held_out is None:
            raise ValueError("the AutoHR search needs a held-out batch (a bi-level engine)")
        if self.second_order:
            xi = step.optimizers["weights"].param_groups[0]["lr"]
            weights = dict(self.network.named_parameters())
            grad = unrolled_alpha_grad(
                self._objective(spec), weights, self.alphas, batch, held_out, xi
            )
            step.minimise((self.alphas * grad).sum(), "alphas")  # its gradient is `grad`
        else:
            step.minimise(total(self.losses(held_out, spec)), "alphas")
        parts = self.losses(batch, spec)
        step.minimise(total(parts), "weights")
        return parts

    def _objective(self, spec: ClipSpec) -> Objective:
        """The total loss of a batch at given supernet weights (named as `named_parameters`)."""

        def objective(weights: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
            pred = functional_call(self.network, weights, (batch["clip"], self.alphas))
            return total(self.loss(pred, batch["label"], spec))

        return objective


def unrolled_alpha_grad(
    objective: Objective,
    weights: dict[str, torch.Tensor],
    alphas: torch.Tensor,
    batch: Batch,
    held_out: Batch,
    xi: float,
) -> torch.Tensor:
    """DARTS' second-order gradient of the held-out loss with respect to the alphas.

    ``grad_a L_val(w', a) - xi * (grad_a L_train(w+, a) - grad_a L_train(w-, a)) / (2 eps)``
    with ``w' = w - xi grad_w L_train(w, a)``, ``w+- = w +- eps grad_w' L_val(w', a)`` and
    ``eps = 0.01 / |grad_w' L_val|``.

    Parameters
    ----------
    objective
        The loss of a batch at given weights, ``objective(weights, batch)``.
    weights
        The current weights by name.
    alphas
        The architecture weights that `objective` reads.
    batch, held_out
        A batch of the weights' half of the data and one of the alphas' half.
    xi
        The virtual step's learning rate.

    Returns
    -------
    The gradient, shaped as `alphas`.
    """
    names = list(weights)
    unused = {"allow_unused": True, "materialize_grads": True}  # weights an op may skip
    step = torch.autograd.grad(objective(weights, batch), list(weights.values()), **unused)
    virtual = {n: (weights[n] - xi * g).detach().requires_grad_() for n, g in zip(names, step)}
    grad_alpha, *grad_w = torch.autograd.grad(
        objective(virtual, held_out), [alphas, *virtual.values()], **unused
    )
    eps = FINITE_STEP / torch.cat([g.flatten() for g in grad_w]).norm().clamp(min=1e-12)

    def alpha_grad_at(sign: float) -> torch.Tensor:
        moved = {n: (weights[n] + sign * eps * g).detach() for n, g in zip(names, grad_w)}
        return torch.autograd.grad(objective(moved, batch), alphas)[0]

    return grad_alpha - xi * (alpha_grad_at(1.0) - alpha_grad_at(-1.0)) / (2 * eps)
