"""One registration per method, from which everything else about it is derived.

A method's folder (``rppgkit/models/<paper>/__init__.py``) calls `register_method` once; from
that record rppgkit derives the network ``create(name)`` builds, the task ``rppgkit train``
runs by default, the estimator ``-m name`` picks (for networks that read a pulse), the weights
it ships, and the roles it plays elsewhere (an independent reader in the privacy report, the
default pulse editor, the video enhancer). Registrations name their network and task as
``"module:attribute"`` strings, so listing methods imports no PyTorch.

Methods are found by importing every sub-package of ``rppgkit.models``, and those that other
installed packages declare under the ``rppgkit.methods`` entry point: adding a method is adding
a folder.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rppgkit.registry import Registry

Role = Literal["reader", "editor", "enhancer"]
WEIGHTS = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class Method:
    """A trainable method: its network, its training task and what it ships.

    ``network`` and ``task`` are ``"module:attribute"`` paths to a network class (or factory)
    and a `rppgkit.models.task.Task` subclass. ``weights`` is a file in
    ``rppgkit/models/weights`` (None: the user trains their own). ``pulse`` says whether the
    network reads a pulse (then the method is also an estimator). ``roles``: ``reader`` (an
    independent pulse reader for the privacy report), ``editor`` (the network `anonymize` edits
    through by default), ``enhancer`` (holds the video enhancer `enhance` uses by default).
    ``subharmonic``: the share of the highest spectral peak's power at which a peak at a half or
    a third of its rate is read as the pulse's fundamental (`rppgkit.dsp.fundamental_peak`), for
    networks that over-draw harmonics; chosen for the shipped weights on a validation split
    (docs/weights.md). None: the highest peak.
    """

    name: str
    network: str
    task: str
    description: str
    weights: str | None = None
    pulse: bool = True
    roles: frozenset[Role] = field(default_factory=frozenset)
    subharmonic: float | None = None

    def shipped(self) -> Path | None:
        """The checkpoint rppgkit ships for this method, or None."""
        path = WEIGHTS / self.weights if self.weights else None
        return path if path is not None and path.is_file() else None


def _discover() -> None:
    """Import every method package: rppgkit's own folders, then installed plug-ins."""
    from importlib.metadata import entry_points  # here: 20 ms that `measure -m pos` skips

    import rppgkit.models as models

    for found in pkgutil.iter_modules(models.__path__, "rppgkit.models."):
        if found.ispkg:
            importlib.import_module(found.name)
    for plugin in entry_points(group="rppgkit.methods"):
        plugin.load()


METHODS: Registry[Method] = Registry("method", discover=_discover)
# "module:attribute" paths (or the classes themselves, for code that defines them at run time)
NETWORKS: Registry[Any] = Registry("network", discover=_discover)
TASKS: Registry[Any] = Registry("task", discover=_discover)


def register_method(method: Method) -> Method:
    """Register `method`, its network and its task under its name."""
    METHODS.add(method.name, method)
    NETWORKS.add(method.name, method.network)
    TASKS.add(method.name, method.task)
    return method


def with_role(role: Role) -> list[Method]:
    """The methods playing `role`, by name."""
    return [m for _, m in METHODS.items() if role in m.roles]


def first_with(role: Role) -> Method:
    """The first method (by name) playing `role`: the default for that role."""
    return with_role(role)[0]


def resolve(path: str | Any) -> Any:
    """The object a ``"module:attribute"`` path names (an object registered as such is itself)."""
    if not isinstance(path, str):
        return path
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)
