"""Neural networks for rPPG: methods, their networks and training tasks, checkpoints and
inference.

Each method lives in a folder of its own (``rppgkit/models/<paper>/``) whose ``__init__``
registers it once (`rppgkit.models.method.register_method`). ``create("physnet", **kw)``
builds a registered network, like timm's ``create_model``; ``create_task`` builds the network
and the task that trains it. Method folders import PyTorch only in their network and task
modules, so importing rppgkit (and listing estimators) does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rppgkit.checks import check_options
from rppgkit.errors import RppgError
from rppgkit.models.method import METHODS, NETWORKS, TASKS, Method, register_method, resolve

if TYPE_CHECKING:
    from torch import nn

    from rppgkit.models.task import Task


def available_models() -> list[str]:
    """The names of the registered networks, sorted."""
    return list(NETWORKS)


def create(name: str, **options: Any) -> nn.Module:
    """The network registered as `name` (any case), built with `options`."""
    factory = resolve(NETWORKS.get(name))
    check_options("model.options", factory, options)
    try:
        return factory(**options)
    except (TypeError, ValueError) as exc:
        raise RppgError(
            f"model {name.lower()!r}: {exc}; check the model options in the config"
        ) from None


def create_task(
    model: str, model_options: dict[str, Any], task: str | None = None, options: Any = None
) -> Task:
    """The training task `task` (default: the method's own) around a new network `model`."""
    name = task or model
    cls = resolve(TASKS.get(name))
    check_options("task.options", cls, options or {})
    network = create(model, **model_options)
    try:
        return cls(network, **(options or {}))
    except TypeError as exc:
        raise RppgError(
            f"task {name.lower()!r}: {exc}; check the task options in the config"
        ) from None


__all__ = [
    "METHODS",
    "Method",
    "available_models",
    "create",
    "create_task",
    "register_method",
]
