"""Shared fixtures: small synthetic face videos with a known pulse, made once per session."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from rppgkit.synth import SynthConfig, write_synth

SMALL = {"width": 320, "height": 240}


def pytest_configure(config: pytest.Config) -> None:
    """Let the Ctrl-C tests interrupt their `rppgkit` processes in any shell.

    A background job of a non-interactive shell (`.ci/run &`) starts with SIGINT ignored, and
    processes started from it inherit that, so a SIGINT sent to them would be lost. Python's
    usual handler is reset to the default on exec, as it is under a terminal.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def make_synth(root: Path, name: str, **config: object) -> tuple[Path, float]:
    """Write a synthetic video under `root/name`; return its path and true mean HR."""
    paths = write_synth(SynthConfig(**{**SMALL, **config}), root / name, masks=False)
    return paths.video, paths.mean_hr_bpm


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, float]]:
    root = tmp_path_factory.mktemp("synth")
    return {
        "clean": make_synth(root, "clean", duration_s=30, hr_bpm=78, seed=11),
        "moving": make_synth(
            root, "moving", duration_s=30, hr_bpm=96, motion=1.0, lighting=1.0, seed=12
        ),
        "short": make_synth(root, "short", duration_s=6, seed=13),
    }


@pytest.fixture
def small() -> dict[str, int]:
    """Frame size of the test videos: small enough to keep the suite fast."""
    return dict(SMALL)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One CPU thread: tiny networks run slower on two busy cores than on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
