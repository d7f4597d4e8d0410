"""One GPU machine's lease, used whole: render the synthetic training data, then run many
trainings at once under one wall-clock budget, and pack what they wrote.

A lease is short (minutes) and the networks here are small, so one training alone leaves the
GPU mostly idle: every job of `JOBS` runs at the same time, each on its own process (the GPU
time-slices between them; the machine's CPU cores cut and augment the clips). A job has a
window inside the budget, as shares of it: it starts at `start` (after the jobs it `needs` have
stopped, whose checkpoints it takes) and gets `train.time_limit_min` to end by `stop`; one that
overruns is killed (its last.pt and best.pt are whole: checkpoints are written atomically).

Data (320x240, 20 s, `rppgkit.synth.suite`): generator 1's training set (48/8/20 videos), and
generator 2's training and validation splits with `--v2-extra` more training subjects per
condition (seeds from 12: never a validation or test subject), and the compression ladder of
generator 2's training subset for STVEN. Test splits are scored where the results come back
(`benchmarks/README.md`, "GPU wave").

Usage: python benchmarks/gpu_wave.py --out DIR [--end-by 540] [--workers 16] [--only NAME ...]
       [--tiny]    (--tiny: a few small videos and one-epoch jobs, to try the script on a CPU)
Results: DIR/runs-<group>.tar.gz (each job's config.yaml, metrics.csv, test.csv, best.pt,
genotype.yaml; last.pt where the job is a search or has no validation split), DIR/wave.json
(timings, exit codes), DIR/log.txt
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autohr_ablation import ABLATIONS
from lfa_rea import RUNS as LFA_REA_RUNS
from lfa_rea import Run
from rppgkit.synth import write_synth, write_training_set
from rppgkit.synth.suite import TRAINING_SPLITS, training_config

V2_EXTRA_FIRST_SEED = 12  # validation and test subjects are seeds 6-11
LADDER = ("baseline", "tone-5", "motion-1", "lighting-1")  # seed 000's training subset
LEVELS = "x264:1000k,x264:250k,x265:250k,mpeg4:250k"
PACK_S = 30.0  # kept for the jobs' last seconds and packing
PACKED = ("config.yaml", "metrics.csv", "test.csv", "best.pt", "genotype.yaml", "cells.png")


@dataclass
class Job:
    """One training: a config, its overrides (``{work}``, ``{run}`` and the `needs` as
    ``{need:NAME}`` are filled in at start), its window as shares of the budget."""

    name: str
    group: str  # issue whose tar it goes into
    config: str
    overrides: list[str] = field(default_factory=list)
    start: float = 0.0
    stop: float = 1.0
    needs: tuple[str, ...] = ()
    command: str = "train"


def _v1(split: str, conditions: tuple[str, ...] | None = None) -> str:
    """A `data.<split>` override: generator 1's folders (all conditions, or these)."""
    folders = [split] if conditions is None else [f"{split}/{c}" for c in conditions]
    roots = ", ".join("{dataset: synthetic, root: '{work}/v1/" + f + "'}" for f in folders)
    return f"data.{split}=[{roots}]"


V1 = [_v1("train"), _v1("val"), _v1("test"), "data.cache={work}/cache"]
V2 = [
    "data.train=[{dataset: synthetic, root: '{work}/v2/train'}]",
    "data.val=[{dataset: synthetic, root: '{work}/v2/val'}]",
    "data.test=[]",  # generator 2's test split is scored where the weights come back
    "data.cache={work}/cache",
]
LADDER_DATA = [
    "data.train=[{dataset: ladder, root: '{work}/ladder/train'}]",
    "data.val=[{dataset: ladder, root: '{work}/ladder/val'}]",
    "data.cache={work}/cache",
]
AUTOHR = [  # retraining: width 32, the frequency term weighted so that both terms train
    *V1,
    "train.epochs=60",
    "model.options.width=32",
    "task.options.frequency=0.02",
]
META_RECIPE = [  # the features standardised over frames learn with Adam at 1e-3
    "train.epochs=400",
    "optim={name: adam, lr: 0.001}",
    "data.clip.size=64",
    "task.options.pretrain_steps=400",
]


def _lfa_start(run: Run) -> list[str]:
    """Where an lfa-rea fine-tuning starts: the wave's self-supervised run, or random weights."""
    if run.kind != "tune":
        return []
    return [f"task.options.pretrained={'{need:lfa-rea-ssl}' if run.pretrained else 'null'}"]


META_SOURCE = ("baseline", "tone-1", "lighting-1")
META_TEST = ("baseline", "tone-6", "motion-2")
JOBS: list[Job] = [
    # issue 20: the three shipped networks on generator 2
    Job("physnet-v2", "20", "configs/physnet-synthetic-v2.yaml", [*V2, "train.epochs=60"]),
    Job(
        "physnet-v2-72",
        "20",
        "configs/physnet-synthetic-v2.yaml",
        [*V2, "train.epochs=60", "model.options.width=64", "data.clip.size=72"],
    ),
    Job("rppgnet-v2", "20", "configs/rppgnet-synthetic-v2.yaml", [*V2, "train.epochs=60"]),
    Job(
        "stven-v2",
        "20",
        "configs/stven-synthetic.yaml",
        [*LADDER_DATA, "train.epochs=60"],
        stop=0.5,
    ),
    Job(
        "stven-rppgnet-v2",
        "20",
        "configs/stven-rppgnet-synthetic.yaml",
        [
            *LADDER_DATA,
            "train.epochs=60",
            "task.options.rppgnet={need:rppgnet-v2}",
            "task.options.stven={need:stven-v2}",
        ],
        start=0.5,
        needs=("rppgnet-v2", "stven-v2"),
    ),
    # issue 21: search then retrain; ablations on the hand-written cell; PhysNet beside it
    Job(
        "autohr-search",
        "21",
        "configs/autohr-search-synthetic.yaml",
        [
            *V1[:2],
            "data.cache={work}/cache",
            "model.options.width=16",
            "data.clip.size=36",
            "data.clip.frames=128",
            "data.step=64",
            "train.batch_size=8",
            "train.epochs=60",
            "task.options.frequency=0.02",
        ],
        stop=0.4,
        command="search",
    ),
    Job(
        "autohr-searched",
        "21",
        "configs/autohr-synthetic.yaml",
        [*AUTOHR, "model.options.genotype={genotype:autohr-search}"],
        start=0.4,
        needs=("autohr-search",),
    ),
    *(
        Job(f"autohr-{name}", "21", "configs/autohr-synthetic.yaml", [*AUTOHR, *overrides])
        for name, (_, overrides) in ABLATIONS.items()
    ),
    Job(
        "physnet-v1",
        "21",
        "configs/physnet-synthetic.yaml",
        [*V1, "data.step=64", "train.epochs=60"],
    ),
    # issue 22: lfa-rea's runs (benchmarks/lfa_rea.py): self-supervised and its ablations, then
    # fine-tuned from it; from scratch; PhysNet is physnet-v1 (issue 21)
    *(
        Job(
            f"lfa-rea-{name}",
            "22",
            run.config,
            [*V1, "train.epochs=200", *run.overrides, *_lfa_start(run)],
            start=0.6 if run.pretrained else 0.0,
            stop=1.0 if run.pretrained else 0.6,
            needs=("lfa-rea-ssl",) if run.pretrained else (),
        )
        for name, run in LFA_REA_RUNS.items()
        if run.kind != "physnet"
    ),
    # issue 22: lfa-rea without labels on the real dev set's frames (carried in: fetch.py first;
    # without them the job fails alone, with its message in its log)
    Job(
        "lfa-rea-real",
        "22",
        "configs/lfa-rea-realdev.yaml",
        [
            "data.cache={work}/cache",
            "data.clip.size=64",
            "model.options.width=32",
            "task.options.lfa_width=32",
            "train.epochs=400",
        ],
    ),
    # issue 23: Meta-rPPG under the domain shift, and its labelled upper bound
    Job(
        "meta-source",
        "23",
        "configs/meta-rppg-domain-shift.yaml",
        [
            _v1("train", META_SOURCE),
            _v1("val", ("baseline",)),
            _v1("test", META_TEST),
            "data.cache={work}/cache",
            *META_RECIPE,
        ],
    ),
    Job(
        "meta-upper",
        "23",
        "configs/meta-rppg-domain-shift.yaml",
        [
            _v1("train", META_SOURCE + META_TEST[1:]),
            _v1("val", META_TEST),
            _v1("test", META_TEST),
            "data.cache={work}/cache",
            *META_RECIPE,
            "task.options.pretrain_steps=100000000",  # every step supervised: no meta-learning
        ],
    ),
]
COMMON = [  # every job: fast kernels, fp32, a share of the CPU
    "train.deterministic=false",
    "train.amp=false",
    "train.threads=1",
    "data.workers=2",
    "data.loader_workers=1",
    "log.progress=false",
]
TINY = ["train.epochs=1", "train.batch_size=2"]
TINY_SHARE = "data.train_share=0.15"  # not for ladder jobs: a share would drop originals


def _render_one(job: tuple[str, int, int, str]) -> str:
    condition, seed, generator, folder = job
    if not (Path(folder) / "meta.json").exists():
        write_synth(training_config(condition, seed, generator=generator), folder, masks=False)
    return folder


def render(work: Path, workers: int, extra: int, tiny: bool) -> None:
    """Generator 1 and 2 training data, and the ladder of generator 2's STVEN subset."""
    from rppgkit.datasets.ladder import build_ladder, parse_levels

    if tiny:  # one subject per split and condition family the jobs name
        jobs = [
            (c, s, g, str(work / f"v{g}" / split / c / f"s{s}"))
            for g in (1, 2)
            for split, s in (("train", 0), ("train", 1), ("val", 6), ("test", 8))
            for c in (
                "baseline",
                "tone-1",
                "lighting-1",
                "tone-6",
                "motion-2",
                "tone-5",
                "motion-1",
            )
        ]
    else:
        write_training_set(work / "v1", workers=workers)
        write_training_set(work / "v2", workers=workers, generator=2, splits=("train", "val"))
        seeds = range(V2_EXTRA_FIRST_SEED, V2_EXTRA_FIRST_SEED + extra)
        jobs = [
            (c, s, 2, str(work / "v2" / "train" / c / f"s{s}"))
            for c in TRAINING_SPLITS["train"][1]
            for s in seeds
        ]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_render_one, jobs))
    for split, conditions in (("train", LADDER), ("val", ("baseline", "lighting-2"))):
        subset = work / "ladder-src" / split
        subset.mkdir(parents=True, exist_ok=True)
        for c in conditions:
            source = work / "v2" / split / c
            if source.exists() and not (subset / c).exists():
                (subset / c).symlink_to(source)
        build_ladder(
            "synthetic", subset, work / "ladder" / split, parse_levels(LEVELS), workers=workers
        )


def warm_caches(jobs: list[Job], work: Path, workers: int) -> int:
    """Cut every job's clips once, all cores at a time, before the jobs start (jobs that share
    a clip format would otherwise each cut the same videos); the number of recordings listed.
    Jobs whose clips differ only in length or normalisation share the cached crops, which
    `prepare` then finds in place."""
    from rppgkit.clip.cache import prepare
    from rppgkit.train import load_config
    from rppgkit.train.data import resolve_splits

    groups: dict[tuple, dict[Path, object]] = {}
    for job in jobs:
        items = [
            o.replace("{work}", str(work))
            for o in job.overrides
            if "{need:" not in o and "{genotype:" not in o
        ]
        try:
            cfg = load_config(job.config, items).data
            splits = resolve_splits(cfg)
        except Exception as exc:  # the job itself will fail and log why
            print(f"{job.name}: cannot list its data: {exc}", flush=True)
            continue
        group = groups.setdefault((cfg.clip.spec(), cfg.cache, cfg.detector, cfg.roi), {})
        for recs in splits.values():
            group.update((rec.video, rec) for rec in recs)
    for (spec, cache, detector, roi), recs in groups.items():
        _, skipped = prepare(list(recs.values()), spec, cache, workers, detector, roi=roi)
        if skipped:
            print(f"{len(skipped)} recordings could not be cut, e.g.: {skipped}", flush=True)
    return sum(len(recs) for recs in groups.values())


@dataclass
class Running:
    job: Job
    proc: subprocess.Popen
    started: float
    deadline: float


def _fill(job: Job, work: Path, runs: Path) -> list[str]:
    """The job's overrides with the placeholders filled in (needs frozen as copies)."""
    from rppgkit.models.autohr.search import genotype_at

    out = []
    for item in job.overrides:
        for need in job.needs:
            if f"{{need:{need}}}" in item:
                frozen = runs / job.name / f"{need}.pt"
                frozen.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(runs / need / "best.pt", frozen)
                item = item.replace(f"{{need:{need}}}", str(frozen))
            if f"{{genotype:{need}}}" in item:
                genotype = genotype_at(runs / need / "last.pt").to_dict()
                item = item.replace(f"{{genotype:{need}}}", json.dumps(genotype))
        out.append(item.replace("{work}", str(work)))
    return out


def launch(job: Job, work: Path, runs: Path, t0: float, budget: float, tiny: bool) -> Running:
    """Start `job` now; it is asked to end by its stop share of the budget."""
    now = time.monotonic()
    deadline = t0 + job.stop * budget
    minutes = max((deadline - now) / 60.0 - 0.25, 0.05)  # a margin for the test split
    overrides = [
        *_fill(job, work, runs),
        *COMMON,
        f"log.out={runs / job.name}",
        f"train.time_limit_min={minutes:.2f}",
        *(TINY if tiny else []),
        *([TINY_SHARE] if tiny and job.overrides[:1] != LADDER_DATA[:1] else []),
    ]
    log = open(runs / f"{job.name}.log", "w")  # noqa: SIM115  (closed when the job ends)
    cmd = [sys.executable, "-m", "rppgkit", job.command, job.config, *overrides]
    log.write(" ".join(cmd) + "\n")
    log.flush()
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    print(f"[{now - t0:6.0f} s] start {job.name} ({minutes:.1f} min)", flush=True)
    return Running(job, proc, now, deadline)


def run_jobs(jobs: list[Job], work: Path, runs: Path, budget: float, tiny: bool) -> dict:
    """Run every job in its window; return each one's exit code and times."""
    t0, waiting, running, done = time.monotonic(), list(jobs), [], {}
    while waiting or running:
        now = time.monotonic()
        for job in [
            j for j in waiting if now >= t0 + j.start * budget and all(n in done for n in j.needs)
        ]:
            waiting.remove(job)
            if any(done[n]["best"] is False for n in job.needs):
                done[job.name] = {"skipped": "a job it needs left no best.pt", "best": False}
                print(f"[{now - t0:6.0f} s] skip {job.name}: {done[job.name]}", flush=True)
                continue
            running.append(launch(job, work, runs, t0, budget, tiny))
        for r in list(running):
            code = r.proc.poll()
            if code is None and now > r.deadline + 20:
                r.proc.kill()
                code = r.proc.wait()
            if code is not None:
                running.remove(r)
                done[r.job.name] = {
                    "code": code,
                    "start_s": r.started - t0,
                    "end_s": now - t0,
                    "best": (runs / r.job.name / "best.pt").exists(),
                }
                print(f"[{now - t0:6.0f} s] end {r.job.name}: {done[r.job.name]}", flush=True)
        time.sleep(1.0)
    return done


def pack(runs: Path, out: Path, jobs: list[Job]) -> None:
    """One tar per issue of what each job wrote that a reader needs (last.pt only where no
    best.pt stands for it)."""
    for group in sorted({j.group for j in jobs}):
        with tarfile.open(out / f"runs-{group}.tar.gz", "w:gz") as tar:
            for job in (j for j in jobs if j.group == group):
                if (runs / f"{job.name}.log").exists():
                    tar.add(runs / f"{job.name}.log", f"{job.name}/train.log")
                # last.pt where it is the result: a search's, or a run with no validation split
                last = job.command == "search" or not (runs / job.name / "best.pt").exists()
                names = PACKED + (("last.pt",) if last else ())
                for name in names:
                    path = runs / job.name / name
                    if path.exists():
                        tar.add(path, f"{job.name}/{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/wave"))
    parser.add_argument(
        "--end-by", type=float, default=540.0, help="seconds from start when all must be packed"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--v2-extra", type=int, default=6)
    parser.add_argument("--only", nargs="*", default=None, help="job names (default: all)")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    jobs = [j for j in JOBS if args.only is None or j.name in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    runs = args.work / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    render(args.work, args.workers, args.v2_extra, args.tiny)
    rendered = time.monotonic() - start
    cut = warm_caches(jobs, args.work, args.workers)
    prepared = time.monotonic() - start - rendered
    print(f"data ready in {rendered:.0f} s, clips of {cut} videos in {prepared:.0f} s", flush=True)
    budget = args.end_by - (time.monotonic() - start) - PACK_S
    print(f"training budget {budget:.0f} s", flush=True)
    summary = {"render_s": rendered, "cut_s": prepared, "budget_s": budget, "jobs": {}}
    try:
        summary["jobs"] = run_jobs(jobs, args.work, runs, budget, args.tiny)
    finally:  # what finished is packed whatever stopped the others
        (args.out / "wave.json").write_text(json.dumps(summary, indent=1))
        pack(runs, args.out, jobs)


if __name__ == "__main__":
    main()
