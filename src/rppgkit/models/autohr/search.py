"""AutoHR's architecture search as one call: train the supernet and its alphas through the
shared engine, then derive the genotype from the final alphas and write it (``genotype.yaml``)
and its drawing (``cells.png``) beside the checkpoints in ``log.out``.

The alphas are saved in every checkpoint (under ``extra``), so `genotype_at` recovers the
genotype of any epoch's ``last.pt`` or of ``best.pt``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rppgkit.errors import RppgError
from rppgkit.fileio import atomic_path, write_text
from rppgkit.models.autohr.draw import cells_figure
from rppgkit.models.autohr.genotype import Genotype
from rppgkit.models.autohr.search_space import derive
from rppgkit.models.checkpoint import load_checkpoint
from rppgkit.train import Config, TrainResult, train

NETWORK, TASK = "autohr-supernet", "autohr-search"
GENOTYPE_FILE, FIGURE_FILE = "genotype.yaml", "cells.png"


@dataclass(frozen=True)
class SearchResult:
    """A finished search: the engine's result, the derived genotype and the files written."""

    train: TrainResult
    genotype: Genotype
    genotype_file: Path
    figure_file: Path


def search(
    config: Config,
    resume: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> SearchResult:
    """Search as `config` describes (``model.name: autohr-supernet``; ``task.name`` unset or
    ``autohr-search``); write the genotype of the final alphas and its drawing into log.out.

    Parameters
    ----------
    config
        A validated training config.
    resume
        Continue the search in log.out from its last.pt.
    on_progress
        Receives one line per prepared recording and epoch.

    Returns
    -------
    The result; under torchrun only the first process writes the files.
    """
    result = train(_search_config(config), resume, on_progress)
    genotype = genotype_at(result.out / "last.pt")
    genotype_file, figure_file = result.out / GENOTYPE_FILE, result.out / FIGURE_FILE
    if os.environ.get("RANK", "0") == "0":
        header = (
            f"# AutoHR genotype derived from the final alphas of {result.out / 'last.pt'};\n"
            "# retrain it as model.options.genotype of an `autohr` config\n"
        )
        write_text(genotype_file, header + genotype.to_yaml())
        with atomic_path(figure_file) as tmp:
            cells_figure(genotype).savefig(tmp, format="png", dpi=120)
    return SearchResult(result, genotype, genotype_file, figure_file)


def genotype_at(checkpoint: str | os.PathLike) -> Genotype:
    """The genotype that the alphas saved in a search checkpoint choose."""
    alphas = (load_checkpoint(checkpoint).get("extra") or {}).get("alphas")
    if alphas is None:
        raise RppgError(
            f"{checkpoint} holds no architecture weights; give a checkpoint of `rppgkit search`"
        )
    return derive(alphas)


def _search_config(config: Config) -> Config:
    """`config` with the search task named; RppgError if it trains something else."""
    if config.model.name.lower() != NETWORK:
        raise RppgError(
            f"rppgkit search runs AutoHR's architecture search: set model.name to {NETWORK}, "
            f"not {config.model.name!r}"
        )
    if config.task.name is not None and config.task.name.lower() != TASK:
        raise RppgError(f"rppgkit search trains task {TASK}; remove task.name or set it so")
    return config.model_copy(update={"task": config.task.model_copy(update={"name": TASK})})
