"""Docstring sections that several functions share, written once (as scipy's ``doccer``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def fill_doc(parts: Mapping[str, str]) -> Callable[[F], F]:
    """Decorator: put ``parts[name]`` where the docstring says ``%(name)s``.

    Each part is written flush left; its lines after the first (blank ones aside) are indented as a
    function's docstring is (4 spaces), so a marker stands alone on an indented docstring line.

    Parameters
    ----------
    parts : Mapping[str, str]
        Section text by marker name.

    Returns
    -------
    Callable
        The decorator; it returns the function itself, its ``__doc__`` filled (docstrings
        stripped by ``python -OO`` are left as they are).

    Examples
    --------
    >>> @fill_doc({"x": "x : float\\n    A number."})
    ... def double(x):
    ...     '''Twice ``x``.
    ...
    ...     Parameters
    ...     ----------
    ...     %(x)s
    ...     '''
    ...     return 2 * x
    >>> print(double.__doc__.splitlines()[4:6])
    ['    x : float', '        A number.']
    """

    def fill(fn: F) -> F:
        if fn.__doc__:
            doc = fn.__doc__
            for name, text in parts.items():
                first, *rest = text.split("\n")
                lines = [first, *(f"    {line}" if line else line for line in rest)]
                doc = doc.replace(f"%({name})s", "\n".join(lines))
            fn.__doc__ = doc
        return fn

    return fill
