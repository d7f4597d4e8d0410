"""Trained networks as estimators: every registered model is a method like POS, given weights
(or, for the networks rppgkit ships, with the shipped ones by default).

The estimators import PyTorch only when called, so listing methods stays fast.
"""

from __future__ import annotations

import functools

import numpy as np

from rppgkit.clip import ClipSpec
from rppgkit.estimators.registry import register
from rppgkit.models import PULSE_MODELS
from rppgkit.models.zoo import shipped_weights, weights_or_shipped


def network_estimate(
    x: np.ndarray, fs: float, weights: str | None = None, *, name: str
) -> np.ndarray:
    """Pulse from face crops ``[N, H, W, 3]`` by the network stored in `weights`."""
    from rppgkit.models.inference import load_network, network_pulse

    return network_pulse(load_network(weights_or_shipped(weights, name), expect=name), x, fs)


def network_clip_spec(name: str, weights: str | None) -> ClipSpec:
    """How the network in `weights` wants its face crops cut."""
    from rppgkit.models.inference import load_network

    return load_network(weights_or_shipped(weights, name), expect=name).spec


for _name in PULSE_MODELS:
    _weights = "shipped weights, or --weights" if shipped_weights(_name) else "needs --weights"
    register(_name, input_kind="clip", description=f"neural network {_name} ({_weights})")(
        functools.partial(network_estimate, name=_name)
    )
