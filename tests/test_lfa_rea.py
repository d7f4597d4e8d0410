"""lfa-rea (Yue et al. 2022): LFA and REA, the sampler, each loss part against a hand
computation, L_fr's gradient, self-supervised training through the engine with resume,
fine-tuning on a share of the labels, and inference through `rppgkit measure`. Everything runs
on tiny clips."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from rppgkit.cli import app
from rppgkit.clip import ClipSpec
from rppgkit.datasets import Recording
from rppgkit.errors import RppgError
from rppgkit.models import create, create_task
from rppgkit.models.blocks import ResBlock
from rppgkit.models.checkpoint import load_checkpoint
from rppgkit.models.lfa_rea.loss import (
    BAND_BPM,
    frequency_agreement,
    frequency_contrastive,
    frequency_ratio,
    reconstruction,
)
from rppgkit.models.lfa_rea.network import LFA
from rppgkit.models.lfa_rea.task import load_pretrained
from rppgkit.models.lfa_rea.views import (
    RATIO_RANGES,
    draw_ratios,
    draw_views,
    resampled,
    spatial,
)
from rppgkit.models.losses import bpm_power, normalised_psd, soft_hr
from rppgkit.synth import SynthConfig, write_synth
from rppgkit.train import train
from rppgkit.train.config import validate
from rppgkit.train.data import keep_share

FS = 10.0  # a low clip rate, so that 1 s clips of 10 frames hold three FFT bins in the band


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread


def sine_video(bpm: float, frames: int, size: int = 4, batch: int = 1) -> torch.Tensor:
    """Clips ``[batch, 3, frames, size, size]`` whose every pixel is a sine at `bpm`."""
    wave = torch.sin(2 * math.pi * bpm / 60 * torch.arange(frames) / FS)
    return wave[None, None, :, None, None].expand(batch, 3, frames, size, size).contiguous()


def peak_bpm(pulse: torch.Tensor) -> list[int]:
    """The whole bpm of each signal's spectral peak in lfa-rea's band."""
    return (bpm_power(pulse, FS, BAND_BPM).argmax(dim=-1) + BAND_BPM[0]).tolist()


# --- networks ----------------------------------------------------------------------------------


def test_res_block_adds_its_input_and_projects_a_new_width() -> None:
    torch.manual_seed(0)
    block = ResBlock(3, 3, dims=1, norm=False)
    for conv in (block.body[0], block.body[2]):
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    x = torch.randn(2, 3, 7)
    torch.testing.assert_close(block(x), torch.relu(x))  # no body: ReLU of the input
    assert ResBlock(3, 5)(torch.randn(1, 3, 4, 6, 6)).shape == (1, 5, 4, 6, 6)


def test_lfa_and_rea_shapes_regions_and_the_ratio_input() -> None:
    torch.manual_seed(0)
    lfa = LFA(width=2).eval()
    clip = torch.randn(2, 3, 12, 10, 10)  # pools to 5 and 3 px, brought back to 10
    slow, fast = lfa(clip, torch.tensor([0.5, 0.5])), lfa(clip, torch.tensor([1.5, 1.5]))
    assert slow.shape == clip.shape and not torch.allclose(slow, fast)  # r reaches the output
    rea = create("lfa-rea", width=2)
    assert rea(clip).shape == (2, 12) and len(rea.experts) == 4  # the paper's 2 x 2 experts
    one = create("lfa-rea", width=2, grid=1)
    assert one(clip).shape == (2, 12) and len(one.experts) == 1
    feature = torch.arange(25.0).view(1, 1, 1, 5, 5)
    regions = rea.regions(feature)
    assert [tuple(r.shape[3:]) for r in regions] == [(3, 3), (3, 2), (2, 3), (2, 2)]
    top = torch.cat(regions[:2], dim=4)
    torch.testing.assert_close(torch.cat([top, torch.cat(regions[2:], 4)], 3), feature)


# --- sampling ----------------------------------------------------------------------------------


def test_views_cut_four_clips_and_transform_the_anchor() -> None:
    b, t = 3, 5
    pattern = torch.arange(4.0).view(2, 2) / 10
    clip_number = torch.arange(4.0).repeat_interleave(t)  # frame -> its clip
    window = clip_number[:, None, None] + pattern + 10 * torch.arange(b)[:, None, None, None]
    window = window[:, None].expand(b, 3, 4 * t, 2, 2).contiguous()
    views = draw_views(window, 4, torch.Generator().manual_seed(0))
    again = draw_views(window, 4, torch.Generator().manual_seed(0))
    assert torch.equal(views.ratios, again.ratios) and torch.equal(views.index, again.index)
    for i in range(b):
        anchor = int(views.index[i])
        assert torch.equal(views.anchor[i], window[i, :, anchor * t : (anchor + 1) * t])
        clips = views.neighbours[i, :, 0, 0, 0, 0] - 10 * i  # first pixel of each neighbour
        assert clips.tolist() == [j for j in range(4) if j != anchor]  # the others, in order
        assert views.transforms[i, 0] != views.transforms[i, 1]
    image = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    by_hand = {
        0: [[1, 2], [3, 4]],  # identity
        1: [[2, 4], [1, 3]],  # rotated 90 degrees
        2: [[4, 3], [2, 1]],
        3: [[3, 1], [4, 2]],
        4: [[2, 1], [4, 3]],  # horizontal flip
        5: [[3, 4], [1, 2]],  # vertical flip
    }
    for k, want in by_hand.items():
        assert spatial(image[None, None], k)[0, 0].tolist() == want
    for i, j in np.ndindex(b, 2):
        want = spatial(views.anchor[i], int(views.transforms[i, j]))
        assert torch.equal(views.positives[i, j], want)
    ratios = draw_ratios(500, 4, torch.Generator().manual_seed(1))
    (lo1, hi1), (lo2, hi2) = RATIO_RANGES
    slow = (ratios >= lo1) & (ratios <= hi1)
    assert bool((slow | ((ratios >= lo2) & (ratios <= hi2))).all())
    assert 0.45 < float(slow.float().mean()) < 0.55


@pytest.mark.parametrize("anchor", [0, 3])
def test_resampled_negatives_pulse_at_r_times_the_rate(anchor: int) -> None:
    window = sine_video(60.0, 4 * 64)
    ratios = torch.tensor([[1.5, 0.6]])
    negatives = resampled(window, torch.tensor([anchor]), ratios, derivative=False)
    assert negatives.shape == (1, 2, 3, 64, 4, 4)
    peaks = peak_bpm(negatives[0].mean(dim=(1, 3, 4)))
    assert peaks == pytest.approx([90, 36], abs=2)


# --- losses ------------------------------------------------------------------------------------


def test_normalised_psd_and_soft_hr_match_hand_computations() -> None:
    x = np.array([1.0, 2.0, 0.0, -1.0, 3.0, 0.0, 1.0, -2.0])
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2  # bins 0..4 Hz at fs = 8
    want = power[1:4] / power[1:4].sum()  # 1, 2, 3 Hz lie in 0.4-3 Hz
    got = normalised_psd(torch.tensor(x[None], dtype=torch.float32), 8.0, (0.4, 3.0))
    np.testing.assert_allclose(got[0].numpy(), want, rtol=1e-5)

    signal = torch.randn(2, 50, generator=torch.Generator().manual_seed(0))
    power = bpm_power(signal, FS, BAND_BPM).double()
    weights = power**4 / (power**4).sum(dim=-1, keepdim=True)  # temperature 0.25: P^4
    by_hand = (weights * torch.arange(24, 181)).sum(dim=-1)
    torch.testing.assert_close(soft_hr(signal, FS, BAND_BPM).double(), by_hand, rtol=1e-4, atol=0)
    clean = sine_video(72.0, 100)[:, 0, :, 0, 0]
    assert float(soft_hr(clean, FS, BAND_BPM)) == pytest.approx(72.0, abs=0.5)


def test_each_loss_part_matches_a_hand_computation() -> None:
    p1, p2 = [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]
    n1, n2 = [0.1, 0.2, 0.7], [0.2, 0.6, 0.2]
    tau = 0.08

    def d(a: list[float], b: list[float]) -> float:
        return sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)

    below = sum(math.exp(d(p, n) / tau) for p in (p1, p2) for n in (n1, n2))
    want = math.log(1 + math.exp(d(p1, p2) / tau) / below)
    positives, negatives = torch.tensor([[p1, p2]]), torch.tensor([[n1, n2]])
    assert float(frequency_contrastive(positives, negatives, tau)) == pytest.approx(want)

    want = np.mean([d(p, b) for p in (p1, p2) for b in (n1, n2, p1)])
    neighbours = torch.tensor([[n1, n2, p1]])
    assert float(frequency_agreement(positives, neighbours)) == pytest.approx(want)

    rates = torch.tensor([[60.0, 80.0]]), torch.tensor([[90.0, 40.0]])
    want = (abs(90 / 60 - 1.5) + abs(40 / 60 - 0.6) + abs(90 / 80 - 1.5) + abs(40 / 80 - 0.6)) / 4
    assert float(frequency_ratio(*rates, torch.tensor([[1.5, 0.6]]))) == pytest.approx(want)

    anchor = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1, 1)
    negatives = torch.tensor([[1.0, 4.0], [0.0, 2.0]]).view(1, 2, 2, 1, 1, 1)
    assert float(reconstruction(negatives, anchor)) == pytest.approx((0 + 4 + 1 + 0) / 4)


def test_ratio_loss_trains_lfa_and_pulls_a_negative_towards_r() -> None:
    torch.manual_seed(0)
    task = create_task("lfa-rea", {"width": 2}, None, {"lfa_width": 2, "vr": 0, "fc": 0, "fa": 0})
    spec = ClipSpec(frames=40, size=8, fs=FS, norm="standardized")
    parts = task.losses({"clip": torch.randn(1, 3, 40, 8, 8)}, spec)
    assert set(parts) == {"fr"}
    parts["fr"].backward()
    lfa = task.lfa
    for name, part in [("stem", lfa.stem), ("fuse", lfa.fuse), *lfa.modulation.named_children()]:
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name  # the authors': none at all
    assert all(p.grad is not None for p in task.network.parameters())

    anchor = sine_video(60.0, 64)
    anchor_hr = soft_hr(anchor.mean(dim=(1, 3, 4)), FS, BAND_BPM).expand(1, 2)
    for r, sign in [(1.7, 1), (0.3, -1)]:  # L_fr's gradient alone moves the rate towards r
        noise = 0.1 * torch.randn(anchor.shape, generator=torch.Generator().manual_seed(1))
        negative = (anchor + noise).requires_grad_()
        optimiser = torch.optim.Adam([negative], lr=0.02)
        start = float(soft_hr(negative.detach().mean(dim=(1, 3, 4)), FS, BAND_BPM))
        for _ in range(20):
            rate = soft_hr(negative.mean(dim=(1, 3, 4)), FS, BAND_BPM)[:, None]
            loss = frequency_ratio(anchor_hr, rate, torch.tensor([[r]]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        end = float(soft_hr(negative.detach().mean(dim=(1, 3, 4)), FS, BAND_BPM))
        assert sign * (end - start) > 2, (r, start, end)


def test_task_options_and_clip_length_are_checked() -> None:
    task = create_task("lfa-rea", {"width": 2}, None, {"lfa": False, "lfa_width": 2})
    assert task.lfa is None and not task.extra_state_dict()
    spec = ClipSpec(frames=40, size=8, fs=FS, norm="standardized")
    parts = task.losses({"clip": torch.randn(2, 3, 40, 8, 8)}, spec)
    assert set(parts) == {"fc", "fr", "fa"}  # resampled negatives: nothing to reconstruct
    for frames in (42, 36):  # not 4 clips; clips under 1 s
        data = SimpleNamespace(spec=ClipSpec(frames=frames, size=8, fs=FS))
        with pytest.raises(RppgError, match="multiple of 4 and at least 40 at 10 Hz"):
            task.check(data)
    with pytest.raises(RppgError, match="every loss lfa-rea would compute has weight 0"):
        create_task("lfa-rea", {}, None, {"lfa": False, "fc": 0.0, "fr": 0.0, "fa": 0.0})
    with pytest.raises(RppgError, match=r"task\.options\.tau must be a finite number above 0"):
        create_task("lfa-rea", {}, None, {"tau": 0.0})


def test_keep_share_is_seeded_nested_and_never_empty() -> None:
    recs = [Recording("x", f"r{i}", f"s{i}", Path(f"v{i}.avi")) for i in range(10)]
    tenth, half = keep_share(recs, 0.1), keep_share(recs, 0.5)
    assert len(tenth) == 1 and len(half) == 5 and set(tenth) <= set(half)
    assert half == sorted(half, key=recs.index) and keep_share(recs, 1.0) == recs
    assert len(keep_share(recs[:3], 0.01)) == 1


# --- training through the engine ---------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lfa-rea-data")
    for split, seed, seconds in [("train", 0, 6), ("train", 1, 6), ("val", 2, 8)]:
        config = SynthConfig(width=160, height=120, duration_s=seconds, hr_bpm=66 + 9 * seed)
        write_synth(config, root / split / f"s{seed}", masks=False)
    return root


def tiny_config(data: Path, out: Path, epochs: int = 1, **task: object) -> dict:
    """Windows of 4 clips of 1 s (10 frames at 10 Hz) on 16-px crops; two steps per epoch."""
    return {
        "data": {
            "clip": {"frames": 40, "size": 16, "fs": FS, "norm": "standardized"},
            "step": 20,
            "workers": 1,
            "train": [{"dataset": "synthetic", "root": str(data / "train")}],
            "val": [{"dataset": "synthetic", "root": str(data / "val")}],
            "cache": str(data / "cache"),
        },
        "model": {"name": "lfa-rea", "options": {"width": 2}},
        "task": task or {"options": {"lfa_width": 2}},
        "optim": {"name": "adamax", "lr": 0.002},
        "schedule": {"name": "constant"},
        "train": {"epochs": epochs, "batch_size": 2, "threads": 1, "select": "loss"},
        "log": {"out": str(out), "progress": False},
    }


@pytest.fixture(scope="module")
def runs(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epochs in one go, and one epoch resumed to two."""
    root = tmp_path_factory.mktemp("lfa-rea-runs")
    train(validate(tiny_config(data, root / "full", epochs=2)))
    train(validate(tiny_config(data, root / "part", epochs=1)))
    train(validate(tiny_config(data, root / "part", epochs=2)), resume=True)
    return root


def test_self_supervised_training_logs_the_four_parts_and_resumes(runs: Path) -> None:
    header, *rows = (runs / "full" / "metrics.csv").read_text().splitlines()
    for part in ("vr", "fc", "fr", "fa"):
        assert f"train_{part}" in header.split(",") and f"val_{part}" in header.split(",")
    assert len(rows) == 2
    row = dict(zip(header.split(","), rows[-1].split(",")))
    assert all(np.isfinite(float(row[f"train_{p}"])) for p in ("vr", "fc", "fr", "fa"))
    assert np.isfinite(float(row["val_mae"]))  # REA alone read the labelled val video
    a, b = (load_checkpoint(runs / run / "last.pt") for run in ("full", "part"))
    assert any(key.startswith("lfa.") for key in a["extra"])  # LFA travels under extra
    for kind in ("state_dict", "extra"):
        for key, want in a[kind].items():
            torch.testing.assert_close(b[kind][key], want, rtol=0, atol=1e-6)


def test_fine_tuning_starts_from_the_checkpoint_on_a_share_of_labels(
    runs: Path, data: Path, tmp_path: Path
) -> None:
    best = runs / "full" / "best.pt"
    rea = create("lfa-rea", width=2)
    assert load_pretrained(rea, str(best)) == "standardized"
    for key, value in rea.state_dict().items():
        torch.testing.assert_close(value, load_checkpoint(best)["state_dict"][key])
    with pytest.raises(RppgError, match="was trained with model options"):
        load_pretrained(create("lfa-rea", width=3), str(best))
    task = {"name": "lfa-rea-finetune", "options": {"pretrained": str(best)}}
    config = tiny_config(data, tmp_path / "tune", **task)
    config["data"]["train_share"] = 0.5  # one of the two labelled training videos
    done = train(validate(config))
    assert done.history[0]["train_pearson"] >= 0 and (tmp_path / "tune" / "best.pt").exists()
    assert load_checkpoint(tmp_path / "tune" / "best.pt")["task"]["name"] == "lfa-rea-finetune"
    config["data"]["clip"]["norm"] = "diffnormalized"
    config["log"]["out"] = str(tmp_path / "wrong")
    with pytest.raises(RppgError, match=r"trained on standardized clips; set data\.clip\.norm"):
        train(validate(config))


def test_measure_reads_a_video_with_the_tiny_checkpoint(
    runs: Path, data: Path, tmp_path: Path
) -> None:
    best = runs / "full" / "best.pt"
    video = data / "val" / "s2" / "video.mkv"
    args = ["measure", str(video), "-m", "lfa-rea", "--weights", str(best), "--window", "4"]
    done = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "m")])
    assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "m" / "summary.json").read_text())["method"] == "lfa-rea"
    assert len((tmp_path / "m" / "pulse.csv").read_text().splitlines()) == 1 + 8 * 30


def test_shipped_configs_describe_runnable_tasks() -> None:
    root = Path(__file__).parents[1] / "configs"
    names = (
        "lfa-rea-synthetic",
        "lfa-rea-finetune-synthetic",
        "lfa-rea-ubfc-rppg",
        "lfa-rea-realdev",
    )
    for name in names:
        config = yaml.safe_load((root / f"{name}.yaml").read_text())
        frames = config["data"]["clip"]["frames"]
        if config.get("task", {}).get("name") != "lfa-rea-finetune":
            assert frames % 4 == 0 and frames // 4 >= config["data"]["clip"]["fs"]
        validate(config)
