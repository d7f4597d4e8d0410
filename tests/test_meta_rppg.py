"""Meta-rPPG: the three networks, the ordinal code, the three losses, the generator's fit to the
true gradient, adaptation of a copy, episodic training through the engine with resume, and
`measure` / `adapt` on the command line. Everything runs on tiny clips."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.hostile.conftest import assert_user_error, run

from rppgkit.clip import ClipSpec
from rppgkit.errors import RppgError
from rppgkit.models import create, create_task
from rppgkit.models.checkpoint import load_checkpoint
from rppgkit.models.inference import Network, load_network, network_pulse
from rppgkit.models.meta_rppg.loss import (
    decode,
    ordinal_loss,
    ordinal_targets,
    prototype_loss,
    quantise,
    synthetic_loss,
)
from rppgkit.models.meta_rppg.network import SyntheticGradient, temporal_centre
from rppgkit.models.task import Stepper, Task
from rppgkit.models.zoo import shipped_weights
from rppgkit.pipeline import Options, measure
from rppgkit.synth import SynthConfig, write_synth
from rppgkit.train import train
from rppgkit.train.config import OptimConfig, validate
from rppgkit.train.optim import make_optimizer
from rppgkit.video.writer import write_video

T, SIZE = 16, 32
TINY_NET = {"channels": [8, 8, 8, 8, 8], "hidden": 8, "width": 8}
SGD = OptimConfig(name="sgd", lr=1e-3, momentum=0.9, weight_decay=5e-4)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread


def tiny_task(**options: object) -> Task:
    torch.manual_seed(0)
    return create_task("meta-rppg", TINY_NET, None, {"frames": T, **options})


def episodes(batch: int = 2, shots: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random episodes with a sine pulse of a different phase per clip."""
    g = torch.Generator().manual_seed(seed)
    phase = torch.rand(2, batch, shots, 1, generator=g) * 6
    label = torch.sin(torch.arange(T) / 2.0 + phase)
    clips = torch.randn(2, batch, shots, 3, T, SIZE, SIZE, generator=g)
    return {
        "support_clip": clips[0],
        "query_clip": clips[1],
        "support_label": label[0],
        "query_label": label[1],
    }


# --- networks and the ordinal code -------------------------------------------------------------


def test_network_shapes() -> None:
    net = create("meta-rppg")  # the paper's sizes
    clip = torch.randn(2, 3, T, SIZE, SIZE)
    z = net.extractor(clip)
    assert z.shape == (2, T, 120)
    assert net.estimator(z).shape == (2, T, 40, 2)
    pulse = net(clip)
    assert pulse.shape == (2, T) and pulse.dtype == torch.float32
    assert pulse.min() >= 0 and pulse.max() <= 40
    for size in (20, 16, 8, 1):  # pools round up and stop at 1 px
        assert net.extractor(torch.randn(1, 3, T, size, size)).shape == (1, T, 120)
    generator = SyntheticGradient(60)
    widths = [m.out_channels for m in generator.modules() if hasattr(m, "out_channels")]
    assert widths == [40, 20, 40, 60]  # the paper's 60 -> 40 -> 20 -> 40 -> 60
    assert generator(torch.randn(3, 60, 120)).shape == (3, 60, 120)
    with pytest.raises(RppgError, match="channels must be a list of whole numbers"):
        create("meta-rppg", channels=[8, 0])


def test_extractor_reads_what_changes_over_time_not_the_static_face() -> None:
    # the pulse is a tiny change under the face's static appearance: on the frames as they are,
    # the estimator learnt only the levels' prior (ordinal loss ~20.3 on synthetic video)
    extractor = create("meta-rppg").extractor.eval()
    clip = torch.randn(2, 3, T, 32, 32)
    face, contrast = 40 * torch.randn(2, 3, 1, 32, 32), 0.1 + torch.rand(2, 1, 1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(extractor(face + contrast * clip), extractor(clip))
    moving = temporal_centre(face + contrast * clip)
    assert moving.mean(dim=2).abs().max() < 1e-4 and torch.allclose(moving.std(), torch.ones(()))


def test_ordinal_code_round_trip() -> None:
    level = quantise(torch.tensor([[3.0, 4.0, 5.0, 7.0], [1.0, 1.0, 1.0, 1.0]]))
    assert level.tolist() == [[0, 10, 20, 40], [0, 0, 0, 0]]  # (y - min) / range, x 40, rounded
    assert ordinal_targets(torch.tensor(3), 5).tolist() == [1, 1, 1, 0, 0]
    wave = quantise(torch.sin(torch.linspace(0, 9, 200))[None])
    assert wave.min() == 0 and wave.max() == 40
    logits = torch.nn.functional.one_hot(ordinal_targets(wave), 2).float()  # certain answers
    assert torch.equal(decode(logits), wave)


def test_losses_against_hand_computation() -> None:
    logits = torch.tensor([[[[0.0, 2.0], [1.0, -1.0], [0.5, 0.5]]]])  # one frame, 3 thresholds
    level = torch.tensor([[2]])  # thresholds 1 and 2 reached: classes 1, 1, 0

    def nll(pair: list[float], cls: int) -> float:
        return -pair[cls] + math.log(math.exp(pair[0]) + math.exp(pair[1]))

    hand = nll([0.0, 2.0], 1) + nll([1.0, -1.0], 1) + nll([0.5, 0.5], 0)
    assert float(ordinal_loss(logits, level)) == pytest.approx(hand, rel=1e-6)

    z = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [2.0, -2.0]]])  # [B=2, T=2, C=2]
    proto = torch.tensor([1.0, 1.0])
    # clip means (2, 3) and (1, -1): squared distances 1, 4 and 0, 4, averaged over 4
    assert float(prototype_loss(z, proto)) == pytest.approx((1 + 4 + 0 + 4) / 4)
    true = torch.zeros_like(z)
    # per clip: 1 + 4 + 9 + 16 = 30 and 0 + 0 + 4 + 4 = 8; averaged over the clips
    assert float(synthetic_loss(z, true)) == pytest.approx((30 + 8) / 2)


# --- the task ------------------------------------------------------------------------------------


def test_synthetic_target_is_each_clips_own_gradient() -> None:
    task = tiny_task().eval()  # the untrained generator predicts zero: L_SYN = mean ||dL/dz||^2
    batch = episodes()
    support = batch["support_clip"].flatten(0, 1)
    levels = quantise(batch["support_label"].flatten(0, 1))
    with torch.no_grad():
        z = task.network.extractor(support)
    norms = []
    for i in range(len(z)):  # each clip alone: the gradient of its own ordinal loss
        zi = z[i : i + 1].clone().requires_grad_()
        loss = ordinal_loss(task.network.estimator(zi), levels[i : i + 1])
        norms.append(float(torch.autograd.grad(loss, zi)[0].pow(2).sum()))
    parts = task.losses(batch, ClipSpec(frames=T, size=SIZE, norm="standardized"))
    assert set(parts) == {"ordinal", "prototype", "synthetic"}
    assert float(parts["synthetic"]) == pytest.approx(np.mean(norms), rel=1e-4)


def test_prototype_is_a_moving_average_of_support_features() -> None:
    task = tiny_task().train()
    means = []
    for seed in (1, 2):
        batch = episodes(seed=seed)
        with torch.no_grad():  # the episode takes no step, so it sees these same features
            means.append(task.network.extractor(batch["support_clip"].flatten(0, 1)).mean((0, 1)))
        task.episode(batch, create_graph=False)
        if seed == 1:  # the first batch sets it
            torch.testing.assert_close(task.prototype, means[0])
    torch.testing.assert_close(task.prototype, 0.8 * means[0] + 0.2 * means[1])


def stepper(task: Task, network_lr: float, generator_lr: float) -> Stepper:
    optimizers = task.optimizers(lambda params, **kw: make_optimizer(SGD, params, **kw))
    for name, lr in (("network", network_lr), ("generator", generator_lr)):
        optimizers[name].param_groups[0]["lr"] = lr
    return Stepper(optimizers, torch.amp.GradScaler("cpu", enabled=False), None, lambda _: None)


def test_generator_learns_the_true_gradient() -> None:
    task = tiny_task().train()
    spec = ClipSpec(frames=T, size=SIZE, norm="standardized")
    batch = episodes(batch=1)
    step = stepper(task, 0.0, SGD.lr)  # theta and phi held, so the target stays put
    first = float(task.train_step(batch, spec, step)["synthetic"].detach())
    for _ in range(20):
        last = float(task.train_step(batch, spec, step)["synthetic"].detach())
    assert last < 0.5 * first  # first: the zero prediction's error, |dL/dz|^2
    with torch.no_grad():
        z = task.network.extractor(batch["support_clip"].flatten(0, 1))
        predicted = task.generator(z)
    z.requires_grad_()
    levels = quantise(batch["support_label"].flatten(0, 1))
    true = torch.autograd.grad(ordinal_loss(task.network.estimator(z), levels) * len(z), z)[0]
    cosine = torch.nn.functional.cosine_similarity(predicted.flatten(), true.flatten(), 0)
    assert cosine > 0.7  # it points where the true gradient points
    assert int(task.steps) == 21


def test_adapt_changes_a_copy_of_the_extractor_only() -> None:
    task = tiny_task(adapt_lr=0.05, adapt_steps=4).eval()
    torch.nn.init.normal_(task.generator.out.weight, std=0.1)  # a generator that asks for change
    before = copy.deepcopy(task.state_dict())
    windows = [torch.randn(2, 3, T, SIZE, SIZE) for _ in range(3)]
    adapted = task.adapt(iter(windows))
    assert adapted is not task
    for key, value in task.state_dict().items():  # the original is untouched
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    after = adapted.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed and all(k.startswith("network.extractor.") for k in changed)
    assert "network.extractor.stages.0.0.weight" in changed

    task.generator.out.weight.data.zero_()  # no synthetic gradient: a descent on L_PROTO alone
    task.prototype.fill_(0.5)
    with torch.no_grad():
        proto_before = prototype_loss(task.network.extractor(windows[0]), task.prototype)
        pulled = task.adapt(iter(windows[:1])).network.extractor(windows[0])
    assert prototype_loss(pulled, task.prototype) < proto_before


def test_only_transductive_networks_report_adaptation() -> None:
    spec = ClipSpec(frames=T, size=SIZE, norm="standardized")
    crops = np.random.default_rng(0).integers(0, 255, (40, SIZE, SIZE, 3), dtype=np.uint8)
    seconds: list[float] = []
    meta = Network("meta-rppg", tiny_task().eval(), spec)
    pulse = network_pulse(meta, crops, 30.0, on_adapt=seconds.append)
    assert pulse.shape == (40,) and len(seconds) == 1 and seconds[0] >= 0
    network_pulse(meta, crops, 30.0, adapt=False, on_adapt=seconds.append)
    assert len(seconds) == 1  # asked not to adapt: read as trained, nothing to report
    physnet = Network("physnet", create_task("physnet", {"width": 4}).eval(), spec)
    network_pulse(physnet, crops, 30.0, on_adapt=seconds.append)
    assert len(seconds) == 1  # physnet's task returns itself: nothing to report


# --- through the engine and the command line ---------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("meta-data")
    for split, seeds in {"train": [0, 1, 2], "val": [3]}.items():
        for seed in seeds:
            config = SynthConfig(
                width=160, height=120, duration_s=3, hr_bpm=70 + 9 * seed, seed=seed
            )
            write_synth(config, root / split / f"s{seed}", masks=False)
    return root


def config(data: Path, out: Path, epochs: int = 2, **task: object) -> dict:
    return {
        "data": {
            "train": [{"dataset": "synthetic", "root": str(data / "train")}],
            "val": [{"dataset": "synthetic", "root": str(data / "val")}],
            "clip": {"frames": T, "size": SIZE, "fs": 30.0, "norm": "standardized"},
            "cache": str(data / "cache"),
            "workers": 1,
        },
        "model": {"name": "meta-rppg", "options": TINY_NET},
        "task": {"options": {"frames": T, "pretrain_steps": 1, **task}},
        "optim": {"name": "sgd", "lr": 1e-3, "momentum": 0.9, "weight_decay": 5e-4},
        "train": {"epochs": epochs, "batch_size": 1, "threads": 1, "select": "loss"},
        "log": {"out": str(out), "progress": False},
    }


@pytest.fixture(scope="module")
def checkpoint(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("meta-run") / "run"
    result = train(validate(config(data, out)))
    assert {"train_ordinal", "train_prototype", "train_synthetic"} <= set(result.history[-1])
    return out / "best.pt"


def test_episodic_training_checkpoints_and_resumes(
    checkpoint: Path, data: Path, tmp_path: Path
) -> None:
    full = load_checkpoint(checkpoint.parent / "last.pt")
    assert set(full["optimizers"]) == {"network", "generator"}
    assert int(full["extra"]["steps"]) == 6  # 3 episodes an epoch, 2 epochs: 1 pre-training
    train(validate(config(data, tmp_path / "part", epochs=1)))
    train(validate(config(data, tmp_path / "part")), resume=True)
    part = load_checkpoint(tmp_path / "part" / "last.pt")
    for group in ("state_dict", "extra"):
        for key, want in full[group].items():
            torch.testing.assert_close(part[group][key], want, rtol=0, atol=1e-6)
    for bad, message in [
        ({"frames": T + 4}, "set task.options.frames to 16"),
        ({}, "not its frame differences"),
    ]:
        cfg = config(data, tmp_path / "bad", **bad)
        if not bad:
            cfg["data"]["clip"]["norm"] = "diffnormalized"
        with pytest.raises(RppgError, match=message):
            train(validate(cfg))
        assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("meta-video") / "v"
    write_synth(SynthConfig(width=160, height=120, duration_s=5, seed=9), folder, masks=False)
    return folder / "video.mkv"


def test_measure_adapts_a_copy_and_reports_its_time(
    checkpoint: Path, video: Path, tmp_path: Path
) -> None:
    args = ["-m", "meta-rppg", "--weights", checkpoint, "--window", "4"]
    code, stdout, stderr = run("measure", video, *args, "-o", tmp_path / "m")
    assert code == 0, stderr
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert summary["method"] == "meta-rppg"
    assert any("meta-rppg adapted a copy of its network" in n for n in summary["notes"])
    assert "note: meta-rppg adapted a copy" in stdout and "which took" in stdout
    shipped = load_checkpoint(checkpoint)["state_dict"]
    for key, value in load_network(checkpoint).task.network.state_dict().items():
        torch.testing.assert_close(value, shipped[key], rtol=0, atol=0)  # the loaded one is kept
    code, stdout, stderr = run("measure", video, *args, "--no-adapt", "-o", tmp_path / "n")
    assert code == 0, stderr
    summary = json.loads((tmp_path / "n" / "summary.json").read_text())
    assert not any("adapted a copy" in n for n in summary["notes"]) and "adapted" not in stdout


def test_adapt_command_saves_a_checkpoint_for_measure(
    checkpoint: Path, video: Path, tmp_path: Path
) -> None:
    person = tmp_path / "person.pt"
    code, stdout, stderr = run("adapt", video, video, "-o", person, "--weights", checkpoint)
    assert code == 0, stderr
    assert f"wrote {person}: meta-rppg adapted to 2 video(s)" in stdout
    base, adapted = load_checkpoint(checkpoint), load_checkpoint(person)
    assert adapted["adapted_to"] == [str(video)] * 2 and adapted["clip"] == base["clip"]
    changed = {
        k for k, v in adapted["state_dict"].items() if not torch.equal(v, base["state_dict"][k])
    }
    assert changed and all(k.startswith("extractor.") for k in changed)
    code, _, stderr = run(
        "measure",
        video,
        "-m",
        "meta-rppg",
        "--weights",
        person,
        "--window",
        "4",
        "-o",
        tmp_path / "m",
    )
    assert code == 0, stderr

    code, _, stderr = run("adapt", video, "-o", checkpoint, "--weights", checkpoint)
    assert_user_error(code, stderr, "is the input itself")
    missing = tmp_path / "gone.mkv"
    code, _, stderr = run("adapt", video, missing, "-o", tmp_path / "x.pt", "--weights", checkpoint)
    assert_user_error(code, stderr, f"{missing} does not exist")
    assert not (tmp_path / "x.pt").exists()
    physnet = shipped_weights("physnet")
    code, _, stderr = run(
        "adapt", video, "-o", tmp_path / "x.pt", "-m", "physnet", "--weights", physnet
    )
    assert_user_error(code, stderr, "does not adapt to unlabelled video")
    code, _, stderr = run("adapt", video, "-o", tmp_path / "x.pt", "-m", "lfa-rea")
    assert_user_error(code, stderr, "rppgkit ships no weights for 'lfa-rea'")


def test_shipped_weights_read_a_synthetic_clip_and_adapt_from_it(
    video: Path, tmp_path: Path
) -> None:
    # trained on generator 1's training split (docs/weights.md); this clip's subject, length
    # and size are none of that split's
    truth = json.loads((video.parent / "meta.json").read_text())["mean_hr_bpm"]
    reading = measure(video, Options(method="meta-rppg", adapt=False, window_s=4))
    assert reading.heart_rate.bpm == pytest.approx(truth, abs=2.0)
    code, _, stderr = run("adapt", video, "-o", tmp_path / "person.pt")
    assert code == 0, stderr
    assert load_checkpoint(tmp_path / "person.pt")["model"]["name"] == "meta-rppg"


def test_adapt_refuses_videos_it_cannot_read_and_writes_nothing(
    checkpoint: Path, video: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.mkv"
    corrupt.write_bytes(b"not a video" * 100)
    faceless = tmp_path / "faceless.mkv"
    write_video(faceless, [np.full((120, 160, 3), 128, np.uint8)] * 60, 30.0)
    short = tmp_path / "short" / "v"
    write_synth(SynthConfig(width=160, height=120, duration_s=0.5, seed=9), short, masks=False)
    out = tmp_path / "x.pt"
    for bad, phrases in [
        (corrupt, ("corrupt.mkv is not a readable video",)),
        (faceless, ("no face found in", "faceless.mkv", "--roi frame")),
        (short / "video.mkv", ("short/v/video.mkv is 0.47 s long", "16-frame window")),
    ]:
        code, _, stderr = run("adapt", video, bad, "-o", out, "--weights", checkpoint)
        assert_user_error(code, stderr, *phrases)
        assert not out.exists()
