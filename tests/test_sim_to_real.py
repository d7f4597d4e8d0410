"""benchmarks/sim_to_real.py's comparison with POS (the paired per-window difference read back
from two evaluations, and its table cell) and its refusal of test subjects chosen on."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from tests.helpers import window_result

from rppgkit.evaluate.run import result_path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its neighbour real_video.py
    try:
        spec = importlib.util.spec_from_file_location("sim_to_real", BENCHMARKS / "sim_to_real.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


sim_to_real = _load()


def _store(out: Path, method: str, recording: str, hr: list[float]) -> None:
    """One stored `rppgkit evaluate` result whose windows read `hr` against 70 bpm."""
    path = result_path(out, method, recording)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(window_result(recording, hr).as_dict()))


def test_against_pos_reads_both_evaluations_and_resamples_recordings(tmp_path: Path) -> None:
    """The network is 2 bpm worse than POS on recording a, 2 better on b (3 windows to 1)."""
    _store(tmp_path / "net", "net", "a", [74, 74, 74])
    _store(tmp_path / "net", "net", "b", [71])
    _store(tmp_path / "pos", "pos", "a", [72, 72, 72])
    _store(tmp_path / "pos", "pos", "b", [73])
    diff = sim_to_real.against_pos(tmp_path / "net", tmp_path / "pos", "net", ["a", "b"])
    assert diff == pytest.approx((1.0, -2.0, 2.0))
    assert sim_to_real._versus(diff) == "+1.00 [-2.00, +2.00]"
    assert sim_to_real._versus(None) == "-"


@pytest.mark.parametrize(
    ("subjects", "v2", "message"),
    [
        ([8, 16], "benchmarks/out/v2/data", "needs its own --v2 folder"),
        ([8, 12, 16], "elsewhere", "[12] were trained or chosen on"),
        ([3, 6, 20], "elsewhere", "[3, 6] were trained or chosen on"),
        ([8, -1], "elsewhere", "seeds, 0 or more, not -1"),
    ],
)
def test_test_subjects_refuse_what_was_trained_or_chosen_on(subjects, v2, message) -> None:
    with pytest.raises(SystemExit) as exit_:
        sim_to_real.check_test_subjects(subjects, Path(v2))
    assert str(exit_.value).startswith("error: ") and message in str(exit_.value)
    sim_to_real.check_test_subjects([8, 9, 10, 11, 16, 40], Path("elsewhere"))  # allowed
    sim_to_real.check_test_subjects(None, Path("benchmarks/out/v2/data"))  # the split's own
