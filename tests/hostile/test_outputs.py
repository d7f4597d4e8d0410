"""Outputs: nothing lost, nothing partial, nothing left behind.

An output that is the input is refused; an unusable output place is one line before any work; a
failed run leaves no empty folder; a result set (measure, synth) appears whole or not at all,
even when interrupted or raced; a killed `anonymize` leaves no face anywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.hostile.conftest import NOT_OURS, assert_user_error, run, snapshot

import rppgkit
from rppgkit import report
from rppgkit.models.zoo import shipped_weights
from rppgkit.pipeline import Measurement
from rppgkit.report import RESULT_FILES, write_report
from rppgkit.video.writer import write_video

LONG = "x" * 300  # a path component no file system takes


@pytest.fixture
def inputs(sandbox: Path, face_video: tuple[Path, float]) -> dict[str, Path]:
    """Inputs in the sandbox: a face video, a faceless one, a checkpoint and a broken one."""
    video = sandbox / "clip.mkv"
    shutil.copy(face_video[0], video)
    checkpoint = sandbox / "net.pt"
    shutil.copy(shipped_weights("rppgnet"), checkpoint)
    broken = sandbox / "broken.pt"
    broken.write_text("not a checkpoint\n")
    wall = (np.full((48, 64, 3), 90 + i % 3, np.uint8) for i in range(30))
    faceless = write_video(sandbox / "wall.mkv", wall, 30)
    return {"video": video, "faceless": faceless, "checkpoint": checkpoint, "broken": broken}


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


@pytest.fixture
def read_only(sandbox: Path) -> Iterator[Path]:
    """A folder this process cannot write to: a read-only one, or for root (whom file modes do
    not stop) /sys, which refuses new files."""
    folder = sandbox / "read-only"
    folder.mkdir(mode=0o555)
    chosen = next((p for p in (folder, Path("/sys")) if p.is_dir() and not _writable(p)), None)
    if chosen is None:
        pytest.skip("no folder here refuses writes")
    yield chosen
    folder.chmod(0o755)


def _command(name: str, source: Path, target: Path) -> list[str | Path]:
    """`rppgkit NAME` writing `target` from `source` (a video, or a checkpoint for export)."""
    return {
        "compress": ["compress", source, target, "--crf", "30"],
        "enhance": ["enhance", source, target],
        "anonymize": ["anonymize", source, target, "--target-hr", "90", "--steps", "1"],
        "export": ["export", source, "--onnx", target],
    }[name]


def _source(name: str, inputs: dict[str, Path]) -> Path:
    return inputs["checkpoint" if name == "export" else "video"]


FILE_COMMANDS = ("compress", "enhance", "anonymize", "export")


@pytest.mark.parametrize("name", FILE_COMMANDS)
@pytest.mark.parametrize("spelling", ["same path", "symlink", "hard link"])
def test_output_that_is_the_input_is_refused(name, spelling, inputs, sandbox: Path) -> None:
    source = _source(name, inputs)
    target = {"same path": source, "symlink": sandbox / "link", "hard link": sandbox / "hard"}
    target = target[spelling].with_suffix(source.suffix)
    if spelling == "symlink":
        target.symlink_to(source)
    elif spelling == "hard link":
        os.link(source, target)
    before = snapshot(sandbox)
    for args in (_command(name, target, source), _command(name, source, target)):
        code, _, stderr = run(*args)
        assert_user_error(code, stderr, "is the input itself")
    assert snapshot(sandbox) == before


def test_export_beside_a_checkpoint_named_onnx_is_refused(inputs, sandbox: Path) -> None:
    """The default output, the checkpoint's name with .onnx, is the checkpoint itself here."""
    checkpoint = inputs["checkpoint"].rename(sandbox / "net.onnx")
    before = snapshot(sandbox)
    code, _, stderr = run("export", checkpoint)
    assert_user_error(code, stderr, "is the input itself")
    assert snapshot(sandbox) == before


@pytest.mark.parametrize("name", FILE_COMMANDS)
def test_read_only_output_folder_is_one_line_before_work(name, inputs, read_only, sandbox) -> None:
    before = snapshot(sandbox)
    suffix = ".onnx" if name == "export" else ".mkv"
    code, _, stderr = run(*_command(name, _source(name, inputs), read_only / f"out{suffix}"))
    assert_user_error(code, stderr, "cannot write to output directory", "Permission denied")
    assert snapshot(sandbox) == before


@pytest.mark.parametrize("name", [*FILE_COMMANDS, "measure"])
def test_output_under_a_file_is_one_line(name, inputs, sandbox: Path) -> None:
    before = snapshot(sandbox)
    target = inputs["broken"] / "out" / "result.mkv"
    args = _command(name, _source(name, inputs), target) if name != "measure" else []
    code, _, stderr = run(*args or ["measure", inputs["video"], "-o", target])
    assert_user_error(code, stderr, "cannot write to output directory", "choose another")
    assert snapshot(sandbox) == before


@pytest.mark.parametrize("name", ["compress", "export"])
def test_missing_output_folder_is_created(name, inputs, sandbox: Path) -> None:
    target = sandbox / "new" / "deeper" / ("out.onnx" if name == "export" else "out.mkv")
    code, _, stderr = run(*_command(name, _source(name, inputs), target))
    assert code == 0, stderr
    assert [p.name for p in target.parent.iterdir()] == [target.name]


@pytest.mark.parametrize(
    ("name", "source", "target", "phrase"),
    [
        ("compress", "video", "out.xyz", "unsupported output extension"),
        ("enhance", "faceless", "out.mkv", "no face found"),
        ("anonymize", "faceless", "out.mkv", "no face found"),
        ("export", "broken", "out.onnx", "not a readable checkpoint"),
        ("measure", "faceless", "res", "wall.mkv"),
    ],
)
def test_failed_run_leaves_no_output_folder(name, source, target, phrase, inputs, sandbox) -> None:
    before = snapshot(sandbox)
    where = sandbox / "new" / "deeper" / target
    args = ["measure", inputs[source], "-o", where] if name == "measure" else []
    code, _, stderr = run(*args or _command(name, inputs[source], where))
    assert_user_error(code, stderr, phrase)
    assert snapshot(sandbox) == before and not (sandbox / "new").exists()


@pytest.mark.parametrize(
    ("out", "phrase"),
    [(LONG, "over 255 bytes"), (f"{LONG}/res", "File name too long"), (".", "names no new")],
)
def test_measure_into_an_impossible_name_is_one_line(out, phrase, inputs, sandbox) -> None:
    before = snapshot(sandbox)
    code, _, stderr = run("measure", inputs["video"], "-o", out)
    assert_user_error(code, stderr, phrase)
    assert snapshot(sandbox) == before


def test_measure_gives_same_named_videos_their_own_folders(sandbox, face_video) -> None:
    """clip.mkv and clip.mp4 go to out/clip.mkv/ and out/clip.mp4/; other.mkv to out/other/."""
    folder = sandbox / "videos"
    folder.mkdir()
    for name in ("clip.mkv", "clip.mp4"):
        shutil.copy(face_video[0], folder / name)
    code, stdout, stderr = run("measure", folder, "-o", sandbox / "out")
    assert code == 0, stderr
    assert sorted(p.name for p in (sandbox / "out").iterdir()) == ["clip.mkv", "clip.mp4"]
    for name in ("clip.mkv", "clip.mp4"):
        assert {p.name for p in (sandbox / "out" / name).iterdir()} == RESULT_FILES
        summary = json.loads((sandbox / "out" / name / "summary.json").read_text())
        assert Path(summary["video"]).name == name
    assert "out/clip.mp4/report.html" in stdout


def test_measure_refuses_to_replace_a_folder_of_other_files(inputs, sandbox: Path) -> None:
    before = snapshot(sandbox)
    code, _, stderr = run("measure", inputs["video"], "-o", sandbox)
    assert_user_error(code, stderr, "holds other files", "new or empty output folder")
    assert snapshot(sandbox) == before


def test_ctrl_c_while_measure_writes_keeps_the_earlier_set(inputs, sandbox, monkeypatch) -> None:
    out = sandbox / "res"
    assert run("measure", inputs["video"], "-o", out)[0] == 0
    before = snapshot(sandbox)

    def interrupted(*_: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("rppgkit.report.report_html", interrupted)  # after the first files
    code, _, stderr = run("measure", inputs["video"], "-o", out, "-m", "chrom")
    assert code == 130 and "no partial output was kept" in stderr
    assert snapshot(sandbox) == before


def test_concurrent_measure_results_never_mix(face_video, sandbox, monkeypatch) -> None:
    """A second run's set, written whole while the first is still writing, is replaced whole by
    the first's: the folder always holds one run's files."""
    first = rppgkit.measure(face_video[0], method="pos")
    second = rppgkit.measure(face_video[0], method="green")
    out, alone = sandbox / "res", sandbox / "alone"
    files = write_report(first, alone)
    assert files.report_html == alone / "report.html" and files.summary_json.is_file()
    html = report.report_html

    def racing(m: Measurement, png: bytes) -> str:
        if m is first:
            write_report(second, out)
            assert json.loads((out / "summary.json").read_text())["method"] == "green"
        return html(m, png)

    monkeypatch.setattr(report, "report_html", racing)
    write_report(first, out)
    for name in RESULT_FILES:
        assert (out / name).read_bytes() == (alone / name).read_bytes(), name
    assert sorted(p.name for p in sandbox.iterdir()) == ["alone", "res"]


def test_synth_interrupted_keeps_the_earlier_set(sandbox, monkeypatch) -> None:
    small = ("--duration", "1", "--width", "64", "--height", "48")
    assert run("synth", sandbox / "s", *small)[0] == 0
    before = snapshot(sandbox)

    def interrupted(*_: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("rppgkit.synth.generate._ground_truth_csv", interrupted)  # after video
    code, _, stderr = run("synth", sandbox / "s", *small, "--hr", "120")
    assert code == 130 and "no partial output was kept" in stderr
    assert snapshot(sandbox) == before


def test_synth_refuses_to_replace_a_folder_of_other_files(sandbox: Path) -> None:
    (sandbox / "notes.txt").write_text("mine\n")
    before = snapshot(sandbox)
    code, _, stderr = run("synth", sandbox, "--duration", "1", "--width", "64", "--height", "48")
    assert_user_error(code, stderr, "holds other files", "notes.txt")
    assert snapshot(sandbox) == before


def _scratch_in_use(pid: int, folder: str) -> bool:
    """Whether process `pid` holds an open file under `folder` with data in it."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(folder) and fd.stat().st_size > 0:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


def test_killed_anonymize_leaves_no_face_behind(inputs, sandbox: Path) -> None:
    """SIGKILL while the face crops are being kept: no file of them remains in the temporary
    folder or beside the output."""
    out = sandbox / "out"
    out.mkdir()
    scratch = os.path.realpath(tempfile.gettempdir())
    args = _command("anonymize", inputs["video"], out / "edited.mkv")
    log = sandbox.parent / "anonymize.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rppgkit", *map(os.fspath, args), "--no-report"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    deadline = time.monotonic() + 120
    try:
        while not _scratch_in_use(proc.pid, scratch):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the face crops never appeared"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not list(out.iterdir())
    assert not [p for p in Path(scratch).iterdir() if not p.name.startswith(NOT_OURS)]
