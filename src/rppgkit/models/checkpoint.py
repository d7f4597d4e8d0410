"""Checkpoints: one self-describing file per training state.

A checkpoint holds the weights and everything needed to use them without the config that made
them: the model's name and options, the recipe, and how clips were cut (`ClipSpec`). Training
checkpoints add the optimiser, schedule and progress so a run resumes exactly. Only tensors and
plain Python values are stored, so every file loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.fileio import atomic_path

FORMAT = "rppgkit-checkpoint-1"


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write atomically: a kill mid-write leaves the previous checkpoint intact."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint on the CPU, or raise a one-line error saying what is wrong."""
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
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise RppgError(f"{p} is not an rppgkit checkpoint; train one with `rppgkit train`")
    return state


def clip_spec(state: dict[str, Any]) -> ClipSpec:
    return ClipSpec(**state["clip"])
