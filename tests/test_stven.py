"""STVEN and the joint stage of seed 000: the generator's shapes and level conditioning, its
losses (restoration must raise PSNR: the released code's sign bug would lower it), ladder pairs
cut at the original's face track, the three training stages end to end, the `stven+rppgnet`
estimator and `rppgkit enhance`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from rppgkit.cli import app
from rppgkit.clip import ClipSpec
from rppgkit.clip.cache import prepare
from rppgkit.datasets import load_dataset
from rppgkit.datasets.ladder import build_ladder, level_index, parse_levels, source_id
from rppgkit.errors import RppgError
from rppgkit.models import create, create_task
from rppgkit.models.rppgnet.loss import perceptual_loss, stven_loss
from rppgkit.models.rppgnet.network import RPPGNet
from rppgkit.models.rppgnet.stven import STVEN
from rppgkit.pipeline import Options, measure
from rppgkit.synth import SynthConfig, write_synth
from rppgkit.train import train
from rppgkit.train.config import validate
from rppgkit.train.data import PairedClipDataset
from rppgkit.video.reader import open_video

SPEC = {"frames": 16, "size": 16, "fs": 30.0, "norm": "raw"}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / nn_mse(a.detach(), b)))


def nn_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.mse_loss(a, b)


def test_stven_shapes_levels_and_errors() -> None:
    torch.manual_seed(0)
    g = STVEN(levels=3, width=16, blocks=1)
    x = torch.rand(2, 3, 8, 16, 16)
    assert torch.equal(g(x, 0), x) and torch.equal(g(x, 2), x)  # it starts as the identity
    torch.nn.init.normal_(g.decoder[-2].weight, std=0.1)
    y0, y2 = g(x, 0), g(x, torch.tensor([2, 2]))
    assert y0.shape == x.shape and not torch.allclose(y0, y2)  # the level conditions the output
    assert g.encoder[0].in_channels == 3 + 3
    with pytest.raises(ValueError, match="beyond this STVEN's 3 levels"):
        g(x, 3)
    with pytest.raises(ValueError, match="even clip length"):
        g(torch.rand(1, 3, 7, 16, 16), 0)
    paper = STVEN()  # the paper's widths: 64 -> 128 -> 512 channels, 5 levels
    assert [paper.encoder[i].out_channels for i in (0, 3, 6)] == [64, 128, 512]


def psnr_gain(
    g: STVEN, compressed: torch.Tensor, clean: torch.Tensor, lr: float, steps: int
) -> float:
    """dB that `steps` Adam steps on STVEN's loss add to the restoration's PSNR."""
    level = torch.ones(len(clean), dtype=torch.long)
    opt = torch.optim.Adam(g.parameters(), lr=lr)
    before = psnr(g(compressed, 0), clean)
    for _ in range(steps):
        parts, _ = stven_loss(g, compressed, clean, level)
        loss = parts["reconstruction"] + parts["cycle"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return psnr(g(compressed, 0), clean) - before


def test_stven_training_raises_the_psnr_of_the_restoration() -> None:
    torch.manual_seed(0)
    clean = torch.rand(4, 3, 8, 16, 16) * 0.5 + 0.25
    compressed = (clean * 8).round() / 8  # coarse quantisation, as a codec does
    g = STVEN(levels=2, width=16, blocks=1)
    torch.nn.init.normal_(g.decoder[-2].weight, std=0.1)  # start away from the identity
    assert psnr_gain(g, compressed, clean, 3e-3, 60) > 5  # pulled towards the original
    level = torch.ones(4, dtype=torch.long)

    class Identity(torch.nn.Module):
        def forward(self, x: torch.Tensor, level: object) -> torch.Tensor:
            return x

    parts, restored = stven_loss(Identity(), compressed, clean, level)
    expected = 255 * nn_mse(compressed, clean) + (compressed - clean).abs().mean()
    assert torch.equal(restored, compressed) and float(parts["cycle"]) == 0
    assert float(parts["reconstruction"]) == pytest.approx(float(expected))


def test_stven_learns_to_restore_errors_of_a_few_grey_levels_from_the_identity() -> None:
    # on [0, 1] values the squared restoration term is ~1% of the L1 terms for errors this
    # small, and an identity-start STVEN learnt to degrade but not to restore (+0.00 dB)
    f = torch.nn.functional
    torch.manual_seed(0)
    clean = f.avg_pool3d(0.5 + 0.05 * torch.randn(4, 3, 8, 16, 16), (1, 3, 3), 1, (0, 1, 1))
    blocks = f.avg_pool3d(clean, (1, 4, 4)).repeat_interleave(4, -1).repeat_interleave(4, -2)
    compressed = ((clean + blocks) / 2 * 255).round() / 255  # blocky, in 8-bit steps
    assert psnr_gain(STVEN(levels=2, width=16, blocks=1), compressed, clean, 1e-3, 40) > 4


def test_perceptual_loss_compares_what_rppgnet_sees() -> None:
    torch.manual_seed(0)
    net = RPPGNet(width=8)  # batch statistics: untrained running ones flatten the signals
    wave = torch.sin(torch.arange(16) / 2.0)[None, None, :, None, None]
    x = 0.5 + 0.3 * wave + 0.05 * torch.rand(2, 3, 16, 32, 32)  # a signal for the Pearson terms
    same = perceptual_loss(net(x), net(x))
    other = perceptual_loss(net(x + 0.3 * torch.rand_like(x)), net(x))
    assert float(same.detach()) == pytest.approx(0.0, abs=1e-4) and float(other.detach()) > 0.01


# --- a tiny compression ladder, its pairs, and the three stages ------------------------------


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stven")
    for seed in (0, 1, 2):
        config = SynthConfig(width=160, height=120, duration_s=6, hr_bpm=66 + 12 * seed, seed=seed)
        write_synth(config, root / "data" / f"s{seed}")
    build_ladder("synthetic", root / "data", root / "ladder", parse_levels("x264:60k"))
    return root


def test_ladder_levels_are_cut_at_the_originals_face_track(ladder: Path, tmp_path: Path) -> None:
    recs = load_dataset("ladder", ladder / "ladder")
    assert [level_index(r.group) for r in recs[:2]] == [0, 1]
    assert [source_id(r.id, r.group) for r in recs[:2]] == ["s0", "s0"]
    assert recs[1].clean == recs[0].video
    assert source_id("train/2-x264-500k/baseline/s3", "2-x264-500k") == "train/baseline/s3"
    with pytest.raises(RppgError, match="not a compression-ladder level"):
        level_index("baseline")
    spec = ClipSpec(**SPEC)
    cached, skipped = prepare(recs[:2], spec, tmp_path / "cache")
    assert not skipped and cached[0].length == cached[1].length
    clean, coded = (np.asarray(c.frames(), np.float32) for c in cached)
    assert np.abs(clean - coded).mean() < 6  # same boxes: only the codec's error is left
    assert np.array_equal(cached[0].skin(), cached[1].skin())  # the exact masks, both levels

    pairs = PairedClipDataset(cached, spec, 16)
    item = pairs[0]
    assert pairs.levels == 2 and int(item["level"]) == 1
    assert item["clip"].shape == item["clean"].shape == (3, 16, 16, 16)
    assert float(item["clip"].min()) >= 0 and float(item["clip"].max()) <= 1  # Raw clips
    with pytest.raises(RppgError, match="no original"):
        PairedClipDataset(cached[1:], spec, 16)


def stage(ladder: Path, out: Path, model: dict, task: dict | None = None) -> dict:
    subjects = {"train": ["s0", "s1"], "val": ["s2"], "test": ["s2"]}
    return {
        "data": {
            "clip": SPEC,
            "step": 8,
            "workers": 1,
            "cache": str(ladder / "cache"),
            **{
                split: [{"dataset": "ladder", "root": str(ladder / "ladder"), "subjects": names}]
                for split, names in subjects.items()
            },
        },
        "model": model,
        "task": task or {},
        "train": {"epochs": 1, "batch_size": 4, "threads": 1, "select": "loss"},
        "log": {"out": str(out), "progress": False},
    }


def test_three_stages_and_the_enhanced_estimator(ladder: Path, tmp_path: Path) -> None:
    first = train(
        validate(stage(ladder, tmp_path / "rppgnet", {"name": "rppgnet", "options": {"width": 8}}))
    )
    small = {"levels": 2, "width": 8, "blocks": 1}
    second = train(validate(stage(ladder, tmp_path / "stven", {"name": "stven", "options": small})))
    assert np.isnan(second.history[0]["val_mae"])

    joint_model = {
        "name": "stven+rppgnet",
        "options": {"levels": 2, "stven_width": 8, "stven_blocks": 1, "rppgnet_width": 8},
    }
    options = {
        "rppgnet": str(tmp_path / "rppgnet" / "best.pt"),
        "stven": str(tmp_path / "stven" / "best.pt"),
    }
    frozen = create("rppgnet", width=8)
    frozen.load_state_dict(
        torch.load(tmp_path / "rppgnet" / "best.pt", weights_only=True)["state_dict"]
    )
    third = train(validate(stage(ladder, tmp_path / "joint", joint_model, {"options": options})))
    assert np.isfinite(first.history[0]["val_loss"]) and np.isfinite(third.history[0]["val_loss"])
    assert {"train_stven_reconstruction", "train_perceptual", "val_skin"} <= set(third.history[0])
    joint = torch.load(tmp_path / "joint" / "best.pt", weights_only=True)["state_dict"]
    for key, value in frozen.state_dict().items():  # rPPGNet stayed frozen, BatchNorm included
        torch.testing.assert_close(joint[f"rppgnet.{key}"], value, rtol=0, atol=0)

    # a joint run can start from another joint run's STVEN (the finishing run of the docs)
    weights = str(tmp_path / "joint" / "best.pt")
    resumed = {"rppgnet": options["rppgnet"], "stven": weights, "stven_weight": 30.0}
    task = create_task("stven+rppgnet", joint_model["options"], options=resumed)
    task.setup()
    for key, value in task.network.stven.state_dict().items():
        torch.testing.assert_close(joint[f"stven.{key}"], value, rtol=0, atol=0)

    video = ladder / "ladder" / "1-x264-60k" / "s2" / "video.mkv"
    m = measure(video, Options(method="stven+rppgnet", weights=weights, window_s=4))
    # one pulse sample per frame of the 6 s video; 4 s windows at 1 s steps: 3 of them
    assert m.pulse.shape == m.times.shape == (180,) and len(m.windows) == 3
    # networks this brief read no HR; what can be checked is that the estimator is the frozen
    # stage-1 rPPGNet reading STVEN's restoration: its pulse follows that rPPGNet's on the raw
    # clip (one joint epoch changes the clip a little), but it is not the same pulse
    alone = measure(video, Options(method="rppgnet", weights=options["rppgnet"], window_s=4))
    assert np.corrcoef(m.pulse, alone.pulse)[0, 1] > 0.999
    assert not np.allclose(m.pulse, alone.pulse, rtol=0, atol=1e-4)

    runner = CliRunner()
    done = runner.invoke(
        app, ["enhance", str(video), str(tmp_path / "e.mkv"), "--weights", weights]
    )
    assert done.exit_code == 0, done.stderr
    info = open_video(tmp_path / "e.mkv").info
    assert (info.width, info.height) == (16, 16) and info.n_frames == pytest.approx(180, abs=2)
    shipped = runner.invoke(app, ["enhance", str(video), str(tmp_path / "s.mkv")])
    assert shipped.exit_code == 0, shipped.stderr  # no --weights: the shipped STVEN, 32 px crops
    assert open_video(tmp_path / "s.mkv").info.width == 32
    bad = runner.invoke(app, ["enhance", str(video), str(tmp_path / "e.mp4"), "--weights", weights])
    assert bad.exit_code == 1 and "lossless" in bad.stderr
    wrong = runner.invoke(
        app,
        [
            "enhance",
            str(video),
            str(tmp_path / "f.mkv"),
            "--weights",
            str(tmp_path / "rppgnet" / "best.pt"),
        ],
    )
    assert wrong.exit_code == 1 and "needs STVEN weights" in wrong.stderr


def test_stage_errors_are_one_line(ladder: Path, tmp_path: Path) -> None:
    joint = {
        "name": "stven+rppgnet",
        "options": {"levels": 2, "stven_width": 8, "stven_blocks": 1, "rppgnet_width": 8},
    }
    missing = stage(
        ladder, tmp_path / "j", joint, {"options": {"rppgnet": str(tmp_path / "none.pt")}}
    )
    with pytest.raises(RppgError, match="does not exist; train stage rppgnet first"):
        train(validate(missing))
    few = stage(ladder, tmp_path / "s", {"name": "stven", "options": {"levels": 1, "width": 8}})
    with pytest.raises(RppgError, match="at least 2 compression levels"):
        train(validate(few))
    augmented = stage(
        ladder, tmp_path / "a", {"name": "stven", "options": {"levels": 2, "width": 8}}
    )
    augmented["data"]["augment"] = {"flip": True}
    with pytest.raises(RppgError, match=r"data\.augment does not apply"):
        train(validate(augmented))
