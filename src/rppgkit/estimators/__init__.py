"""Pulse estimators; importing this package registers the classic (training-free) methods and
one estimator per neural model (which needs trained weights)."""

from rppgkit.estimators import classic, neural
from rppgkit.estimators.registry import Estimator, available, create, register

__all__ = ["Estimator", "available", "classic", "create", "neural", "register"]
