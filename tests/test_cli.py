"""The command line: results on good input; one clear line and exit code 1 on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from tests.hostile.conftest import assert_user_error, run

from rppgkit.report import RESULT_FILES
from rppgkit.video.writer import write_video


def test_measure_writes_every_result(videos, tmp_path: Path) -> None:
    path, truth = videos["clean"]
    code, stdout, stderr = run("measure", path, "--out", tmp_path / "res")
    assert code == 0, stderr
    assert {p.name for p in (tmp_path / "res").iterdir()} == RESULT_FILES
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert abs(summary["hr_bpm"] - truth) < 3
    assert f"{summary['hr_bpm']:.1f} bpm" in stdout and "face in 100%" in stdout
    pulse = np.loadtxt(tmp_path / "res" / "pulse.csv", delimiter=",", skiprows=1)
    assert pulse.shape[1] == 3 and abs(pulse[-1, 0] - 30) < 0.2
    hr = np.genfromtxt(tmp_path / "res" / "hr.csv", delimiter=",", names=True)
    assert len(hr) == summary["windows"]["count"] == 21  # 10 s windows, 1 s step, 30 s
    assert np.all((hr["quality"] >= 0) & (hr["quality"] <= 1))
    assert summary["quality"]["index"] == pytest.approx(1.0, abs=0.3)
    beats = np.genfromtxt(tmp_path / "res" / "beats.csv", delimiter=",", names=True)
    assert len(beats) == summary["beats"]["count"] and abs(len(beats) - 30 * truth / 60) <= 2
    assert ("HRV from" if summary["hrv"] else "no HRV: beat timing") in stdout
    assert "signal quality" in stdout
    html = (tmp_path / "res" / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "")
    assert not list((tmp_path / "res").glob("*.tmp"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory, videos) -> dict[str, Path]:
    """Broken inputs of each kind, made once."""
    root = tmp_path_factory.mktemp("bad")
    text = root / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = root / "empty.avi"
    empty.touch()
    good = videos["clean"][0].read_bytes()
    truncated = root / "truncated.mkv"
    truncated.write_bytes(good[: len(good) // 3])
    no_frames = root / "no_frames.mkv"
    with av.open(str(no_frames), "w") as container:  # a header and a stream, but no frames
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
        container.start_encoding()
    frames = (np.full((240, 320, 3), 100 + i % 5, np.uint8) for i in range(360))
    faceless = write_video(root / "wall.mkv", frames, 30)
    return {
        "text": text,
        "empty": empty,
        "no_frames": no_frames,
        "truncated": truncated,
        "faceless": faceless,
    }


@pytest.mark.parametrize(
    ("case", "phrases"),
    [
        ("missing", ["does not exist", "check the path"]),
        ("text", ["not a readable video"]),
        ("empty", ["not a readable video"]),
        ("no_frames", ["not a readable video"]),
        ("truncated", ["truncated", "re-download"]),
        ("faceless", ["no face found", "--detector haar"]),
        ("short", ["shorter than the 10 s", "--window"]),
    ],
)
def test_bad_video_gives_one_line(case, phrases, bad, videos, tmp_path: Path) -> None:
    path = {"missing": tmp_path / "nope.mp4", "short": videos["short"][0], **bad}[case]
    out = tmp_path / "res"
    code, _, stderr = run("measure", path, "--out", out)
    assert_user_error(code, stderr, *phrases)
    assert not out.exists()  # nothing half-written, not even an empty folder


def test_unwritable_output_folder(videos, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, stderr = run("measure", videos["clean"][0], "--out", blocker / "res")
    assert_user_error(code, stderr, "cannot write to output directory", "choose another output")


@pytest.mark.parametrize(
    ("args", "phrases"),
    [
        (["--method", "magic"], ["unknown", "magic", "pos"]),
        (["--detector", "mtcnn"], ["unknown face detector", "haar, yunet"]),
        (["--fps", "0"], ["--fps must be a number above 0 and at most 1000, got 0"]),
    ],
)
def test_bad_options(args, phrases, videos, tmp_path: Path) -> None:
    code, _, stderr = run("measure", videos["short"][0], "--out", tmp_path / "res", *args)
    assert_user_error(code, stderr, *phrases)


def test_folder_of_videos_goes_on_past_a_bad_one(videos, bad, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(videos["clean"][0], folder / "a_good.mkv")
    shutil.copy(bad["text"], folder / "b_broken.mp4")
    code, _, stderr = run("measure", folder, "--out", tmp_path / "res")
    assert code == 1
    assert "b_broken.mp4 is not a readable video" in stderr
    assert "1 of 2 videos failed" in stderr and "Traceback" not in stderr
    assert {p.name for p in (tmp_path / "res" / "a_good").iterdir()} == RESULT_FILES
    assert not (tmp_path / "res" / "b_broken").exists()


def test_methods_lists_the_registry() -> None:
    code, stdout, _ = run("methods")
    assert code == 0
    names = [line.split()[0] for line in stdout.strip().splitlines()]
    assert names == [
        *("autohr", "chrom", "green", "ica", "lfa-rea", "lgi", "meta-rppg", "omit", "pbv"),
        *("physnet", "pos", "rppgnet", "stven+rppgnet"),
    ]
    shipped = [line for line in stdout.splitlines() if "shipped weights, or --weights" in line]
    assert [line.split()[0] for line in shipped] == [
        *("autohr", "meta-rppg", "physnet", "rppgnet", "stven+rppgnet")
    ]
    assert "needs --weights" in next(line for line in stdout.splitlines() if "lfa-rea" in line)


def test_synth_writes_video_and_ground_truth(tmp_path: Path) -> None:
    args = ["--duration", "2", "--width", "160", "--height", "120", "--hr", "90"]
    code, _, stderr = run("synth", tmp_path / "s", *args)
    assert code == 0, stderr
    meta = json.loads((tmp_path / "s" / "meta.json").read_text())
    assert meta["config"]["hr_bpm"] == 90 and meta["n_frames"] == 60
    assert (tmp_path / "s" / "video.mkv").stat().st_size > 0


def test_synth_rejects_impossible_settings(tmp_path: Path) -> None:
    code, _, stderr = run("synth", tmp_path / "s", "--skin-tone", "9")
    assert_user_error(code, stderr, "skin_tone")
    assert not (tmp_path / "s").exists()


HEAVY = ("scipy.signal", "scipy.ndimage", "scipy.stats", "scipy.sparse", "torch", "neurokit2")


def _modules_after(code: str) -> dict[str, list[str]]:
    """Run `code` in a fresh interpreter; it prints a JSON object of module lists."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_listing_and_help_import_no_numerical_modules() -> None:
    """`rppgkit methods` and `rppgkit --help` start in a fraction of a second: no numpy, scipy,
    PyTorch or matplotlib, no pydantic, and no rich (it is only for progress bars)."""
    heavy = ("numpy", "scipy", "torch", "matplotlib", "neurokit2", "pydantic", "rich")
    for args in (["methods"], ["--help"]):
        found = _modules_after(
            "import json, sys\n"
            "from rppgkit.cli import app\n"
            f"try:\n    app({args!r}, prog_name='rppgkit')\nexcept SystemExit:\n    pass\n"
            f"roots = {heavy!r}\n"
            "print(json.dumps({'loaded': sorted(m for m in sys.modules"
            " if m.split('.')[0] in roots)}))"
        )
        assert found["loaded"] == [], args


def test_measure_with_a_classic_method_imports_no_heavy_modules(videos, tmp_path: Path) -> None:
    """`rppgkit measure -m pos` off a terminal imports neither scipy's signal, image or
    statistics modules, nor PyTorch, neurokit2 or matplotlib (the report is drawn with Pillow),
    nor rich (no progress bar) or pydantic."""
    path, _ = videos["clean"]
    found = _modules_after(
        "import json, sys\n"
        "from rppgkit.cli import app\n"
        f"app(['measure', {str(path)!r}, '-m', 'pos', '-o', {str(tmp_path / 'res')!r}],"
        " prog_name='rppgkit', standalone_mode=False)\n"
        f"heavy = {(*HEAVY, 'matplotlib', 'rich', 'pydantic')!r}\n"
        "print(json.dumps({'loaded': sorted(m for m in sys.modules if m.startswith(heavy))}))"
    )
    assert found["loaded"] == []
    assert (tmp_path / "res" / "report.png").is_file()


def test_help_lists_commands_in_order_and_describes_arguments() -> None:
    """`rppgkit --help` lists the commands as defined (measure first), each with its first
    sentence whole; a command's help describes its arguments and shows option defaults."""
    code, stdout, _ = run("--help")
    assert code == 0
    listed = stdout.split("Commands:")[1].split()
    assert listed[0] == "measure"
    assert "timestamps." in listed  # compress's sentence, longer than click's 45 characters
    code, stdout, _ = run("measure", "--help")
    assert code == 0
    arguments = stdout.split("Arguments:")[1].split("Options:")[0]
    assert "PATH" in arguments and "a folder of videos" in arguments
    assert "[default: pos]" in stdout and "--adapt / --no-adapt" in stdout
