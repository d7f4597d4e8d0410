"""Trained networks as estimators: every registered method whose network reads a pulse is a
method like POS, given weights (or, for the networks rppgkit ships, with the shipped ones by
default).

The estimators import PyTorch only when called, so listing methods stays fast.
"""

from __future__ import annotations

import functools
import os
from dataclasses import replace
from typing import TYPE_CHECKING

from rppgkit.estimators.registry import Estimator, create, register
from rppgkit.models.method import METHODS
from rppgkit.models.zoo import weights_or_shipped

if TYPE_CHECKING:
    import numpy as np


def network_estimate(
    x: np.ndarray, fs: float, weights: str | None = None, *, name: str
) -> np.ndarray:
    """Pulse from face crops ``[N, H, W, 3]`` by the network stored in `weights`."""
    from rppgkit.models.inference import load_network, network_pulse

    return network_pulse(load_network(weights_or_shipped(weights, name), expect=name), x, fs)


def load_estimator(name: str, weights: str | os.PathLike | None = None) -> Estimator:
    """The neural estimator `name` with its network loaded once (from `weights`, or the shipped
    checkpoint), carrying the clip format it reads.

    Parameters
    ----------
    name
        A registered method whose network reads a pulse.
    weights
        Its checkpoint; None for the one rppgkit ships.

    Returns
    -------
    The estimator, ready to call on face crops cut as its ``clip`` says. Its ``fn`` also takes
    ``adapt`` (False: a transductive network reads the crops as trained, without adapting) and
    ``on_adapt``, which receives the seconds a transductive network spends adapting a copy of
    itself to the crops (`rppgkit.models.inference.network_pulse`).
    """
    from rppgkit.models.inference import load_network, network_pulse

    net = load_network(weights_or_shipped(weights, name), expect=name.lower())
    return replace(create(name), fn=functools.partial(network_pulse, net), clip=net.spec)


for _name, _method in METHODS.items():
    if _method.pulse:
        _weights = "shipped weights, or --weights" if _method.shipped() else "needs --weights"
        register(
            _name,
            input_kind="clip",
            description=f"{_method.description} ({_weights})",
            subharmonic=_method.subharmonic,
        )(functools.partial(network_estimate, name=_name))
