"""Datasets, evaluate and ladder: hostile manifests, ids, caches and interrupted worker pools.

A bad manifest or id is one line before any work; a recording that cannot be evaluated is
skipped and listed; a result or encoded video never lands outside the output folder; a file read
through a manifest is never quoted; results made with other settings are never reused; a failed
or interrupted run into a new folder leaves nothing behind; workers die with their caller.
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
from pathlib import Path

import pytest
from tests.hostile.conftest import assert_user_error, run, snapshot

from rppgkit.clip import ClipSpec
from rppgkit.clip.cache import prepare
from rppgkit.datasets import DATASETS, DatasetError, load_dataset
from rppgkit.errors import RppgError
from rppgkit.synth import SynthConfig, write_synth
from rppgkit.trace.extract import load_trace

HEADER = "video,labels,time_column,hr_column,id"
SECRET = "hunter2"  # in a file a manifest points at: never printed
NUL_ID = "x\0y"


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small 12 s synthetic recordings, a/ and b/, with their ground truth."""
    root = tmp_path_factory.mktemp("hostile-eval")
    for i, name in enumerate("ab"):
        cfg = SynthConfig(duration_s=12, width=96, height=72, hr_bpm=66 + 14 * i, seed=30 + i)
        write_synth(cfg, root / name, masks=False)
    return root


@pytest.fixture
def data(sandbox: Path, recordings: Path) -> Path:
    """The recordings in the sandbox's data/ folder, where each test writes its manifest."""
    folder = sandbox / "data"
    folder.mkdir()
    for name in "ab":
        (folder / name).symlink_to(recordings / name)
    return folder


def row(name: str, rid: str | None = None) -> str:
    """A manifest row for recording `name` (a or b), with id `rid` (default: the name)."""
    return f"{name}/video.mkv,{name}/ground_truth.csv,time_s,hr_bpm,{rid or name}"


def manifest(folder: Path, *rows: str, header: str = HEADER) -> Path:
    path = folder / "manifest.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _state(root: Path) -> tuple[dict, list[Path]]:
    """Every file (size, time) and every folder under `root`: a refused run changes neither."""
    return snapshot(root), sorted(root.rglob("*"))


def refused(sandbox: Path, args: list[str | os.PathLike], *phrases: str) -> str:
    """Run `rppgkit ARGS`: one line holding every phrase, exit 1, the sandbox as it was."""
    before = _state(sandbox)
    code, _, stderr = run(*args)
    line = assert_user_error(code, stderr, *phrases)
    assert _state(sandbox) == before, "a refused run changed the working folder"
    return line


def evaluated_nothing(sandbox: Path, args: list[str | os.PathLike], *phrases: str) -> str:
    """Run `rppgkit ARGS`, which skips every recording: a line for each, then one error line
    holding every phrase, exit 1, no traceback, the sandbox as it was; returns all of stderr."""
    before = _state(sandbox)
    code, _, stderr = run(*args)
    *skips, last = stderr.strip().splitlines()
    assert code == 1 and "Traceback" not in stderr, stderr
    assert skips and all(line.startswith("skipped ") for line in skips), stderr
    assert last.startswith("error: none of the") and all(p in last for p in phrases), last
    assert _state(sandbox) == before, "a failed run changed the working folder"
    return stderr


# manifest text -> phrases of the one-line error; each refused before any work
BAD_MANIFESTS = {
    "fs is a word": (
        b"video,labels,fs,id\na/video.mkv,a/ground_truth.csv,thirty,a\n",
        ["manifest.csv line 2, column fs", "positive number"],
    ),
    "fs is zero": (
        b"video,labels,fs,id\na/video.mkv,a/ground_truth.csv,0,a\n",
        ["manifest.csv line 2, column fs", "must be a positive number"],
    ),
    "Latin-1": (f"{HEADER}\n{row('a', 'café')}\n".encode("latin-1"), ["manifest.csv", "UTF-8"]),
    "header only": (f"{HEADER}\n".encode(), ["manifest.csv has a header but no rows"]),
    "NUL in an id": (f"{HEADER}\n{row('a', NUL_ID)}\n".encode(), ["recording id", "NUL"]),
    "NUL in a path": (
        f"{HEADER}\n{row('a')}\n{row('b').replace('video', NUL_ID)}\n".encode(),
        ["manifest.csv line 3", "path holds a NUL"],
    ),
    "300-character id": (f"{HEADER}\n{row('a', 'i' * 300)}\n".encode(), ["recording id"]),
    "ids sharing a file": (
        f"{HEADER}\n{row('a', 'x/y')}\n{row('b', 'x__y')}\n".encode(),
        ["'x/y'", "'x__y'", "share the result file x__y.json"],
    ),
}


@pytest.mark.parametrize("case", BAD_MANIFESTS)
def test_bad_manifest_is_one_line_before_any_work(sandbox: Path, data: Path, case: str) -> None:
    text, phrases = BAD_MANIFESTS[case]
    (data / "manifest.csv").write_bytes(text)
    refused(sandbox, ["evaluate", data / "manifest.csv", "-d", "manifest", "-o", "out"], *phrases)


def test_no_method_named_is_one_line(sandbox: Path, data: Path) -> None:
    path = manifest(data, row("a"))
    args = ["evaluate", path, "-d", "manifest", "-o", "out", "-m", ","]
    refused(sandbox, args, "no method named", "-m")


@pytest.mark.parametrize("rid", ["../escaped", "/abs/escaped", "lvl/../../escaped"])
def test_ladder_never_writes_outside_its_folder(sandbox: Path, data: Path, rid: str) -> None:
    path = manifest(data, row("a", rid.replace("/abs", os.fspath(sandbox / "abs"))))
    args = ["ladder", path, "-d", "manifest", "-o", "out", "--levels", "x264:crf40"]
    refused(sandbox, args, "recording id", "cannot be used as a file name under out")


def test_files_read_through_a_manifest_are_never_quoted(sandbox: Path, data: Path) -> None:
    """A label path may point anywhere (outside the manifest's folder is fine); a wrong file is
    named, never shown; a run that evaluates nothing leaves nothing behind."""
    (sandbox / "notes.csv").write_text(f"time_s,pulse\n0,1\n1,{SECRET}\n")
    path = manifest(data, "a/video.mkv,../notes.csv,time_s,,a")
    args = ["evaluate", path, "-d", "manifest", "-o", "out"]
    stderr = evaluated_nothing(sandbox, args, "notes.csv: row 3, column 2 is not a number")
    assert SECRET not in stderr
    (data / "manifest.csv").write_text(f"video,labels,fs\na.mkv,a.csv,{SECRET}\n")
    line = refused(sandbox, ["evaluate", path, "-d", "manifest", "-o", "out"], "column fs")
    assert SECRET not in line


def test_ground_truth_errors_never_quote_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "subject1"
    folder.mkdir()
    (folder / "vid.avi").write_bytes(b"")  # not opened: the ground truth is read on its own
    (folder / "ground_truth.txt").write_text(f"1 2 {SECRET}\n1 2 3\n1 2 3\n")
    (rec,) = load_dataset("ubfc-rppg", tmp_path)
    with pytest.raises(DatasetError, match="subject1: its ground truth is not in the") as caught:
        rec.reference()
    assert SECRET not in str(caught.value)


def test_too_slow_reference_names_its_file(sandbox: Path, data: Path) -> None:
    path = manifest(data, "a/video.mkv,a/ground_truth.csv,2,a", header="video,labels,fs,id")
    args = ["evaluate", path, "-d", "manifest", "-o", "out"]
    evaluated_nothing(sandbox, args, "a/ground_truth.csv: the reference is sampled at 2 Hz")


def test_missing_video_is_skipped_and_listed(sandbox: Path, data: Path) -> None:
    path = manifest(data, row("a"), "gone/video.mkv,b/ground_truth.csv,time_s,hr_bpm,gone")
    code, stdout, stderr = run("evaluate", path, "-d", "manifest", "-o", "out")
    assert code == 0, stderr
    assert "skipped gone: " in stderr and "Traceback" not in stderr
    assert "1 recordings skipped" in stdout
    assert "- gone: " in (sandbox / "out" / "metrics.md").read_text()
    metrics = json.loads((sandbox / "out" / "metrics.json").read_text())
    assert metrics["methods"]["pos"]["video"]["n"] == 1 and list(metrics["skipped"]) == ["gone"]


def _window_results(out: Path) -> tuple[int, dict]:
    metrics = json.loads((out / "metrics.json").read_text())
    made = json.loads((out / "results" / "pos" / "a.json").read_text())
    return metrics["methods"]["pos"]["window"]["n"], made


def test_rerun_with_other_settings_is_not_served_from_old_results(
    sandbox: Path, data: Path
) -> None:
    path = manifest(data, row("a"), row("b"))
    base = ["evaluate", path, "-d", "manifest", "-o", "out"]
    assert run(*base)[0] == 0
    n, made = _window_results(sandbox / "out")
    assert n == 2 * 3 and (made["window_s"], made["reference"]) == (10, "spectral")
    for extra, n_windows, key, value in [
        (["--window", "4", "--step", "2"], 2 * 5, "window_s", 4),
        (["--window", "4", "--step", "4"], 2 * 3, "step_s", 4),
        (["--window", "4", "--step", "4", "--reference", "dataset"], 2 * 3, "reference", "dataset"),
    ]:
        code, _, stderr = run(*base, *extra)
        assert code == 0, stderr
        n, made = _window_results(sandbox / "out")
        assert n == n_windows and made[key] == value, (extra, n, made[key])


def test_damaged_cached_trace_is_rebuilt(sandbox: Path, data: Path) -> None:
    path = manifest(data, row("a"))
    assert run("evaluate", path, "-d", "manifest", "-o", "out")[0] == 0
    (trace,) = (sandbox / "out" / "traces").glob("*.npz")
    trace.write_bytes(trace.read_bytes()[: trace.stat().st_size // 2])  # cut short
    code, _, stderr = run("evaluate", path, "-d", "manifest", "-o", "out", "-m", "chrom")
    assert code == 0, stderr
    assert load_trace(trace).rgb.shape[0] == 360


def test_unwritable_clip_cache_names_its_config_key(sandbox: Path, recordings: Path) -> None:
    (sandbox / "file").write_text("a file, not a folder\n")
    with pytest.raises(RppgError, match=r"data\.cache in the training config") as caught:
        prepare([], ClipSpec(), sandbox / "file" / "cache")
    assert "--out" not in str(caught.value)


def test_datasets_gives_each_format_a_whole_summary() -> None:
    code, stdout, _ = run("datasets")
    assert code == 0
    lines = stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(DATASETS)
    for line in lines:
        _, _, summary = line.partition(" ")
        assert summary.strip().endswith(".") and len(summary.split()) >= 5, line


# --- worker processes: a real command in a subprocess, stopped by a signal ------------------


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (its fork server, resource tracker and workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:  # ended meanwhile
            continue
        if stat:
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _evaluate_with_workers(path: Path) -> tuple[subprocess.Popen, list[int]]:
    """Start `rppgkit evaluate --workers 2` in its own session; return it once its two workers
    run (four processes below it: resource tracker, fork server, two workers)."""
    command = [sys.executable, "-m", "rppgkit", "evaluate", path, "-d", "manifest", "-o", "out"]
    proc = subprocess.Popen(
        [*command, "--workers", "2", "-m", "pos,chrom"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(below := _descendants(proc.pid)) < 4 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)  # into their first task
    return proc, below


def _gone(pids: list[int], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while any(Path(f"/proc/{p}").exists() for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(Path(f"/proc/{p}").exists() for p in pids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_workers_cleanly(sandbox: Path, data: Path) -> None:
    proc, workers = _evaluate_with_workers(manifest(data, row("a"), row("b")))
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: to every process of the group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.decode().strip().splitlines() == ["interrupted; no partial output was kept"]
    assert _gone(workers, 10)
    assert not (sandbox / "out").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_caller(sandbox: Path, data: Path) -> None:
    proc, workers = _evaluate_with_workers(manifest(data, row("a"), row("b")))
    proc.kill()
    proc.communicate(timeout=60)  # ends when every process that shares its stderr has ended
    assert _gone(workers, 10), "workers outlived their caller"
    assert not list((sandbox / "out").rglob(".*")), "a stopped worker left a partial file"
    for folder in Path(tempfile.gettempdir()).glob("pymp-*"):  # the killed caller's own
        shutil.rmtree(folder)
