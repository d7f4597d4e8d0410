"""What a paper's training procedure supplies to the shared engine: the model it trains, its
loss on a batch, and how the trained model predicts a pulse.

The engine (`rppgkit.train`) owns everything else: data, optimiser, schedule, checkpoints,
distributed training. A recipe's options come from the config's ``recipe`` section.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch
from torch import nn

from rppgkit.checks import check_options
from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError

# recipe name -> the module that registers it
BUILTIN_RECIPES: dict[str, str] = {
    "physnet": "rppgkit.models.physnet.recipe",
    "rppgnet": "rppgkit.models.rppgnet.recipe",
    "stven": "rppgkit.models.rppgnet.recipe",
    "stven+rppgnet": "rppgkit.models.rppgnet.recipe",
}
_RECIPES: dict[str, type[Recipe]] = {}


class Recipe:
    """Base of the training recipes; subclasses set `model_name` and implement `loss`."""

    model_name: str = ""
    paired: bool = False  # learns from compression-ladder pairs (batches add clean, level)

    def setup(self, model: nn.Module) -> None:
        """Before training: load pre-trained parts and freeze what the recipe does not train."""

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], spec: ClipSpec
    ) -> torch.Tensor:
        """The training loss of one batch (clips ``batch["clip"]``, labels ``batch["label"]``,
        cut and normalised as `spec` says)."""
        raise NotImplementedError

    def predict(self, model: nn.Module, clip: torch.Tensor) -> torch.Tensor | None:
        """The pulse ``[B, T]`` the trained model reads from clips ``[B, 3, T, H, W]`` (None for
        a model that gives no pulse)."""
        return model(clip)


def register_recipe(name: str) -> Callable[[type[Recipe]], type[Recipe]]:
    def add(cls: type[Recipe]) -> type[Recipe]:
        _RECIPES[name] = cls
        return cls

    return add


def create_recipe(name: str, **options: object) -> Recipe:
    """The recipe registered as `name`, with its options."""
    if name not in _RECIPES and name in BUILTIN_RECIPES:
        importlib.import_module(BUILTIN_RECIPES[name])
    if name not in _RECIPES:
        known = ", ".join(sorted(set(BUILTIN_RECIPES) | set(_RECIPES)))
        raise RppgError(f"unknown recipe {name!r}; choose one of: {known}")
    check_options("recipe.options", _RECIPES[name], options)
    try:
        return _RECIPES[name](**options)
    except TypeError as exc:
        raise RppgError(f"recipe {name!r}: {exc}; check the recipe options in the config") from None
