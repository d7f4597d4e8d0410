"""The three training stages of seed 000, each a recipe for the shared engine:

1. ``rppgnet``: rPPGNet supervised by the reference pulse and the skin masks of the clip cache,
   with the paper's loss weights;
2. ``stven``: STVEN on compression-ladder pairs with its reconstruction and cycle losses;
3. ``stven+rppgnet``: STVEN trained through the frozen stage-1 rPPGNet with rPPGNet's loss on
   the restored clip, the perceptual loss against the clean clip, and a small share of STVEN's
   own loss.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.models.checkpoint import load_checkpoint
from rppgkit.models.recipe import Recipe, register_recipe
from rppgkit.models.rppgnet.loss import perceptual_loss, rppgnet_loss, stven_loss
from rppgkit.models.rppgnet.network import RPPGNetOutput


def _skin_label(batch: dict[str, torch.Tensor], out: RPPGNetOutput) -> torch.Tensor:
    """The crops' skin masks, area-averaged to the skin map's size, as a binary label."""
    masks = batch["skin"].float()
    return nn.functional.adaptive_avg_pool2d(masks, out.skin.shape[-2:]) > 0.5


@register_recipe("rppgnet")
class RPPGNetRecipe(Recipe):
    """``skin=False`` drops the segmentation term, ``partitions=False`` the partition terms
    (the paper's ablations; the attention ablation is the model option ``attention=False``)."""

    model_name = "rppgnet"

    def __init__(self, skin: bool = True, partitions: bool = True) -> None:
        self.skin, self.partitions = skin, partitions

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], spec: ClipSpec
    ) -> torch.Tensor:
        out = model(batch["clip"])
        skin = _skin_label(batch, out) if self.skin else None
        return rppgnet_loss(out, batch["label"], skin, self.partitions)

    def predict(self, model: nn.Module, clip: torch.Tensor) -> torch.Tensor:
        return model(clip).signal


@register_recipe("stven")
class STVENRecipe(Recipe):
    """Stage 2: STVEN alone (Raw clips in [0, 1]); it gives no pulse, so select on the loss."""

    model_name = "stven"
    paired = True

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], spec: ClipSpec
    ) -> torch.Tensor:
        return stven_loss(model, batch["clip"], batch["clean"], batch["level"])[0]

    def predict(self, model: nn.Module, clip: torch.Tensor) -> None:
        return None


@register_recipe("stven+rppgnet")
class JointRecipe(Recipe):
    """Stage 3. `rppgnet` is the stage-1 checkpoint (required, frozen); `stven` the checkpoint
    that STVEN starts from (optional: stage 2's, or a joint run's, to go on from it with other
    settings); `stven_weight` the weight of STVEN's own loss (0 skips it and its four extra
    passes)."""

    model_name = "stven+rppgnet"
    paired = True

    def __init__(self, rppgnet: str, stven: str | None = None, stven_weight: float = 0.1) -> None:
        self.rppgnet, self.stven, self.stven_weight = rppgnet, stven, stven_weight

    def setup(self, model: nn.Module) -> None:
        _load_part(model.rppgnet, self.rppgnet, "rppgnet", "rppgnet_width")
        if self.stven is not None:
            _load_part(model.stven, self.stven, "stven", "stven_width")

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], spec: ClipSpec
    ) -> torch.Tensor:
        clip, clean = batch["clip"], batch["clean"]
        if self.stven_weight > 0:
            own, restored = stven_loss(model.stven, clip, clean, batch["level"])
        else:
            own, restored = clip.new_zeros(()), model.stven(clip, 0)
        out = model.rppgnet(restored)
        with torch.no_grad():
            target = model.rppgnet(clean)
        return (
            rppgnet_loss(out, batch["label"], _skin_label(batch, out))
            + perceptual_loss(out, target)
            + self.stven_weight * own
        )

    def predict(self, model: nn.Module, clip: torch.Tensor) -> torch.Tensor:
        return model(clip).signal


def _load_part(part: nn.Module, path: str, name: str, width_option: str) -> None:
    """Load a stage's checkpoint into one part of the joint model."""
    if not Path(path).is_file():
        raise RppgError(
            f"recipe option {name}: checkpoint {path} does not exist; train stage "
            f"{name} first (configs/{name}-*.yaml)"
        )
    state = load_checkpoint(path)
    weights = state["state_dict"]
    if state["model"]["name"] == "stven+rppgnet":  # a joint run's part, to continue from it
        weights = {k.split(".", 1)[1]: v for k, v in weights.items() if k.startswith(f"{name}.")}
    elif state["model"]["name"] != name:
        raise RppgError(f"recipe option {name}: {path} holds a {state['model']['name']!r} model")
    try:
        part.load_state_dict(weights)
    except RuntimeError:
        raise RppgError(
            f"recipe option {name}: {path} was trained with options {state['model']['options']}; "
            f"set the model's {width_option} (and levels, attention) to match"
        ) from None
