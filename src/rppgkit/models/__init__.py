"""Neural networks for rPPG: a registry of models, their losses, checkpoints and inference.

``create("physnet", **kw)`` builds a registered network, like timm's ``create_model``. Each
method lives in a sub-package with its network and its training recipe side by side; the
packages are imported only when one of their models is asked for, so importing rppgkit (and
listing estimators) does not import PyTorch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from rppgkit.checks import check_options
from rppgkit.errors import RppgError

if TYPE_CHECKING:
    from torch import nn

# model name -> the module that registers it
BUILTIN: dict[str, str] = {
    "physnet": "rppgkit.models.physnet",
    "rppgnet": "rppgkit.models.rppgnet",
    "stven": "rppgkit.models.rppgnet",
    "stven+rppgnet": "rppgkit.models.rppgnet",
}
# the models whose output is a pulse: each is also an estimator (given --weights)
PULSE_MODELS = ("physnet", "rppgnet", "stven+rppgnet")

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator adding a model class or factory to the registry under `name`."""

    def add(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _MODELS[name] = factory
        return factory

    return add


def available_models() -> list[str]:
    return sorted(set(BUILTIN) | set(_MODELS))


def create(name: str, **kwargs: object) -> nn.Module:
    """The network registered as `name`, built with `kwargs`."""
    key = name.lower()
    if key not in _MODELS and key in BUILTIN:
        importlib.import_module(BUILTIN[key])
    if key not in _MODELS:
        raise RppgError(f"unknown model {name!r}; choose one of: {', '.join(available_models())}")
    check_options("model.options", _MODELS[key], kwargs)
    try:
        return _MODELS[key](**kwargs)
    except (TypeError, ValueError) as exc:
        raise RppgError(f"model {key!r}: {exc}; check the model options in the config") from None


__all__ = ["BUILTIN", "PULSE_MODELS", "available_models", "create", "register_model"]
