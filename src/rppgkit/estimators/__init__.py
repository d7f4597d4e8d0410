"""Pulse estimators; importing this package registers the classic (training-free) methods."""

from rppgkit.estimators import classic
from rppgkit.estimators.registry import Estimator, available, create, register

__all__ = ["Estimator", "available", "classic", "create", "register"]
