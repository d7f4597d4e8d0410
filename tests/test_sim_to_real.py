"""benchmarks/sim_to_real.py's comparison with POS: the paired per-window difference read back
from two `rppgkit evaluate` windows.csv files, and its table cell."""

import importlib.util
import sys
from pathlib import Path

import pytest

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
HEAD = "method,recording,subject,start_s,end_s,hr_bpm,ref_hr_bpm,snr_db\n"


def _windows(path: Path, method: str, rows: list[tuple[str, int, str]]) -> Path:
    lines = [f"{method},{rec},s0,{start},{start + 10},{hr},70,1.0" for rec, start, hr in rows]
    path.write_text(HEAD + "\n".join(lines) + "\n")
    return path


def test_against_pos_pairs_the_same_windows_and_resamples_recordings(tmp_path: Path) -> None:
    """The network is 2 bpm worse than POS on recording a, 2 better on b; a window without an
    HR and a window POS lacks are left out; the interval spans both recordings."""
    net = [
        ("a/s0", 0, "74"),
        ("a/s0", 1, "74"),
        ("b/s1", 0, "71"),
        ("b/s1", 1, ""),
        ("b/s1", 2, "71"),
    ]
    pos = [("a/s0", 0, "72"), ("a/s0", 1, "72"), ("b/s1", 0, "73"), ("b/s1", 1, "73")]
    diff = sim_to_real.against_pos(
        _windows(tmp_path / "net.csv", "net", net), _windows(tmp_path / "pos.csv", "pos", pos)
    )
    assert diff[0] == pytest.approx((2 + 2 - 2) / 3, abs=0.01)  # pooled over the 3 windows
    assert diff[1:] == pytest.approx((-2.0, 2.0))
    assert sim_to_real._versus(diff) == "+0.67 [-2.00, +2.00]"
    assert sim_to_real._versus(None) == "-"


@pytest.mark.parametrize(
    ("subjects", "v2", "message"),
    [
        ([8, 16], "benchmarks/out/v2/data", "needs its own --v2 folder"),
        ([8, 12, 16], "elsewhere", "[12] were trained or chosen on"),
        ([3, 6, 20], "elsewhere", "[3, 6] were trained or chosen on"),
    ],
)
def test_test_subjects_refuse_what_was_trained_or_chosen_on(subjects, v2, message) -> None:
    with pytest.raises(SystemExit) as exit_:
        sim_to_real.check_test_subjects(subjects, Path(v2))
    assert str(exit_.value).startswith("error: ") and message in str(exit_.value)
    sim_to_real.check_test_subjects([8, 9, 10, 11, 16, 40], Path("elsewhere"))  # allowed
    sim_to_real.check_test_subjects(None, Path("benchmarks/out/v2/data"))  # the split's own
