"""Numbers, checkpoints and training runs: a bad value is one line before any work.

Every numeric option of every command refuses NaN, infinity and values out of its range with
one line naming the option, the value and the range, and exit code 1, before anything is read or
written. A checkpoint that is incomplete, or whose weights do not fit the network it describes,
is one line too; so are bad training overrides and a resumed run whose config changed, and a
failed training run leaves no folder behind.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
import yaml
from tests.hostile.conftest import assert_user_error, run, snapshot

from rppgkit.clip import ClipSpec
from rppgkit.models import create
from rppgkit.models.checkpoint import FORMAT, save_checkpoint
from rppgkit.train.config import validate
from rppgkit.train.engine import RESUMED


def _state(root: Path) -> tuple[dict, list[Path]]:
    """Every file (size, time) and every folder under `root`: a refused run changes neither."""
    return snapshot(root), sorted(root.rglob("*"))


def _refused(sandbox: Path, args: list[str], *phrases: str) -> str:
    """Run `rppgkit ARGS`: one line holding every phrase, exit 1, the sandbox untouched."""
    before = _state(sandbox)
    code, _, stderr = run(*args)
    line = assert_user_error(code, stderr, *phrases)
    assert _state(sandbox) == before, "a refused run changed the working folder"
    return line


# command line before the option ({video}: a face video, {root}: a synthetic dataset), the
# option, its bad values
OPTIONS = [
    ("measure {video} -o out", "--window", ["nan", "inf", "-inf", "1", "121"]),
    ("measure {video} -o out", "--step", ["nan", "inf", "0", "-1"]),
    ("measure {video} -o out", "--min-face", ["nan", "inf", "-0.1", "1.5"]),
    ("measure {video} -o out", "--min-quality", ["nan", "-inf", "-0.1", "2"]),
    ("measure {video} -o out", "--fps", ["nan", "inf", "0", "-30", "5000"]),
    ("evaluate {root} -d synthetic -o out", "--window", ["nan", "0"]),
    ("evaluate {root} -d synthetic -o out", "--step", ["inf", "-1"]),
    ("evaluate {root} -d synthetic -o out", "--min-quality", ["nan"]),
    ("evaluate {root} -d synthetic -o out", "--workers", ["0", "-2"]),
    ("anonymize {video} out.mkv --target-hr 90", "--lambda", ["nan", "inf", "-1"]),
    ("anonymize {video} out.mkv --target-hr 90", "--lr", ["nan", "inf", "0", "-1"]),
    ("anonymize {video} out.mkv --target-hr 90", "--rhythm", ["nan", "inf", "-1"]),
    ("anonymize {video} out.mkv --target-hr 90", "--steps", ["0", "-5"]),
    ("anonymize {video} out.mkv", "--target-hr", ["nan", "inf", "300"]),
    ("anonymize {video} out.mkv --random", "--seed", ["-1"]),
    ("compress {video} out.mkv", "--crf", ["-1", "52"]),
    ("ladder {root} -d synthetic -o out", "--workers", ["0", "-1"]),
    ("synth out", "--duration", ["nan", "inf", "0"]),
    ("synth out", "--fps", ["nan", "inf", "1"]),
    ("synth out", "--width", ["0", "10"]),
    ("synth out", "--height", ["-1"]),
    ("synth out", "--hr", ["nan", "500"]),
    ("synth out", "--skin-tone", ["0", "7"]),
    ("synth out", "--motion", ["nan", "-1"]),
    ("synth out", "--lighting", ["inf", "3"]),
    ("synth out", "--noise", ["nan", "-1"]),
    ("synth out", "--seed", ["-1"]),
]
CASES = [
    pytest.param(cmd, opt, value, id=f"{cmd.split()[0]}{opt}={value}")
    for cmd, opt, values in OPTIONS
    for value in values
]


@pytest.fixture
def places(sandbox: Path, face_video: tuple[Path, float]) -> dict[str, str]:
    """The inputs commands read, outside the sandbox (so the sandbox holds outputs only)."""
    return {"video": str(face_video[0]), "root": str(face_video[0].parent)}


@pytest.mark.parametrize(("command", "option", "value"), CASES)
def test_bad_number_is_one_line_naming_option_and_value(
    sandbox: Path, places: dict[str, str], command: str, option: str, value: str
) -> None:
    args = [*command.format(**places).split(), option, value]
    line = _refused(sandbox, args, option, f"got {value}", "must be")
    assert " from " in line or "at least" in line or "above" in line  # the allowed range


@pytest.mark.parametrize(
    ("command", "phrases"),
    [
        ("compress {video} out.mkv --bitrate nan", ["bitrate 'nan'", "250k"]),
        ("compress {video} out.mkv --bitrate inf", ["bitrate 'inf'", "250k"]),
        ("compress {video} out.mkv --bitrate -5k", ["bitrate '-5k'", "250k"]),
        ("compress {video} out.mkv --bitrate 0", ["bitrate 0 is outside 10k-100M"]),
        ("ladder {root} -d synthetic -o out --levels x264:crfabc", ["x264:crfabc", "crfN"]),
        ("ladder {root} -d synthetic -o out --levels x264:crf-3", ["x264:crf-3", "0 to 51"]),
        ("ladder {root} -d synthetic -o out --levels x264:crf99", ["--crf", "0 to 51", "99"]),
        ("ladder {root} -d synthetic -o out --levels x264:nan", ["bitrate 'nan'"]),
        ("demo -o out -m magic", ["unknown", "magic"]),
    ],
)
def test_bad_level_bitrate_or_method_is_one_line(
    sandbox: Path, places: dict[str, str], command: str, phrases: list[str]
) -> None:
    _refused(sandbox, command.format(**places).split(), *phrases)


def test_anonymize_refuses_nan_before_loading_or_reading(
    sandbox: Path, places: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--lambda nan` once ran 12 minutes and painted the face black."""
    from rppgkit.privacy import edit

    def touched(*_: object, **__: object) -> None:
        raise AssertionError("a network was loaded or a video read")

    monkeypatch.setattr(edit, "load_network", touched)
    monkeypatch.setattr(edit, "open_video", touched)
    start = time.perf_counter()
    args = ["anonymize", places["video"], "out.mkv", "--random", "--lambda", "nan"]
    _refused(sandbox, args, "--lambda", "got nan")
    assert time.perf_counter() - start < 1.0


def test_too_short_video_names_the_shortest_window(
    sandbox: Path, places: dict[str, str], tmp_path: Path
) -> None:
    """Not "shorter than the 2 s window; use a shorter --window" when 2 s is the least."""
    from rppgkit.synth import SynthConfig, write_synth

    short = write_synth(SynthConfig(duration_s=1.5, width=64, height=48), tmp_path / "s")
    line = _refused(sandbox, ["measure", short.video, "-o", "out", "--window", "2"])
    assert "too short for a heart rate" in line and "needs over 2 s" in line
    assert "shorter --window" not in line
    long_enough = ["measure", places["video"], "-o", "out", "--window", "20"]
    _refused(sandbox, long_enough, "shorter than the 20 s", "--window 11.9 or shorter")


# --- checkpoints -----------------------------------------------------------------------------


def _checkpoint(path: Path, weights_width: int) -> Path:
    """A PhysNet checkpoint that says width 8; its weights are of width `weights_width`."""
    save_checkpoint(
        {
            "model": {"name": "physnet", "options": {"width": 8}},
            "task": {"name": "physnet", "options": {}},
            "clip": ClipSpec(frames=32, size=16).as_dict(),
            "state_dict": create("physnet", width=weights_width).state_dict(),
        },
        path,
    )
    return path


@pytest.fixture
def checkpoints(tmp_path: Path) -> dict[str, Path]:
    only_format = tmp_path / "only-format.pt"
    torch.save({"format": FORMAT}, only_format)
    return {"only_format": only_format, "misfit": _checkpoint(tmp_path / "misfit.pt", 4)}


CHECKPOINT_USERS = [
    "measure {video} -o out -m physnet --weights {ckpt}",
    "evaluate {root} -d synthetic -o out -m physnet --weights {ckpt}",
    "export {ckpt} --onnx out.onnx",
    "anonymize {video} out.mkv --random --weights {ckpt}",
    "enhance {video} out.mkv --weights {ckpt}",
]


@pytest.mark.parametrize("command", CHECKPOINT_USERS, ids=lambda c: c.split()[0])
@pytest.mark.parametrize(
    ("kind", "phrases"),
    [
        ("only_format", ["is not a complete rppgkit checkpoint", "lacks model", "train again"]),
        ("misfit", ["do not fit the physnet network", "mis-shaped, e.g. '", "train again"]),
    ],
)
def test_broken_checkpoint_is_one_line(
    sandbox: Path,
    places: dict[str, str],
    checkpoints: dict[str, Path],
    command: str,
    kind: str,
    phrases: list[str],
) -> None:
    args = command.format(**places, ckpt=checkpoints[kind]).split()
    _refused(sandbox, args, str(checkpoints[kind]), *phrases)


def test_fitting_checkpoint_loads(tmp_path: Path) -> None:
    """The misfit above is the weights, not the way the checkpoints are made."""
    from rppgkit.models.inference import load_network

    assert load_network(_checkpoint(tmp_path / "fit.pt", 8)).name == "physnet"


# --- training --------------------------------------------------------------------------------


def _config(sandbox: Path, root: str) -> Path:
    """A tiny training config in the sandbox, its data at `root`, its run in sandbox/run."""
    data = {"dataset": "synthetic", "root": root, "clip": {"frames": 32, "size": 16}}
    config = {
        "data": {**data, "workers": 1},
        "model": {"name": "physnet", "options": {"width": 4}},
        "train": {"epochs": 1, "batch_size": 2, "threads": 1},
        "log": {"out": str(sandbox / "runs" / "run"), "progress": False},
    }
    path = sandbox / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    ("override", "phrases"),
    [
        ("optim.lr=nan", ["optim.lr", "finite number", "nan"]),
        ("optim.lr=.inf", ["optim.lr", "finite number", "inf"]),
        ("optim.momentum=nan", ["optim.momentum", "finite number"]),
        ("schedule.gamma=-1", ["schedule.gamma", "greater than 0"]),
        ("data.clip.fs=nan", ["data.clip.fs", "finite number"]),
        ("data.clip.frames=2", ["data.clip.frames", "greater than or equal to 8"]),
        ("data.augment.noise=.inf", ["data.augment.noise", "finite number"]),
        ("data.split.train=.nan", ["data.split.train: ", "finite number"]),
        ("train.epochs=0", ["train.epochs", "greater than 0"]),
        ("train.seed=-1", ["train.seed", "greater than or equal to 0"]),
        ("model.options.width=-8", ["model.options.width", "whole number of at least 1", "-8"]),
        ("model.options.width=0", ["model.options.width", "got 0"]),
        ("model.options.width=.nan", ["model.options.width", "got nan"]),
        ("task.options.pearson=.nan", ["task.options.pearson", "got nan"]),
        ("task.options.frequency=-1", ["task.options.frequency", "at least 0"]),
        ("data.root=missing", ["missing"]),
    ],
)
def test_bad_training_setting_is_one_line_and_leaves_no_run_folder(
    sandbox: Path, places: dict[str, str], override: str, phrases: list[str]
) -> None:
    config = _config(sandbox, places["root"])
    _refused(sandbox, ["train", config, override], *phrases)
    assert not (sandbox / "runs").exists()


def test_resume_with_a_changed_setting_names_it(sandbox: Path, places: dict[str, str]) -> None:
    config = _config(sandbox, places["root"])
    raw = yaml.safe_load(config.read_text())
    run_dir = Path(raw["log"]["out"])
    run_dir.mkdir(parents=True)
    cfg = validate(raw)
    save_checkpoint(
        {
            "model": {"name": "physnet", "options": {"width": 4}},
            "task": {"name": "physnet", "options": {}},
            "clip": cfg.data.clip.spec().as_dict(),
            "state_dict": create("physnet", width=4).state_dict(),
            **{key: {} for key in RESUMED},
            "config": cfg.model_dump(),
        },
        run_dir / "last.pt",
    )
    args = ["train", config, "--resume", "model.options.width=8"]
    _refused(sandbox, args, "differs from the run being resumed", "model.options.width was 4")
    line = _refused(sandbox, [*args[:3], "data.clip.size=32"], "data.clip.size was 16, now 32")
    assert "set data.clip.size back to 16" in line and "log.out to a new folder" in line
