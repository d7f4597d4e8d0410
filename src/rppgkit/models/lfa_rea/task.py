"""lfa-rea's two training tasks: self-supervised training of LFA and REA on any face videos,
and supervised fine-tuning of the self-supervised REA on a share of labelled recordings.

Self-supervised (``lfa-rea``, data kind ``unlabelled``): every training clip is a window of 4T
frames (``data.clip.frames`` = 4T). `rppgkit.models.lfa_rea.views` cuts it into the anchor and
its three neighbours, makes two positives and draws K ratios; LFA turns the anchor into the K
negatives; REA reads all 2 + 3 + K clips in one batch; the four losses of
`rppgkit.models.lfa_rea.loss` are summed with their weights. LFA is a sub-module of the task,
so checkpoints keep it under ``extra``; inference is REA alone on the whole window, as the
paper evaluates it.

Ablations are task options: ``lfa: false`` makes the negatives by plain temporal resampling of
the window (no LFA, no L_vr); a weight of 0 removes that loss; ``model.options.grid: 1`` is
one expert.

Fine-tuning (``lfa-rea-finetune``, data kind ``labelled``): REA starts from the
self-supervised checkpoint (``pretrained``) and learns PhysNet's loss (negative Pearson, and
the frequency cross-entropy if weighted); ``data.train_share`` picks the share of labelled
training recordings.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rppgkit.checks import Range, check
from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.models.checkpoint import load_checkpoint
from rppgkit.models.lfa_rea.loss import (
    BAND_BPM,
    BAND_HZ,
    Weights,
    frequency_agreement,
    frequency_contrastive,
    frequency_ratio,
    reconstruction,
)
from rppgkit.models.lfa_rea.network import LFA
from rppgkit.models.lfa_rea.views import CLIPS, Views, draw_views, resampled
from rppgkit.models.losses import normalised_psd, soft_hr
from rppgkit.models.physnet.task import PhysNetTask
from rppgkit.models.task import Batch, Task

POSITIVE = Range(0, above=True)
TAU = 0.08  # L_fc's temperature (the paper's)
TEMPERATURE = 0.25  # soft-argmax HR of L_fr: weights P^4 (rppgkit.models.losses.soft_hr)


class LFAREATask(Task):
    """Self-supervised LFA + REA. Options: ``lfa`` (false: resampled negatives), ``lfa_width``,
    ``negatives`` (K), the loss weights ``vr``, ``fc``, ``fr``, ``fa``, L_fc's ``tau`` and the
    soft-HR ``temperature``."""

    data = "unlabelled"

    def __init__(
        self,
        network: nn.Module,
        lfa: bool = True,
        lfa_width: int = 64,
        negatives: int = 4,
        vr: float = 1.0,
        fc: float = 1.0,
        fr: float = 1.0,
        fa: float = 1.0,
        tau: float = TAU,
        temperature: float = TEMPERATURE,
    ) -> None:
        super().__init__(network)
        self.lfa = LFA(lfa_width) if lfa else None
        self.negatives = negatives
        self.weights = Weights(vr, fc, fr, fa)
        self.tau = check("task.options.tau", tau, POSITIVE)
        self.temperature = check("task.options.temperature", temperature, POSITIVE)
        if not (fc or fr or fa or (vr and lfa)):
            raise RppgError(
                "task.options: every loss lfa-rea would compute has weight 0; set one of fc, fr, "
                "fa (or vr, with lfa) above 0"
            )

    def check(self, data: Any) -> None:
        """Refuse clips that do not cut into four clips of at least 1 s."""
        spec: ClipSpec = data.spec
        t = spec.frames // CLIPS
        if spec.frames % CLIPS or t < spec.fs:
            least = CLIPS * math.ceil(spec.fs)
            raise RppgError(
                f"lfa-rea cuts each training clip into {CLIPS} clips of at least 1 s, so "
                f"data.clip.frames must be a multiple of {CLIPS} and at least {least} at "
                f"{spec.fs:g} Hz, not {spec.frames} (the paper: 4 x 150 = 600 at 30 Hz)"
            )

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        window = batch["clip"]
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, ())))
        views = draw_views(window, self.negatives, generator)
        negatives = self.negative_clips(window, views, spec)  # [B, K, 3, T, H, W]
        b, k = views.ratios.shape
        clips = [views.positives.flatten(0, 1), views.neighbours.flatten(0, 1)]
        pulses = self.network(torch.cat([*clips, negatives.flatten(0, 1)]))
        positive, neighbour, negative = pulses.split([2 * b, (CLIPS - 1) * b, k * b])
        derivative = spec.norm == "diffnormalized"
        psd = functools.partial(normalised_psd, fs=spec.fs, band_hz=BAND_HZ, derivative=derivative)
        hr = functools.partial(
            soft_hr,
            fs=spec.fs,
            bpm_range=BAND_BPM,
            derivative=derivative,
            temperature=self.temperature,
        )
        w, parts = self.weights, {}
        if w.vr and self.lfa is not None:
            parts["vr"] = w.vr * reconstruction(negatives, views.anchor)
        spectrum = psd(positive).unflatten(0, (b, 2))  # [B, 2, F]
        if w.fc:
            far = psd(negative).unflatten(0, (b, k))
            parts["fc"] = w.fc * frequency_contrastive(spectrum, far, self.tau)
        if w.fr:
            rates = hr(positive).view(b, 2), hr(negative).view(b, k)
            parts["fr"] = w.fr * frequency_ratio(*rates, views.ratios)
        if w.fa:
            near = psd(neighbour).unflatten(0, (b, CLIPS - 1))
            parts["fa"] = w.fa * frequency_agreement(spectrum, near)
        return parts

    def negative_clips(self, window: torch.Tensor, views: Views, spec: ClipSpec) -> torch.Tensor:
        """The K negatives of each window ``[B, K, 3, T, H, W]``: LFA's, or (without it) the
        window resampled at each ratio."""
        if self.lfa is None:
            return resampled(window, views.index, views.ratios, spec.norm == "diffnormalized")
        b, k = views.ratios.shape
        anchors = views.anchor[:, None].expand(-1, k, *views.anchor.shape[1:]).flatten(0, 1)
        return self.lfa(anchors, views.ratios.flatten()).unflatten(0, (b, k))


class FineTuneTask(PhysNetTask):
    """REA fine-tuned on labelled clips from the self-supervised checkpoint `pretrained`
    (None: from scratch, the supervised baseline), with PhysNet's loss."""

    def __init__(
        self,
        network: nn.Module,
        pretrained: str | None = None,
        pearson: float = 1.0,
        frequency: float = 0.0,
    ) -> None:
        super().__init__(network, pearson, frequency)
        self.pretrained = pretrained
        self.pretrained_norm: str | None = None

    def setup(self) -> None:
        if self.pretrained is not None:
            self.pretrained_norm = load_pretrained(self.network, self.pretrained)

    def check(self, data: Any) -> None:
        """Refuse clips normalised otherwise than those REA was pre-trained on."""
        norm = data.spec.norm
        if self.pretrained_norm is not None and norm != self.pretrained_norm:
            raise RppgError(
                f"{self.pretrained} was trained on {self.pretrained_norm} clips; set "
                f"data.clip.norm to {self.pretrained_norm} (now {norm})"
            )


def load_pretrained(network: nn.Module, path: str) -> str:
    """Put the REA of a self-supervised lfa-rea checkpoint into `network`.

    Parameters
    ----------
    network
        The REA to fine-tune, built with the checkpoint's model options.
    path
        The checkpoint (``task.options.pretrained``).

    Returns
    -------
    The clip normalisation the checkpoint was trained on; RppgError if the file is not an
    lfa-rea checkpoint or its network has other options.
    """
    state = load_checkpoint(Path(path))
    name, options = state["model"]["name"], state["model"]["options"]
    if name != "lfa-rea":
        raise RppgError(
            f"task.options.pretrained: {path} holds a {name!r} model; give the best.pt of a "
            "self-supervised lfa-rea run"
        )
    try:
        network.load_state_dict(state["state_dict"])
    except RuntimeError:
        raise RppgError(
            f"task.options.pretrained: {path} was trained with model options {options}; set "
            "model.options to them"
        ) from None
    return str(state["clip"]["norm"])
