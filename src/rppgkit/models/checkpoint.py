"""Checkpoints: one self-describing file per training state.

A checkpoint holds the weights and everything needed to use them without the config that made
them: the network's name and options, the task that trained it (and the state of the task's
other networks, under ``extra``), and how clips were cut (`ClipSpec`). Training checkpoints add
the optimisers, schedules and progress so a run resumes exactly. Only tensors and
plain Python values are stored, so every file loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.fileio import atomic_path

if TYPE_CHECKING:
    from rppgkit.models.task import Task

FORMAT = "rppgkit-checkpoint-2"  # 2: "task" (was "recipe"), "extra", optimisers by name
FORMAT_1 = "rppgkit-checkpoint-1"  # still read: see _upgraded
PARTS = ("model", "task", "clip", "state_dict")  # what every checkpoint holds


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write atomically: a kill mid-write leaves the previous checkpoint intact."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_checkpoint(path: str | os.PathLike, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a checkpoint on the CPU, or raise a one-line error saying what is wrong.

    Parameters
    ----------
    path
        The .pt file.
    extra
        Keys needed besides those every checkpoint holds (`PARTS`), e.g. the optimiser state
        of a training checkpoint that is resumed.

    Returns
    -------
    The checkpoint's contents: `PARTS`, `extra` and whatever else it holds.
    """
    p = Path(path)
    if not p.is_file():
        raise RppgError(f"checkpoint {p} does not exist; give the .pt file `rppgkit train` wrote")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise RppgError(
            f"{p} is not a readable checkpoint ({type(exc).__name__}); "
            "it may be truncated or not from rppgkit"
        ) from None
    if isinstance(state, dict) and state.get("format") == FORMAT_1:
        state = _upgraded(state)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise RppgError(f"{p} is not an rppgkit checkpoint; train one with `rppgkit train`")
    lacking = [key for key in (*PARTS, *extra) if key not in state]
    if lacking or not _described(state):
        what = f"it lacks {', '.join(lacking)}" if lacking else "its description is garbled"
        raise RppgError(
            f"{p} is not a complete rppgkit checkpoint ({what}); use a best.pt or last.pt "
            "as `rppgkit train` wrote it, or train again"
        )
    return state


def _upgraded(state: dict[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint (rppgkit before tasks) in today's format: its recipe is the task."""
    old = dict(state)
    old["format"] = FORMAT
    if "recipe" in old:
        old["task"] = old.pop("recipe")
    if "optimizer" in old:  # a training checkpoint: one optimiser and schedule, by their name now
        old["optimizers"] = {"network": old.pop("optimizer")}
        old["schedulers"] = {"network": old.pop("scheduler")}
    return old


def _described(state: dict[str, Any]) -> bool:
    """Whether the model and task are each a name with options, the clip a `ClipSpec` and
    the weights a dict."""
    parts = (state["model"], state["task"])
    clip_fields = {f.name for f in dataclasses.fields(ClipSpec)}
    return (
        all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in parts)
        and all(isinstance(p.get("options"), dict) for p in parts)
        and isinstance(state["clip"], dict)
        and set(state["clip"]) <= clip_fields
        and isinstance(state["state_dict"], dict)
        and isinstance(state.get("extra", {}), dict)
    )


def load_weights(model: nn.Module, state: dict[str, Any], path: str | os.PathLike) -> None:
    """Put a checkpoint's weights into `model`, built from the options the checkpoint holds.

    Parameters
    ----------
    model
        The network the checkpoint describes.
    state
        The checkpoint (from `load_checkpoint`).
    path
        Where it was read, for the message.

    Raises
    ------
    RppgError
        One line saying how many weights are missing, unexpected or mis-shaped, naming one,
        instead of PyTorch's list of every one of them.
    """
    own, weights = model.state_dict(), state["state_dict"]
    problems = {
        "mis-shaped": [
            k for k in own if k in weights and getattr(weights[k], "shape", None) != own[k].shape
        ],
        "missing": [k for k in own if k not in weights],
        "unexpected": [k for k in weights if k not in own],
    }
    if any(problems.values()):
        counts = ", ".join(f"{len(keys)} {kind}" for kind, keys in problems.items() if keys)
        first = next(keys[0] for keys in problems.values() if keys)
        raise RppgError(
            f"the weights in {path} do not fit the {state['model']['name']} network it describes "
            f"({counts}, e.g. {first!r}); the file was altered or pieced together: use a "
            "checkpoint as `rppgkit train` wrote it, or train again"
        )
    model.load_state_dict(weights)


def clip_spec(state: dict[str, Any]) -> ClipSpec:
    return ClipSpec(**state["clip"])


def load_task_weights(task: Task, state: dict[str, Any], path: str | os.PathLike) -> None:
    """Put a checkpoint's pulse network, and the task's other networks and buffers where the
    checkpoint holds them, into `task`."""
    load_weights(task.network, state, path)
    extra = state.get("extra") or {}
    if extra:
        network = {f"network.{k}": v for k, v in task.network.state_dict().items()}
        try:
            task.load_state_dict(extra | network)
        except RuntimeError:
            raise RppgError(
                f"the task state in {path} does not fit the {state['task']['name']} task it "
                "describes; use a checkpoint as `rppgkit train` wrote it, or train again"
            ) from None
