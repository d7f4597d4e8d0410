"""A training run's record: one row per epoch (metrics.csv), the best epoch, progress lines."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rppgkit.train.evaluation import Score

# the first columns of metrics.csv; each loss part follows as train_<part> and val_<part>
COLUMNS = ("epoch", "lr", "train_loss", "val_loss", "val_mae", "clips_per_s", "epoch_s")


@dataclass
class Progress:
    """The rows so far and the best epoch (``{"epoch": 0-based count, "score": figure}``)."""

    rows: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": -1, "score": math.inf})

    @property
    def best_epoch(self) -> int:
        return int(self.best["epoch"])

    def add(self, row: dict[str, float], select: str) -> bool:
        """Append `row`; whether it is the best so far by ``val_<select>`` (by the validation
        loss where that figure is not finite, e.g. clips too short for an HR)."""
        self.rows.append(row)
        figure = row[f"val_{select}"]
        if not np.isfinite(figure):
            figure = row["val_loss"]
        improved = bool(np.isfinite(figure) and figure < self.best["score"])
        if improved:
            self.best = {"epoch": int(row["epoch"]), "score": float(figure)}
        return improved


def row(
    epoch: int,
    lr: float,
    train: dict[str, float],
    val: Score,
    clips_per_s: float,
    seconds: float,
    mean: Callable[[float], float],
    aside: tuple[str, ...] = (),
) -> dict[str, float]:
    """One metrics.csv row: the fixed columns, then each training and validation loss part
    (training figures averaged over processes by `mean`); the parts named in `aside` are
    logged but left out of the training loss, as the validation loss leaves them out."""
    parts = {f"train_{k}": mean(v) for k, v in train.items()}
    out = {
        "epoch": epoch,
        "lr": lr,
        "train_loss": mean(sum(v for k, v in train.items() if k not in aside)),
        "val_loss": val.loss,
        "val_mae": val.mae,
        "clips_per_s": clips_per_s,
        "epoch_s": seconds,
    }
    return out | parts | {f"val_{k}": v for k, v in val.parts.items()}


def line(r: dict[str, float], epochs: int, validated: bool = True) -> str:
    """The progress line of one epoch; `validated` False: the run has no validation split."""
    val = (
        f"val loss {r['val_loss']:.4f}, val MAE {mae_text(r['val_mae'])}"
        if validated
        else "no validation split"
    )
    return (
        f"epoch {int(r['epoch'])}/{epochs}: train loss {r['train_loss']:.4f}, {val}, "
        f"{r['clips_per_s']:.1f} clips/s"
    )


def mae_text(mae: float) -> str:
    """An HR error for a progress line; NaN (no clip gave an HR: clips too short for one, or a
    flat output) says so instead of printing ``nan``."""
    return "n/a (no HR from these clips)" if math.isnan(mae) else f"{mae:.2f} bpm"


def to_board(board: Any, r: dict[str, float]) -> None:
    """Every figure of a row to TensorBoard (when a writer is open)."""
    if board is not None:
        for key, value in r.items():
            if key != "epoch":
                board.add_scalar(key, value, int(r["epoch"]))


def csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
