"""Pulse estimators: one registry of the classic (training-free) methods and of one estimator
per neural model (which needs trained weights).

Importing this package registers every method by name and description only, so listing them
(`rppgkit methods`) imports neither numpy nor PyTorch: each classic method is registered here,
once, as the path of its function in `rppgkit.estimators.classic` (imported by the first
`create`), and `rppgkit.estimators.neural` registers the networks, which import PyTorch only
when they run, at the first lookup of a name that is not a classic method (or the first
listing).
"""

import importlib

from rppgkit.estimators.registry import (
    Estimator,
    available,
    create,
    describe,
    reads_crops,
    register,
)

for _name, _description in {
    "green": "GREEN (Verkruysse 2008): the band-passed green channel",
    "ica": "ICA (Poh 2010/2011): FastICA on 30 s windows, highest-peak source",
    "chrom": "CHROM (de Haan & Jeanne 2013): chrominance, alpha per window",
    "pos": "POS (Wang 2017): plane-orthogonal-to-skin projection",
    "pbv": "PBV (de Haan & van Leest 2014): blood-volume signature projection",
    "lgi": "LGI (Pilz 2018): project out the principal colour component",
    "omit": "OMIT (Casado & Lopez 2023): QR basis, first vector projected out",
}.items():
    register(_name, description=_description)(f"rppgkit.estimators.classic:{_name}")

__all__ = [
    "Estimator",
    "available",
    "classic",
    "create",
    "describe",
    "neural",
    "reads_crops",
    "register",
]


def __getattr__(name: str) -> object:
    """``rppgkit.estimators.classic`` and ``.neural``, imported on first use."""
    if name in ("classic", "neural"):
        return importlib.import_module(f"rppgkit.estimators.{name}")
    raise AttributeError(f"module 'rppgkit.estimators' has no attribute {name!r}")
