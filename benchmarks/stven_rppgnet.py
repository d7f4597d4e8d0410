"""Seed 000 on synthetic data: rPPGNet, STVEN and STVEN+rPPGNet at every compression level.

1. Takes a subset of the synthetic training data (rendered by benchmarks/train_physnet.py's
   renderer: rppgkit.synth.write_training_set): training conditions baseline, skin type V,
   motion 1, lighting 1 (24 videos, 6 subjects); validation baseline and lighting 2 (4 videos);
   test baseline, lighting 2 and motion 2 of 4 other subjects (12 videos).
2. Builds each split's compression ladder: the original, x264 1000k, x264 250k, x265 250k,
   MPEG-4 250k (the paper's five levels).
3. Trains stage 1 (configs/rppgnet-synthetic.yaml), its two ablations (without skin attention,
   without the partition loss), stage 2 (configs/stven-synthetic.yaml) and stage 3
   (configs/stven-rppgnet-synthetic.yaml), then 2 more stage-3 epochs with STVEN's own loss at
   weight 30 instead of 0.1, so that it counts beside rPPGNet's ("joint-finish"); each stage's
   wall time is recorded.
4. Evaluates POS, rPPGNet, the ablations and STVEN+rPPGNet on the test ladder (per-window HR,
   10 s windows, 1 s step), and per level the PSNR of the compressed and the STVEN-restored
   face clips against the original's clips and how well the stage-1 rPPGNet's signal follows
   the reference pulse on each of them.

Usage: python benchmarks/stven_rppgnet.py [--train-only | --eval-only] [[STAGE:]key=value ...]
  (every step resumes: finished work is kept). Overrides go to every stage's config, or to one
  stage's with its name in front (`stven:train.epochs=20`); the rppgnet stage's data.workers also
  sets how many videos are rendered, encoded and evaluated at once. --train-only stops after
  training and writes training.json; --eval-only takes the stages' best.pt and training.json as
  they are (to train on a GPU machine and evaluate elsewhere).
Results: benchmarks/out/stven/{summary.json, results.md}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rppgkit.clip.cache import prepare
from rppgkit.datasets import load_dataset
from rppgkit.datasets.ladder import build_ladder, parse_levels
from rppgkit.evaluate import evaluate
from rppgkit.models.inference import load_network
from rppgkit.models.losses import neg_pearson
from rppgkit.pipeline import Options
from rppgkit.synth import write_training_set
from rppgkit.train import load_config, train
from rppgkit.train.config import Config
from rppgkit.train.data import PairedClipDataset

WORK = Path("benchmarks/out/stven")
DATA = Path("benchmarks/out/physnet/data")  # shared with benchmarks/train_physnet.py
LEVELS = "x264:1000k,x264:250k,x265:250k,mpeg4:250k"
SUBSET = {
    "train": ("baseline", "tone-5", "motion-1", "lighting-1"),
    "val": ("baseline", "lighting-2"),
    "test": ("baseline", "lighting-2", "motion-2"),
}
STAGES = {  # name: (config, overrides); the paper's three stages first, then the comparisons
    "rppgnet": ("configs/rppgnet-synthetic.yaml", []),
    "stven": ("configs/stven-synthetic.yaml", []),
    "joint": ("configs/stven-rppgnet-synthetic.yaml", []),
    "joint-finish": (  # 2 more joint epochs with STVEN's own loss weighted to matter
        "configs/stven-rppgnet-synthetic.yaml",
        [
            f"task.options.stven={WORK}/joint/best.pt",
            "task.options.stven_weight=30",
            "train.epochs=2",
            f"log.out={WORK}/joint-finish",
        ],
    ),
    "rppgnet-no-attention": (
        "configs/rppgnet-synthetic.yaml",
        ["model.options.attention=false", f"log.out={WORK}/rppgnet-no-attention"],
    ),
    "rppgnet-no-partitions": (
        "configs/rppgnet-synthetic.yaml",
        ["task.options.partitions=false", f"log.out={WORK}/rppgnet-no-partitions"],
    ),
    "rppgnet-ladder": (  # a second baseline: rPPGNet trained on every compression level
        "configs/rppgnet-synthetic.yaml",
        [
            f"data.train=[{{dataset: ladder, root: {WORK}/ladder/train}}]",
            f"data.val=[{{dataset: ladder, root: {WORK}/ladder/val}}]",
            f"log.out={WORK}/rppgnet-ladder",
        ],
    ),
}
RESTORATIONS = ("compressed", "stven", "joint", "finished")  # what rPPGNet is given, per level
EVALUATIONS = {  # column: (method, checkpoint or None)
    "POS": ("pos", None),
    "rPPGNet": ("rppgnet", WORK / "rppgnet/best.pt"),
    "rPPGNet w/o attention": ("rppgnet", WORK / "rppgnet-no-attention/best.pt"),
    "rPPGNet w/o partitions": ("rppgnet", WORK / "rppgnet-no-partitions/best.pt"),
    "rPPGNet (ladder-trained)": ("rppgnet", WORK / "rppgnet-ladder/best.pt"),
    "STVEN+rPPGNet": ("stven+rppgnet", WORK / "joint/best.pt"),
    "STVEN+rPPGNet (finished)": ("stven+rppgnet", WORK / "joint-finish/best.pt"),
}


def stage_configs(args: list[str]) -> dict[str, Config]:
    """Each stage's validated config with the command line's overrides applied."""
    scoped = [a.split(":", 1) if ":" in a.split("=", 1)[0] else [None, a] for a in args]
    unknown = sorted({stage for stage, _ in scoped if stage is not None and stage not in STAGES})
    if unknown:
        sys.exit(f"unknown stage {', '.join(unknown)}; the stages are {', '.join(STAGES)}")
    return {
        name: load_config(config, [*overrides, *(a for st, a in scoped if st in (None, name))])
        for name, (config, overrides) in STAGES.items()
    }


def main() -> None:
    args = [a for a in sys.argv[1:] if a not in ("--train-only", "--eval-only")]
    configs = stage_configs(args)
    workers = configs["rppgnet"].data.workers
    summary: dict[str, object] = {"levels": LEVELS, "overrides": args, "device": device()}
    write_training_set(DATA, workers=workers)
    start = time.perf_counter()
    for split, conditions in SUBSET.items():
        folder = WORK / "data" / split
        folder.mkdir(parents=True, exist_ok=True)
        for condition in conditions:
            link = folder / condition
            if not link.exists():
                link.symlink_to((DATA / split / condition).resolve())
        build_ladder(
            "synthetic", folder, WORK / "ladder" / split, parse_levels(LEVELS), workers=workers
        )
    summary["ladder_s"] = time.perf_counter() - start
    print(f"data and ladder ready in {summary['ladder_s']:.0f} s", flush=True)

    stages: dict[str, object] = {}
    if "--eval-only" in sys.argv:
        trained = json.loads((WORK / "training.json").read_text())
        summary |= {k: trained[k] for k in ("overrides", "device")}
        configs = {}
        stages = trained["stages"]
    for name, cfg in configs.items():
        start = time.perf_counter()
        result = train(cfg, resume=(Path(cfg.log.out) / "last.pt").exists(), on_progress=print)
        stages[name] = {
            "wall_s": time.perf_counter() - start,  # ~0 when it had finished before
            "epochs_s": sum(r["epoch_s"] for r in result.history),
            "clips_per_s": float(np.median([r["clips_per_s"] for r in result.history])),
            "best_epoch": result.best_epoch,
            "history": result.history,
        }
        summary["stages"] = stages
        if "--train-only" in sys.argv:  # kept after every stage: a cut-off run keeps its part
            (WORK / "training.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    summary["stages"] = stages
    if "--train-only" in sys.argv:
        return

    results: dict[str, dict[str, dict[str, float]]] = {}
    for column, (method, weights) in EVALUATIONS.items():
        opts = Options(weights=str(weights) if weights else None)
        out = WORK / "eval" / column.replace(" ", "-").replace("/", "")
        ev = evaluate("ladder", WORK / "ladder" / "test", [method], out, opts, workers=workers)
        results[column] = {
            name.split(" @ ")[-1] if " @ " in name else "all": {
                k: getattr(per.window, k).value for k in ("mae", "rmse", "pearson_r")
            }
            for name, per in ev.metrics.items()
        }
    summary["hr"] = results
    summary["restoration"] = restoration_by_level(WORK, stage_configs(args)["joint"].data.cache)
    (WORK / "summary.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    (WORK / "results.md").write_text(tables(summary))
    print(tables(summary))


def device() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU, {torch.get_num_threads()} threads"


def restoration_by_level(work: Path, cache: str | None) -> dict[str, dict[str, float]]:
    """Per level of `work`'s test ladder, for the compressed 64-frame clips and their
    restorations by the STVEN of stage 2, of the joint stage and of its finishing run: the PSNR
    (dB, 8-bit peak) against the original's clips, pooled over the level's clips, and the mean
    Pearson r of the frozen stage-1 rPPGNet's signal with the reference pulse, clip by clip (how
    much pulse rPPGNet finds in what it is given; "original" is its r on the uncompressed clips).
    `work` holds the stages' folders as this script writes them (stven, joint, joint-finish,
    ladder/test); another run laid out the same way is measured with
    `python -c "import sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path;
    from stven_rppgnet import restoration_by_level as r; print(r(Path('DIR'), 'CACHE'))"`."""
    stage2 = load_network(work / "stven" / "best.pt").task.network
    joint = load_network(work / "joint" / "best.pt")
    stven, rppgnet = joint.task.network.stven, joint.task.network.rppgnet
    finished = load_network(work / "joint-finish" / "best.pt").task.network.stven
    recs, _ = prepare(load_dataset("ladder", work / "ladder" / "test"), joint.spec, cache)
    pairs = PairedClipDataset(recs, joint.spec, joint.spec.frames)
    names = {k: rec.group for rec, _, k in pairs.pairs}
    squares = {k: np.zeros(len(RESTORATIONS)) for k in names}
    pearson = {k: np.zeros(len(RESTORATIONS) + 1) for k in names}  # + the original
    counts = dict.fromkeys(names, 0)
    original: dict[tuple[str, int], float] = {}  # each original chunk is read once, not per level
    with torch.inference_mode():
        for i, (p, start) in enumerate(pairs.items):
            item = pairs[i]
            k, clip, label = int(item["level"]), item["clip"][None], item["label"][None]
            inputs = (clip, *(net(clip, 0).clamp(0, 1) for net in (stage2, stven, finished)))
            for j, x in enumerate(inputs):
                pearson[k][j] += 1 - float(neg_pearson(rppgnet(x).signal, label))
                squares[k][j] += float(torch.mean((x[0] - item["clean"]) ** 2))
            chunk = (pairs.pairs[p][1].id, start)
            if chunk not in original:
                signal = rppgnet(item["clean"][None]).signal
                original[chunk] = 1 - float(neg_pearson(signal, label))
            pearson[k][-1] += original[chunk]
            counts[k] += 1
    return {
        names[k]: {
            **{
                f"{what}_db": float(10 * np.log10(counts[k] / squares[k][j]))
                for j, what in enumerate(RESTORATIONS)
            },
            **{
                f"{what}_r": float(pearson[k][j] / counts[k])
                for j, what in enumerate((*RESTORATIONS, "original"))
            },
            "clips": counts[k],
        }
        for k in sorted(names)
    }


def tables(summary: dict) -> str:
    hr, rest = summary["hr"], summary["restoration"]
    levels = [lv for lv in hr["POS"] if lv != "all"]
    main = [
        "POS",
        "rPPGNet",
        "rPPGNet (ladder-trained)",
        "STVEN+rPPGNet",
        "STVEN+rPPGNet (finished)",
    ]
    lines = [
        "Per-window HR on the test ladder (12 videos x 5 levels; MAE and RMSE in bpm):",
        "",
        "| level | " + " | ".join(f"{c} MAE / RMSE / r" for c in main) + " | PSNR compressed | "
        "PSNR STVEN (stage 2) | PSNR STVEN (joint) | PSNR STVEN (finished) |",
        "|---" * (len(main) + 5) + "|",
    ]
    for lv in levels:
        cells = [
            f"{hr[c][lv]['mae']:.2f} / {hr[c][lv]['rmse']:.2f} / {hr[c][lv]['pearson_r']:.2f}"
            for c in main
        ]
        p = rest.get(lv)  # none for the original
        extra = [f"{p[f'{key}_db']:.2f} dB" if p else "-" for key in RESTORATIONS]
        lines.append(f"| {lv} | " + " | ".join(cells + extra) + " |")
    lines += [
        "",
        "Pearson r of the stage-1 rPPGNet's signal with the reference pulse, per 64-frame test "
        "clip (mean), given the compressed clip, its STVEN restorations, or the original:",
        "",
        "| level | compressed | STVEN (stage 2) | STVEN (joint) | STVEN (finished) | original |",
        "|---|---|---|---|---|---|",
    ]
    for lv, p in rest.items():
        keys = (*RESTORATIONS, "original")
        lines.append(f"| {lv} | " + " | ".join(f"{p[f'{key}_r']:.3f}" for key in keys) + " |")
    ablations = ["rPPGNet", "rPPGNet w/o attention", "rPPGNet w/o partitions"]
    lines += ["", "Ablation of rPPGNet (per-window HR MAE, bpm):", ""]
    lines += ["| level | " + " | ".join(ablations) + " |", "|---" * (len(ablations) + 1) + "|"]
    for lv in [*levels, "all"]:
        lines.append(f"| {lv} | " + " | ".join(f"{hr[c][lv]['mae']:.2f}" for c in ablations) + " |")
    lines += ["", f"Training time per stage ({summary.get('device', 'CPU')}):", ""]
    lines += ["| stage | epochs | wall time | clips/s |", "|---|---|---|---|"]
    for name, s in summary["stages"].items():
        lines.append(
            f"| {name} | {len(s['history'])} | {s['epochs_s'] / 60:.1f} min | "
            f"{s['clips_per_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
