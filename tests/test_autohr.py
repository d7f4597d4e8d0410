"""AutoHR: the search space, the derivation rule, genotypes, both networks, the bi-level search
through the engine and the CLI, the second-order step, the augmentations and the hybrid loss.
Everything runs on tiny clips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from rppgkit.cli import app
from rppgkit.clip import ClipSpec, normalize_label
from rppgkit.errors import RppgError
from rppgkit.models import create, create_task
from rppgkit.models.autohr.augment import cutout, resample_by_rate
from rppgkit.models.autohr.genotype import OPS, CellGenotype, Edge, Genotype
from rppgkit.models.autohr.search import genotype_at, search
from rppgkit.models.autohr.search_space import BUILDERS, MixedOp, build_op, cell_edges, derive
from rppgkit.models.autohr.task import unrolled_alpha_grad
from rppgkit.models.checkpoint import load_checkpoint
from rppgkit.models.inference import load_network, network_pulse
from rppgkit.models.losses import frequency_ce, hr_class
from rppgkit.models.task import Stepper, total
from rppgkit.models.zoo import shipped_weights
from rppgkit.pipeline import Options, measure
from rppgkit.synth import SynthConfig, write_synth
from rppgkit.train.config import OptimConfig, validate
from rppgkit.train.optim import make_optimizer

CLIP = torch.randn(1, 3, 16, 16, 16)  # [B, 3, T, H, W]
FS = 30.0
OPTIM = OptimConfig(name="adamw", lr=0.01)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread


def edge_index(source: int, target: int) -> int:
    return cell_edges().index((source, target))


def hand_alphas() -> torch.Tensor:
    """One cell's alphas with clear winners (see test_derivation_keeps_the_strongest_edges)."""
    alphas = torch.zeros(1, len(cell_edges()), len(OPS))
    strong = [
        (0, 2, "tdc_0.5", 5.0),
        (1, 2, "conv_3x3x3", 3.0),
        (0, 3, "zero", 10.0),  # the zero op wins this edge: its best real op is weak
        (0, 3, "max_pool", 1.0),
        (1, 3, "skip", 2.0),
        (2, 3, "tdc_0.8", 4.0),
        (0, 4, "conv_1x3x3_3x1x1", 2.5),
        (3, 4, "avg_pool", 3.0),
        (3, 5, "tdc_0.2", 6.0),
        (4, 5, "max_pool", 5.0),
    ]
    for source, target, op, value in strong:
        alphas[0, edge_index(source, target), OPS.index(op)] = value
    return alphas


HAND = CellGenotype(
    intermediate=(
        (Edge(0, "tdc_0.5"), Edge(1, "conv_3x3x3")),
        (Edge(1, "skip"), Edge(2, "tdc_0.8")),
        (Edge(0, "conv_1x3x3_3x1x1"), Edge(3, "avg_pool")),
    ),
    output=Edge(3, "tdc_0.2"),
)


# --- search space and genotypes ----------------------------------------------------------------


def test_mixed_op_is_the_softmax_weighted_sum_of_every_candidate() -> None:
    assert tuple(BUILDERS) == OPS  # one builder per candidate, in the order of the alphas
    torch.manual_seed(0)
    edge = MixedOp(width=2)
    x = torch.randn(2, 2, 4, 5, 5)
    weights = torch.softmax(torch.randn(len(OPS)), dim=0)
    by_hand = sum(weights[i] * op(x) for i, op in enumerate(edge.ops))
    torch.testing.assert_close(edge(x, weights), by_hand)
    one_hot = torch.zeros(len(OPS))
    one_hot[OPS.index("skip")] = 1.0
    torch.testing.assert_close(edge(x, one_hot), x)
    assert not edge(x, torch.eye(len(OPS))[OPS.index("zero")]).any()


def test_derivation_keeps_the_strongest_edges_and_never_zero() -> None:
    assert len(cell_edges()) == 12  # 2 + 3 + 4 edges into B1..B3, 3 into the output
    assert derive(hand_alphas()) == Genotype((HAND,))
    separate = hand_alphas().repeat(4, 1, 1)
    separate[2, edge_index(4, 5), OPS.index("max_pool")] = 9.0  # block 3's output edge changes
    found = derive(separate)
    assert len(found.cells) == 4 and found.cell(0) == HAND and found.cell(3) == HAND
    assert found.cell(2).output == Edge(4, "max_pool")


def test_genotype_round_trips_through_yaml_and_refuses_bad_cells() -> None:
    genotype = Genotype((HAND,))
    text = genotype.to_yaml()
    assert Genotype.from_yaml(text) == genotype
    assert yaml.safe_load(text)["cells"][0]["output"] == {"source": 3, "op": "tdc_0.2"}
    assert [t for t, _ in HAND.live()] == [2, 2, 3, 3, 5]  # B3 (node 4) leads nowhere
    bad = genotype.to_dict()
    bad["cells"][0]["intermediate"][0][0]["op"] = "zero"
    with pytest.raises(ValueError, match="node 2: unknown operation 'zero'"):
        Genotype.from_dict(bad)
    bad["cells"][0]["intermediate"][0][0] = {"source": 2, "op": "skip"}  # a node reading itself
    with pytest.raises(ValueError, match="node 2: source must be a node from 0 to 1, got 2"):
        Genotype.from_dict(bad)
    with pytest.raises(ValueError, match="1 \\(shared\\) or 4 cells"):
        Genotype.from_dict({"cells": [genotype.to_dict()["cells"][0]] * 2})
    for op in ("tdc_1.2", "tdc_x", "tdc_"):  # a derived cell takes TDC at any theta in [0, 1]
        bad["cells"][0]["intermediate"][0][0] = {"source": 0, "op": op}
        with pytest.raises(ValueError, match=f"unknown operation '{op}'"):
            Genotype.from_dict(bad)


def test_derived_cells_take_tdc_at_any_theta() -> None:
    # the theta ablation: tdc_0.3 is TDC at 0.3; tdc_0 and conv_3x3x3 compute the same
    torch.manual_seed(0)
    op = build_op("tdc_0.3", 4, affine=False)
    assert op[1].theta == pytest.approx(0.3)
    plain, zero = build_op("conv_3x3x3", 4, affine=False), build_op("tdc_0", 4, affine=False)
    zero.load_state_dict(plain.state_dict())
    x = torch.randn(2, 4, 6, 5, 5)
    torch.testing.assert_close(zero(x), plain(x))
    cell = CellGenotype(((Edge(0, "tdc_1"), Edge(1, "tdc_0.7")),) * 3, Edge(4, "tdc_0.0"))
    net = create("autohr", genotype=Genotype((cell,)).to_dict(), width=4)
    assert net(torch.randn(1, 3, 16, 20, 20)).shape == (1, 16)


def test_networks_give_one_value_per_frame_and_build_only_live_edges() -> None:
    torch.manual_seed(0)
    supernet = create("autohr-supernet", width=4)
    alphas = supernet.initial_alphas()
    assert alphas.shape == (1, 12, len(OPS))
    assert supernet(CLIP, alphas).shape == (1, 16)
    separate = create("autohr-supernet", width=4, shared=False)
    assert separate(CLIP, separate.initial_alphas()).shape == (1, 16)
    net = create("autohr", genotype=Genotype((HAND,)).to_dict(), width=4)
    assert net(torch.randn(2, 3, 24, 20, 20)).shape == (2, 24)  # any length, odd sizes
    assert [len(cell.ops) for cell in net.cells] == [5] * 4  # dead B3 not built
    short = CellGenotype(HAND.intermediate, Edge(2, "skip"))  # B2 and B3 lead nowhere
    pruned = create("autohr", genotype=Genotype((short,)).to_dict(), width=4)
    assert [len(cell.ops) for cell in pruned.cells] == [3] * 4
    assert pruned(CLIP).shape == (1, 16)
    wrong = Genotype((HAND,)).to_dict()
    wrong["cells"][0]["output"]["op"] = "conv9"
    with pytest.raises(RppgError, match="model 'autohr': genotype cell 0, output: unknown op"):
        create("autohr", genotype=wrong)


# --- search through the engine -----------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two training recordings (one per half of the bi-level split) and one for validation."""
    root = tmp_path_factory.mktemp("autohr-data")
    for split, seeds in {"train": [0, 1], "val": [2]}.items():
        for seed in seeds:
            config = SynthConfig(
                width=160, height=120, duration_s=5, hr_bpm=60 + 15 * seed, seed=seed
            )
            write_synth(config, root / split / f"s{seed}", masks=False)
    return root


def tiny_config(data: Path, out: Path, model: dict, task: dict) -> dict:
    """A two-epoch run on 16-frame, 8-px clips of the `data` fixture."""
    return {
        "data": {
            "clip": {"frames": 16, "size": 8, "fs": FS},
            "step": 48,  # three clips per recording: one batch per half and epoch
            "workers": 1,
            "train": [{"dataset": "synthetic", "root": str(data / "train")}],
            "val": [{"dataset": "synthetic", "root": str(data / "val")}],
            "cache": str(data / "cache"),
        },
        "model": model,
        "task": task,
        "schedule": {"name": "constant"},
        "train": {"epochs": 2, "batch_size": 2, "threads": 1},
        "log": {"out": str(out), "progress": False},
    }


def test_search_cli_updates_alphas_and_writes_the_genotype(data: Path, tmp_path: Path) -> None:
    model = {"name": "autohr-supernet", "options": {"width": 4}}
    config = tiny_config(data, tmp_path / "search", model, {"options": {"alpha_lr": 0.01}})
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    done = CliRunner().invoke(app, ["search", str(path)])
    assert done.exit_code == 0, done.output
    out = tmp_path / "search"
    assert (out / "cells.png").stat().st_size > 5_000
    written = Genotype.from_yaml((out / "genotype.yaml").read_text())
    assert written == genotype_at(out / "last.pt")
    state = load_checkpoint(out / "last.pt", ("optimizers",))
    assert set(state["optimizers"]) == {"weights", "alphas"} and set(state["extra"]) == {"alphas"}
    torch.manual_seed(0)  # the engine seeds, then builds the task: the alphas it started from
    start = create_task("autohr-supernet", {"width": 4}, "autohr-search").alphas.detach()
    assert float((state["extra"]["alphas"] - start).abs().max()) > 1e-3
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert "train_pearson" in header and "train_frequency" in header

    model = {"name": "autohr", "options": {"width": 4}}
    path.write_text(yaml.safe_dump(tiny_config(data, tmp_path / "retrain", model, {})))
    genotype = (out / "genotype.yaml").read_text()  # as docs/methods/autohr.md runs it
    done = CliRunner().invoke(
        app, ["train", str(path), f"model.options.genotype={genotype}", "train.epochs=1"]
    )
    assert done.exit_code == 0, done.output
    best = tmp_path / "retrain" / "best.pt"
    kept = load_checkpoint(best)["model"]["options"]["genotype"]
    assert Genotype.from_dict(kept) == written  # the checkpoint describes its own cells
    crops = np.full((40, 8, 8, 3), 128, np.uint8)  # the estimator `-m autohr --weights best.pt`
    assert network_pulse(load_network(best, expect="autohr"), crops, FS).shape == (40,)


def test_search_refuses_other_networks(data: Path, tmp_path: Path) -> None:
    config = validate(tiny_config(data, tmp_path / "x", {"name": "physnet"}, {}))
    with pytest.raises(RppgError, match=r"set model\.name to autohr-supernet"):
        search(config)
    assert not (tmp_path / "x").exists()


def pulse_batch(bpm: list[float], frames: int = 16, norm: str = "standardized") -> dict:
    """Clips whose every pixel carries a sine at each `bpm`, and those sines as labels."""
    t = torch.arange(frames) / FS
    waves = torch.stack([torch.sin(2 * math.pi * b / 60 * t) for b in bpm])
    labels = torch.stack([torch.from_numpy(normalize_label(w.numpy(), norm)) for w in waves])
    clip = labels[:, None, :, None, None].expand(-1, 3, -1, 4, 4).contiguous()
    return {"clip": clip, "label": labels}


def test_second_order_step_runs_and_differs_from_first_order() -> None:
    spec = ClipSpec(frames=16, size=8, fs=FS, norm="standardized")
    batch, held_out = pulse_batch([65.0, 80.0]), pulse_batch([75.0, 95.0])
    found = {}
    for second in (False, True):
        torch.manual_seed(0)
        task = create_task(
            "autohr-supernet", {"width": 2}, "autohr-search", {"second_order": second}
        )
        optimizers = task.optimizers(lambda p, **kw: make_optimizer(OPTIM, p, **kw))
        scaler = torch.amp.GradScaler("cuda", enabled=False)
        parts = task.train_step(
            batch, spec, Stepper(optimizers, scaler, None, lambda g: None), held_out
        )
        assert set(parts) == {"pearson", "frequency"}
        found[second] = task.alphas.detach().clone()
    assert torch.isfinite(found[True]).all()
    assert not torch.allclose(found[True], found[False])

    objective = task._objective(spec)  # the second-order task, after its step
    weights = dict(task.network.named_parameters())
    grad = unrolled_alpha_grad(objective, weights, task.alphas, batch, held_out, xi=0.0)
    first = torch.autograd.grad(total(task.losses(held_out, spec)), task.alphas)[0]
    torch.testing.assert_close(grad, first)  # without a virtual step: the first-order gradient


# --- augmentations and the hybrid loss ---------------------------------------------------------


def test_cutout_erases_one_small_tube_per_clip() -> None:
    clip = torch.ones(6, 3, 20, 16, 16)
    cut = cutout(clip, 1.0, torch.Generator().manual_seed(3))
    for c in cut:
        erased = (c == 0).all(dim=0)  # [T, H, W], the same over channels
        t, y, x = (erased.any(dim=d) for d in ((1, 2), (0, 2), (0, 1)))
        assert 1 <= int(t.sum()) <= 0.2 * 20 and int(y.sum() * x.sum()) <= 0.2 * 16 * 16
        assert int(erased.sum()) == int(t.sum() * y.sum() * x.sum())  # one box
    again = cutout(clip, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(cut, again)
    assert torch.equal(cutout(clip, 0.0, torch.Generator()), clip)


@pytest.mark.parametrize("norm", ["standardized", "diffnormalized"])
def test_resampling_halves_fast_rates_and_doubles_slow_ones(norm: str) -> None:
    batch = pulse_batch([100.0, 60.0, 80.0], frames=300, norm=norm)
    clip, label = resample_by_rate(
        batch["clip"], batch["label"], FS, norm, 1.0, torch.Generator().manual_seed(0)
    )
    derivative = norm == "diffnormalized"
    bpm = hr_class(label, FS, derivative=derivative) + 40
    assert bpm.tolist() == [50, 120, 80]
    pixels = clip[:, 1, :, 2, 2]  # the clip was warped as its label
    assert (hr_class(pixels, FS, derivative=derivative) + 40).tolist() == [50, 120, 80]
    torch.testing.assert_close(label[2], batch["label"][2])  # 70-90 bpm: unchanged
    assert float(label.std(dim=1, correction=0).min()) == pytest.approx(1.0, abs=0.02)


def test_retraining_augmentation_repeats_under_the_global_seed() -> None:
    task = create_task(
        "autohr",
        {"genotype": Genotype((HAND,)).to_dict(), "width": 2},
        None,
        {"cutout": 1.0, "resample": 1.0},
    )
    spec = ClipSpec(frames=300, size=8, fs=FS, norm="standardized")
    batch = pulse_batch([100.0, 80.0], frames=300)
    torch.manual_seed(5)
    first = task.augmented(batch, spec)
    torch.manual_seed(5)
    torch.testing.assert_close(task.augmented(batch, spec), first)
    assert (hr_class(first["label"], FS) + 40).tolist() == [50, 80]
    with pytest.raises(RppgError, match=r"task\.options\.cutout must be a number from 0 to 1"):
        create_task("autohr", {"genotype": Genotype((HAND,)).to_dict()}, None, {"cutout": 2.0})


@pytest.mark.parametrize("normalise", ["mean", "sum"])
def test_frequency_ce_normalisation_matches_a_hand_computation(normalise: str) -> None:
    rng = np.random.default_rng(0)
    n = 90
    t = np.arange(n) / FS
    pred = np.sin(2 * np.pi * 1.3 * t) + 0.3 * rng.standard_normal(n)
    target = np.sin(2 * np.pi * 1.5 * t)  # 90 bpm: class 50
    bpm = np.arange(40, 181)
    window = np.hanning(n)
    x = (pred - pred.mean()) * window
    phase = 2 * np.pi * np.outer(bpm / 60, t)
    power = (x @ np.cos(phase).T) ** 2 + (x @ np.sin(phase).T) ** 2
    logits = power / (power.mean() if normalise == "mean" else power.sum())
    want = np.log(np.exp(logits).sum()) - logits[90 - 40]
    got = frequency_ce(
        torch.tensor(pred[None], dtype=torch.float32),
        torch.tensor(target[None], dtype=torch.float32),
        FS,
        normalise=normalise,
    )
    assert float(got) == pytest.approx(want, rel=1e-4)
    if normalise == "sum":  # logits summing to one, the power spread: the softmax is flat
        assert float(got) == pytest.approx(math.log(len(bpm)), abs=0.02)


def test_shipped_weights_read_a_synthetic_clip(tmp_path: Path) -> None:
    # trained on generator 2's training split as version 1.4 renders it (docs/weights.md); this
    # clip's subject, length and size are none of that split's
    clip = SynthConfig(width=160, height=120, duration_s=5, seed=9, generator=2)
    write_synth(clip, tmp_path, masks=False)
    truth = json.loads((tmp_path / "meta.json").read_text())["mean_hr_bpm"]
    reading = measure(tmp_path / "video.mkv", Options(method="autohr", window_s=4))
    assert reading.heart_rate.bpm == pytest.approx(truth, abs=2.0)
    checkpoint = load_checkpoint(shipped_weights("autohr"))
    assert checkpoint["config"]["task"]["options"]["frequency"] == 0.02
