"""Numeric settings checked before any work starts: one line naming the setting, the value and
the range it accepts.

NaN and infinity never pass. A check written as ``if value < 0: raise`` lets NaN through (NaN
compares false with every bound), and a NaN weight then runs an editor for minutes to paint a
face black; every numeric setting of every command therefore goes through `check`, from the
settings object that holds it (`pipeline.Options`, `privacy.EditSettings`, `SynthConfig`,
`ClipSpec`, model and task options), so the Python API is checked as the CLI is.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from rppgkit.errors import RppgError

T = TypeVar("T")


@dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts: finite numbers from `low` to `high`.

    Parameters
    ----------
    low, high
        Bounds, included unless `above` (then `low` itself is refused).
    above
        Values must be above `low`, not equal to it.
    whole
        Only whole numbers (integers; a bool is not one).
    optional
        None is accepted too (the setting is off, or taken from elsewhere).
    """

    low: float = -math.inf
    high: float = math.inf
    above: bool = False
    whole: bool = False
    optional: bool = False

    def accepts(self, value: object) -> bool:
        """Whether `value` is in the range (NaN and infinity never are)."""
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.whole and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):
            return False
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def __str__(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        low, high = _number(self.low), _number(self.high)
        if math.isinf(self.low) and math.isinf(self.high):
            return kind if self.whole else "a finite number"
        if math.isinf(self.high):
            if not self.whole:
                kind = "a finite number"
            return f"{kind} above {low}" if self.above else f"{kind} of at least {low}"
        if math.isinf(self.low):
            return f"{kind} of at most {high}"
        if self.above:
            return f"{kind} above {low} and at most {high}"
        return f"{kind} from {low} to {high}"


COUNT = Range(1, whole=True)  # a size or a count: a whole number of at least 1
WEIGHT = Range(0)  # a loss weight: a finite number of at least 0


def check(name: str, value: T, allowed: Range) -> T:
    """`value` if `allowed` accepts it.

    Parameters
    ----------
    name
        The setting as the user wrote it: a CLI option (``--lambda``) or a config key.
    value
        What was given.
    allowed
        What is accepted.

    Returns
    -------
    The value, unchanged.

    Raises
    ------
    RppgError
        One line: ``--lambda must be a finite number of at least 0, got nan``.
    """
    if not allowed.accepts(value):
        raise RppgError(f"{name} must be {allowed}, got {_shown(value)}")
    return value


def check_fields(settings: object, limits: Mapping[str, tuple[str, Range]]) -> None:
    """`check` every field of a settings object that `limits` names.

    Parameters
    ----------
    settings
        A dataclass (or any object) holding the fields.
    limits
        Field name -> (the name shown to the user, the range accepted).
    """
    for field, (name, allowed) in limits.items():
        check(name, getattr(settings, field), allowed)


def check_options(prefix: str, factory: Callable[..., object], options: Mapping) -> None:
    """Check a network's or task's options against the defaults of its factory.

    An option whose default is a whole number is a size or a count (`COUNT`), one whose default
    is a float is a weight (`WEIGHT`), one whose default is a bool must be a bool; options of
    other kinds, and names the factory does not know (it reports those), are left to it.

    Parameters
    ----------
    prefix
        How the options are named to the user, e.g. ``model.options``.
    factory
        The class or function the options go to.
    options
        The options given.
    """
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    for key, value in options.items():
        default = params[key].default if key in params else inspect.Parameter.empty
        name = f"{prefix}.{key}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise RppgError(f"{name} must be true or false, got {_shown(value)}")
        elif isinstance(default, int):
            check(name, value, COUNT)
        elif isinstance(default, float):
            check(name, value, WEIGHT)


def _number(bound: float) -> str:
    """A bound as written: 86400 and 100000000, not 86400.0 or 1e+08."""
    whole = isinstance(bound, int) or (math.isfinite(bound) and bound.is_integer())
    return str(int(bound)) if whole else format(bound, "g")


def _shown(value: object) -> str:
    if isinstance(value, float):
        return format(value, "g")
    return str(value) if isinstance(value, numbers.Number) else repr(value)
