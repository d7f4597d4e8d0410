"""Deep-learning engine: clips, normalisations, losses, PhysNet, config, training with resume
and two processes, checkpoints as estimators, ONNX export. Everything runs on tiny clips."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from rppgkit.cli import app
from rppgkit.clip import ClipSpec, normalize_frames, normalize_label
from rppgkit.clip.cache import CachedRecording, _key, chunk_starts, prepare, prepare_one
from rppgkit.clip.crop import square_crop
from rppgkit.clip.normalize import to_pulse
from rppgkit.datasets import DatasetError, Recording, load_dataset
from rppgkit.errors import RppgError
from rppgkit.fileio import content_key, record_files
from rppgkit.models import create, create_task
from rppgkit.models.checkpoint import load_checkpoint
from rppgkit.models.inference import Network, load_network, network_pulse
from rppgkit.models.losses import bpm_power, frequency_ce, hr_class, neg_pearson
from rppgkit.models.method import TASKS
from rppgkit.models.task import Task
from rppgkit.pipeline import Options, measure
from rppgkit.synth import SynthConfig, write_synth
from rppgkit.train import augment, load_config, train
from rppgkit.train.config import validate
from rppgkit.train.data import (
    ClipDataset,
    EpisodeDataset,
    GlobalBatchSampler,
    keep_share,
    make_dataset,
    resolve_splits,
)
from rppgkit.train.history import line

TINY = {
    "clip": {"frames": 32, "size": 16, "fs": 30.0},
    "step": 16,
    "workers": 1,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train-data")
    for split, seeds in {"train": [0, 1, 2], "val": [3], "test": [4]}.items():
        for seed in seeds:
            config = SynthConfig(
                width=160, height=120, duration_s=8, hr_bpm=60 + 12 * seed, seed=seed
            )
            write_synth(config, root / split / f"s{seed}", masks=False)
    return root


def tiny_config(data: Path, out: Path, **train: object) -> dict:
    return {
        "data": {
            **TINY,
            "train": [{"dataset": "synthetic", "root": str(data / "train")}],
            "val": [{"dataset": "synthetic", "root": str(data / "val")}],
            "test": [{"dataset": "synthetic", "root": str(data / "test")}],
            "cache": str(data / "cache"),
        },
        "model": {"name": "physnet", "options": {"width": 4}},
        "train": {"epochs": 2, "batch_size": 4, "threads": 1, **train},
        "log": {"out": str(out), "progress": False},
    }


# --- splits ----------------------------------------------------------------------------------


def test_sources_whose_ids_repeat_get_their_folders_name(data: Path, tmp_path: Path) -> None:
    for folder in ("a/cond", "b/other"):  # two condition folders, both holding s3
        shutil.copytree(data / "val", tmp_path / folder)

    def val_ids(*folders: str) -> list[str]:
        config = tiny_config(data, tmp_path / "run")
        config["data"]["val"] = [
            {"dataset": "synthetic", "root": str(tmp_path / f)} for f in folders
        ]
        return [r.id for r in resolve_splits(validate(config).data)["val"]]

    assert val_ids("a/cond") == ["s3"]  # no repeat: ids unchanged
    assert val_ids("a/cond", "b/other") == ["cond/s3", "other/s3"]
    with pytest.raises(DatasetError, match="recording ids repeat across the data sources"):
        val_ids("a/cond", "a/cond")  # the same folder twice: its name cannot tell them apart


def test_a_share_of_a_ladder_keeps_each_videos_levels_together() -> None:
    levels = ("0-original", "1-x264-250k", "2-x265-250k")
    recs = [
        Recording("ladder", f"{level}/s{i}", f"s{i}", Path(f"{level}-{i}.mkv"), group=level)
        for i in range(6)
        for level in levels
    ]
    kept = keep_share(recs, 0.5)
    subjects = {r.subject for r in kept}
    assert len(subjects) == 3  # half of the six videos, each at every level
    assert sorted((r.subject, r.group) for r in kept) == sorted(
        (s, level) for s in subjects for level in levels
    )


# --- clips -----------------------------------------------------------------------------------


def test_normalisations() -> None:
    t = np.arange(16, dtype=np.float32)
    frames = np.broadcast_to((100 * 1.01**t)[:, None, None, None], (16, 2, 2, 3))
    d = normalize_frames(frames, "diffnormalized")
    assert d.shape == (16, 2, 2, 3) and d.dtype == np.float32
    assert np.allclose(d[-1], 0)  # the appended step keeps T samples
    assert np.allclose(d[:-1], d[0])  # a constant relative change gives a constant difference
    s = normalize_frames(np.random.default_rng(0).integers(0, 255, (8, 4, 4, 3)), "standardized")
    assert abs(s.mean()) < 1e-5 and s.std() == pytest.approx(1, abs=1e-4)
    assert normalize_frames(np.full((4, 2, 2, 3), 255, np.uint8), "raw").max() == 1.0
    y = np.sin(np.linspace(0, 6 * np.pi, 90)) + 5
    back = to_pulse(normalize_label(y, "diffnormalized"), "diffnormalized")
    assert np.corrcoef(back, y)[0, 1] > 0.99  # integrating undoes it, with no time shift
    assert np.corrcoef(normalize_label(y, "standardized"), y)[0, 1] == pytest.approx(1)
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalize_frames(frames, "zscore")
    with pytest.raises(RppgError, match="clip norm must be one of"):
        ClipSpec(norm="zscore")


def test_square_crop_pads_at_the_frame_edge() -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:50, :50] = 200
    crop = square_crop(frame, np.array([0, 0, 40, 40]), size=20, face_scale=1.5)
    assert crop.shape == (20, 20, 3)
    assert crop.mean() == pytest.approx(200, abs=1)  # edge-replicated, not black


def test_chunks_avoid_invalid_samples() -> None:
    valid = np.ones(100, bool)
    valid[40:45] = False
    starts = chunk_starts(valid, 20, 10)
    assert starts == [0, 10, 20, 50, 60, 70, 80]


def test_prepare_caches_crops_labels_and_skips_broken(data: Path, tmp_path: Path, monkeypatch):
    recs = load_dataset("synthetic", data / "train")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in ("video.mkv", "meta.json"):
        (broken / f).symlink_to(data / "train" / "s0" / f)
    (broken / "ground_truth.csv").write_text("time_s,pulse,hr_bpm\n0,1,60\n0.1,2,60\n")
    recs += load_dataset("synthetic", broken)
    spec = ClipSpec(frames=32, size=16)
    cached, skipped = prepare(recs, spec, tmp_path / "cache")
    assert [c.id for c in cached] == ["s0", "s1", "s2"]
    assert list(skipped) == ["broken"] and "the reference covers 0.1 s" in skipped["broken"]
    c = cached[0]
    names = sorted(f.name for f in c.folder.iterdir())
    assert names == ["frames.npy", "label.npy", "meta.json", "skin.npy", "valid.npy"]
    assert c.labelled and json.loads((c.folder / "meta.json").read_text())["labelled"] is True
    frames, label = c.frames(), c.label()
    assert isinstance(frames, np.memmap) and frames.shape == (c.length, 16, 16, 3)
    assert c.length == pytest.approx(8 * 30, abs=1) and label.shape == (c.length,)
    assert c.valid().all()
    truth = json.loads((data / "train" / "s0" / "meta.json").read_text())["mean_hr_bpm"]
    from rppgkit.pulse import heart_rate

    assert heart_rate(np.asarray(label), 30.0).bpm == pytest.approx(truth, abs=2)
    # a crop is a face: skin-coloured, brighter in red than in blue
    assert frames[:, 6:10, 6:10, 0].mean() > frames[:, 6:10, 6:10, 2].mean() + 20

    skin = c.skin()
    assert skin.shape == (c.length, 16, 16) and set(np.unique(skin)) <= {0, 1}
    assert skin[:, 7:9, 5:11].mean() > 0.8 and skin[:, 0, :].mean() < 0.2  # cheeks yes, hair no

    def fail(*a, **k):
        raise AssertionError("cached recordings must not be decoded again")

    monkeypatch.setattr("rppgkit.clip.cache.extract_trace", fail)
    again, _ = prepare(recs[:3], spec, tmp_path / "cache")
    assert [a.folder for a in again] == [c.folder for c in cached]


def test_a_recording_cut_by_two_processes_at_once_keeps_one_copy(
    data: Path, tmp_path: Path, monkeypatch
) -> None:
    # two trainings sharing a cache may cut the same recording at once: the second to finish
    # finds the first one's folder in place and keeps it instead of failing
    from rppgkit.clip import cache

    rec = load_dataset("synthetic", data / "train")[0]
    spec = ClipSpec(frames=32, size=16)
    first = prepare_one(rec, spec, tmp_path / "first")
    crops = cache._crops

    def racing(rec, spec, detector, roi, scratch):  # the other process ends while we cut
        shutil.copytree(first.folder, tmp_path / "race" / first.folder.name)
        return crops(rec, spec, detector, roi, scratch)

    monkeypatch.setattr(cache, "_crops", racing)
    again = prepare_one(rec, spec, tmp_path / "race")
    assert not isinstance(again, str) and again.length == first.length
    assert [f.name for f in (tmp_path / "race").iterdir()] == [first.folder.name]  # no scratch


def test_labelled_cache_keys_are_unchanged() -> None:
    rec = Recording("synthetic", "s0", "s0", Path("/nowhere/s0/video.mkv"), lambda: None)
    spec = ClipSpec(frames=32, size=16)
    # the keys of labelled recordings are those written before recordings without a reference
    # existed, so their caches stay valid; they change only with FACE_PATH_VERSION (5 here)
    assert _key(rec, spec, "yunet", "face") == "61471451ca30bc19"
    assert _key(rec, spec, "yunet", "frame") == "7a2364ce25c9382c"
    assert _key(dataclasses.replace(rec, read_reference=None), spec, "yunet", "face") not in (
        "61471451ca30bc19",
        "7a2364ce25c9382c",
    )
    assert content_key(["a", 1, None, 2.5]) == "0ff37e84014b4dc2"


def test_record_files_stream_records_and_map_them_back(tmp_path: Path) -> None:
    layout = {"crop": ((2, 3), np.uint8), "cover": ((2,), np.float32)}
    with record_files(layout, beside=tmp_path) as files:
        assert files.arrays()["crop"].shape == (0, 2, 3)  # nothing written yet
        files.append("crop", np.full((2, 3), 7))
        files.append("cover", np.array([0.5, 1.5]))
        files.append_blank()  # a frame with nothing to keep: zeros in every file
        with pytest.raises(ValueError, match=r"a crop record is \(2, 3\), not \(3, 2\)"):
            files.append("crop", np.zeros((3, 2)))
        assert list(tmp_path.iterdir()) == []  # unnamed files: nothing can be left behind
        arrays = files.arrays()
    assert arrays["crop"].dtype == np.uint8  # still readable after the files are closed
    assert arrays["crop"].tolist() == [[[7] * 3] * 2, [[0] * 3] * 2]
    assert arrays["cover"].dtype == np.float32 and arrays["cover"].tolist() == [[0.5, 1.5], [0, 0]]


@pytest.fixture(scope="module")
def clips(data: Path) -> tuple[list[CachedRecording], list[CachedRecording]]:
    """The train split cut as TINY says, with its labels (synthetic) and without (videos)."""
    spec = ClipSpec(**TINY["clip"])
    labelled, _ = prepare(load_dataset("synthetic", data / "train"), spec, data / "cache")
    unlabelled, _ = prepare(load_dataset("videos", data / "train"), spec, data / "cache")
    return labelled, unlabelled


def test_recordings_without_reference_are_cached_without_labels(clips) -> None:
    labelled, unlabelled = clips
    assert [c.id for c in unlabelled] == ["s0/video.mkv", "s1/video.mkv", "s2/video.mkv"]
    free, known = unlabelled[0], labelled[0]
    assert not free.labelled and free.folder != known.folder
    assert sorted(f.name for f in free.folder.iterdir()) == [
        "frames.npy",
        "meta.json",
        "skin.npy",
        "valid.npy",
    ]
    assert json.loads((free.folder / "meta.json").read_text())["labelled"] is False
    np.testing.assert_array_equal(free.frames(), known.frames())  # the same crops
    assert free.valid().all()  # a face throughout
    with pytest.raises(DatasetError, match=r"s0/video\.mkv has no reference pulse"):
        free.label()


def test_datasets_per_data_kind(clips) -> None:
    labelled, unlabelled = clips
    spec = ClipSpec(**TINY["clip"])
    sup = make_dataset("labelled", labelled, spec, 16)
    assert isinstance(sup, ClipDataset) and set(sup[0]) == {"clip", "label", "skin", "index"}
    free = make_dataset("unlabelled", unlabelled, spec, 16)
    assert set(free[0]) == {"clip", "skin", "index"} and len(free) == len(sup)
    torch.testing.assert_close(free[5]["clip"], sup[5]["clip"], rtol=0, atol=0)
    assert set(make_dataset("unlabelled", labelled, spec, 16)[0]) == {"clip", "skin", "index"}
    aug = augment.Augment(speed=(0.8, 1.2), flip=True)
    item = make_dataset("unlabelled", unlabelled, spec, 16, aug, seed=1)[3]
    assert item["clip"].shape == (3, 32, 16, 16) and "label" not in item
    with pytest.raises(
        DatasetError,
        match=r"^labelled training needs a reference pulse, which s0/video\.mkv, s1/video\.mkv, "
        r"s2/video\.mkv lack; remove them",
    ):
        make_dataset("labelled", labelled + unlabelled, spec, 16)
    for kind in ("paired", "episodic"):
        with pytest.raises(RppgError, match=rf"^data\.augment does not apply to {kind} training"):
            make_dataset(kind, labelled, spec, 16, aug)


def test_episodes_hold_support_then_query_clips_of_one_video(clips, tmp_path: Path) -> None:
    labelled, unlabelled = clips
    spec = ClipSpec(**TINY["clip"])
    episodes = make_dataset("episodic", labelled, spec, 16, seed=4)
    assert isinstance(episodes, EpisodeDataset) and len(episodes) == 3 and not episodes.skipped
    chunks = ClipDataset(labelled[1:2], spec, 32)  # recording 1 cut back to back
    assert len(chunks) == 7

    def chunk_numbers(item: dict[str, torch.Tensor]) -> list[int]:
        clips = [*item["support_clip"], *item["query_clip"]]
        return [next(j for j in range(7) if torch.equal(chunks[j]["clip"], c)) for c in clips]

    item = episodes[1]
    assert item["support_clip"].shape == item["query_clip"].shape == (2, 3, 32, 16, 16)
    assert item["support_label"].shape == item["query_label"].shape == (2, 32)
    first = chunk_numbers(item)[0]
    assert chunk_numbers(item) == [first, first + 1, first + 2, first + 3]  # support, then query
    torch.testing.assert_close(item["query_label"][1], chunks[first + 3]["label"])
    firsts = set()
    for epoch in range(6):
        episodes.set_epoch(epoch)
        firsts.add(chunk_numbers(episodes[1])[0])
    assert len(firsts) > 1  # where the episode starts is drawn per (seed, epoch, index)
    again = make_dataset("episodic", labelled, spec, 16, seed=4)
    again.set_epoch(5)
    torch.testing.assert_close(again[1]["query_clip"], episodes[1]["query_clip"], rtol=0, atol=0)

    batch = torch.utils.data.default_collate([episodes[0], episodes[2]])
    assert batch["support_clip"].shape == (2, 2, 3, 32, 16, 16)
    mixed = make_dataset("episodic", [labelled[0], unlabelled[1]], spec, 32)
    assert not mixed.labelled and set(mixed[0]) == {"support_clip", "query_clip", "index"}

    short = tmp_path / "short"  # recording 0 with a face only in its first 100 samples
    short.mkdir()
    for name in ("frames.npy", "skin.npy", "label.npy", "meta.json"):
        (short / name).symlink_to(labelled[0].folder / name)
    valid = labelled[0].valid().copy()
    valid[100:] = False
    np.save(short / "valid.npy", valid)
    cut = dataclasses.replace(labelled[0], id="short", folder=short)
    some = make_dataset("episodic", [cut, labelled[1]], spec, 32)
    assert len(some) == 1 and some.skipped == ["short"]
    assert len(make_dataset("episodic", labelled, spec, 32, shots=3)) == 3
    with pytest.raises(DatasetError, match=r"no recording holds 8 face clips of 1\.07 s for an "):
        make_dataset("episodic", labelled, spec, 32, shots=4)


# --- models and losses -----------------------------------------------------------------------


def test_losses() -> None:
    t = torch.arange(128) / 30.0
    x = torch.sin(2 * torch.pi * 1.25 * t)[None]  # 75 bpm
    assert float(neg_pearson(x, x)) == pytest.approx(0, abs=1e-6)
    assert float(neg_pearson(x, -x)) == pytest.approx(2, abs=1e-6)
    assert float(neg_pearson(3 * x + 1, x)) == pytest.approx(0, abs=1e-6)  # scale-free
    assert int(hr_class(x, 30.0)) == 75 - 40
    assert bpm_power(x, 30.0).shape == (1, 141)
    other = torch.sin(2 * torch.pi * 2.0 * t)[None]  # 120 bpm
    assert float(frequency_ce(x, x, 30.0)) < float(frequency_ce(x, other, 30.0)) - 1
    # a 50 bpm pulse with a strong second harmonic, as DiffNormalized labels see it: the
    # difference boosts the harmonic past the fundamental unless the spectrum is corrected
    slow = torch.sin(2 * torch.pi * (50 / 60) * t) + 0.6 * torch.sin(2 * torch.pi * (100 / 60) * t)
    diff = torch.diff(slow, append=slow[-1:])[None]
    assert int(hr_class(diff, 30.0)) == 100 - 40
    assert int(hr_class(diff, 30.0, derivative=True)) == 50 - 40


def test_physnet_shapes_and_registry() -> None:
    net = create("physnet", width=4)
    assert net(torch.randn(2, 3, 16, 32, 32)).shape == (2, 16)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.randn(1, 3, 18, 32, 32))
    assert sum(p.numel() for p in create("physnet").parameters()) == 768_577
    with pytest.raises(RppgError, match="unknown network 'physnett'"):
        create("physnett")
    with pytest.raises(RppgError, match="check the model options"):
        create("physnet", depth=3)


class _MeanGreen(torch.nn.Module):
    """A stand-in network: the spatial mean of the green channel, per frame."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 1].mean(dim=(2, 3))


def test_overlap_add_inference_recovers_a_pulse_across_rates() -> None:
    fs, n = 25.0, 500  # a 20 s video at 25 fps for a network trained at 30 fps
    t = np.arange(n) / fs
    level = 120 + 3 * np.sin(2 * np.pi * 1.4 * t)
    crops = np.repeat(level[:, None, None, None], 8, 1).repeat(8, 2).repeat(3, 3)
    spec = ClipSpec(frames=64, size=8, fs=30.0, norm="diffnormalized")
    net = Network("meangreen", Task(_MeanGreen()), spec)
    pulse = network_pulse(net, crops.astype(np.uint8), fs)
    assert pulse.shape == (n,)
    assert np.corrcoef(pulse[10:-10], level[10:-10])[0, 1] > 0.95


# --- config ----------------------------------------------------------------------------------


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    base = tiny_config(tmp_path, tmp_path / "out")
    with pytest.raises(RppgError, match=r"unknown key train\.epoch; check its spelling"):
        validate({**base, "train": {"epoch": 3}})
    with pytest.raises(RppgError, match=r"train.epochs: .*integer.*\(got 'many'\)"):
        validate({**base, "train": {"epochs": "many"}})
    with pytest.raises(RppgError, match="model is required"):
        validate({"data": base["data"]})
    with pytest.raises(RppgError, match=r"either data\.dataset"):
        validate({**base, "data": {**base["data"], "dataset": "pure", "root": "x"}})
    path = tmp_path / "c.yaml"
    path.write_text("data: [unclosed\n")
    with pytest.raises(RppgError, match="not valid YAML at line"):
        load_config(path)
    import yaml

    path.write_text(yaml.safe_dump(base))
    cfg = load_config(path, ["train.epochs=7", "optim.lr=3e-4", "model.options.width=8"])
    assert (cfg.train.epochs, cfg.optim.lr, cfg.model.options["width"]) == (7, 3e-4, 8)
    with pytest.raises(RppgError, match=r"must look like section\.key=value"):
        load_config(path, ["train.epochs"])
    with pytest.raises(RppgError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_build_their_network_and_task(path: Path) -> None:
    """A typo in a shipped config (a key, a model option, a task option) shows up here, not
    after an hour of data preparation."""
    cfg = load_config(path)
    task = create_task(cfg.model.name, cfg.model.options, cfg.task_name, cfg.task.options)
    assert sum(p.numel() for p in task.network.parameters()) > 0


def test_speed_augmentation_scales_the_heart_rate_of_clip_and_label() -> None:
    fs, n = 30.0, 128
    t = np.arange(400) / fs
    wave = np.sin(2 * np.pi * 1.2 * t)  # 72 bpm
    frames = (128 + 20 * wave)[:, None, None, None] * np.ones((1, 4, 4, 3))
    skin = np.zeros((400, 4, 4), np.uint8)
    skin[:, :, :2] = 1
    rng = np.random.default_rng(0)
    for factor in (0.75, 1.0, 1.4):
        d = augment.Draw(factor=factor, noise=0.0, flip=True)
        stop = augment.span(n, factor)
        x, y, s = augment.apply(frames[:stop], wave[:stop], skin[:stop], n, d, rng)
        assert x.shape == (n, 4, 4, 3) and y.shape == (n,) and s.shape == (n, 4, 4)
        for signal in (y, x[:, 0, 0, 1] - 128):
            spectrum = np.abs(np.fft.rfft(signal, 8192))
            bpm = 60 * fs * np.argmax(spectrum) / 8192
            assert bpm == pytest.approx(72 * factor, abs=1.0)
        assert (s[:, :, 2:] == 1).all() and (s[:, :, :2] == 0).all()  # mirrored
    noisy = augment.apply(frames[:n], wave[:n], skin[:n], n, augment.Draw(1.0, 3.0, False), rng)
    assert 2.0 < float(np.std(noisy[0] - frames[:n])) < 4.0
    dark = augment.Draw(1.0, 3.0, False, gain=0.5)  # half the light and pulse, the same noise
    x = augment.apply(frames[:n], wave[:n], skin[:n], n, dark, rng)[0]
    assert float(np.mean(x)) == pytest.approx(64, abs=0.5)
    assert 2.0 < float(np.std(x - frames[:n] / 2)) < 4.0
    assert augment.draw(augment.Augment(gain=0.6), rng).gain >= 0.4


def test_motion_augmentation_moves_the_face_smoothly_inside_the_crop() -> None:
    n, size = 90, 36
    frames = np.zeros((n, size, size, 3), np.float32)
    frames[:, 10:26, 10:26] = 200.0
    skin = (frames[..., 0] > 0).astype(np.uint8)
    draw = augment.Draw(factor=1.0, noise=0.0, flip=False, motion=0.05)
    x, _, s = augment.apply(frames, np.zeros(n), skin, n, draw, np.random.default_rng(1))
    centre = np.array([np.argwhere(m).mean(axis=0) for m in s])
    assert 1.0 < np.ptp(centre, axis=0).max() < 0.05 * size * 2 * 2 + 1  # moves, within bounds
    grid = np.indices((size, size)).reshape(2, -1)
    weights = x[..., 0].reshape(n, -1)
    bright = weights @ grid.T / weights.sum(axis=1, keepdims=True)  # the face's centroid
    assert np.abs(np.diff(bright, axis=0)).max() < 0.5  # smoothly: under half a pixel a frame
    np.testing.assert_allclose(bright, centre, atol=0.8)  # the mask follows the face


def test_flicker_augmentation_wavers_the_light_in_the_pulse_band_in_grey() -> None:
    n, fs = 300, 30.0
    rng = np.random.default_rng(4)
    frames = rng.uniform(60.0, 200.0, (1, 6, 6, 3)) * np.ones((n, 1, 1, 1))  # a still scene
    label = np.sin(2 * np.pi * 1.2 * np.arange(n) / fs)
    draw = augment.Draw(factor=1.0, noise=0.0, flip=False, flicker=0.004)
    x, y, _ = augment.apply(frames, label, np.ones((n, 6, 6), np.uint8), n, draw, rng, fs)
    light = x / frames  # one factor per frame, the same for every pixel and channel
    np.testing.assert_allclose(light, light[:, :1, :1, :1] * np.ones_like(light), rtol=1e-5)
    factor = light[:, 0, 0, 0]
    assert float(np.sqrt(np.mean((factor - 1.0) ** 2))) == pytest.approx(0.004, rel=0.01)
    spectrum = np.abs(np.fft.rfft(factor - factor.mean()))
    peak_hz = np.fft.rfftfreq(n, 1 / fs)[np.argmax(spectrum)]
    assert augment.FLICKER_HZ[0] - 0.1 <= peak_hz <= augment.FLICKER_HZ[1] + 0.1
    np.testing.assert_array_equal(y, label.astype(np.float32))  # the reference is untouched
    assert 0.0 <= augment.draw(augment.Augment(flicker=0.003), rng).flicker <= 0.003
    assert augment.Augment(flicker=0.003).active and not augment.Augment().active


def test_shade_augmentation_wavers_one_soft_patch_in_grey() -> None:
    n, fs, size = 300, 30.0, 36
    rng = np.random.default_rng(5)
    frames = rng.uniform(60.0, 200.0, (1, size, size, 3)) * np.ones((n, 1, 1, 1))
    draw = augment.Draw(factor=1.0, noise=0.0, flip=False, shade=0.004)
    skin = np.ones((n, size, size), np.uint8)
    x = augment.apply(frames, np.zeros(n), skin, n, draw, rng, fs)[0]
    light = x / frames
    np.testing.assert_allclose(light, light[..., :1] * np.ones_like(light), rtol=1e-5)  # grey
    rms = np.sqrt(np.mean((light[..., 0] - 1.0) ** 2, axis=0))  # [H, W]
    assert float(rms.max()) == pytest.approx(0.004, rel=0.05)  # the blob's centre
    assert float(rms.min()) < 0.5 * float(rms.max())  # a patch, not the whole crop
    assert augment.Augment(shade=0.01).active


def test_augmented_clips_repeat_per_epoch_and_index(data: Path, tmp_path: Path) -> None:
    spec = ClipSpec(**TINY["clip"])
    recs, _ = prepare(load_dataset("synthetic", data / "train"), spec, tmp_path / "cache")
    aug = augment.Augment(speed=(0.7, 1.4), noise=2.0, flip=True)
    a, b = ClipDataset(recs, spec, 16, aug, seed=3), ClipDataset(recs, spec, 16, aug, seed=3)
    last = len(a) - 1  # the last chunk has no room to stretch: it is cut at the recording's end
    for i in (0, last):
        torch.testing.assert_close(a[i]["clip"], b[i]["clip"], rtol=0, atol=0)
        assert a[i]["clip"].shape == (3, 32, 16, 16) and a[i]["label"].shape == (32,)
    b.set_epoch(1)
    assert not torch.equal(a[0]["clip"], b[0]["clip"])
    plain = ClipDataset(recs, spec, 16, augment.Augment())
    assert plain.aug is None  # the default augmentation is off
    with pytest.raises(RppgError, match=r"augment\.speed"):
        validate(
            {**tiny_config(data, tmp_path), "data": {**TINY, "augment": {"speed": [1.2, 0.8]}}}
        )


@pytest.mark.parametrize(
    ("model", "clip", "message"),
    [
        ("physnet", {"size": 8}, r"^PhysNet halves space four times: .* 16 px or more, not 8;"),
        ("physnet", {"frames": 30}, r"^PhysNet .* a clip length divisible by 4, not 30;"),
    ],
)
def test_training_refuses_clips_the_network_cannot_read(
    data: Path, tmp_path: Path, model: str, clip: dict, message: str
) -> None:
    config = tiny_config(data, tmp_path / "run")
    config["model"]["name"] = model
    config["data"]["clip"] = {**TINY["clip"], **clip}
    with pytest.raises(RppgError, match=message + " change data.clip in the config$"):
        train(validate(config))
    assert not (tmp_path / "run" / "last.pt").exists()


def test_progress_line_says_when_no_clip_gave_an_hr() -> None:
    row = {"epoch": 3, "train_loss": 1.0, "val_loss": 2.0, "val_mae": 4.5, "clips_per_s": 7.0}
    assert line(row, 10) == (
        "epoch 3/10: train loss 1.0000, val loss 2.0000, val MAE 4.50 bpm, 7.0 clips/s"
    )
    assert "val MAE n/a (no HR from these clips)," in line({**row, "val_mae": float("nan")}, 10)


def test_global_batches_split_over_processes() -> None:
    one = list(GlobalBatchSampler(10, 4, 0, 1, seed=3))
    two = [GlobalBatchSampler(10, 4, r, 2, seed=3) for r in range(2)]
    halves = [list(s) for s in two]
    assert [a + b for a, b in zip(*halves)] == one
    s = GlobalBatchSampler(10, 4, 0, 1, seed=3)
    s.set_epoch(1)
    assert list(s) != one  # a new order every epoch ...
    s.set_epoch(0)
    assert list(s) == one  # ... that repeats exactly, so a resumed run sees the same batches
    with pytest.raises(ValueError, match="divisible"):
        GlobalBatchSampler(10, 3, 0, 2, seed=0)


# --- training --------------------------------------------------------------------------------


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["state_dict"]


def augmented(config: dict) -> dict:
    config["data"]["augment"] = {"speed": [0.8, 1.25], "noise": 2.0, "flip": True}
    return config


def test_training_checkpoints_and_resume_match_an_uninterrupted_run(data: Path, tmp_path: Path):
    # with augmentation on, which must repeat exactly after a resume
    full = train(validate(augmented(tiny_config(data, tmp_path / "full", epochs=3))))
    assert [r["epoch"] for r in full.history] == [1, 2, 3]
    assert full.test is not None and full.test.clips > 0
    lines = (tmp_path / "full" / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,lr,train_loss,val_loss,val_mae") and len(lines) == 4
    state = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    assert state["clip"]["frames"] == 32 and state["model"] == {
        "name": "physnet",
        "options": {"width": 4},
    }

    # stop after epoch 1 (as a kill would), then resume to 3 epochs
    part_cfg = validate(augmented(tiny_config(data, tmp_path / "part", epochs=3)))
    first = train(validate(augmented(tiny_config(data, tmp_path / "part", epochs=1))))
    assert len(first.history) == 1
    with pytest.raises(RppgError, match="already holds a training run; add --resume"):
        train(part_cfg)
    resumed = train(part_cfg, resume=True)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    a, b = _weights(tmp_path / "full" / "last.pt"), _weights(tmp_path / "part" / "last.pt")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    assert resumed.history[-1]["val_loss"] == pytest.approx(full.history[-1]["val_loss"], abs=1e-6)


def test_a_time_limit_ends_the_run_early_as_if_finished(data: Path, tmp_path: Path) -> None:
    # 0.001 min: the first epoch always runs, none after it fits, the test split is scored
    result = train(validate(tiny_config(data, tmp_path / "run", epochs=5, time_limit_min=0.001)))
    assert [r["epoch"] for r in result.history] == [1]
    assert result.test is not None and (tmp_path / "run" / "test.csv").exists()
    with pytest.raises(RppgError, match=r"train\.time_limit_min"):
        validate(tiny_config(data, tmp_path / "bad", time_limit_min=0))


def test_without_a_validation_split_last_pt_scores_the_test_split(
    data: Path, tmp_path: Path
) -> None:
    import yaml

    config = tiny_config(data, tmp_path / "run", epochs=1)
    config["data"]["val"] = []
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    done = CliRunner().invoke(app, ["train", str(path)])
    assert done.exit_code == 0, done.output
    assert "no validation split: no best.pt is picked" in done.output
    assert "epoch 1/1: train loss " in done.output and ", no validation split, " in done.output
    assert "clips, last.pt): MAE " in done.output  # the test split, scored with last.pt
    assert done.output.strip().endswith(f"checkpoints: {tmp_path / 'run' / 'last.pt'}")
    assert not (tmp_path / "run" / "best.pt").exists() and (tmp_path / "run" / "test.csv").exists()


def test_two_processes_train_like_one(data: Path, tmp_path: Path) -> None:
    import yaml

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config(data, tmp_path / "one", epochs=2)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = [sys.executable, "-m", "rppgkit", "train", str(config)]
    subprocess.run([*one, "train.threads=2"], check=True, env=env, capture_output=True)
    two = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    done = subprocess.run(
        [*two, "-m", "rppgkit", "train", str(config), f"log.out={tmp_path / 'two'}"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("best epoch") == 1  # only rank 0 reports

    def rows(name: str) -> list[list[float]]:
        lines = (tmp_path / name / "metrics.csv").read_text().splitlines()[1:]
        return [[float(v) for v in line.split(",")[:5]] for line in lines]

    # the all-reduce sums in another order, so the runs drift apart by float rounding only
    np.testing.assert_allclose(rows("two"), rows("one"), rtol=5e-3, atol=1e-4)


# --- trained networks as estimators ----------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "run"
    train(validate(tiny_config(data, out, epochs=1)))
    return out / "best.pt"


def test_measure_and_evaluate_with_weights(
    checkpoint: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    long = tmp_path / "long"
    write_synth(SynthConfig(width=160, height=120, duration_s=12, seed=9), long, masks=False)
    runner = CliRunner()
    done = runner.invoke(
        app,
        [
            "measure",
            str(long / "video.mkv"),
            "-m",
            "physnet",
            "--weights",
            str(checkpoint),
            "-o",
            str(tmp_path / "m"),
        ],
    )
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert summary["method"] == "physnet"
    # one pulse sample per frame of the 12 s video; 10 s windows at 1 s steps: 3 of them
    assert len((tmp_path / "m" / "pulse.csv").read_text().splitlines()) == 1 + 12 * 30
    assert len((tmp_path / "m" / "hr.csv").read_text().splitlines()) == 1 + 3
    # the 1-epoch, width-4 network above cannot read a pulse (its HR is wherever the band's
    # largest peak falls); the shipped one reads the video's known rate
    from rppgkit.pulse import heart_rate

    truth = np.genfromtxt(long / "ground_truth.csv", delimiter=",", names=True)["pulse"]
    reference = heart_rate(truth, 30.0).bpm  # the same spectral path as the estimate
    # no --weights: the shipped AutoHR, trained on this generator (docs/weights.md)
    args = ["measure", str(long / "video.mkv"), "-m", "autohr"]
    done = runner.invoke(app, [*args, "-o", str(tmp_path / "s")])
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["hr_bpm"] == pytest.approx(reference, abs=2)
    monkeypatch.setattr("rppgkit.models.method.WEIGHTS", long)  # as if no network shipped any
    for args, message in [
        (["-m", "stven+rppgnet"], "give its trained weights with --weights"),
        (["-m", "pos", "--weights", str(checkpoint)], "--weights is for neural methods"),
        (["-m", "physnet", "--weights", str(long / "meta.json")], "is not a readable checkpoint"),
    ]:
        bad = runner.invoke(app, ["measure", str(long / "video.mkv"), *args])
        assert bad.exit_code == 1 and message in bad.output, bad.output
    done = runner.invoke(
        app,
        [
            "evaluate",
            str(data / "test"),
            "-d",
            "synthetic",
            "-m",
            "pos,physnet",
            "--weights",
            str(checkpoint),
            "-o",
            str(tmp_path / "ev"),
            "--window",
            "6",
        ],
    )
    assert done.exit_code == 0, done.output
    result = json.loads((tmp_path / "ev" / "results" / "physnet" / "s4.json").read_text())
    assert result["weights"].startswith(str(checkpoint.resolve()))


def test_onnx_export_matches_pytorch(checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from rppgkit.models.export import export_onnx

    report = export_onnx(checkpoint, tmp_path / "net.onnx")
    assert report.max_abs_diff < 1e-4
    assert report.input_shape == (2, 3, 32, 16, 16)
    assert (tmp_path / "net.onnx").stat().st_size > 10_000
    # the network measure shares (cached per file) is left as it was: in eval mode
    assert not any(m.training for m in load_network(checkpoint).task.modules())


def test_missing_tensorboard_is_a_clear_error(data: Path, tmp_path: Path) -> None:
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("tensorboard is installed here")
    config = tiny_config(data, tmp_path / "tb", epochs=1)
    config["log"]["tensorboard"] = True
    with pytest.raises(RppgError, match="pip install tensorboard"):
        train(validate(config))


def test_synthetic_skin_labels_come_from_the_exact_masks(tmp_path: Path) -> None:
    config = SynthConfig(width=160, height=120, duration_s=4, seed=5)
    write_synth(config, tmp_path / "data" / "s5", masks=True)
    rec = load_dataset("synthetic", tmp_path / "data")[0]
    assert rec.skin_masks is not None
    spec = ClipSpec(frames=32, size=24)
    [exact], _ = prepare([rec], spec, tmp_path / "cache")
    no_masks = dataclasses.replace(rec, id="segmented", skin_masks=None)
    [segmented], _ = prepare([no_masks], spec, tmp_path / "cache")
    a, b = exact.skin().astype(bool), segmented.skin().astype(bool)
    assert 0.2 < a.mean() < 0.8
    # the segmenter keeps to the face box; what it calls skin mostly is
    assert (a & b).sum() / b.sum() > 0.85
    assert not np.array_equal(a, b)  # but the labels did come from the masks


def test_rppgnet_task_trains_on_skin_labels_and_exports(data: Path, tmp_path: Path) -> None:
    config = tiny_config(data, tmp_path / "rppgnet", epochs=1)
    config["model"] = {"name": "rppgnet", "options": {"width": 8}}
    config["task"] = {"options": {"partitions": False}}
    result = train(validate(config))
    assert np.isfinite(result.history[0]["val_loss"])
    state = load_checkpoint(tmp_path / "rppgnet" / "best.pt")
    assert state["task"] == {"name": "rppgnet", "options": {"partitions": False}}
    crops = np.full((100, 16, 16, 3), 128, np.uint8)

    net = load_network(tmp_path / "rppgnet" / "best.pt", expect="rppgnet")
    assert network_pulse(net, crops, 30.0).shape == (100,)
    pytest.importorskip("onnxruntime")
    from rppgkit.models.export import export_onnx

    report = export_onnx(tmp_path / "rppgnet" / "best.pt", tmp_path / "rppgnet.onnx")
    assert report.max_abs_diff < 1e-4


# --- the port from recipes to tasks ------------------------------------------------------------

BASELINE = json.loads((Path(__file__).parent / "data" / "port_baseline.json").read_text())


PORTED = {
    "physnet": ({"name": "physnet", "options": {"width": 4}}, {}, {"pearson"}),
    "physnet-fce": (
        {"name": "physnet", "options": {"width": 4}},
        {"frequency": 0.5},
        {"pearson", "frequency"},
    ),
    "rppgnet": (
        {"name": "rppgnet", "options": {"width": 8}},
        {},
        {"signal", "auxiliary", "partitions", "skin"},
    ),
}


@pytest.mark.parametrize("name", PORTED)
def test_tasks_train_to_the_losses_of_the_engine_before_tasks(
    data: Path, tmp_path: Path, name: str
) -> None:
    """The same tiny runs as before the port to tasks (tests/data/port_baseline.json) give the
    same training and validation losses, epoch by epoch, and log each loss part."""
    model, options, names = PORTED[name]
    config = tiny_config(data, tmp_path / name) | {"model": model, "task": {"options": options}}
    result = train(validate(config))
    got = [[row["train_loss"], row["val_loss"]] for row in result.history]
    np.testing.assert_allclose(got, BASELINE["losses"][name], rtol=1e-6)
    parts = {k for k in result.history[0] if k.startswith("train_") and k != "train_loss"}
    assert parts == {f"train_{n}" for n in names}
    assert {k for k in result.history[0] if k.startswith("val_")} == {
        "val_loss",
        "val_mae",
        *(f"val_{n}" for n in names),
    }
    header = (tmp_path / name / "metrics.csv").read_text().splitlines()[0]
    assert header.split(",") == list(result.history[0])


def test_format_1_checkpoints_read_as_today(checkpoint: Path, data: Path, tmp_path: Path):
    """Files written before tasks (format 1: "recipe", one optimiser) still load, as the
    same network: the same pulse from the same video, and a training checkpoint's optimiser
    and schedule under the task's one network."""
    state = torch.load(checkpoint, weights_only=True)
    old = {k: v for k, v in state.items() if k not in ("task", "extra")}
    old |= {"format": "rppgkit-checkpoint-1", "recipe": state["task"]}
    torch.save(old, tmp_path / "old.pt")
    video = data / "test" / "s4" / "video.mkv"
    pulses = [
        measure(video, Options(method="physnet", weights=str(p), window_s=4)).pulse
        for p in (checkpoint, tmp_path / "old.pt")
    ]
    np.testing.assert_array_equal(pulses[0], pulses[1])
    torch.save(
        old | {"optimizer": {"state": {}}, "scheduler": {"last_epoch": 3}}, tmp_path / "t.pt"
    )
    upgraded = load_checkpoint(tmp_path / "t.pt", extra=("optimizers", "schedulers"))
    assert upgraded["task"] == state["task"] and upgraded["format"] == "rppgkit-checkpoint-2"
    assert upgraded["schedulers"] == {"network": {"last_epoch": 3}}


# --- tasks of every data kind on the one engine ------------------------------------------------


class _Unlabelled(Task):
    """Learns without a reference: the prediction's frame-to-frame change, against its spread."""

    data = "unlabelled"

    def losses(self, batch: dict, spec: ClipSpec) -> dict[str, torch.Tensor]:
        assert "label" not in batch  # the engine must not hand it labels
        pred = self.network(batch["clip"])
        rough = pred.diff(dim=1).pow(2).mean() / (pred.var(dim=1).mean() + 1e-6)
        return {"roughness": rough, "spread": (pred.var(dim=1).mean() - 1).pow(2)}


class _Bilevel(Task):
    """Network weights on one half of the recordings, a gain `alpha` (its own optimiser, a
    larger rate) on the other, as a DARTS search does."""

    bilevel = True

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__(network)
        self.alpha = torch.nn.Parameter(torch.ones(()))

    def optimizers(self, make: object) -> dict[str, torch.optim.Optimizer]:
        return {"network": make(self.network.parameters()), "alpha": make([self.alpha], lr=0.05)}

    def losses(self, batch: dict, spec: ClipSpec) -> dict[str, torch.Tensor]:
        pred = self.alpha * self.network(batch["clip"])
        return {"pearson": neg_pearson(pred, batch["label"]), "scale": (pred.std() - 1).pow(2)}

    def train_step(self, batch, spec, step, held_out=None) -> dict[str, torch.Tensor]:
        assert held_out is not None
        parts = self.losses(batch, spec)
        step.minimise(parts["pearson"], "network")
        step.minimise(sum(self.losses(held_out, spec).values()), "alpha")
        return parts


class _Episodic(Task):
    """One video per episode: its support and query clips, both supervised here; the support
    part is set aside (trained, logged, not counted in the loss that picks best.pt)."""

    data = "episodic"
    aside = ("support",)

    def losses(self, batch: dict, spec: ClipSpec) -> dict[str, torch.Tensor]:
        parts = {}
        for part in ("support", "query"):
            clips, labels = batch[f"{part}_clip"], batch[f"{part}_label"]
            pred = self.network(clips.flatten(0, 1))
            parts[part] = neg_pearson(pred, labels.flatten(0, 1))
        return parts


TOYS = {"toy-unlabelled": _Unlabelled, "toy-bilevel": _Bilevel, "toy-episodic": _Episodic}
for _name, _task in TOYS.items():
    TASKS.add(_name, _task)


def toy_config(data: Path, out: Path, task: str, epochs: int = 2) -> dict:
    episodes = task == "toy-episodic"  # one episode (four 32-frame clips) per video: three
    config = tiny_config(data, out, epochs=epochs, batch_size=2 if episodes else 4)
    if not episodes:  # clips of over 3 s, long enough for the validation HR error
        config["data"] |= {"clip": {"frames": 96, "size": 16, "fs": 30.0}, "step": 48}
    return config | {"task": {"name": task}}


@pytest.mark.parametrize("task", TOYS)
def test_every_data_kind_trains_logs_its_parts_and_resumes_exactly(
    data: Path, tmp_path: Path, task: str
) -> None:
    full = train(validate(toy_config(data, tmp_path / "full", task)))
    row = full.history[-1]
    assert all(np.isfinite(row[k]) for k in row if k.startswith("train_")), row
    if task != "toy-episodic":  # the validation recordings are labelled: an HR error
        assert np.isfinite(row["val_mae"])
    else:  # a part set aside is logged, not counted
        assert row["train_loss"] == pytest.approx(row["train_query"], rel=1e-6)
        assert row["val_loss"] == pytest.approx(row["val_query"], rel=1e-6)
        assert row["val_support"] > 0
    assert (tmp_path / "full" / "best.pt").exists() and full.test is not None

    train(validate(toy_config(data, tmp_path / "part", task, epochs=1)))
    resumed = train(validate(toy_config(data, tmp_path / "part", task)), resume=True)
    a, b = (load_checkpoint(tmp_path / run / "last.pt") for run in ("full", "part"))
    for key in (*a["state_dict"], *a["extra"]):
        want = a["state_dict"].get(key, a["extra"].get(key))
        got = b["state_dict"].get(key, b["extra"].get(key))
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    assert resumed.history[-1]["val_loss"] == pytest.approx(row["val_loss"], abs=1e-6)
    if task == "toy-bilevel":
        assert set(a["optimizers"]) == {"network", "alpha"}
        assert float(a["extra"]["alpha"]) != 1.0  # the second optimiser stepped
