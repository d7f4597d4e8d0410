"""Every pulse method on real face videos: heart rate, its SNR, agreement, and the error against
a contact reference where there is one.

Each sub-folder of the data folder (default `benchmarks/data/real/`) holds one real face video
(any container rppgkit reads), a `SOURCE.md` saying where it came from and under which licence,
and optionally its reference:
- `reference.csv` with columns `time_s,pulse`: a contact PPG (pulse oximeter) on the video's
  clock (0 s = first frame); its HR is `rppgkit.pulse.heart_rate` of the band-passed PPG over
  the span the video covers;
- `reference.json` with `{"hr_bpm": ...}`, where the source states only a heart rate.

Each video is decoded once (`extract_trace`). Every classic method (input kind "trace") then
analyses that trace with `rppgkit.pipeline.analyse`; the networks that rppgkit ships weights for
(input kind "clip") get face crops cut along the same face track (`analyse` decodes the video
again for those). Per method: the whole-video HR and its SNR, the mean HR and mean SNR of the
sliding windows (10 s, 1 s step), the error against the reference HR, and the time `analyse`
took. Per video: the median and spread (max - min) of the classic methods' whole-video HRs, which
says whether the methods agree when there is no reference.

Usage: python benchmarks/real_video.py [--data DIR] [--out DIR] [--no-neural]
Results: benchmarks/out/real/{results.md, results.json}
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from rppgkit import dsp
from rppgkit.errors import RppgError
from rppgkit.estimators import available, create, reads_crops
from rppgkit.models.zoo import shipped_weights
from rppgkit.pipeline import analyse
from rppgkit.pulse.heart_rate import heart_rate
from rppgkit.trace.extract import Trace, extract_trace
from rppgkit.video.reader import VIDEO_SUFFIXES, open_video

DATA = Path("benchmarks/data/real")
OUT = Path("benchmarks/out/real")
AGREE_BPM = 5.0  # classic methods "agree" when their whole-video HRs span at most this


def methods(neural: bool) -> list[str]:
    """Classic methods, then the networks that run with rppgkit's shipped weights."""
    names = sorted(available())
    classic = [n for n in names if create(n).input_kind == "trace"]
    nets = [n for n in names if create(n).input_kind == "clip" and shipped_weights(n)]
    return classic + (nets if neural else [])


def video_folders(data: Path) -> list[tuple[Path, Path]]:
    """(folder, video file) for every sub-folder of `data` that holds a video."""
    found = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES)
        if files:
            found.append((folder, files[0]))
    return found


def reference_hr(folder: Path, start_s: float, end_s: float) -> float | None:
    """The reference heart rate over the video's span, or None without a reference."""
    if (folder / "reference.json").exists():
        return float(json.loads((folder / "reference.json").read_text())["hr_bpm"])
    if not (folder / "reference.csv").exists():
        return None
    with open(folder / "reference.csv", newline="") as f:
        rows = [(float(r["time_s"]), float(r["pulse"])) for r in csv.DictReader(f)]
    t, x = np.array(rows).T
    inside = (t >= start_s) & (t <= end_s)
    t, x = t[inside], x[inside]
    fs = 1.0 / float(np.median(np.diff(t)))
    _, uniform = dsp.resample_uniform(t, x[:, None], fs)
    pulse = dsp.bandpass(uniform[:, 0], fs, *dsp.PULSE_BAND_HZ)
    return heart_rate(pulse, fs, dsp.PULSE_BAND_HZ).bpm


def method_row(trace: Trace, method: str, ref: float | None) -> dict:
    """One method's figures on one trace; an error message instead where it fails."""
    start = time.perf_counter()
    try:
        summary = analyse(trace, method=method).summary()
    except RppgError as exc:
        return {"method": method, "kind": create(method).input_kind, "error": str(exc)}
    hr = summary.hr_bpm
    return {
        "method": method,
        "kind": create(method).input_kind,
        "hr_bpm": hr,
        "snr_db": summary.hr_snr_db,
        "window_hr_bpm": summary.windows.hr_mean_bpm,
        "window_snr_db": summary.windows.snr_mean_db,
        "quality": summary.quality.index,
        "good_beats": f"{summary.beats.good}/{summary.beats.count}",
        "rmssd_ms": summary.hrv.rmssd_ms if summary.hrv else "refused",
        "error_bpm": None if ref is None else round(hr - ref, 2),
        "seconds": round(time.perf_counter() - start, 2),
    }


def agreement(rows: list[dict]) -> dict:
    """Median and spread of the classic methods' whole-video HRs."""
    hrs = [r["hr_bpm"] for r in rows if r["kind"] == "trace" and "hr_bpm" in r]
    if not hrs:
        return {"median_bpm": None, "spread_bpm": None, "agree": None}
    spread = max(hrs) - min(hrs)
    median = float(np.median(hrs))
    rest = sorted(hrs, key=lambda hr: abs(hr - median))[:-1] or hrs
    return {
        "median_bpm": round(median, 2),
        "spread_bpm": round(spread, 2),
        "spread_but_one_bpm": round(max(rest) - min(rest), 2),
        "min_bpm": min(hrs),
        "max_bpm": max(hrs),
        "agree": spread <= AGREE_BPM,
    }


def run_video(folder: Path, video: Path, names: list[str]) -> dict:
    """Decode `video` once, then run every method on its trace."""
    start = time.perf_counter()
    trace = extract_trace(open_video(video), reads_crops=any(map(reads_crops, names)))
    decode_s = time.perf_counter() - start
    ref = reference_hr(folder, float(trace.times[0]), float(trace.times[-1]))
    rows = []
    for name in names:
        rows.append(method_row(trace, name, ref))
        print(f"  {name}: {_cell(rows[-1].get('hr_bpm'))} bpm", flush=True)
    info = trace.info
    return {
        "name": folder.name,
        "video": str(video),
        "width": info.width,
        "height": info.height,
        "fps": round(info.fps, 3),
        "frames": trace.n_frames,
        "duration_s": round(float(trace.times[-1] - trace.times[0]), 2),
        "face_fraction": round(trace.face_fraction, 3),
        "decode_s": round(decode_s, 1),
        "reference_hr_bpm": None if ref is None else round(ref, 2),
        "rows": rows,
        "agreement": agreement(rows),
    }


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def video_table(result: dict) -> list[str]:
    """The markdown section of one video."""
    ref = result["reference_hr_bpm"]
    agree = result["agreement"]
    ref_text = "none" if ref is None else f"{ref:.2f} bpm"
    lines = [
        f"### {result['name']}",
        "",
        f"{result['width']}x{result['height']}, {result['fps']:.2f} fps (nominal), "
        f"{result['frames']} frames, {result['duration_s']} s, "
        f"face in {result['face_fraction']:.0%} of frames; reference HR: {ref_text}",
        "",
        "| method | kind | HR (bpm) | SNR (dB) | window HR mean (bpm) | window SNR mean (dB) "
        "| quality | good beats | RMSSD (ms) | error (bpm) | time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if "error" in r:
            reason = " ".join(r["error"].split()).replace("|", "/")
            lines.append(f"| {r['method']} | {r['kind']} | failed: {reason} |" + " |" * 8)
            continue
        keys = (
            "hr_bpm",
            "snr_db",
            "window_hr_bpm",
            "window_snr_db",
            "quality",
            "good_beats",
            "rmssd_ms",
            "error_bpm",
            "seconds",
        )
        cells = " | ".join(_cell(r[k]) for k in keys)
        lines.append(f"| {r['method']} | {r['kind']} | {cells} |")
    if agree["median_bpm"] is not None:
        verdict = "agree" if agree["agree"] else "disagree"
        lines += [
            "",
            f"Classic methods: median {agree['median_bpm']} bpm, spread {agree['spread_bpm']} bpm "
            f"({agree['min_bpm']}-{agree['max_bpm']}), {agree['spread_but_one_bpm']} bpm without "
            f"the one furthest from the median: they {verdict} (agree = spread at most "
            f"{AGREE_BPM:g} bpm).",
        ]
    return [*lines, ""]


def tables(results: list[dict]) -> str:
    lines = ["## Pulse methods on real face videos", ""]
    for result in results:
        lines += video_table(result)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of video folders")
    parser.add_argument("--out", type=Path, default=OUT, help="where results go")
    parser.add_argument("--no-neural", action="store_true", help="classic methods only")
    args = parser.parse_args()
    names = methods(neural=not args.no_neural)
    folders = video_folders(args.data) if args.data.is_dir() else []
    if not folders:
        raise SystemExit(f"no video folders under {args.data}")
    results = []
    for folder, video in folders:
        print(f"{folder.name}: {video.name}", flush=True)
        results.append(run_video(folder, video, names))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "results.md").write_text(tables(results))
    print(tables(results))


if __name__ == "__main__":
    main()
