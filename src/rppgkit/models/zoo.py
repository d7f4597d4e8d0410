"""Trained networks that ship inside rppgkit, so neural methods work with no download.

Each was trained by the project on its own synthetic data (`benchmarks/train_physnet.py`,
`benchmarks/stven_rppgnet.py`); `docs/weights.md` lists how, and their test figures. They are
a starting point and a default for `rppgkit anonymize`, not a substitute for training on the
camera and people you measure.
"""

from __future__ import annotations

import os
from pathlib import Path

from rppgkit.errors import RppgError
from rppgkit.models.method import METHODS


def shipped_weights(name: str) -> Path | None:
    """The checkpoint shipped for method `name` (its registration's ``weights``), or None."""
    return METHODS.get(name).shipped() if name in METHODS else None


def weights_or_shipped(weights: str | os.PathLike | None, name: str) -> Path:
    """`weights` when given, else the checkpoint shipped for model `name`; an error that says
    to give --weights when rppgkit ships none, or that lists the networks when `name` is none."""
    if weights:
        return Path(weights)
    shipped = METHODS.get(name).shipped()  # an unknown name: one line listing the networks
    if shipped is None:
        raise RppgError(
            f"rppgkit ships no weights for {name!r}: give its trained weights with --weights "
            "CKPT (a checkpoint written by `rppgkit train`)"
        )
    return shipped
