"""One registry for every pulse estimator, classic (RGB trace in) or neural (face clip in).

An estimator may be registered with its function, or with the ``"module:function"`` path of it:
then nothing is imported until `create` hands the estimator out, so listing the methods
(`describe`) imports neither numpy nor any method's code.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, TypeVar

from rppgkit.errors import RppgError
from rppgkit.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from rppgkit.clip.crop import ClipSpec

InputKind = Literal["trace", "clip"]
PulseFn = Callable[["np.ndarray", float], "np.ndarray"]
F = TypeVar("F", bound="PulseFn | str")


@dataclass(frozen=True)
class Estimator:
    """A named pulse estimator: ``estimator(x, fs)`` returns the pulse ``[N]``.

    ``input_kind`` says what ``x`` is: ``"trace"`` is the mean skin RGB ``[N, 3]``, ``"clip"`` the
    face crops ``[N, H, W, 3]``; callers use it to decide what to extract from the video. A clip
    estimator whose network is loaded (`rppgkit.estimators.neural.load_estimator`) carries the
    clip format its crops must be cut in (``clip``). ``fn`` is the function; in the registry it
    may still be its ``"module:function"`` path, which `create` imports. ``subharmonic``: how
    its pulse's heart rate is read (`rppgkit.pulse.heart_rate`; None: the highest peak).
    """

    name: str
    input_kind: InputKind
    fn: PulseFn | str
    description: str
    clip: ClipSpec | None = None
    subharmonic: float | None = None

    def __call__(self, x: np.ndarray, fs: float) -> np.ndarray:
        """Estimate the pulse of ``x`` sampled at ``fs`` Hz."""
        return _resolved(self.fn)(x, fs)


def _resolved(fn: PulseFn | str) -> PulseFn:
    """`fn`, or the function its ``"module:function"`` path names."""
    if not isinstance(fn, str):
        return fn
    module, _, attribute = fn.partition(":")
    return getattr(importlib.import_module(module), attribute)


ESTIMATORS: Registry[Estimator] = Registry(
    "method", discover=lambda: importlib.import_module("rppgkit.estimators.neural")
)
"""The classic methods are registered when `rppgkit.estimators` is imported; the networks
(`rppgkit.estimators.neural`, which finds the registered models) when a name is not one of
them, or the methods are listed: `measure -m pos` skips finding the models."""


def register(
    name: str,
    input_kind: InputKind = "trace",
    description: str = "",
    subharmonic: float | None = None,
) -> Callable[[F], F]:
    """Decorator adding ``fn(x, fs, **options)`` to the registry under ``name``; returns ``fn``.

    ``fn`` may be the function or its ``"module:function"`` path (imported by the first
    `create`; give the description then, as the docstring cannot be read without importing).
    A ``"trace"`` estimator must take ``band_hz=(low, high)``: the pulse band in Hz that the
    pipeline passes from ``Options.band_hz`` (default ``rppgkit.dsp.PULSE_BAND_HZ``).

    Parameters
    ----------
    name : str
        The method's name, stored lower case.
    input_kind : {"trace", "clip"}
        What the estimator reads: the mean skin RGB ``[N, 3]`` or face crops ``[N, H, W, 3]``.
    description : str
        One line for listings; by default the first line of the function's docstring.
    subharmonic : float, optional
        The `Estimator`'s: how its pulse's heart rate is read.

    Returns
    -------
    Callable
        The decorator, which registers ``fn`` and returns it unchanged.

    Raises
    ------
    ValueError
        From the decorator: a name that is empty or already registered, or a path given
        without a description.

    Examples
    --------
    >>> @register("green2", description="the raw green channel")  # doctest: +SKIP
    ... def green2(rgb, fs, band_hz=(0.7, 3.0)):
    ...     return rgb[:, 1]
    """

    def decorate(fn: F) -> F:
        if isinstance(fn, str) and not description:
            raise ValueError(f"estimator {name!r} is registered by path: give its description")
        summary = description or (inspect.getdoc(fn) or "").partition("\n")[0]
        estimator = Estimator(name.lower(), input_kind, fn, summary, subharmonic=subharmonic)
        ESTIMATORS.add(name, estimator)
        return fn

    return decorate


def create(name: str, **options: object) -> Estimator:
    """The estimator called ``name`` (any case), with ``options`` bound to its keyword arguments.

    Its function is imported here when it was registered by path. Options let later methods
    take settings such as ``weights=...`` without changing callers.

    Parameters
    ----------
    name : str
        A registered method (`available`), in any case.
    **options
        Keyword arguments of its function, bound now.

    Returns
    -------
    Estimator
        Callable as ``estimator(x, fs)``.

    Raises
    ------
    RppgError
        An unknown name (the message lists the known ones), or options the method does not take.

    Examples
    --------
    >>> estimator = create("POS", band_hz=(0.7, 2.5))
    >>> estimator.name, estimator.input_kind
    ('pos', 'trace')
    """
    estimator = ESTIMATORS.get(name)
    if isinstance(estimator.fn, str):
        estimator = replace(estimator, fn=_resolved(estimator.fn))
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


def reads_crops(name: str) -> bool:
    """Whether the estimator `name` reads face crops (a network) rather than the skin-colour
    trace: its trace must then be made at the boxes crops are cut at
    (`rppgkit.trace.extract_trace`'s ``reads_crops``)."""
    return ESTIMATORS.get(name).input_kind == "clip"


def describe() -> list[tuple[str, str]]:
    """Every estimator's name and description, sorted by name, importing none of them."""
    return [(name, estimator.description) for name, estimator in ESTIMATORS.items()]
