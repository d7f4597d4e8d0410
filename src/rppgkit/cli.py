"""The `rppgkit` command line: a thin layer over the Python API."""

from __future__ import annotations

import collections
import functools
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from rppgkit.checks import COUNT, check
from rppgkit.errors import RppgError
from rppgkit.progress import progress_bar, stderr

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from rppgkit.evaluate import Outcome
    from rppgkit.pipeline import Options


class _FalseHelpFlag:
    """A command whose ``--help`` flag is False, not None, when it is not given.

    typer (0.2x) checks every option's value through a pydantic validator unless it already is
    a bool; the --help flag it adds is None when absent, so every command, `rppgkit methods`
    included, would import pydantic (0.1-0.2 s, more than typer itself) only to learn that no
    help was asked for. Options of a command's own still get their validators when it runs.
    """

    def get_help_option(self, ctx: typer.Context) -> object:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and getattr(option, "default", False) is None:
            option.default = False
        return option


class _Group(_FalseHelpFlag, typer.core.TyperGroup):
    """The `rppgkit` group (see `_FalseHelpFlag`)."""


class _Command(_FalseHelpFlag, typer.core.TyperCommand):
    """An `rppgkit` command (see `_FalseHelpFlag`)."""

    def get_short_help_str(self, limit: int = 45) -> str:
        """The first sentence whole, wrapped by the help's layout, not cut to one line's width.

        The help is click's plain text (``rich_markup_mode=None``): typer's rich help would
        import 0.1 s of rich formatting modules for every `rppgkit --help`.
        """
        return super().get_short_help_str(limit=200)


class _Typer(typer.Typer):
    """A Typer app whose commands are `_Command` s."""

    def command(self, *args: object, **kwargs: object) -> Callable[[F], F]:  # type: ignore[override]
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)  # type: ignore[arg-type]


app = _Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Remote photoplethysmography: pulse, heart rate and HRV from face video.",
)
err = stderr


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text of plain and (text, style) parts, as rich's ``Text.assemble``; rich is imported here
    so that commands printing nothing styled never import it."""
    from rich.text import Text

    return Text.assemble(*parts)


@functools.cache
def out() -> Console:
    """The console on stdout (made at first use: see `stderr`); user text is printed as it is."""
    from rich.console import Console

    return Console(soft_wrap=True, markup=False, highlight=False)


F = TypeVar("F", bound=Callable[..., object])


def user_errors(fn: F) -> F:
    """Turn RppgError into one line on stderr and exit code 1, with no traceback."""

    @functools.wraps(fn)
    def run(*args: object, **kwargs: object) -> object:
        try:
            return fn(*args, **kwargs)
        except RppgError as exc:
            print_error(exc)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err().print("interrupted; no partial output was kept")
            raise typer.Exit(130) from None

    return run  # type: ignore[return-value]


def print_error(exc: Exception) -> None:
    """One line on stderr; the message is printed as it is (a path such as clip[final].mp4 is
    not terminal markup)."""
    err().print(styled(("error:", "bold red"), " ", str(exc)), highlight=False)


Method = Annotated[
    str, typer.Option("--method", "-m", help="Estimator name; see `rppgkit methods`.")
]
Weights = Annotated[
    Path | None,
    typer.Option(help="Checkpoint of a neural method (from `rppgkit train`).", dir_okay=False),
]
OutDir = Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")]
RoiOption = Annotated[
    str,
    typer.Option(
        "--roi",
        help="Region measured: face (detected and tracked) or frame (the whole frame, for "
        "video already cropped to skin: a forehead or palm patch, a dataset's face crops).",
    ),
]


MinQuality = Annotated[
    float,
    typer.Option(help="Windows whose signal-quality index (0-1) is lower get no HR."),
]
Adapt = Annotated[
    bool,
    typer.Option(
        help="Let a transductive network (meta-rppg) adapt a copy of itself to each video's own "
        "frames first; --no-adapt reads with the trained weights as they are."
    ),
]


@app.command()
@user_errors
def measure(
    path: Annotated[
        Path, typer.Argument(help="A video file, a folder of frames, or a folder of videos.")
    ],
    method: Method = "pos",
    out_dir: OutDir = None,
    fps: Annotated[float | None, typer.Option(help="Override the frame rate of the file.")] = None,
    detector: Annotated[str, typer.Option(help="Face detector: yunet or haar.")] = "yunet",
    window: Annotated[float, typer.Option(help="Heart-rate window in seconds.")] = 10.0,
    step: Annotated[float, typer.Option(help="Step between windows in seconds.")] = 1.0,
    min_face: Annotated[
        float, typer.Option(help="Least share of frames that must show a face.")
    ] = 0.5,
    weights: Weights = None,
    roi: RoiOption = "face",
    min_quality: MinQuality = 0.0,
    adapt: Adapt = True,
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
        err().print(f"{failed} of {len(videos)} videos failed; results of the others are written")
        raise typer.Exit(1)


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
    out().print(
        styled((shown(video.name), "bold"), ": ", (f"{s.hr_bpm:.1f} bpm", "bold green")),
        f" ({opts.method}), signal quality {_fmt(q.index)} (SNR {_fmt(q.snr_db, '.1f')} "
        f"dB, beat shape r {_fmt(q.template_r)}, {q.second_method} differs by "
        f"{_fmt(q.agreement_bpm, '.1f')} bpm)",
        sep="",
    )
    if w.with_hr:
        out().print(
            f"  per {w.window_s:g} s window: {w.hr_min_bpm:.0f}-{w.hr_max_bpm:.0f} bpm, "
            f"mean SNR {_fmt(w.snr_mean_db, '.1f')} dB",
            highlight=False,
        )
    seen = "whole frame (--roi frame) in" if s.roi == "frame" else "face in"
    out().print(
        f"  {seen} {s.face_fraction:.0%} of {s.n_frames} frames, {s.duration_s:.1f} s",
        highlight=False,
    )
    if s.hrv:
        out().print(
            f"  HRV from {b.good} good of {b.count} beats: SDNN {s.hrv.sdnn_ms} ms, "
            f"RMSSD {s.hrv.rmssd_ms} ms",
            highlight=False,
        )
    else:
        out().print(f"  no HRV: {s.hrv_reason}", highlight=False)
    for note in s.notes:
        out().print(f"  note: {note}", highlight=False)
    out().print(f"  results: {shown(paths['report.html'])}", highlight=False)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    """A summary number for the console; n/a where it could not be computed."""
    return "n/a" if value is None else format(value, spec)


@app.command()
@user_errors
def evaluate(
    root: Annotated[Path, typer.Argument(help="The dataset's folder (or manifest CSV).")],
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="Dataset format; see `rppgkit datasets`.")
    ],
    method: Annotated[
        str, typer.Option("--method", "-m", help="Comma-separated estimator names.")
    ] = "pos",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "rppgkit-eval"
    ),
    workers: Annotated[int, typer.Option(help="Videos processed in parallel.")] = 1,
    reference: Annotated[
        str, typer.Option(help="Reference HR: spectral (from the reference pulse) or dataset.")
    ] = "spectral",
    detector: Annotated[str, typer.Option(help="Face detector: yunet or haar.")] = "yunet",
    window: Annotated[float, typer.Option(help="Heart-rate window in seconds.")] = 10.0,
    step: Annotated[float, typer.Option(help="Step between windows in seconds.")] = 1.0,
    weights: Weights = None,
    roi: RoiOption = "face",
    min_quality: MinQuality = 0.0,
    adapt: Adapt = True,
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
                err().print(f"skipped {outcome.recording}: {outcome.error}", highlight=False)

        result = run_evaluate(dataset, root, names, out_dir, opts, reference, workers, tick)
    for level in ("video", "window"):
        out().print(styled((f"per {level}", "bold")), "(bpm, 95% CI)")
        for name, per_level in result.metrics.items():
            m = per_level[level]
            out().print(
                f"  {name:8} MAE {m['mae']}  RMSE {m['rmse']}  r {m['pearson_r']}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    if result.skipped:
        out().print(f"{len(result.skipped)} recordings skipped (see metrics.md)", highlight=False)
    out().print(f"results: {result.out_dir / 'metrics.md'}", highlight=False)


@app.command()
@user_errors
def train(
    config: Annotated[Path, typer.Argument(help="A YAML training config (see configs/).")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Config changes as section.key=value, e.g. train.epochs=3."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in log.out from last.pt.")] = False,
) -> None:
    """Train a network as a config describes; under torchrun, on several processes (DDP)."""
    from rppgkit.train import load_config
    from rppgkit.train import train as run_train

    cfg = load_config(config, overrides or [])
    result = run_train(cfg, resume, on_progress=lambda line: err().print(line, highlight=False))
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only the first process reports
    if result.best_epoch > 0:
        best = result.history[result.best_epoch - 1]
        out().print(
            f"best epoch {result.best_epoch}: val MAE {best['val_mae']:.2f} bpm, "
            f"val loss {best['val_loss']:.4f}",
            highlight=False,
        )
    if result.test is not None:
        out().print(
            f"test ({result.test.clips} clips, best.pt): MAE {result.test.mae:.2f} bpm",
            highlight=False,
        )
    out().print(f"checkpoints: {result.out / 'best.pt'}, {result.out / 'last.pt'}", highlight=False)


@app.command()
@user_errors
def search(
    config: Annotated[Path, typer.Argument(help="A YAML search config (configs/autohr-search-*).")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Config changes as section.key=value, e.g. train.epochs=3."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the search in log.out.")] = False,
) -> None:
    """Search AutoHR's cell architecture; write genotype.yaml and cells.png into log.out."""
    from rppgkit.models.autohr.search import search as run_search
    from rppgkit.train import load_config

    cfg = load_config(config, overrides or [])
    result = run_search(cfg, resume, on_progress=lambda line: err().print(line, highlight=False))
    if os.environ.get("RANK", "0") != "0":
        return
    out().print(
        f"genotype: {result.genotype_file} (drawn in {result.figure_file})", highlight=False
    )
    out().print(
        "retrain it as model.options.genotype of an autohr config (docs/methods/autohr.md)",
        highlight=False,
    )


@app.command()
@user_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint from `rppgkit train`.")],
    onnx: Annotated[
        Path | None, typer.Option(help="Write ONNX here (default: beside the checkpoint).")
    ] = None,
) -> None:
    """Export a trained network to ONNX and check onnxruntime gives the same output."""
    from rppgkit.models.export import export_onnx

    target = onnx or checkpoint.with_suffix(".onnx")
    report = export_onnx(checkpoint, target)
    out().print(
        f"{target}: input {report.input_shape}, onnxruntime vs PyTorch max |diff| "
        f"{report.max_abs_diff:.2e}",
        highlight=False,
    )


@app.command()
@user_errors
def compress(
    source: Annotated[Path, typer.Argument(help="A video file or a folder of frames.")],
    target: Annotated[Path, typer.Argument(help="Output video (.mkv, .mp4; .avi for mpeg4).")],
    codec: Annotated[str, typer.Option(help="x264, x265 or mpeg4.")] = "x264",
    bitrate: Annotated[str | None, typer.Option(help="Target bitrate, e.g. 250k or 1M.")] = None,
    crf: Annotated[int | None, typer.Option(help="Constant quality (x264/x265), 0-51.")] = None,
) -> None:
    """Re-encode a video at a bitrate or quality, keeping its frame timestamps."""
    from rppgkit.video.compress import compress as run_compress
    from rppgkit.video.compress import lossy_codec, parse_bitrate
    from rppgkit.video.reader import open_video

    chosen = lossy_codec(codec, parse_bitrate(bitrate) if bitrate else None, crf)
    total = open_video(source).info.n_frames
    with progress_bar(f"encoding {source.name}", total) as tick:
        path = run_compress(source, target, chosen, on_frame=tick)
    duration = open_video(path).info.duration_s or 1.0
    out().print(
        f"wrote {path}: {path.stat().st_size * 8 / duration / 1000:.0f} kb/s", highlight=False
    )


@app.command()
@user_errors
def enhance(
    source: Annotated[Path, typer.Argument(help="A (compressed) face video.")],
    target: Annotated[Path, typer.Argument(help="Output .mkv (lossless FFV1).")],
    weights: Annotated[
        Path | None,
        typer.Option(help="A stven or stven+rppgnet checkpoint (default: the shipped one)."),
    ] = None,
    detector: Annotated[str, typer.Option(help="Face detector: yunet or haar.")] = "yunet",
) -> None:
    """Restore a compressed video's face with STVEN and write the face crops losslessly."""
    from rppgkit.models.method import first_with
    from rppgkit.models.rppgnet.enhance import enhance_video
    from rppgkit.models.zoo import weights_or_shipped

    ckpt = weights_or_shipped(weights, first_with("enhancer").name)
    with progress_bar(f"enhancing {source.name}", None) as tick:
        done = enhance_video(source, target, ckpt, detector, on_window=tick)
    out().print(
        f"wrote {done.path}: {done.frames} frames of {done.size}x{done.size} px at "
        f"{done.fps:g} fps",
        highlight=False,
    )


@app.command()
@user_errors
def adapt(
    videos: Annotated[
        list[Path],
        typer.Argument(help="Videos (or frame folders) of one person or camera; no reference."),
    ],
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="The adapted checkpoint to write (.pt).")
    ],
    method: Method = "meta-rppg",
    weights: Weights = None,
    fps: Annotated[float | None, typer.Option(help="Override the frame rate of the files.")] = None,
    detector: Annotated[str, typer.Option(help="Face detector: yunet or haar.")] = "yunet",
    roi: RoiOption = "face",
) -> None:
    """Adapt a transductive network (meta-rppg) to unlabelled videos of a person or camera, and
    save it for `measure --weights`."""
    from rppgkit.models.adaptation import adapt_checkpoint
    from rppgkit.models.zoo import weights_or_shipped

    ckpt = weights_or_shipped(weights, method)
    count = itertools.count()
    with progress_bar(f"cropping the faces of {len(videos)} videos", len(videos)) as tick:
        done = adapt_checkpoint(
            ckpt, videos, out_file, method.lower(), detector, fps, roi, lambda _: tick(next(count))
        )
    out().print(
        f"wrote {done.path}: {done.method} adapted to {done.videos} video(s), which took "
        f"{done.seconds:.1f} s; use it with: rppgkit measure VIDEO -m {done.method} "
        f"--weights {done.path}",
        highlight=False,
    )


@app.command()
@user_errors
def anonymize(
    source: Annotated[Path, typer.Argument(help="A face video.")],
    target: Annotated[Path, typer.Argument(help="Output .mkv (lossless FFV1, audio kept).")],
    target_hr: Annotated[
        float | None, typer.Option(help="Make the video carry a pulse at this rate (bpm).")
    ] = None,
    target_signal: Annotated[
        Path | None, typer.Option(help="...or this waveform: a CSV with time_s and pulse.")
    ] = None,
    random: Annotated[bool, typer.Option("--random", help="...or a random plausible one.")] = False,
    seed: Annotated[int | None, typer.Option(help="Seed of --random.")] = None,
    estimator: Annotated[
        str | None,
        typer.Option(help="The frozen network to edit through (default: physnet)."),
    ] = None,
    weights: Annotated[
        Path | None, typer.Option(help="Its checkpoint (default: the one rppgkit ships).")
    ] = None,
    lam: Annotated[
        float, typer.Option("--lambda", help="Weight of the change to the original.")
    ] = 0.1,
    steps: Annotated[int, typer.Option(help="Optimisation steps per window.")] = 100,
    lr: Annotated[float, typer.Option(help="Adam step in grey levels.")] = 1.0,
    rhythm: Annotated[
        float,
        typer.Option(help="Weight against colour changes neither pulse explains (0: paper)."),
    ] = 1.0,
    report: Annotated[
        bool, typer.Option(help="Write OUT.report.json/.md: PSNR, SSIM, HR by other readers.")
    ] = True,
    detector: Annotated[str, typer.Option(help="Face detector: yunet or haar.")] = "yunet",
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
    out().print(
        f"wrote {done.path}: {done.frames} frames, {done.windows} windows through {estimator} "
        f"(r with the target {done.final_pearson:.2f}) in {done.seconds:.0f} s",
        highlight=False,
        soft_wrap=True,
    )
    if report:
        wanted = done.target
        with progress_bar("reading the heart rate of both videos", None):
            rep = edit_report(
                source, target, wanted.source, wanted.hr_bpm, independent_readers(estimator)
            )
        where = target.with_name(target.stem + ".report.json")
        rep.save(where)
        out().print(rep.markdown(), highlight=False, soft_wrap=True)
        out().print(f"report: {where}", highlight=False)


@app.command()
@user_errors
def ladder(
    root: Annotated[Path, typer.Argument(help="The dataset's folder (or manifest CSV).")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset format.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    levels: Annotated[
        str, typer.Option(help="Comma-separated codec:bitrate or codec:crfN levels.")
    ] = "",
    workers: Annotated[int, typer.Option(help="Videos encoded in parallel.")] = 1,
) -> None:
    """Write every video of a dataset at several compression levels, with an index."""
    from rppgkit.datasets.ladder import DEFAULT_LEVELS, build_ladder, parse_levels

    check("--workers", workers, COUNT)
    chosen = parse_levels(levels or DEFAULT_LEVELS)
    count = itertools.count()
    with progress_bar(f"encoding {len(chosen) - 1} levels", None) as tick:
        index = build_ladder(dataset, root, out_dir, chosen, lambda *_: tick(next(count)), workers)
    out().print(
        f"wrote {index}; evaluate it with: rppgkit evaluate {out_dir} -d ladder",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
@user_errors
def datasets() -> None:
    """List the dataset formats that evaluate and train read."""
    from rppgkit.datasets import DATASETS

    for name, loader in DATASETS.items():
        doc = (loader.__doc__ or "").strip().splitlines()
        out().print(styled((f"{name:10}", "bold")), doc[0] if doc else "")


@app.command()
@user_errors
def methods() -> None:
    """List the available estimators."""
    from rppgkit.estimators import describe

    methods = describe()
    width = max(len(name) for name, _ in methods)
    for name, description in methods:
        out().print(styled((f"{name:{width}}", "bold")), description)


@app.command()
@user_errors
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the video and its ground truth.")],
    duration: Annotated[float, typer.Option(help="Seconds.")] = 30.0,
    fps: float = 30.0,
    width: int = 640,
    height: int = 480,
    hr: Annotated[float, typer.Option(help="Mean heart rate (bpm).")] = 72.0,
    skin_tone: Annotated[
        int, typer.Option(help="Fitzpatrick-like tone 1 (light) to 6 (dark).")
    ] = 3,
    motion: Annotated[
        float, typer.Option(help="Head motion: 0 still, 1 moderate, 2 strong.")
    ] = 0.0,
    lighting: Annotated[float, typer.Option(help="Illumination change: 0 none to 2 strong.")] = 0.0,
    noise: Annotated[float, typer.Option(help="Camera noise, std in 8-bit levels.")] = 2.0,
    face: Annotated[
        str, typer.Option(help="drawn (procedural) or astronaut (a real photo).")
    ] = "drawn",
    seed: int = 0,
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
    out().print(f"wrote {paths['video']} and its ground truth in {out_dir}", highlight=False)


@app.command()
@user_errors
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "rppgkit-demo"
    ),
    method: Method = "pos",
) -> None:
    """Make a synthetic face video with a known pulse, measure it and compare."""
    import json

    from rppgkit.pipeline import Options
    from rppgkit.synth import SynthConfig, write_synth

    opts = Options(method=method)
    opts.validate()  # an unknown method fails before 30 s of rendering
    cfg = SynthConfig(duration_s=30.0, hr_bpm=75.0, motion=0.5, lighting=0.5, seed=7)
    with progress_bar("rendering a 30 s synthetic video", cfg.n_frames) as tick:
        paths = write_synth(cfg, out_dir / "video", on_frame=tick)
    truth = json.loads(paths["meta"].read_text())["mean_hr_bpm"]
    _measure_one(paths["video"], opts, out_dir / "result")
    summary = json.loads((out_dir / "result" / "summary.json").read_text())
    err_bpm = summary["hr_bpm"] - truth
    out().print(
        styled(
            (
                f"true HR {truth:.1f} bpm, measured {summary['hr_bpm']:.1f} bpm "
                f"(error {err_bpm:+.1f} bpm)",
                "bold",
            )
        )
    )


@app.command()
@user_errors
def live(
    source: Annotated[
        str,
        typer.Argument(
            help="A camera index (0: the first camera), a stream URL (rtsp://, http(s)://) or a "
            "video FILE, played at its real rate as if a camera filmed it."
        ),
    ] = "0",
    method: Annotated[
        str,
        typer.Option("--method", "-m", help="A training-free method: pos, chrom, green, ..."),
    ] = "pos",
    window: Annotated[
        float, typer.Option(help="Heart-rate window in seconds; no HR until a whole one is seen.")
    ] = 10.0,
    every: Annotated[float, typer.Option(help="Seconds between readings.")] = 1.0,
    detector: Annotated[str, typer.Option(help="Face detector: yunet or haar.")] = "yunet",
    roi: RoiOption = "face",
    jsonl: Annotated[
        Path | None,
        typer.Option(
            help="Also write each reading to this file as a JSON line, written whole and flushed "
            "at once, so another program can follow the file as it grows.",
            dir_okay=False,
        ),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            help="Also write each reading to this file as a CSV row (after a header), written "
            "whole and flushed at once, so another program can follow the file as it grows.",
            dir_okay=False,
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (of the stream's time).")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Play a FILE this many times faster than its real rate.")
    ] = 1.0,
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
                    err().print(
                        f"live heart rate of {hidden_password(source)} ({method}, {window:g} s "
                        "window); Ctrl-C stops",
                        highlight=False,
                    )
                log.write(reading)
                out().print(format_reading(reading, window), highlight=False)
        except KeyboardInterrupt:
            err().print("stopped", highlight=False)
