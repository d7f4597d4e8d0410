"""Datasets: recordings with a reference pulse, each format picked by name from one registry."""

from rppgkit.datasets import cohface, ladder, manifest, pure, ubfc  # noqa: F401  (registers)
from rppgkit.datasets.base import (
    LOADERS,
    DatasetError,
    Recording,
    Reference,
    available_datasets,
    load_dataset,
    register_dataset,
)
from rppgkit.datasets.splits import split_by_list, split_by_rule

__all__ = [
    "LOADERS",
    "DatasetError",
    "Recording",
    "Reference",
    "available_datasets",
    "load_dataset",
    "register_dataset",
    "split_by_list",
    "split_by_rule",
]
