"""Speed and memory of `rppgkit measure` on 640x480 H.264 face video.

Reports, for a 60 s and a 10 min synthetic face video encoded with libx264:
- the decode-only rate of the file (PyAV with threads, frames converted to RGB arrays, which is
  the least any pipeline must do), measured in the same run;
- the frame rate of `rppgkit measure` while it streams the video (decoding, face tracking, skin
  segmentation, colour averaging: the part that grows with the video's length, as the command
  itself reports it in summary.json), and its ratio to the decode-only rate;
- the wall time of the whole command, which adds a fixed ~4 s of start-up (imports), analysis
  and report writing;
- the peak resident memory of the `rppgkit measure` process.

Usage: python benchmarks/measure_speed.py [--minutes 1 10] [--repeat 3] [--work DIR]

The 2-core machine this runs on is shared and its speed wanders by 10-20% between runs, so each
figure is the median of `--repeat` runs, with decode-only and measure runs interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av

from rppgkit.synth import SynthConfig, write_synth
from rppgkit.video.writer import Codec

H264 = Codec("libx264", "yuv420p", {"crf": "18", "preset": "veryfast"})


def make_video(minutes: float, work: Path) -> Path:
    """A 640x480 H.264 (in Matroska) synthetic face video with head motion and lighting change."""
    folder = work / f"synth_{minutes:g}min"
    if not (folder / "meta.json").exists():
        cfg = SynthConfig(
            duration_s=60 * minutes, hr_bpm=72, motion=1.0, lighting=1.0, face="astronaut", seed=1
        )
        write_synth(cfg, folder, codec=H264, masks=False)
    return folder / "video.mkv"


def decode_rate(path: Path) -> tuple[int, float]:
    """Frames and frames per second of a bare PyAV decode to RGB arrays."""
    start = time.perf_counter()
    n = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
            n += 1
    return n, n / (time.perf_counter() - start)


def measure_run(path: Path, out: Path) -> tuple[float, float, float]:
    """Wall time (s), frame-processing rate (frames/s) and peak RSS (MB) of one
    `rppgkit measure` process."""
    cmd = [sys.executable, "-m", "rppgkit", "measure", str(path), "-o", str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"rppgkit measure failed: {proc.stderr.read().decode()}")
    processing = json.loads((out / "summary.json").read_text())["frames_per_s"]
    return wall, processing, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/speed"))
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each measurement; medians are reported"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in args.minutes:
        video = make_video(minutes, args.work)
        runs = []
        for _ in range(args.repeat):  # alternate the two so a noisy neighbour hits both alike
            frames, decode_fps = decode_rate(video)
            runs.append((decode_fps, *measure_run(video, args.work / f"result_{minutes:g}min")))
        decode_fps, wall, processing, peak_mb = (statistics.median(r) for r in zip(*runs))
        truth = json.loads((video.parent / "meta.json").read_text())["mean_hr_bpm"]
        summary = json.loads((args.work / f"result_{minutes:g}min" / "summary.json").read_text())
        row = {
            "video_min": minutes,
            "frames": frames,
            "decode_fps": round(decode_fps, 1),
            "measure_fps": processing,
            "ratio": round(processing / decode_fps, 3),
            "end_to_end_s": round(wall, 2),
            "end_to_end_fps": round(frames / wall, 1),
            "peak_rss_mb": round(peak_mb, 1),
            "true_hr_bpm": round(truth, 1),
            "measured_hr_bpm": summary["hr_bpm"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        "\n| video | frames | decode-only fps | measure fps | ratio "
        "| whole command (s) | whole command fps | peak RSS (MB) | HR true / measured |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['video_min']:g} min | {r['frames']} | {r['decode_fps']} | {r['measure_fps']} "
            f"| {r['ratio']} | {r['end_to_end_s']} | {r['end_to_end_fps']} | {r['peak_rss_mb']} "
            f"| {r['true_hr_bpm']} / {r['measured_hr_bpm']} |"
        )
    (args.work / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
