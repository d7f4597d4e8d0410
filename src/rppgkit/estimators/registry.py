"""One registry for every pulse estimator, classic (RGB trace in) or neural (face clip in)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from rppgkit.errors import RppgError
from rppgkit.registry import Registry

if TYPE_CHECKING:
    from rppgkit.clip.crop import ClipSpec

InputKind = Literal["trace", "clip"]
PulseFn = Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class Estimator:
    """A named pulse estimator: ``estimator(x, fs)`` returns the pulse ``[N]``.

    ``input_kind`` says what ``x`` is: ``"trace"`` is the mean skin RGB ``[N, 3]``, ``"clip"`` the
    face crops ``[N, H, W, 3]``; callers use it to decide what to extract from the video. A clip
    estimator whose network is loaded (`rppgkit.estimators.neural.load_estimator`) carries the
    clip format its crops must be cut in (``clip``).
    """

    name: str
    input_kind: InputKind
    fn: PulseFn
    description: str
    clip: ClipSpec | None = None

    def __call__(self, x: np.ndarray, fs: float) -> np.ndarray:
        """Estimate the pulse of ``x`` sampled at ``fs`` Hz."""
        return self.fn(x, fs)


ESTIMATORS: Registry[Estimator] = Registry("method")


def register(
    name: str, input_kind: InputKind = "trace", description: str = ""
) -> Callable[[PulseFn], PulseFn]:
    """Decorator adding ``fn(x, fs, **options)`` to the registry under ``name``; returns ``fn``.

    A ``"trace"`` estimator must take ``band_hz=(low, high)``: the pulse band in Hz that the
    pipeline passes from ``Options.band_hz`` (default ``rppgkit.dsp.PULSE_BAND_HZ``). The
    description defaults to the first line of the function's docstring.
    """

    def decorate(fn: PulseFn) -> PulseFn:
        summary = description or (inspect.getdoc(fn) or "").partition("\n")[0]
        ESTIMATORS.add(name, Estimator(name.lower(), input_kind, fn, summary))
        return fn

    return decorate


def create(name: str, **options: object) -> Estimator:
    """The estimator called ``name`` (any case), with ``options`` bound to its keyword arguments.

    Options let later methods take settings such as ``weights=...`` without changing callers.
    """
    estimator = ESTIMATORS.get(name)
    key = estimator.name
    if not options:
        return estimator
    try:
        inspect.signature(estimator.fn).bind_partial(**options)
    except TypeError as exc:
        raise RppgError(
            f"method {key!r} does not take options {sorted(options)}; remove them"
        ) from exc
    return replace(estimator, fn=functools.partial(estimator.fn, **options))


def available() -> list[str]:
    """Names of all registered estimators, sorted."""
    return list(ESTIMATORS)
