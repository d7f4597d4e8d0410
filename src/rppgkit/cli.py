"""The `rppgkit` command line: a thin layer over the Python API.

Written on click alone: typer (0.2x) validated every option's value through pydantic, which
cost every `rppgkit measure` about 0.2 s of imports and set-up, a fifth of a short clip's run.
Results go to stdout and messages to stderr as plain lines (styled on a terminal only), so no
rich console is made unless a progress bar is shown.
"""

from __future__ import annotations

import collections
import functools
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rppgkit.checks import COUNT, check
from rppgkit.errors import RppgError
from rppgkit.progress import progress_bar

if TYPE_CHECKING:
    from rppgkit.evaluate import Outcome
    from rppgkit.pipeline import Options

F = TypeVar("F", bound=Callable[..., object])


class _Argument(click.Argument):
    """A positional argument with a help text, listed under "Arguments" in a command's help."""

    def __init__(self, *args: Any, help: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = help


class _Command(click.Command):
    """An `rppgkit` command: arguments described in its help, first sentence shown whole."""

    def get_short_help_str(self, limit: int = 45) -> str:
        """The first sentence whole, wrapped by the help's layout, not cut to one line."""
        return super().get_short_help_str(limit=200)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(p.human_readable_name, p.help) for p in self.params if isinstance(p, _Argument)]
        if rows:
            with formatter.section("Arguments"):
                formatter.write_dl(rows)
        super().format_options(ctx, formatter)


class _Group(click.Group):
    """The `rppgkit` group, whose commands are `_Command` s that show their defaults."""

    command_class = _Command

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in the order they are defined: the everyday ones first."""
        return list(self.commands)


app = _Group(
    "rppgkit",
    help="Remote photoplethysmography: pulse, heart rate and HRV from face video.",
    no_args_is_help=True,
    context_settings={"show_default": True},
)


def echo(*parts: str | tuple[str, dict[str, Any]], err: bool = False) -> None:
    """Print one line of plain and (text, click.style keywords) parts; styles show on a
    terminal only, and user text (paths, messages) is printed as it is."""
    text = "".join(p if isinstance(p, str) else click.style(p[0], **p[1]) for p in parts)
    click.echo(text, err=err)


def warn(text: str) -> None:
    """One message line on stderr."""
    echo(text, err=True)


BOLD: dict[str, Any] = {"bold": True}


def user_errors(fn: F) -> F:
    """Turn RppgError into one line on stderr and exit code 1, with no traceback."""

    @functools.wraps(fn)
    def run(*args: object, **kwargs: object) -> object:
        try:
            return fn(*args, **kwargs)
        except RppgError as exc:
            print_error(exc)
            raise click.exceptions.Exit(1) from None
        except KeyboardInterrupt:
            warn("interrupted; no partial output was kept")
            raise click.exceptions.Exit(130) from None

    return run  # type: ignore[return-value]


def print_error(exc: Exception) -> None:
    """One line on stderr: "error:" and the message as it is."""
    echo(("error:", {"bold": True, "fg": "red"}), " ", str(exc), err=True)


def command(fn: F) -> F:
    """Register `fn` as an `rppgkit` command that reports user errors as one line."""
    return app.command()(user_errors(fn))  # type: ignore[return-value]


def argument(name: str, help: str, **kwargs: Any) -> Callable[[F], F]:
    """A positional argument with a help text (paths are `Path` s)."""
    kwargs.setdefault("type", PATH)
    return click.argument(name, cls=_Argument, help=help, **kwargs)


PATH = click.Path(path_type=Path)
FILE = click.Path(path_type=Path, dir_okay=False)


def method_option(
    default: str = "pos", help: str = "Estimator name; see `rppgkit methods`."
) -> Callable[[F], F]:
    """The --method (-m) option."""
    return click.option("--method", "-m", default=default, help=help)


def out_option(
    name: str = "out_dir", help: str = "Output folder.", **kwargs: Any
) -> Callable[[F], F]:
    """The --out (-o) option, passed to the command as `name`."""
    return click.option("--out", "-o", name, type=PATH, help=help, **kwargs)


fps_option = click.option("--fps", type=float, help="Override the frame rate of the file.")
detector_option = click.option("--detector", default="yunet", help="Face detector: yunet or haar.")
window_option = click.option("--window", default=10.0, help="Heart-rate window in seconds.")
step_option = click.option("--step", default=1.0, help="Step between windows in seconds.")
weights_option = click.option(
    "--weights", type=FILE, help="Checkpoint of a neural method (from `rppgkit train`)."
)
roi_option = click.option(
    "--roi",
    default="face",
    help="Region measured: face (detected and tracked) or frame (the whole frame, for video "
    "already cropped to skin: a forehead or palm patch, a dataset's face crops).",
)
min_quality_option = click.option(
    "--min-quality",
    default=0.0,
    help="Windows whose signal-quality index (0-1) is lower get no HR.",
)
adapt_option = click.option(
    "--adapt/--no-adapt",
    default=True,
    help="Let a transductive network (meta-rppg) adapt a copy of itself to each video's own "
    "frames first; --no-adapt reads with the trained weights as they are.",
)
overrides_argument = argument(
    "overrides", "Config changes as section.key=value, e.g. train.epochs=3.", nargs=-1, type=str
)


@command
@argument("path", "A video file, a folder of frames, or a folder of videos.")
@method_option()
@out_option()
@fps_option
@detector_option
@window_option
@step_option
@click.option("--min-face", default=0.5, help="Least share of frames that must show a face.")
@weights_option
@roi_option
@min_quality_option
@adapt_option
def measure(
    path: Path,
    method: str,
    out_dir: Path | None,
    fps: float | None,
    detector: str,
    window: float,
    step: float,
    min_face: float,
    weights: Path | None,
    roi: str,
    min_quality: float,
    adapt: bool,
) -> None:
    """Measure pulse, heart rate and HRV; write CSV, JSON, PNG and HTML results."""
    from rppgkit.pipeline import Options
    from rppgkit.video.reader import find_videos

    opts = Options(
        method=method,
        fps=fps,
        detector=detector,
        window_s=window,
        step_s=step,
        min_face_fraction=min_face,
        weights=str(weights) if weights else None,
        roi=roi,  # type: ignore[arg-type]  # checked by validate()
        min_quality=min_quality,
        adapt=adapt,
    )
    opts.validate()
    videos = find_videos(path)
    root = out_dir or Path("rppgkit-out")
    failed = 0
    for video, name in zip(videos, _result_names(videos), strict=True):
        target = root / name if (len(videos) > 1 or out_dir is None) else root
        try:
            _measure_one(video, opts, target)
        except RppgError as exc:
            if len(videos) == 1:
                raise
            failed += 1
            print_error(exc)
    if failed:
        warn(f"{failed} of {len(videos)} videos failed; results of the others are written")
        raise click.exceptions.Exit(1)


def _result_names(videos: list[Path]) -> list[str]:
    """The result folder of each video: its name without the extension, or with it where two
    videos share a stem (clip.mkv, clip.mp4) or the stem is no folder name (`..mp4`)."""
    stems = collections.Counter(v.stem for v in videos)
    names = [v.name if stems[v.stem] > 1 or v.stem in (".", "..") else v.stem for v in videos]
    return names if len(set(names)) == len(names) else [v.name for v in videos]


def _measure_one(video: Path, opts: Options, target: Path) -> None:
    from rppgkit.fileio import prepared_output, shown
    from rppgkit.pipeline import measure as run_measure
    from rppgkit.report import RESULT_FILES, write_report
    from rppgkit.video.reader import open_video

    with prepared_output(target, RESULT_FILES):  # fail on an unusable --out before the long part
        total = open_video(video, opts.fps).info.n_frames
        with progress_bar(f"measuring {video.name}", total) as tick:
            m = run_measure(video, opts, on_frame=tick)
        paths = write_report(m, target)
    s = m.summary()
    w, q, b = s.windows, s.quality, s.beats
    echo(
        (shown(video.name), BOLD),
        ": ",
        (f"{s.hr_bpm:.1f} bpm", {"bold": True, "fg": "green"}),
        f" ({opts.method}), signal quality {_fmt(q.index)} (SNR {_fmt(q.snr_db, '.1f')} "
        f"dB, beat shape r {_fmt(q.template_r)}, {q.second_method} differs by "
        f"{_fmt(q.agreement_bpm, '.1f')} bpm)",
    )
    if w.with_hr:
        echo(
            f"  per {w.window_s:g} s window: {w.hr_min_bpm:.0f}-{w.hr_max_bpm:.0f} bpm, "
            f"mean SNR {_fmt(w.snr_mean_db, '.1f')} dB"
        )
    seen = "whole frame (--roi frame) in" if s.roi == "frame" else "face in"
    echo(f"  {seen} {s.face_fraction:.0%} of {s.n_frames} frames, {s.duration_s:.1f} s")
    if s.hrv:
        echo(
            f"  HRV from {b.good} good of {b.count} beats: SDNN {s.hrv.sdnn_ms} ms, "
            f"RMSSD {s.hrv.rmssd_ms} ms"
        )
    else:
        echo(f"  no HRV: {s.hrv_reason}")
    for note in s.notes:
        echo(f"  note: {note}")
    echo(f"  results: {shown(paths.report_html)}")


def _fmt(value: float | None, spec: str = ".2f") -> str:
    """A summary number for the console; n/a where it could not be computed."""
    return "n/a" if value is None else format(value, spec)


@command
@argument("root", "The dataset's folder (or manifest CSV).")
@click.option("--dataset", "-d", required=True, help="Dataset format; see `rppgkit datasets`.")
@method_option(help="Comma-separated estimator names.")
@out_option(default="rppgkit-eval")
@click.option("--workers", default=1, help="Videos processed in parallel.")
@click.option(
    "--reference",
    default="spectral",
    help="Reference HR: spectral (from the reference pulse) or dataset.",
)
@detector_option
@window_option
@step_option
@weights_option
@roi_option
@min_quality_option
@adapt_option
def evaluate(
    root: Path,
    dataset: str,
    method: str,
    out_dir: Path,
    workers: int,
    reference: str,
    detector: str,
    window: float,
    step: float,
    weights: Path | None,
    roi: str,
    min_quality: float,
    adapt: bool,
) -> None:
    """Evaluate methods against a dataset's reference pulse: MAE, RMSE, MAPE, r, SNR, plots."""
    from rppgkit.evaluate import evaluate as run_evaluate
    from rppgkit.pipeline import Options

    if reference not in ("spectral", "dataset"):
        raise RppgError(f"--reference is spectral or dataset, not {reference!r}")
    check("--workers", workers, COUNT)
    names = [m.strip() for m in method.split(",") if m.strip()]
    opts = Options(
        detector=detector,
        window_s=window,
        step_s=step,
        weights=str(weights) if weights else None,
        roi=roi,  # type: ignore[arg-type]  # checked by validate()
        min_quality=min_quality,
        adapt=adapt,
    )
    count = itertools.count()
    with progress_bar("evaluating recordings", None) as advance:

        def tick(outcome: Outcome) -> None:
            advance(next(count))
            if outcome.error:
                warn(f"skipped {outcome.recording}: {outcome.error}")

        result = run_evaluate(dataset, root, names, out_dir, opts, reference, workers, tick)
    for level in ("video", "window"):
        echo((f"per {level}", BOLD), " (bpm, 95% CI)")
        for name, per_method in result.metrics.items():
            m = getattr(per_method, level)
            echo(f"  {name:8} MAE {m.mae}  RMSE {m.rmse}  r {m.pearson_r}")
    paired = {n: m.against_first for n, m in result.metrics.items() if m.against_first is not None}
    if paired:
        first = next(iter(result.metrics))
        echo((f"against {first}", BOLD), " (per-window error difference, bpm, 95% CI)")
        for name, diff in paired.items():
            echo(f"  {name:8} {diff.format()}")
    if result.skipped:
        echo(f"{len(result.skipped)} recordings skipped (see metrics.md)")
    echo(f"results: {result.out_dir / 'metrics.md'}")


@command
@argument("config", "A YAML training config (see configs/).")
@overrides_argument
@click.option(
    "--resume/--no-resume", default=False, help="Continue the run in log.out from last.pt."
)
def train(config: Path, overrides: tuple[str, ...], resume: bool) -> None:
    """Train a network as a config describes; under torchrun, on several processes (DDP)."""
    from rppgkit.train import load_config
    from rppgkit.train import train as run_train
    from rppgkit.train.history import mae_text

    cfg = load_config(config, list(overrides))
    result = run_train(cfg, resume, on_progress=warn)
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only the first process reports
    if result.best_epoch > 0:
        best = result.history[result.best_epoch - 1]
        echo(
            f"best epoch {result.best_epoch}: val MAE {mae_text(best['val_mae'])}, "
            f"val loss {best['val_loss']:.4f}"
        )
    kept = [result.out / name for name in ("best.pt", "last.pt")]
    kept = [path for path in kept if path.exists()]
    if result.test is not None:
        echo(f"test ({result.test.clips} clips, {kept[0].name}): MAE {mae_text(result.test.mae)}")
    echo("checkpoints: " + ", ".join(map(str, kept)))


@command
@argument("config", "A YAML search config (configs/autohr-search-*).")
@overrides_argument
@click.option("--resume/--no-resume", default=False, help="Continue the search in log.out.")
def search(config: Path, overrides: tuple[str, ...], resume: bool) -> None:
    """Search AutoHR's cell architecture; write genotype.yaml and cells.png into log.out."""
    from rppgkit.models.autohr.search import search as run_search
    from rppgkit.train import load_config

    cfg = load_config(config, list(overrides))
    result = run_search(cfg, resume, on_progress=warn)
    if os.environ.get("RANK", "0") != "0":
        return
    echo(f"genotype: {result.genotype_file} (drawn in {result.figure_file})")
    echo("retrain it as model.options.genotype of an autohr config (docs/methods/autohr.md)")


@command
@argument("checkpoint", "A checkpoint from `rppgkit train`.")
@click.option("--onnx", type=PATH, help="Write ONNX here (default: beside the checkpoint).")
def export(checkpoint: Path, onnx: Path | None) -> None:
    """Export a trained network to ONNX and check onnxruntime gives the same output."""
    from rppgkit.models.export import export_onnx

    target = onnx or checkpoint.with_suffix(".onnx")
    report = export_onnx(checkpoint, target)
    echo(
        f"{target}: input {report.input_shape}, onnxruntime vs PyTorch max |diff| "
        f"{report.max_abs_diff:.2e}"
    )


@command
@argument("source", "A video file or a folder of frames.")
@argument("target", "Output video (.mkv, .mp4; .avi for mpeg4).")
@click.option("--codec", default="x264", help="x264, x265 or mpeg4.")
@click.option("--bitrate", help="Target bitrate, e.g. 250k or 1M.")
@click.option("--crf", type=int, help="Constant quality (x264/x265), 0-51.")
def compress(source: Path, target: Path, codec: str, bitrate: str | None, crf: int | None) -> None:
    """Re-encode a video at a bitrate or quality, keeping its frame timestamps."""
    from rppgkit.video.compress import compress as run_compress
    from rppgkit.video.compress import lossy_codec, parse_bitrate
    from rppgkit.video.reader import open_video

    chosen = lossy_codec(codec, parse_bitrate(bitrate) if bitrate else None, crf)
    total = open_video(source).info.n_frames
    with progress_bar(f"encoding {source.name}", total) as tick:
        path = run_compress(source, target, chosen, on_frame=tick)
    duration = open_video(path).info.duration_s or 1.0
    echo(f"wrote {path}: {path.stat().st_size * 8 / duration / 1000:.0f} kb/s")


@command
@argument("source", "A (compressed) face video.")
@argument("target", "Output .mkv (lossless FFV1).")
@click.option(
    "--weights", type=PATH, help="A stven or stven+rppgnet checkpoint (default: the shipped one)."
)
@detector_option
def enhance(source: Path, target: Path, weights: Path | None, detector: str) -> None:
    """Restore a compressed video's face with STVEN and write the face crops losslessly."""
    from rppgkit.models.method import first_with
    from rppgkit.models.rppgnet.enhance import enhance_video
    from rppgkit.models.zoo import weights_or_shipped

    ckpt = weights_or_shipped(weights, first_with("enhancer").name)
    with progress_bar(f"enhancing {source.name}", None) as tick:
        done = enhance_video(source, target, ckpt, detector, on_window=tick)
    echo(
        f"wrote {done.path}: {done.frames} frames of {done.size}x{done.size} px at {done.fps:g} fps"
    )


@command
@argument(
    "videos",
    "Videos (or frame folders) of one person or camera; no reference.",
    nargs=-1,
    required=True,
)
@out_option("out_file", "The adapted checkpoint to write (.pt).", required=True)
@method_option(default="meta-rppg")
@weights_option
@click.option("--fps", type=float, help="Override the frame rate of the files.")
@detector_option
@roi_option
def adapt(
    videos: tuple[Path, ...],
    out_file: Path,
    method: str,
    weights: Path | None,
    fps: float | None,
    detector: str,
    roi: str,
) -> None:
    """Adapt a transductive network (meta-rppg) to unlabelled videos of a person or camera, and
    save it for `measure --weights`."""
    from rppgkit.models.adaptation import adapt_checkpoint
    from rppgkit.models.zoo import weights_or_shipped

    ckpt = weights_or_shipped(weights, method)
    count = itertools.count()
    with progress_bar(f"cropping the faces of {len(videos)} videos", len(videos)) as tick:
        done = adapt_checkpoint(
            ckpt,
            list(videos),
            out_file,
            method.lower(),
            detector,
            fps,
            roi,
            lambda _: tick(next(count)),
        )
    echo(
        f"wrote {done.path}: {done.method} adapted to {done.videos} video(s), which took "
        f"{done.seconds:.1f} s; use it with: rppgkit measure VIDEO -m {done.method} "
        f"--weights {done.path}"
    )


@command
@argument("source", "A face video.")
@argument("target", "Output .mkv (lossless FFV1, audio kept).")
@click.option("--target-hr", type=float, help="Make the video carry a pulse at this rate (bpm).")
@click.option(
    "--target-signal", type=PATH, help="...or this waveform: a CSV with time_s and pulse."
)
@click.option("--random", is_flag=True, help="...or a random plausible one.")
@click.option("--seed", type=int, help="Seed of --random.")
@click.option("--estimator", help="The frozen network to edit through (default: physnet).")
@click.option("--weights", type=PATH, help="Its checkpoint (default: the one rppgkit ships).")
@click.option("--lambda", "lam", default=0.1, help="Weight of the change to the original.")
@click.option("--steps", default=100, help="Optimisation steps per window.")
@click.option("--lr", default=1.0, help="Adam step in grey levels.")
@click.option(
    "--rhythm", default=1.0, help="Weight against colour changes neither pulse explains (0: paper)."
)
@click.option(
    "--report/--no-report",
    default=True,
    help="Write OUT.report.json/.md: PSNR, SSIM, HR by other readers.",
)
@detector_option
def anonymize(
    source: Path,
    target: Path,
    target_hr: float | None,
    target_signal: Path | None,
    random: bool,
    seed: int | None,
    estimator: str | None,
    weights: Path | None,
    lam: float,
    steps: int,
    lr: float,
    rhythm: float,
    report: bool,
    detector: str,
) -> None:
    """Replace the pulse hidden in a face video with another, leaving it visually the same."""
    from rppgkit.models.method import first_with
    from rppgkit.models.zoo import weights_or_shipped
    from rppgkit.privacy.edit import EditSettings, anonymize_video
    from rppgkit.privacy.report import edit_report, independent_readers
    from rppgkit.privacy.target import (
        check_hr,
        check_seed,
        random_target,
        target_from_csv,
        target_from_hr,
    )

    settings = EditSettings(lam=lam, steps=steps, lr=lr, rhythm=rhythm)  # checked at once
    chosen = [target_hr is not None, target_signal is not None, random]
    if sum(chosen) != 1:
        raise RppgError("give exactly one of --target-hr BPM, --target-signal CSV or --random")
    if target_hr is not None:
        make = functools.partial(target_from_hr, check_hr(target_hr))
    elif target_signal is not None:
        make = functools.partial(target_from_csv, target_signal)
    else:
        make = functools.partial(random_target, seed=check_seed(seed))
    estimator = (estimator or first_with("editor").name).lower()
    ckpt = weights_or_shipped(weights, estimator)
    if target_signal is not None and not target_signal.is_file():
        raise RppgError(f"{target_signal} does not exist; give a CSV with columns time_s and pulse")
    with progress_bar(f"editing {source.name}", None) as tick:
        done = anonymize_video(source, target, make, ckpt, settings, detector, on_window=tick)
    echo(
        f"wrote {done.path}: {done.frames} frames, {done.windows} windows through {estimator} "
        f"(r with the target {done.final_pearson:.2f}) in {done.seconds:.0f} s"
    )
    if report:
        wanted = done.target
        with progress_bar("reading the heart rate of both videos", None):
            rep = edit_report(
                source, target, wanted.source, wanted.hr_bpm, independent_readers(estimator)
            )
        where = target.with_name(target.stem + ".report.json")
        rep.save(where)
        echo(rep.markdown())
        echo(f"report: {where}")


@command
@argument("root", "The dataset's folder (or manifest CSV).")
@click.option("--dataset", "-d", required=True, help="Dataset format.")
@out_option(required=True)
@click.option("--levels", default="", help="Comma-separated codec:bitrate or codec:crfN levels.")
@click.option("--workers", default=1, help="Videos encoded in parallel.")
def ladder(root: Path, dataset: str, out_dir: Path, levels: str, workers: int) -> None:
    """Write every video of a dataset at several compression levels, with an index."""
    from rppgkit.datasets.ladder import DEFAULT_LEVELS, build_ladder, parse_levels

    check("--workers", workers, COUNT)
    chosen = parse_levels(levels or DEFAULT_LEVELS)
    count = itertools.count()
    with progress_bar(f"encoding {len(chosen) - 1} levels", None) as tick:
        index = build_ladder(dataset, root, out_dir, chosen, lambda *_: tick(next(count)), workers)
    echo(f"wrote {index}; evaluate it with: rppgkit evaluate {out_dir} -d ladder")


@command
def datasets() -> None:
    """List the dataset formats that evaluate and train read."""
    from rppgkit.datasets import DATASETS

    for name, loader in DATASETS.items():
        doc = (loader.__doc__ or "").strip().splitlines()
        echo((f"{name:10}", BOLD), " ", doc[0] if doc else "")


@command
def methods() -> None:
    """List the available estimators."""
    from rppgkit.estimators import describe

    methods = describe()
    width = max(len(name) for name, _ in methods)
    for name, description in methods:
        echo((f"{name:{width}}", BOLD), " ", description)


@command
@argument("out_dir", "Folder for the video and its ground truth.")
@click.option("--duration", default=30.0, help="Seconds.")
@click.option("--fps", default=30.0)
@click.option("--width", default=640)
@click.option("--height", default=480)
@click.option("--hr", default=72.0, help="Mean heart rate (bpm).")
@click.option("--skin-tone", default=3, help="Fitzpatrick-like tone 1 (light) to 6 (dark).")
@click.option("--motion", default=0.0, help="Head motion: 0 still, 1 moderate, 2 strong.")
@click.option("--lighting", default=0.0, help="Illumination change: 0 none to 2 strong.")
@click.option("--noise", default=2.0, help="Camera noise, std in 8-bit levels.")
@click.option("--face", default="drawn", help="drawn (procedural) or astronaut (a real photo).")
@click.option("--seed", default=0)
def synth(
    out_dir: Path,
    duration: float,
    fps: float,
    width: int,
    height: int,
    hr: float,
    skin_tone: int,
    motion: float,
    lighting: float,
    noise: float,
    face: str,
    seed: int,
) -> None:
    """Generate a synthetic face video with a known pulse (lossless) and its ground truth."""
    from rppgkit.synth import SynthConfig, write_synth

    cfg = SynthConfig(
        duration_s=duration,
        fps=fps,
        width=width,
        height=height,
        hr_bpm=hr,
        skin_tone=skin_tone,
        motion=motion,
        lighting=lighting,
        noise=noise,
        face=face,
        seed=seed,
    )
    cfg.validate()
    with progress_bar("rendering", cfg.n_frames) as tick:
        paths = write_synth(cfg, out_dir, on_frame=tick)
    echo(f"wrote {paths.video} and its ground truth in {out_dir}")


@command
@out_option(default="rppgkit-demo")
@method_option()
def demo(out_dir: Path, method: str) -> None:
    """Make a synthetic face video with a known pulse, measure it and compare."""
    import json

    from rppgkit.pipeline import Options
    from rppgkit.synth import SynthConfig, write_synth

    opts = Options(method=method)
    opts.validate()  # an unknown method fails before 30 s of rendering
    cfg = SynthConfig(duration_s=30.0, hr_bpm=75.0, motion=0.5, lighting=0.5, seed=7)
    with progress_bar("rendering a 30 s synthetic video", cfg.n_frames) as tick:
        paths = write_synth(cfg, out_dir / "video", on_frame=tick)
    truth = paths.mean_hr_bpm
    _measure_one(paths.video, opts, out_dir / "result")
    summary = json.loads((out_dir / "result" / "summary.json").read_text())
    err_bpm = summary["hr_bpm"] - truth
    echo(
        (
            f"true HR {truth:.1f} bpm, measured {summary['hr_bpm']:.1f} bpm "
            f"(error {err_bpm:+.1f} bpm)",
            BOLD,
        )
    )


@command
@argument(
    "source",
    "A camera index (0: the first camera), a stream URL (rtsp://, http(s)://) or a video FILE, "
    "played at its real rate as if a camera filmed it.",
    type=str,
    default="0",
    required=False,
)
@method_option(help="A training-free method: pos, chrom, green, ...")
@click.option(
    "--window", default=10.0, help="Heart-rate window in seconds; no HR until a whole one is seen."
)
@click.option("--every", default=1.0, help="Seconds between readings.")
@detector_option
@roi_option
@click.option(
    "--jsonl",
    type=FILE,
    help="Also write each reading to this file as a JSON line, written whole and flushed at "
    "once, so another program can follow the file as it grows.",
)
@click.option(
    "--csv",
    type=FILE,
    help="Also write each reading to this file as a CSV row (after a header), written whole and "
    "flushed at once, so another program can follow the file as it grows.",
)
@click.option("--duration", type=float, help="Stop after this many seconds (of the stream's time).")
@click.option("--speed", default=1.0, help="Play a FILE this many times faster than its real rate.")
def live(
    source: str,
    method: str,
    window: float,
    every: float,
    detector: str,
    roi: str,
    jsonl: Path | None,
    csv: Path | None,
    duration: float | None,
    speed: float,
) -> None:
    """Measure the heart rate live from a camera, a stream or a file: every --every seconds one
    line with the time, HR, SNR, quality, face, latency and dropped frames. Ctrl-C stops."""
    import contextlib

    from rppgkit.fileio import check_distinct, prepared_output
    from rppgkit.live import ReadingLog, format_reading
    from rppgkit.live import live as run_live
    from rppgkit.video.live import hidden_password

    readings = run_live(
        source, method, window, every, detector, roi=roi, duration_s=duration, speed=speed
    )
    with contextlib.ExitStack() as stack:
        stack.callback(readings.close)  # releases the camera whatever ends the run
        paths = [stack.enter_context(prepared_output(p)) if p else None for p in (jsonl, csv)]
        for path in filter(None, paths):
            check_distinct(path, source)
        if jsonl and csv:
            check_distinct(jsonl, csv)
        log = stack.enter_context(ReadingLog(*paths))
        try:
            for count, reading in enumerate(readings):
                if not count:  # the source is open: an error would have been the one line
                    warn(
                        f"live heart rate of {hidden_password(source)} ({method}, {window:g} s "
                        "window); Ctrl-C stops"
                    )
                log.write(reading)
                echo(format_reading(reading, window))
        except KeyboardInterrupt:
            warn("stopped")
