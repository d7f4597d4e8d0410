"""The DEAP loader on a fixture written in DEAP's on-disk layout: face_video/sXX/sXX_trialYY.avi
and data_original/sXX.bdf (BioSemi BDF at 512 Hz with Plet and Status)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests.helpers import SYSTEM_BIT, write_bdf

from rppgkit.cli import app
from rppgkit.datasets import DatasetError, load_dataset
from rppgkit.datasets.deap import deap_recordings, playback_onsets
from rppgkit.pulse import heart_rate
from rppgkit.synth import SynthConfig, synthesize
from rppgkit.video.writer import write_video

FS = 512  # DEAP's original rate
EEG = ["Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3"]
EEG += ["O1", "Oz", "Pz", "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8"]
EEG += ["CP6", "CP2", "P4", "P8", "PO4", "O2"]
LABELS = [*EEG, *(f"EXG{i}" for i in range(1, 9)), "GSR1", "GSR2", "Erg1", "Erg2", "Resp"]
LABELS += ["Plet", "Temp", "Status"]
PLAYBACKS_S = (3.0, 15.0)  # the fixture's two trials (shortened from DEAP's 60 s playbacks)
RATES_BPM = (60.0, 90.0)  # the plethysmograph's rate during each trial


@pytest.fixture(scope="module")
def face_avi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s synthetic face video (160x120, 30 fps) in an AVI, copied into each fixture."""
    video = synthesize(SynthConfig(duration_s=4, width=160, height=120, seed=3))
    path = tmp_path_factory.mktemp("deap-face") / "face.avi"
    return write_video(path, (rgb for rgb, _ in video.frames()), 30)


def write_participant(path: Path, seconds: int = 30, labels: list[str] = LABELS) -> None:
    """A participant's BDF like DEAP's: Plet pulsing at 60 bpm until the second playback and at
    90 bpm after it; in Status, a 5 s fixation (3) then a playback (4, held 60 samples) per
    trial, under an always-set system bit."""
    n = FS * seconds
    t = np.arange(n) / FS
    phase = np.where(t < PLAYBACKS_S[1], RATES_BPM[0] / 60 * t, 0.0)
    late = t >= PLAYBACKS_S[1]
    phase[late] = RATES_BPM[0] / 60 * PLAYBACKS_S[1] + RATES_BPM[1] / 60 * (t[late] - t[late][0])
    pleth = 2000 + 800 * np.sin(2 * np.pi * phase)
    status = np.full(n, SYSTEM_BIT)
    for start in PLAYBACKS_S:
        status[int((start - 2) * FS) : int(start * FS)] |= 3
        status[int(start * FS) : int(start * FS) + 60] |= 4
    channels = {label: pleth if label == "Plet" else 0 * t for label in labels}
    write_bdf(path, channels | {"Status": status}, FS)


def write_deap(root: Path, video: Path, trials: dict[str, list[int]], bdfs: list[str]) -> None:
    """face_video/<s>/<s>_trialYY.avi for each participant's trials; data_original/<s>.bdf."""
    for subject, numbers in trials.items():
        for number in numbers:
            target = root / "face_video" / subject / f"{subject}_trial{number:02d}.avi"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(video, target)
    for subject in bdfs:
        write_participant(root / "data_original" / f"{subject}.bdf")


def test_deap_lists_trials_by_participant(tmp_path: Path, face_avi: Path) -> None:
    write_deap(tmp_path, face_avi, {"s01": [10, 2, 1], "s02": [1]}, ["s01", "s02"])
    (tmp_path / "face_video" / "s01" / "notes.avi").write_bytes(b"")  # not a trial: left out
    recs = load_dataset("deap", tmp_path)
    assert [(r.id, r.subject) for r in recs] == [
        ("s01_trial01", "s01"),
        ("s01_trial02", "s01"),
        ("s01_trial10", "s01"),
        ("s02_trial01", "s02"),
    ]
    assert all(r.labelled and r.video.suffix == ".avi" for r in recs)
    listed = CliRunner().invoke(app, ["datasets"])
    assert "deap       `face_video/sXX/sXX_trialYY.avi` with the Plet channel" in listed.output


def test_deap_reference_starts_at_each_trials_playback(tmp_path: Path, face_avi: Path) -> None:
    write_deap(tmp_path, face_avi, {"s01": [1, 2]}, ["s01"])
    status = np.full(10, SYSTEM_BIT) | np.array([0, 3, 3, 4, 4, 4, 5, 0, 4, 4])
    assert playback_onsets(status).tolist() == [3, 8]  # onsets only, under the system bit
    first, second = (r.reference() for r in load_dataset("deap", tmp_path))
    for ref, playback, bpm in zip((first, second), PLAYBACKS_S, RATES_BPM):
        assert ref.times[0] == 0 and ref.fs == pytest.approx(FS)
        assert ref.times[-1] == pytest.approx(30 - playback, abs=2 / FS)  # to the file's end
        ten_s = ref.pulse[: 10 * FS]  # trial 1 changes rate 12 s in (trial 2's playback)
        assert heart_rate(ten_s - ten_s.mean(), FS).bpm == pytest.approx(bpm, abs=1)
        ref.check(video_duration_s=4.0)
    (early,) = [r for r in deap_recordings(tmp_path, lead_s=2.0) if r.id == "s01_trial02"]
    shifted = early.reference()
    assert shifted.times[0] == 0 and shifted.times[-1] == pytest.approx(17.0, abs=2 / FS)
    np.testing.assert_allclose(shifted.pulse[2 * FS :], second.pulse, atol=1e-3)


def test_deap_errors_name_the_file_in_one_line(tmp_path: Path, face_avi: Path) -> None:
    write_deap(tmp_path, face_avi, {"s01": [3], "s02": [1], "s03": [1]}, ["s01"])
    write_participant(tmp_path / "data_original" / "s03.bdf", labels=["Fp1", "Status"])
    beyond, no_bdf, no_pleth = load_dataset("deap", tmp_path)
    cases = [
        (beyond, r"s01.bdf: its Status channel marks 2 music-video playbacks \(code 4\)"),
        (no_bdf, r"s02.bdf does not exist; unpack DEAP's Data_original.zip"),
        (no_pleth, r"s03.bdf: no Plet channel; DEAP's original BDF holds the plethysmograph"),
    ]
    for rec, message in cases:
        with pytest.raises(DatasetError, match=message) as info:
            rec.reference()
        assert "\n" not in str(info.value)
