"""Meta-rPPG's episodic training and its transductive adaptation.

Each item of the engine's episodic data is one video as one task: K support clips followed in
time by K query clips (K = 2, the engine's default), with their reference pulses. One training
step on a batch of episodes:

1. The support clips' features z at the current extractor theta. The generator g_psi is to
   predict the true gradient dL_ORD/dz of each clip's own ordinal loss there (L_SYN).
2. The inner step, `inner_steps` times (default 1): ``theta' = theta - adapt_lr * d``, where d
   is the synthetic gradient g_psi(z) pulled back through the extractor plus the gradient of
   L_PROTO. It uses no label: it is what adaptation does at test time.
3. The outer step: L_ORD + L_PROTO of the query clips read through theta' and the estimator
   phi, minimised over theta and phi through the inner step (second order; SGD as configured).
4. The generator's step on L_SYN (its own optimiser, the same settings).

The prototype (a buffer) is the moving average of the support clips' mean feature,
``p = gamma p + (1 - gamma) mean(z)`` (gamma 0.8; the first batch sets it), updated before
each training step's losses. Pre-training, the first `pretrain_steps` steps, is the same step
without the inner step: theta and phi learn the ordinal code on the query clips, while g_psi
is already fitted. Validation runs the whole episode (inner step included) without updates.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from itertools import islice
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from rppgkit.checks import COUNT, Range, check
from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.models.meta_rppg.loss import ordinal_loss, prototype_loss, quantise, synthetic_loss
from rppgkit.models.meta_rppg.network import SyntheticGradient
from rppgkit.models.task import Batch, MakeOptimizer, Stepper, Task, trainable

Weights = dict[str, torch.Tensor]  # the extractor's parameters by name (possibly adapted)


class MetaRPPGTask(Task):
    """Meta-rPPG's task: episodic meta-training, and adaptation of a copy to a video.

    Parameters
    ----------
    network
        `MetaRPPG` (extractor and ordinal estimator).
    frames
        The window length T the generator reads; must equal ``data.clip.frames``.
    adapt_lr
        The learning rate of the inner step and of test-time adaptation (the paper's 1e-5).
    inner_steps
        Inner steps per training episode.
    adapt_steps
        Steps of test-time adaptation (the paper's 10).
    pretrain_steps
        Training steps without the inner step first.
    gamma
        The prototype's moving-average weight of its old value (0.8).
    """

    data = "episodic"
    aside = ("synthetic",)  # the generator's loss: not what picks the network's best.pt

    def __init__(
        self,
        network: nn.Module,
        frames: int = 60,
        adapt_lr: float = 1e-5,
        inner_steps: int = 1,
        adapt_steps: int = 10,
        pretrain_steps: int = 0,
        gamma: float = 0.8,
    ) -> None:
        super().__init__(network)
        self.frames = check("task.options.frames", frames, COUNT)
        self.adapt_lr = check("task.options.adapt_lr", adapt_lr, Range(0, above=True))
        self.inner_steps = check("task.options.inner_steps", inner_steps, COUNT)
        self.adapt_steps = check("task.options.adapt_steps", adapt_steps, COUNT)
        self.pretrain_steps = check("task.options.pretrain_steps", pretrain_steps, Range(0))
        self.gamma = check("task.options.gamma", gamma, Range(0, 1))
        self.generator = SyntheticGradient(frames)
        self.register_buffer("prototype", torch.zeros(network.extractor.width))
        self.register_buffer("prototype_set", torch.tensor(False))
        self.register_buffer("steps", torch.tensor(0))  # training steps taken

    def check(self, data: Any) -> None:
        """Refuse episodes the task cannot learn from: no labels, frame differences (the code
        quantises the pulse itself), or windows the generator was not built for."""
        spec: ClipSpec = data.spec
        if not data.labelled:
            raise RppgError(
                "meta-rppg trains on labelled episodes; give only recordings with a reference"
            )
        if spec.norm == "diffnormalized":
            raise RppgError(
                "meta-rppg quantises the pulse itself, not its frame differences; set "
                "data.clip.norm to standardized"
            )
        if spec.frames != self.frames:
            raise RppgError(
                f"data.clip.frames is {spec.frames} but the synthetic-gradient generator reads "
                f"{self.frames}-frame windows; set task.options.frames to {spec.frames}"
            )

    def optimizers(self, make: MakeOptimizer) -> dict[str, torch.optim.Optimizer]:
        """The configured optimiser over theta and phi, and one over the generator psi."""
        return {
            "network": make(trainable(self.network)),
            "generator": make(trainable(self.generator)),
        }

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        """The episode's parts after the inner step (gradients are needed even to score)."""
        with torch.enable_grad():
            parts = self.episode(batch, create_graph=False)
        return {name: value.detach() for name, value in parts.items()}

    def train_step(
        self, batch: Batch, spec: ClipSpec, step: Stepper, held_out: Batch | None = None
    ) -> dict[str, torch.Tensor]:
        parts = self.episode(batch, create_graph=True)
        step.minimise(parts["ordinal"] + parts["prototype"], "network")
        step.minimise(parts["synthetic"], "generator")
        self.steps.add_(1)
        return parts

    def episode(self, batch: Batch, create_graph: bool) -> dict[str, torch.Tensor]:
        """The loss parts of a batch of episodes: ``ordinal`` and ``prototype`` of the query
        clips after the inner step on the support clips, and ``synthetic`` of the support
        clips; in training mode the prototype takes the support features in first.

        Parameters
        ----------
        batch
            Episodes: ``support_clip`` / ``query_clip`` ``[B, K, 3, T, H, W]`` and their
            ``*_label`` ``[B, K, T]``.
        create_graph
            Keep the inner step differentiable (training: the outer gradient is second order).

        Returns
        -------
        The three parts, each a scalar.
        """
        if "support_label" not in batch:  # scoring a split with a recording of no reference
            raise RppgError(
                "meta-rppg scores episodes against their reference pulse; give validation and "
                "test recordings that have one"
            )
        levels = self.network.estimator.levels
        support, query = batch["support_clip"].flatten(0, 1), batch["query_clip"].flatten(0, 1)
        z = self.network.extractor(support)
        if self.training:
            self._update_prototype(z.detach())
        true = self._true_gradient(z, quantise(batch["support_label"].flatten(0, 1), levels))
        synthetic = synthetic_loss(self.generator(z.detach()), true)
        pretraining = self.training and int(self.steps) < self.pretrain_steps
        weights = dict(self.network.extractor.named_parameters())
        for i in range(0 if pretraining else self.inner_steps):
            weights = self.inner_step(weights, support, z if i == 0 else None, create_graph)
        zq = functional_call(self.network.extractor, weights, (query,))
        logits = self.network.estimator(zq)
        return {
            "ordinal": ordinal_loss(logits, quantise(batch["query_label"].flatten(0, 1), levels)),
            "prototype": prototype_loss(zq, self.prototype),
            "synthetic": synthetic,
        }

    def inner_step(
        self,
        weights: Weights,
        clips: torch.Tensor,
        z: torch.Tensor | None = None,
        create_graph: bool = False,
    ) -> Weights:
        """One unsupervised step of the extractor: ``theta - adapt_lr * d`` with d the
        synthetic gradient g_psi(z) pulled back through the extractor plus grad L_PROTO.

        Parameters
        ----------
        weights
            The extractor's parameters to step from (they must require gradients).
        clips
            Unlabelled clips ``[b, 3, T, H, W]``.
        z
            Their features at `weights`, when already computed.
        create_graph
            Keep the step differentiable, for a second-order outer gradient.

        Returns
        -------
        The stepped parameters by name.
        """
        if z is None:
            z = functional_call(self.network.extractor, weights, (clips,))
        g = self.generator(z)  # dL/dz of the mean clip loss is each clip's own over b
        g = g / len(z) if create_graph else g.detach() / len(z)
        proto = prototype_loss(z, self.prototype)
        direction = torch.autograd.grad(
            [z, proto],
            list(weights.values()),
            [g, torch.ones_like(proto)],
            create_graph=create_graph,
        )
        return {n: w - self.adapt_lr * d for (n, w), d in zip(weights.items(), direction)}

    def adapt(self, clips: Iterator[torch.Tensor]) -> MetaRPPGTask:
        """A copy whose extractor took `adapt_steps` inner steps on the video's windows (one
        batch of windows per step, in order, starting over when the video has fewer); this
        task, the estimator, the generator and the prototype stay as they are."""
        batches = list(islice(clips, self.adapt_steps))
        adapted = copy.deepcopy(self).eval()
        if not batches:
            return adapted
        extractor = adapted.network.extractor
        weights = {n: p.detach().clone().requires_grad_() for n, p in extractor.named_parameters()}
        with torch.inference_mode(False), torch.enable_grad():
            for i in range(self.adapt_steps):
                x = batches[i % len(batches)].clone().to(self.prototype.device)
                stepped = adapted.inner_step(weights, x)
                weights = {n: w.detach().requires_grad_() for n, w in stepped.items()}
        with torch.no_grad():
            for name, p in extractor.named_parameters():
                p.copy_(weights[name])
        return adapted

    def _true_gradient(self, z: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """``dL_ORD/dz`` of each clip's own ordinal loss (the estimator treats clips apart, so
        the gradient of the summed clip losses), the target of the generator."""
        loss = ordinal_loss(self.network.estimator(z), level) * len(z)
        return torch.autograd.grad(loss, z)[0]

    @torch.no_grad()
    def _update_prototype(self, z: torch.Tensor) -> None:
        """Move the prototype towards the batch's mean feature (set it from the first)."""
        mean = z.mean(dim=(0, 1))
        if bool(self.prototype_set):
            self.prototype.mul_(self.gamma).add_((1 - self.gamma) * mean)
        else:
            self.prototype.copy_(mean)
            self.prototype_set.fill_(True)
