"""Dataset loaders on tiny fixtures written in each dataset's own on-disk layout."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from rppgkit.cli import app
from rppgkit.datasets import (
    DatasetError,
    available_datasets,
    load_dataset,
    split_by_list,
    split_by_rule,
)
from rppgkit.synth import SynthConfig, write_synth
from rppgkit.video.reader import open_video
from rppgkit.video.writer import write_video

T = np.arange(0, 12, 1 / 30)  # a 12 s label at 30 Hz
PULSE = np.sin(2 * np.pi * 1.2 * T)


def tiny_video(path: Path, n: int = 5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, (np.full((48, 64, 3), i, np.uint8) for i in range(n)), 30)


def test_registry_names(tmp_path: Path) -> None:
    assert available_datasets() == [
        "cohface",
        "deap",
        "ladder",
        "mahnob-hci",
        "manifest",
        "pure",
        "synthetic",
        "ubfc-phys",
        "ubfc-rppg",
        "videos",
        "vipl-hr",
    ]
    with pytest.raises(DatasetError, match="unknown dataset 'vipl'; choose one of: cohface"):
        load_dataset("vipl", ".")
    write_ubfc2(tmp_path / "subject1")
    assert [r.id for r in load_dataset("UBFC-rPPG", tmp_path)] == ["subject1"]  # any case
    listed = CliRunner().invoke(app, ["datasets"])
    assert listed.exit_code == 0
    assert "videos     Any folder of face videos" in listed.output  # a one-line description


def test_missing_root_and_empty_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("pure", tmp_path / "nope")
    with pytest.raises(DatasetError, match="no ubfc-rppg recordings found"):
        load_dataset("ubfc-rppg", tmp_path)


def write_ubfc2(folder: Path, rows: int = 3) -> None:
    tiny_video(folder / "vid.avi")
    hr = np.full_like(T, 72.0)
    lines = [PULSE, hr, T + 0.5][:rows]  # the file's clock need not start at zero
    (folder / "ground_truth.txt").write_text(
        "\n".join(" ".join(f"{v:.6e}" for v in row) for row in lines) + "\n"
    )


def test_ubfc_rppg_dataset2_and_dataset1(tmp_path: Path) -> None:
    write_ubfc2(tmp_path / "subject10")
    write_ubfc2(tmp_path / "subject2")
    tiny_video(tmp_path / "subject3" / "vid.avi")
    xmp = np.column_stack([1000 * (T + 2.0), np.full_like(T, 66), np.full_like(T, 98), PULSE])
    np.savetxt(tmp_path / "subject3" / "gtdump.xmp", xmp, delimiter=",", fmt="%.6f")
    recs = load_dataset("ubfc-rppg", tmp_path)
    assert [r.id for r in recs] == ["subject2", "subject3", "subject10"]  # natural order
    for r, hr in zip(recs, (72, 66, 72)):
        ref = r.reference()
        assert r.video.name == "vid.avi"
        assert ref.times[0] == 0 and ref.fs == pytest.approx(30, rel=1e-3)
        np.testing.assert_allclose(ref.pulse, PULSE, atol=1e-5)
        assert ref.hr_bpm is not None and np.all(ref.hr_bpm == hr)


def test_ubfc_rppg_bad_ground_truth_names_the_file(tmp_path: Path) -> None:
    write_ubfc2(tmp_path / "subject1", rows=2)
    tiny_video(tmp_path / "subject4" / "vid.avi")
    bad, missing = load_dataset("ubfc-rppg", tmp_path)
    with pytest.raises(DatasetError, match=r"subject1/ground_truth.txt: expected 3 rows"):
        bad.reference()
    with pytest.raises(DatasetError, match=r"subject4: no ground_truth.txt or gtdump.xmp"):
        missing.reference()


def test_pure_aligns_by_timestamps_not_index(tmp_path: Path) -> None:
    rec = tmp_path / "03-02"
    frames = rec / "03-02"
    frames.mkdir(parents=True)
    t0 = 1_392_643_993_642_215_000  # ns, as PURE stores them
    image_ns = t0 + np.arange(6) * 33_333_333
    for i, ns in enumerate(image_ns):
        cv2.imwrite(str(frames / f"Image{ns}.png"), np.full((24, 32, 3), 10 * i, np.uint8))
    # the oximeter runs at 60 Hz and starts 0.1 s before the first image
    oxi_ns = t0 - 100_000_000 + np.arange(40) * 16_666_667
    doc = {
        "/FullPackage": [
            {"Timestamp": int(ns), "Value": {"waveform": i, "pulseRate": 70, "o2saturation": 97}}
            for i, ns in enumerate(oxi_ns)
        ],
        "/Image": [{"Timestamp": int(ns)} for ns in image_ns],
    }
    (rec / "03-02.json").write_text(json.dumps(doc))
    (r,) = load_dataset("pure", tmp_path)
    assert (r.id, r.subject, r.video) == ("03-02", "03", frames)
    ref = r.reference()
    assert ref.times[0] == pytest.approx(-0.1) and ref.fs == pytest.approx(60, rel=1e-3)
    assert ref.pulse[6] == 6 and ref.times[6] == pytest.approx(0.0, abs=1e-6)
    video_times = [f.time_s for f in open_video(r.video).frames()]
    np.testing.assert_allclose(video_times, (image_ns - t0) / 1e9)


def test_pure_malformed_json(tmp_path: Path) -> None:
    (tmp_path / "01-01" / "01-01").mkdir(parents=True)
    (tmp_path / "01-01" / "01-01.json").write_text('{"/Image": []}')
    (r,) = load_dataset("pure", tmp_path)
    with pytest.raises(DatasetError, match=r"01-01.json: not PURE's JSON layout"):
        r.reference()


def test_ubfc_phys(tmp_path: Path) -> None:
    tiny_video(tmp_path / "s1" / "vid_s1_T1.avi")
    tiny_video(tmp_path / "s1" / "vid_s1_T2.avi")
    np.savetxt(tmp_path / "s1" / "bvp_s1_T1.csv", np.arange(640.0))
    first, second = load_dataset("ubfc-phys", tmp_path)
    assert (first.id, first.subject) == ("s1_T1", "s1")
    ref = first.reference()
    assert ref.fs == pytest.approx(64) and ref.times[-1] == pytest.approx(639 / 64)
    with pytest.raises(DatasetError, match=r"bvp_s1_T2.csv is missing"):
        second.reference()


def test_cohface(tmp_path: Path) -> None:
    folder = tmp_path / "4" / "1"
    tiny_video(folder / "data.avi")
    t = np.arange(0, 12, 1 / 256) + 3.0
    with h5py.File(folder / "data.hdf5", "w") as f:
        f["pulse"], f["time"], f["respiration"] = np.sin(t), t, np.cos(t)
    (r,) = load_dataset("cohface", tmp_path)
    assert (r.id, r.subject) == ("4/1", "4")
    ref = r.reference()
    assert ref.fs == pytest.approx(256) and ref.times[0] == 0
    np.testing.assert_allclose(ref.pulse, np.sin(t))


def test_manifest_with_rate_or_time_column(tmp_path: Path) -> None:
    tiny_video(tmp_path / "v" / "a.mp4")
    tiny_video(tmp_path / "v" / "b.mp4")
    (tmp_path / "a.csv").write_text("bvp\n" + "\n".join(f"{v:.5f}" for v in PULSE) + "\n")
    rows = "\n".join(f"{t:.4f},{p:.5f},75" for t, p in zip(T, PULSE))
    (tmp_path / "b.csv").write_text("t,ppg,hr\n" + rows + "\n")
    (tmp_path / "manifest.csv").write_text(
        "video,labels,subject,pulse_column,time_column,fs,hr_column\n"
        "v/a.mp4,a.csv,p1,bvp,,30,\n"
        "v/b.mp4,b.csv,p2,ppg,t,,hr\n"
    )
    a, b = load_dataset("manifest", tmp_path)
    assert (a.id, a.subject, b.subject) == ("v/a", "p1", "p2")
    for r in (a, b):
        ref = r.reference()
        assert ref.fs == pytest.approx(30, rel=1e-3)
        np.testing.assert_allclose(ref.pulse, PULSE, atol=1e-5)
    assert b.reference().hr_bpm[0] == 75 and a.reference().hr_bpm is None


def test_manifest_errors(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("video,labels\nx.mp4,x.csv\n")
    with pytest.raises(DatasetError, match=r"m.csv line 2: give fs or time_column for x.csv"):
        load_dataset("manifest", tmp_path / "m.csv")
    (tmp_path / "m.csv").write_text("video,labels,fs\nx.mp4,x.csv,30\n")
    (tmp_path / "x.csv").write_text("time,value\n0,1\n")
    (r,) = load_dataset("manifest", tmp_path / "m.csv")
    with pytest.raises(DatasetError, match=r"x.csv: no column pulse; it has time, value"):
        r.reference()
    (tmp_path / "n.csv").write_text("movie,truth\n")
    with pytest.raises(DatasetError, match="needs the columns video and labels"):
        load_dataset("manifest", tmp_path / "n.csv")


def test_synthetic_dataset_reads_rppgkit_synth(tmp_path: Path) -> None:
    cfg = SynthConfig(duration_s=2, width=96, height=72, hr_bpm=84, seed=3)
    write_synth(cfg, tmp_path / "clip1", masks=False)
    (r,) = load_dataset("synthetic", tmp_path)
    ref = r.reference()
    assert r.video.name == "video.mkv" and ref.fs == pytest.approx(30)
    assert ref.hr_bpm is not None and abs(ref.hr_bpm.mean() - 84) < 5


def test_reference_checks(tmp_path: Path) -> None:
    write_ubfc2(tmp_path / "subject1")
    text = (tmp_path / "subject1" / "ground_truth.txt").read_text().split("\n")
    text[0] = text[0].replace(text[0].split()[5], "nan", 1)
    (tmp_path / "subject1" / "ground_truth.txt").write_text("\n".join(text))
    (r,) = load_dataset("ubfc-rppg", tmp_path)
    with pytest.raises(DatasetError, match="1 of 360 reference values are NaN"):
        r.reference()
    write_ubfc2(tmp_path / "subject1")
    ref = r.reference()
    ref.check(video_duration_s=12.0)
    with pytest.raises(DatasetError, match=r"covers 12.0 s but the video lasts 60.0 s"):
        ref.check(video_duration_s=60.0)


def image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))


def test_videos_finds_files_and_frame_folders_at_any_depth(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    tiny_video(root / "top.mkv")
    tiny_video(root / "alice" / "s10.mp4")
    tiny_video(root / "alice" / "s2.avi")
    image(root / "alice" / "cover.jpg")  # images beside videos are not frames
    image(root / "alice" / "thumb.png")
    for i in range(3):
        image(root / "bob" / "day1" / "frames" / f"f{i}.png")
    image(root / "carol" / "one.png")  # a single image is no video
    tiny_video(root / ".cache" / "hidden.mp4")
    (root / "alice" / "loop").symlink_to(root, target_is_directory=True)  # not followed round
    recs = load_dataset("videos", root)
    assert [(r.id, r.subject) for r in recs] == [
        ("alice/s2.avi", "alice"),  # natural order: s2 before s10
        ("alice/s10.mp4", "alice"),
        ("bob/day1/frames", "bob"),
        ("top.mkv", "top.mkv"),  # at the top level, the subject is the id
    ]
    assert recs[2].video == root / "bob" / "day1" / "frames" and recs[2].video.is_dir()
    assert open_video(recs[2].video).info.n_frames == 3
    assert not any(r.labelled for r in recs)
    with pytest.raises(DatasetError, match=r"alice/s2\.avi: the videos recording has no reference"):
        recs[0].reference()
    write_ubfc2(tmp_path / "ubfc" / "subject1")
    assert load_dataset("ubfc-rppg", tmp_path / "ubfc")[0].labelled
    (frames,) = load_dataset("videos", root / "bob" / "day1" / "frames")  # a frame folder itself
    assert (frames.id, frames.subject) == ("frames", "frames")
    with pytest.raises(DatasetError, match="no videos recordings found"):
        load_dataset("videos", root / "carol")


def fake_recordings(subjects: list[str]) -> list:
    from rppgkit.datasets import Recording

    return [
        Recording("fake", f"{s}_{k}", s, Path(f"{s}_{k}.avi"), lambda: None)
        for s in subjects
        for k in range(2)
    ]


def test_split_by_rule_is_subject_disjoint_and_deterministic() -> None:
    recs = fake_recordings([f"s{i}" for i in range(10)])
    split = split_by_rule(recs, seed=1)
    subjects = {name: {r.subject for r in part} for name, part in split.items()}
    assert [len(subjects[k]) for k in ("train", "val", "test")] == [6, 2, 2]
    assert not (subjects["train"] & subjects["val"]) and not (subjects["val"] & subjects["test"])
    assert sum(len(p) for p in split.values()) == len(recs)
    assert split_by_rule(recs, seed=1) == split
    assert split_by_rule(recs, seed=2) != split
    with pytest.raises(DatasetError, match="sum to 1"):
        split_by_rule(recs, {"train": 0.9, "test": 0.3})


def test_split_by_list() -> None:
    recs = fake_recordings(["1", "2", "3"])
    split = split_by_list(recs, {"train": ["1", "2"], "test": [3]})
    assert [r.id for r in split["test"]] == ["3_0", "3_1"] and len(split["train"]) == 4
    with pytest.raises(DatasetError, match="subject 2 is in both train and test"):
        split_by_list(recs, {"train": ["1", "2"], "test": ["2"]})
    with pytest.raises(DatasetError, match="lacks: 9"):
        split_by_list(recs, {"train": ["9"]})
