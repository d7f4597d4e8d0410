"""The hostile-input corpus: what a careless or hostile user gives each command.

Every case checks the same contract: a user error is one line on stderr and exit code 1 (no
traceback), nothing is lost (inputs and earlier results intact), nothing is left behind (no empty
or partial output folders, no temporaries), nothing is written outside the output folder, and no
wrong result is reported with exit code 0.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rppgkit.cli import app
from rppgkit.synth import SynthConfig, write_synth

# what libraries put in the temporary folder once per process, not rppgkit's leftovers:
# onnxruntime's telemetry session file (on import) and torch's compile cache (made when
# deterministic algorithms are switched on)
NOT_OURS = (".ses", "torchinductor_")


def run(*args: str | os.PathLike) -> tuple[int, str, str]:
    """Run `rppgkit ARGS`; return the exit code, stdout and stderr."""
    result = CliRunner().invoke(app, [os.fspath(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash shows its traceback in the test report
    return result.exit_code, result.stdout, result.stderr


def assert_user_error(code: int, stderr: str, *phrases: str) -> str:
    """Exit code 1 and exactly one line on stderr holding every phrase; returns the line."""
    lines = stderr.strip().splitlines()
    assert code == 1, stderr
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])
    return lines[0]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` (hidden ones too) with its size and modification time."""
    return {
        os.fspath(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder that is also the system temporary folder: a case can check that nothing
    is left in either."""
    tmp = tmp_path / "systmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", os.fspath(tmp))
    monkeypatch.setattr(tempfile, "tempdir", os.fspath(tmp))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work
    left = [p for p in tmp.iterdir() if not p.name.startswith(NOT_OURS)]
    assert not left, f"left in the temporary folder: {left}"


@pytest.fixture(scope="session")
def face_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A small 12 s synthetic face video and its true mean HR (bpm)."""
    root = tmp_path_factory.mktemp("hostile-synth")
    paths = write_synth(
        SynthConfig(duration_s=12, width=160, height=120, hr_bpm=72, seed=5),
        root / "face",
        masks=False,
    )
    return paths.video, paths.mean_hr_bpm
