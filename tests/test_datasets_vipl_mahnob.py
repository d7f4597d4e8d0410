"""VIPL-HR and MAHNOB-HCI loaders on fixtures written in each dataset's own on-disk layout."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests.helpers import SYSTEM_BIT, write_bdf

from rppgkit.cli import app
from rppgkit.datasets import DatasetError, load_dataset
from rppgkit.datasets.mahnob import PAPER_WINDOW_S, beat_rate, beat_wave, mahnob_recordings
from rppgkit.datasets.vipl import to_frame_clock, vipl_recordings
from rppgkit.pulse import heart_rate
from rppgkit.synth import SynthConfig, synthesize
from rppgkit.video.reader import open_video
from rppgkit.video.writer import write_video

HR = 72.0  # bpm of every fixture
BAND = (0.7, 4.0)


@pytest.fixture(scope="module")
def face_avi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s synthetic face video (160x120, 30 fps) in an AVI, copied into each fixture."""
    video = synthesize(SynthConfig(duration_s=4, width=160, height=120, hr_bpm=HR, seed=2))
    path = tmp_path_factory.mktemp("face") / "face.avi"
    return write_video(path, (rgb for rgb, _ in video.frames()), 30)


def spectral_hr(times: np.ndarray, pulse: np.ndarray, fs: float = 30.0) -> float:
    """HR of a pulse sampled at `times`, by the evaluation's spectral path."""
    grid = np.arange(max(times[0], 0.0), times[-1], 1 / fs)
    return heart_rate(np.interp(grid, times, pulse), fs, BAND).bpm


def raises_one_line(match: str, call: Callable[[], object]) -> str:
    """Assert that `call` raises a one-line DatasetError matching `match`; its text."""
    with pytest.raises(DatasetError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_cli_lists_both_with_a_description() -> None:
    listed = CliRunner().invoke(app, ["datasets"])
    assert listed.exit_code == 0
    assert "vipl-hr    `data/p<n>/v<k>/source<1-3>/video.avi` with `wave.csv`" in listed.output
    assert "mahnob-hci `Sessions/<n>/` with the `*C1 trigger*.avi` video" in listed.output


# --- VIPL-HR ---------------------------------------------------------------------------------


def write_vipl(
    folder: Path,
    video: Path,
    frame_ms: np.ndarray | None = None,
    wave_s: float = 4.0,
    hr_rows: int = 4,
    ramp: bool = False,
) -> None:
    """One VIPL-HR source folder: video.avi, wave.csv (60 Hz), gt_HR.csv, gt_SpO2.csv, and
    time.txt when `frame_ms` is given. The wave is a pulse at `HR`, or its sample number with
    `ramp` (to read its timing)."""
    folder.mkdir(parents=True)
    shutil.copy(video, folder / "video.avi")
    t = np.arange(0, wave_s, 1 / 60)
    wave = np.round(50 + 40 * np.sin(2 * np.pi * HR / 60 * t)).astype(int)  # integers, as CMS60C
    wave = np.arange(len(t)) if ramp else wave
    (folder / "wave.csv").write_text("Wave\n" + "\n".join(map(str, wave)) + "\n")
    (folder / "gt_HR.csv").write_text("HR\n" + "\n".join(["72"] * hr_rows) + "\n")
    (folder / "gt_SpO2.csv").write_text("SpO2\n" + "\n".join(["97"] * hr_rows) + "\n")
    if frame_ms is not None:
        (folder / "time.txt").write_text("\n".join(str(int(v)) for v in frame_ms) + "\n")


def jittered_ms(
    n: int = 120, fps: float = 29.8, stall_ms: float = 0, start_ms: int = 40
) -> np.ndarray:
    """Webcam frame times in ms: `fps` nominally, each frame up to 8 ms early or late, and a
    stall of `stall_ms` half way."""
    jitter = np.random.default_rng(0).uniform(-8, 8, n)
    jitter[[0, -1]] = 0
    stall = stall_ms * (np.arange(n) >= n // 2)
    return np.round(start_ms + 1000 * np.arange(n) / fps + jitter + stall)


def test_vipl_lists_colour_sources_by_subject_and_camera(tmp_path: Path, face_avi: Path) -> None:
    data = tmp_path / "VIPL-HR" / "data"
    for rel in ("p10/v1/source1", "p2/v1-2/source3", "p2/v1/source1", "p2/v1/source2"):
        phone = rel.endswith("source2")  # the phone has no time.txt
        write_vipl(data / rel, face_avi, None if phone else jittered_ms())
    write_vipl(data / "p2/v1/source4", face_avi, jittered_ms())  # near-infrared: left out
    write_vipl(data / "p2/notes/source1", face_avi)  # not a scenario folder
    recs = load_dataset("vipl-hr", tmp_path / "VIPL-HR")  # the dataset folder or its data/
    assert [r.id for r in recs] == [
        "p2/v1/source1",
        "p2/v1/source2",
        "p2/v1-2/source3",
        "p10/v1/source1",
    ]
    assert [r.subject for r in recs] == ["p2", "p2", "p2", "p10"]
    assert [r.group for r in recs] == ["source1", "source2", "source3", "source1"]
    assert [r.id for r in load_dataset("vipl-hr", data)] == [r.id for r in recs]
    (nir,) = vipl_recordings(data, sources=(4,))
    assert (nir.id, nir.group) == ("p2/v1/source4", "source4")


def test_vipl_reference_hr_and_frame_clock(tmp_path: Path, face_avi: Path) -> None:
    stamps = jittered_ms()
    write_vipl(tmp_path / "p1/v1/source1", face_avi, stamps)
    write_vipl(tmp_path / "p1/v1/source2", face_avi)  # the phone: no time.txt, 30 fps
    webcam, phone = load_dataset("vipl-hr", tmp_path)
    frame_s = (stamps - stamps[0]) / 1000
    assert webcam.fps == pytest.approx((len(stamps) - 1) / frame_s[-1])  # time.txt's mean rate
    assert phone.fps == 30.0
    read = [f.time_s for f in open_video(webcam.video, fps=webcam.fps).frames()]
    np.testing.assert_allclose(read, np.arange(len(stamps)) / webcam.fps, atol=1e-9)
    for rec in (webcam, phone):
        ref = rec.reference()
        assert ref.fs == pytest.approx(60, rel=0.02) and ref.times[0] == 0
        assert abs(spectral_hr(ref.times, ref.pulse) - HR) < 1
        assert ref.hr_bpm is not None and np.all(ref.hr_bpm == HR)
        ref.check(video_duration_s=read[-1])


def test_vipl_time_txt_puts_each_frame_at_its_capture_time(tmp_path: Path, face_avi: Path) -> None:
    stamps = jittered_ms(stall_ms=60)
    write_vipl(tmp_path / "p1/v1/source3", face_avi, stamps, wave_s=4.2, ramp=True)
    (rec,) = load_dataset("vipl-hr", tmp_path)
    ref, grid = rec.reference(), np.arange(len(stamps)) / rec.fps  # frame i is read at grid[i]
    captured = (stamps - stamps[0]) / 1000
    wave_time_at_frames = np.interp(grid, ref.times, ref.pulse) / 60  # the ramp counts samples
    assert np.max(np.abs(wave_time_at_frames - captured)) < 0.006  # a third of a wave sample
    assert np.max(np.abs(grid - captured)) > 0.02  # what an even grid alone would get wrong


def test_to_frame_clock_keeps_ends_and_order() -> None:
    frames = np.array([0.0, 0.03, 0.07, 0.10])  # read at 0, 1/30, 2/30, 3/30
    out = to_frame_clock(np.array([-0.05, 0.0, 0.05, 0.10, 0.2]), frames)
    np.testing.assert_allclose(out, [-0.05, 0.0, 0.05, 0.10, 0.2])
    np.testing.assert_allclose(to_frame_clock(np.array([0.03, 0.07]), frames), [1 / 30, 2 / 30])


def test_vipl_hr_column_shorter_than_wave_is_nan_past_its_end(
    tmp_path: Path, face_avi: Path
) -> None:
    write_vipl(tmp_path / "p1/v1/source2", face_avi, hr_rows=2)
    ref = load_dataset("vipl-hr", tmp_path)[0].reference()
    assert np.all(ref.hr_bpm[ref.times < 2] == HR) and np.all(np.isnan(ref.hr_bpm[ref.times >= 2]))
    (tmp_path / "p1/v1/source2/gt_HR.csv").unlink()
    assert load_dataset("vipl-hr", tmp_path)[0].reference().hr_bpm is None


def test_vipl_errors_name_the_file_in_one_line(tmp_path: Path, face_avi: Path) -> None:
    for source in ("source1", "source2", "source3"):
        write_vipl(
            tmp_path / "p1/v1" / source, face_avi, jittered_ms() if source != "source2" else None
        )
    (tmp_path / "p1/v1/source1/wave.csv").unlink()
    (tmp_path / "p1/v1/source2/wave.csv").write_text("Wave\n51\nsecret-row\n52\n")
    (tmp_path / "p1/v1/source3/time.txt").write_text("0\n33\nGARBLED\n")
    missing, garbled, bad_times = load_dataset("vipl-hr", tmp_path)
    raises_one_line(r"source1/wave.csv is missing; VIPL-HR keeps the BVP", missing.reference)
    text = raises_one_line(r"source2/wave.csv: row 3, column 1 is not a number", garbled.reference)
    assert "secret" not in text
    assert bad_times.fps is None  # listing survives a broken time.txt; its reference says why
    text = raises_one_line(r"source3/time.txt: expected one frame time in ms", bad_times.reference)
    assert "GARBLED" not in text
    (tmp_path / "p1/v1/source2/wave.csv").write_text("BVP\n1\n2\n")
    raises_one_line(r"wave.csv: no column Wave", garbled.reference)


# --- MAHNOB-HCI ------------------------------------------------------------------------------

EEG = ["Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3"]
EEG += ["O1", "Oz", "Pz", "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8"]
EEG += ["CP6", "CP2", "P4", "P8", "PO4", "O2"]
OTHERS = ["GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Plet", "Temp"]
FS = 256


def qrs_train(t: np.ndarray) -> np.ndarray:
    """An ECG-like lead (uV) beating at exactly `HR`: Q, R, S and T waves, baseline wander and
    noise."""
    ecg = 30 * np.sin(2 * np.pi * 0.3 * t) + np.random.default_rng(3).normal(0, 5, len(t))
    for beat in np.arange(0.4, t[-1], 60 / HR):
        for offset_s, width_s, amplitude in (
            (-0.03, 0.01, -80),
            (0, 0.012, 1000),
            (0.03, 0.01, -150),
            (0.25, 0.05, 200),
        ):
            ecg += amplitude * np.exp(-0.5 * ((t - beat - offset_s) / width_s) ** 2)
    return ecg


def write_recording(
    path: Path,
    seconds: int = 8,
    video_s: tuple[float, float] = (1.0, 5.0),
    ecg_channels: tuple[str, ...] = ("EXG1", "EXG2", "EXG3"),
    trigger: bool = True,
) -> None:
    """A BDF like MAHNOB-HCI's: 32 EEG, EXG1-8, GSR/resp/temp..., Status; 256 Hz; an ECG at
    `HR` in the leads `ecg_channels` (the other EXG leads flat) and the trigger bit set in
    Status while the video runs."""
    exg = [f"EXG{i}" for i in range(1, 9)]
    kept = [c for c in exg if c in ecg_channels or c not in ("EXG1", "EXG2", "EXG3")]
    labels = [*EEG, *kept, *OTHERS, "Status"]
    n = FS * seconds
    ecg = qrs_train(np.arange(n) / FS)
    status = np.full(n, SYSTEM_BIT)
    if trigger:
        status[int(video_s[0] * FS) : int(video_s[1] * FS)] |= 1
    channels = {label: ecg if label in ecg_channels else np.zeros(n) for label in labels}
    write_bdf(path, channels | {"Status": status}, FS)


def write_session(
    folder: Path, video: Path, subject: int = 7, trial: str = "S_Trial3", **bdf: object
) -> None:
    """A MAHNOB-HCI session folder: the colour camera's AVI, the BDF and session.xml."""
    write_recording(folder / f"Part_{subject}_{trial}_emotion.bdf", **bdf)
    name = f"P{subject}-Rec1-2009.07.23.13.03.17_C1 trigger _C_Section_{folder.name}.avi"
    shutil.copy(video, folder / name)
    (folder / f"P{subject}-Rec1-All-Data-New_Section_{folder.name}.tsv").write_text("Timestamp\n")
    (folder / "session.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<session sessionId="{folder.name}" mediaFile="69.avi" cutLenSec="4" isStim="1">\n'
        f'  <subject id="{subject}" age="30" gender="female"/>\n'
        "</session>\n"
    )


def test_mahnob_lists_stimulus_sessions_with_subject_from_session_xml(
    tmp_path: Path, face_avi: Path
) -> None:
    sessions = tmp_path / "Sessions"
    write_session(sessions / "10", face_avi, subject=7)
    write_session(sessions / "2", face_avi, subject=1)
    write_session(sessions / "3", face_avi, subject=1, trial="N_Trial2")  # neutral: left out
    write_session(sessions / "12", face_avi, subject=9)
    (sessions / "12" / "session.xml").write_text("<session><subj")  # unreadable: name tells
    write_recording(sessions / "14" / "Part_9_S_Trial5_emotion.bdf")  # no video: left out
    recs = load_dataset("mahnob-hci", tmp_path)
    assert [(r.id, r.subject) for r in recs] == [("2", "1"), ("10", "7"), ("12", "9")]
    assert "C1 trigger" in recs[0].video.name and recs[0].group == ""
    assert [r.id for r in load_dataset("mahnob-hci", sessions)] == ["2", "10", "12"]


def test_mahnob_reference_from_ecg_on_the_video_clock(tmp_path: Path, face_avi: Path) -> None:
    write_session(tmp_path / "Sessions" / "10", face_avi, video_s=(1.0, 5.0))
    (rec,) = load_dataset("mahnob-hci", tmp_path)
    ref = rec.reference()
    # the trigger (under the always-set system bit) runs 1 s to 5 s: the video's 4 s
    assert ref.times[0] == 0 and ref.times[-1] == pytest.approx(4.0, abs=2 / FS)
    assert ref.fs == pytest.approx(FS) and ref.source.suffix == ".bdf"
    assert ref.hr_bpm is not None and abs(np.median(ref.hr_bpm) - HR) < 1
    assert abs(spectral_hr(ref.times, ref.pulse) - HR) < 1
    video_s = [f.time_s for f in open_video(rec.video).frames()][-1]
    ref.check(video_duration_s=video_s)
    exg3 = mahnob_recordings(tmp_path, channel="EXG3")[0].reference()
    assert abs(np.median(exg3.hr_bpm) - HR) < 1


def test_mahnob_window_cuts_the_reference(tmp_path: Path, face_avi: Path) -> None:
    start, end = PAPER_WINDOW_S  # frames 306-2135 (1-based) at 61 fps
    assert (start, end) == (305 / 61, 2135 / 61) == (5.0, 35.0)
    write_session(tmp_path / "Sessions" / "10", face_avi)
    (rec,) = mahnob_recordings(tmp_path, window_s=(1.0, 3.0))
    ref = rec.reference()
    assert ref.times[0] == pytest.approx(1.0, abs=1 / FS)
    assert ref.times[-1] == pytest.approx(3.0, abs=1 / FS)
    assert abs(np.median(ref.hr_bpm) - HR) < 1
    (paper,) = mahnob_recordings(tmp_path, window_s=PAPER_WINDOW_S)
    raises_one_line(r"marks 4.0 s of video, which does not hold the window 5-35 s", paper.reference)


def test_beat_wave_and_rate_follow_the_r_peaks() -> None:
    peaks = np.array([1.0, 2.0, 2.5, 3.5])
    t = np.array([0.5, 1.0, 1.5, 2.25, 3.0, 4.0])
    np.testing.assert_allclose(beat_wave(t, peaks), [-1, 1, -1, -1, -1, -1], atol=1e-12)
    np.testing.assert_allclose(beat_rate(t, peaks), [60, 60, 60, 120, 60, 60])


def test_mahnob_errors_name_the_file_in_one_line(tmp_path: Path, face_avi: Path) -> None:
    sessions = tmp_path / "Sessions"
    write_session(sessions / "2", face_avi, ecg_channels=("EXG1", "EXG3"))
    write_session(sessions / "4", face_avi, trigger=False)
    write_session(sessions / "6", face_avi)
    bdf = next((sessions / "6").glob("*.bdf"))
    bdf.write_bytes(b"0BIOSEMI" + b"SECRET " * 200)
    no_exg2, no_trigger, garbled = load_dataset("mahnob-hci", tmp_path)
    raises_one_line(r"Part_7_S_Trial3_emotion.bdf: no EXG2 channel", no_exg2.reference)
    raises_one_line(r"Status channel has no trigger marking the video", no_trigger.reference)
    text = raises_one_line(r"emotion.bdf: not a readable BDF file", garbled.reference)
    assert "SECRET" not in text
    flat = sessions / "8"
    write_session(flat, face_avi, ecg_channels=("EXG1",))
    (rec,) = [r for r in mahnob_recordings(sessions, channel="EXG8") if r.id == "8"]
    raises_one_line(r"found 0 R peaks in EXG8; the lead is flat", rec.reference)  # all zeros
