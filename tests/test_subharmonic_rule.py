"""The scoring of benchmarks/subharmonic.py that RULE-1.4's choices use: which reading a method is
scored by, and its option checks (its paired interval, `mean_interval`, is tested in
tests/test_evaluate.py)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "subharmonic.py"


def _load():
    spec = importlib.util.spec_from_file_location("benchmark_subharmonic", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


subharmonic = _load()


@pytest.mark.parametrize(
    ("maes", "column"),
    [
        ([12.42, 13.41, 13.01, 12.94, 11.18, 11.47], 4),  # 1.24 lower: the rho counts
        ([12.21, 13.13, 12.61, 12.63, 12.80, 11.96], 0),  # 0.25 lower: the highest peak stays
        ([20.77, 15.05, 15.96, 15.81, 16.62, 18.13], 1),
        ([11.00, 10.00, 12.00], 1),  # exactly the margin is enough
    ],
)
def test_rule_column_takes_a_rho_only_a_margin_below_the_highest_peak(maes, column) -> None:
    assert subharmonic.rule_column(np.array(maes)) == column


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x", "-m", "pos", "--paired"], "exactly two methods"),
        (["x", "-m", "pos", "-m", "chrom", "-m", "ica", "--paired"], "exactly two methods"),
        (["x", "-m", "pos", "--rho", "nan"], "in (0, 1]"),
        (["x", "-m", "pos", "--rho", "0.3", "1.5"], "in (0, 1]"),
    ],
)
def test_bad_options_are_one_line_before_anything_is_measured(monkeypatch, argv, message) -> None:
    monkeypatch.setattr(sys, "argv", ["subharmonic.py", *argv])
    monkeypatch.setattr(subharmonic, "window_errors", lambda *a: pytest.fail("measured"))
    with pytest.raises(SystemExit) as exit_:
        subharmonic.main()
    assert str(exit_.value).startswith("error: ") and message in str(exit_.value)
    assert "\n" not in str(exit_.value)
