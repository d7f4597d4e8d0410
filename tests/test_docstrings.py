"""The Examples in the docstrings of the signal modules run and print what they say.

Each example prints Python numbers (rounded floats, ints, lists), never numpy reprs, so the
outputs read the same under every numpy version. A module whose examples vanish fails too.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "rppgkit.dsp",
    "rppgkit.pulse.heart_rate",
    "rppgkit.pulse.hrv",
    "rppgkit.pulse.beats",
    "rppgkit.estimators.classic",
    "rppgkit.evaluate.metrics",
    "rppgkit.docfill",
)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


@pytest.mark.parametrize("name", ["rppgkit.estimators.classic", "rppgkit.evaluate.metrics"])
def test_shared_sections_are_filled(name: str) -> None:
    """Every `fill_doc` marker is replaced: help() shows the sections, not ``%(name)s``."""
    module = importlib.import_module(name)
    functions = [f for f in vars(module).values() if callable(f) and f.__module__ == name]
    filled = [f for f in functions if f.__doc__ and "Parameters" in f.__doc__]
    assert len(filled) >= 4
    assert not [f.__name__ for f in filled if "%(" in f.__doc__]
