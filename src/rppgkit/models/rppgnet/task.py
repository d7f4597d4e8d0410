"""The three training stages of seed 000, each a task for the shared engine:

1. ``rppgnet``: rPPGNet supervised by the reference pulse and the skin masks of the clip cache,
   with the paper's loss weights;
2. ``stven``: STVEN on compression-ladder pairs with its reconstruction and cycle losses;
3. ``stven+rppgnet``: STVEN trained through the frozen stage-1 rPPGNet with rPPGNet's loss on
   the restored clip, the perceptual loss against the clean clip, and a small share of STVEN's
   own loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.models.checkpoint import load_checkpoint
from rppgkit.models.rppgnet.loss import perceptual_loss, rppgnet_loss, stven_loss
from rppgkit.models.rppgnet.network import RPPGNetOutput
from rppgkit.models.task import Batch, Task


def _skin_label(batch: Batch, out: RPPGNetOutput) -> torch.Tensor:
    """The crops' skin masks, area-averaged to the skin map's size, as a binary label."""
    masks = batch["skin"].float()
    return nn.functional.adaptive_avg_pool2d(masks, out.skin.shape[-2:]) > 0.5


class RPPGNetTask(Task):
    """``skin=False`` drops the segmentation term, ``partitions=False`` the partition terms
    (the paper's ablations; the attention ablation is the model option ``attention=False``)."""

    def __init__(self, network: nn.Module, skin: bool = True, partitions: bool = True) -> None:
        super().__init__(network)
        self.skin, self.partitions = skin, partitions

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        out = self.network(batch["clip"])
        skin = _skin_label(batch, out) if self.skin else None
        return rppgnet_loss(out, batch["label"], skin, self.partitions)

    def predict(self, clip: torch.Tensor) -> torch.Tensor:
        return self.network(clip).signal


class STVENTask(Task):
    """Stage 2: STVEN alone (Raw clips in [0, 1]); it gives no pulse, so select on the loss."""

    data = "paired"

    def check(self, data: Any) -> None:
        levels = self.network.levels
        if data.levels > levels:
            raise RppgError(
                f"the ladder has {data.levels} levels but the model {levels}; set "
                f"model.options.levels={data.levels}"
            )

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        return stven_loss(self.network, batch["clip"], batch["clean"], batch["level"])[0]

    def predict(self, clip: torch.Tensor) -> None:
        return None


class JointTask(STVENTask):
    """Stage 3. `rppgnet` is the stage-1 checkpoint (required, frozen); `stven` the checkpoint
    that STVEN starts from (optional: stage 2's, or a joint run's, to go on from it with other
    settings); `stven_weight` the weight of STVEN's own loss (0 skips it and its four extra
    passes)."""

    def __init__(
        self,
        network: nn.Module,
        rppgnet: str,
        stven: str | None = None,
        stven_weight: float = 0.1,
    ) -> None:
        super().__init__(network)
        self.rppgnet, self.stven, self.stven_weight = rppgnet, stven, stven_weight

    def setup(self) -> None:
        _load_part(self.network.rppgnet, self.rppgnet, "rppgnet", "rppgnet_width")
        if self.stven is not None:
            _load_part(self.network.stven, self.stven, "stven", "stven_width")

    def losses(self, batch: Batch, spec: ClipSpec) -> dict[str, torch.Tensor]:
        net, clip, clean = self.network, batch["clip"], batch["clean"]
        own: dict[str, torch.Tensor] = {}
        if self.stven_weight > 0:
            own, restored = stven_loss(net.stven, clip, clean, batch["level"])
        else:
            restored = net.stven(clip, 0)
        out = net.rppgnet(restored)
        with torch.no_grad():
            target = net.rppgnet(clean)
        parts = rppgnet_loss(out, batch["label"], _skin_label(batch, out))
        parts["perceptual"] = perceptual_loss(out, target)
        return parts | {f"stven_{k}": self.stven_weight * v for k, v in own.items()}

    def predict(self, clip: torch.Tensor) -> torch.Tensor:
        return self.network(clip).signal


def _load_part(part: nn.Module, path: str, name: str, width_option: str) -> None:
    """Load a stage's checkpoint into one part of the joint model."""
    if not Path(path).is_file():
        raise RppgError(
            f"task option {name}: checkpoint {path} does not exist; train stage "
            f"{name} first (configs/{name}-*.yaml)"
        )
    state = load_checkpoint(path)
    weights = state["state_dict"]
    if state["model"]["name"] == "stven+rppgnet":  # a joint run's part, to continue from it
        weights = {k.split(".", 1)[1]: v for k, v in weights.items() if k.startswith(f"{name}.")}
    elif state["model"]["name"] != name:
        raise RppgError(f"task option {name}: {path} holds a {state['model']['name']!r} model")
    try:
        part.load_state_dict(weights)
    except RuntimeError:
        raise RppgError(
            f"task option {name}: {path} was trained with options {state['model']['options']}; "
            f"set the model's {width_option} (and levels, attention) to match"
        ) from None
