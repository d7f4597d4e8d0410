"""Datasets: recordings (most with a reference pulse), each format picked by name from one
registry."""

from rppgkit.datasets import (  # noqa: F401  (registers)
    cohface,
    deap,
    ladder,
    mahnob,
    manifest,
    pure,
    ubfc,
    videos,
    vipl,
)
from rppgkit.datasets.base import (
    DATASETS,
    DataKind,
    DatasetError,
    Recording,
    Reference,
    available_datasets,
    load_dataset,
    register_dataset,
)
from rppgkit.datasets.splits import split_by_list, split_by_rule

__all__ = [
    "DATASETS",
    "DataKind",
    "DatasetError",
    "Recording",
    "Reference",
    "available_datasets",
    "load_dataset",
    "register_dataset",
    "split_by_list",
    "split_by_rule",
]
