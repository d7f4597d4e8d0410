"""Evaluate methods over a dataset: traces cached, videos in parallel, resumable.

Layout of the output folder:
- `traces/<key>.npz`: the face/skin-colour trace of each video, keyed by the file and the face
  settings (and the region, with --roi frame), so evaluating another method costs only the
  analysis;
- `results/<method>/<recording>.json`: windows and whole-video HR against the reference, written
  atomically as each one finishes, so an interrupted run resumes where it stopped; each holds
  every setting it was made with, and one made with other settings is made again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgkit.datasets import Recording, Reference
from rppgkit.errors import RppgError, VideoError
from rppgkit.estimators import reads_crops
from rppgkit.evaluate.records import Result, WindowResults
from rppgkit.evaluate.reference import ReferenceSource, reference_hr
from rppgkit.fileio import content_key, ensure_dir, inside, write_json
from rppgkit.parallel import process_pool
from rppgkit.pipeline import Measurement, Options, analyse
from rppgkit.trace.extract import (
    FACE_PATH_VERSION,
    Trace,
    extract_trace,
    load_trace,
    save_trace,
)
from rppgkit.video.reader import open_video

# what reading a damaged cached trace (cut short, overwritten) raises
DAMAGED = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class Outcome:
    """What happened to one recording: the methods evaluated now, or why it was skipped."""

    recording: str
    done: tuple[str, ...] = ()
    cached: tuple[str, ...] = ()  # results already on disk from an earlier run
    error: str | None = None


def evaluate_recordings(
    recordings: Iterable[Recording],
    methods: list[str],
    out_dir: str | os.PathLike,
    options: Options | None = None,
    reference: ReferenceSource = "spectral",
    workers: int = 1,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Write one result file per recording and method under `out_dir/results`."""
    opts = options or Options()
    if not methods:
        raise RppgError("no method named; give one or more with -m, e.g. -m pos,chrom")
    for method in methods:
        for_method(opts, method).validate()
    recordings = list(recordings)
    _check_result_names([r.id for r in recordings], Path(out_dir))
    out = ensure_dir(out_dir)
    jobs = [(rec, methods, out, opts, reference) for rec in recordings]
    outcomes = []
    if workers <= 1:
        for job in jobs:
            outcomes.append(_run_one(*job))
            if on_outcome:
                on_outcome(outcomes[-1])
        return outcomes
    with process_pool(workers) as pool:
        for future in as_completed([pool.submit(_run_one, *job) for job in jobs]):
            outcomes.append(future.result())
            if on_outcome:
                on_outcome(outcomes[-1])
    return outcomes


def result_path(out: Path, method: str, recording_id: str) -> Path:
    """Where the result of `method` on a recording is stored.

    Raises
    ------
    RppgError
        If the recording's id cannot be a file name there (NUL, over 255 bytes).
    """
    return inside(out / "results" / method, _result_name(recording_id), "recording id")


def _check_result_names(recording_ids: list[str], out: Path) -> None:
    """Refuse, before any work, ids that cannot name a result file or that share one (`x/y`
    and `x__y`): one recording would never be evaluated and the other counted twice."""
    owner: dict[str, str] = {}
    for rid in recording_ids:
        name = inside(out / "results", _result_name(rid), "recording id").name
        if name in owner:
            raise RppgError(
                f"recording ids {owner[name]!r} and {rid!r} would share the result file {name}; "
                "give them ids that differ in more than '/' and '__'"
            )
        owner[name] = rid


def _result_name(recording_id: str) -> str:
    return f"{recording_id.replace('/', '__')}.json"


def for_method(opts: Options, method: str) -> Options:
    """The options for one method: weights go only to the neural ones."""
    neural = reads_crops(method)
    return dataclasses.replace(opts, method=method, weights=opts.weights if neural else None)


def _weights_id(opts: Options) -> str | None:
    """Which trained weights a result came from (file and modification time)."""
    if opts.weights is None:
        return None
    p = Path(opts.weights).resolve()
    return f"{p}@{p.stat().st_mtime_ns}"


def _settings(opts: Options, method: str, source: ReferenceSource) -> dict[str, object]:
    """Every setting a result of `method` depends on, as stored in its file: the options (with
    the weights' file and time), the reference and the face path's version. A result made with
    any other setting (another --window, --step, --reference, ...) is made again."""
    chosen = for_method(opts, method)
    settings = dataclasses.asdict(chosen) | {
        "weights": _weights_id(chosen),
        "reference": source,
        "face_path": FACE_PATH_VERSION,
    }
    return json.loads(json.dumps(settings))  # as read back: tuples become lists


def _done(path: Path, settings: dict[str, object]) -> bool:
    """A result exists and was made with the same settings."""
    try:
        made = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(made, dict) and all(made.get(k) == v for k, v in settings.items())


def _run_one(
    rec: Recording, methods: list[str], out: Path, opts: Options, source: ReferenceSource
) -> Outcome:
    settings = {m: _settings(opts, m, source) for m in methods}
    todo = [m for m in methods if not _done(result_path(out, m, rec.id), settings[m])]
    cached = tuple(m for m in methods if m not in todo)
    if not todo:
        return Outcome(rec.id, cached=cached)
    try:
        ref = rec.reference()
        trace = cached_trace(rec, opts, out / "traces", any(map(reads_crops, methods)))
        ref.check(float(trace.times[-1] - trace.times[0]))
        for method in todo:
            m = analyse(trace, for_method(opts, method))
            path = result_path(out, method, rec.id)
            ensure_dir(path.parent)
            write_json(path, _result(rec, m, ref, source, settings[method]).as_dict())
    except RppgError as exc:
        return Outcome(rec.id, cached=cached, error=str(exc))
    return Outcome(rec.id, done=tuple(todo), cached=cached)


def _result(
    rec: Recording,
    m: Measurement,
    ref: Reference,
    source: ReferenceSource,
    settings: dict[str, object],
) -> Result:
    """The record of measurement `m` of `rec` against its reference."""
    ref_windows, ref_whole = reference_hr(ref, m, source)
    return Result(
        recording=rec.id,
        subject=rec.subject,
        group=rec.group,
        video=str(rec.video),
        settings=settings,
        hr_bpm=_num(m.heart_rate.bpm),
        ref_hr_bpm=_num(ref_whole),
        snr_db=_num(m.heart_rate.snr_db),
        face_fraction=m.trace.face_fraction,
        windows=WindowResults(
            start_s=tuple(w.start_s for w in m.windows),
            end_s=tuple(w.end_s for w in m.windows),
            hr_bpm=tuple(_num(w.bpm) for w in m.windows),
            snr_db=tuple(_num(w.snr_db) for w in m.windows),
            quality=tuple(_num(w.quality_index) for w in m.windows),
            ref_hr_bpm=tuple(_num(v) for v in ref_windows),
        ),
    )


def _num(x: float) -> float | None:
    """JSON has no NaN: missing values are written as null."""
    return float(x) if np.isfinite(x) else None


def cached_trace(rec: Recording, opts: Options, folder: Path, for_crops: bool = False) -> Trace:
    """The recording's trace from the cache, or extracted now and cached; `for_crops` when a
    network will read crops cut at its boxes (`rppgkit.trace.extract_trace`'s `reads_crops`)."""
    video = rec.video.resolve()
    try:
        stat = video.stat()
    except OSError as exc:
        raise VideoError(f"{rec.video}: cannot read the video ({exc.strerror})") from None
    key = content_key(
        [
            FACE_PATH_VERSION,
            str(video),
            stat.st_size,
            stat.st_mtime_ns,
            rec.fps or opts.fps,
            opts.detector,
            opts.detect_every,
            opts.max_gap_s,
        ]
        + ([] if opts.roi == "face" else [opts.roi])  # face traces keep their keys
        + (["crops"] if for_crops else [])
    )
    path = folder / f"{key}.npz"
    if path.exists():
        try:
            return load_trace(path)
        except DAMAGED:
            path.unlink()  # a damaged cache entry (say, cut short) is just recomputed
    trace = extract_trace(
        open_video(rec.video, fps=rec.fps or opts.fps),
        opts.detector,
        opts.detect_every,
        opts.max_gap_s,
        roi=opts.roi,
        reads_crops=for_crops,
    )
    ensure_dir(folder)
    save_trace(trace, path)
    return trace


def load_results(out: Path, methods: list[str], recordings: list[str]) -> dict[str, list[Result]]:
    """The stored results of each method, for the given recordings, in their order.

    Parameters
    ----------
    out : Path
        The evaluation's output folder.
    methods, recordings : list[str]
        Method names and recording ids; a pair without a result file is left out.

    Returns
    -------
    dict[str, list[Result]]
        Per method, its results.
    """
    results: dict[str, list[Result]] = {}
    for method in methods:
        paths = [result_path(out, method, rid) for rid in recordings]
        results[method] = [Result.from_dict(json.loads(p.read_text())) for p in paths if p.exists()]
    return results
