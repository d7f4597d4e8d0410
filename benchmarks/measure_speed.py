"""Speed and memory of the whole `rppgkit measure` command against the decode floor.

What it measures, each command in its own process (wall time, CPU time user+sys and peak RSS
from `os.wait4`), with the compared processes run alternately `--repeat` times and medians
reported:

- whole: `python -m rppgkit measure VIDEO -o DIR` (POS, report included) against decode-only
  (a Python process that opens the file with PyAV, threads AUTO, and converts every frame to
  an RGB array, nothing else) on a 60 s 640x480 synthetic H.264 video (CRF 18, ~0.6 Mbit/s)
  and the same frames at a camera-like 12 Mbit/s. Targets: wall <= 1.15x, CPU <= 1.5x.
  First result: on a 12 s clip, the whole command against the decode time plus a bare
  interpreter start (`python -c pass`). Target <= 1.5x.
- startup: `rppgkit --help` and `rppgkit methods` minus `python -c pass`. Target <= 0.3 s.
- memory: peak RSS of `measure` (POS) on the 60 s video, a 4K (3840x2160) 12 s clip and, with
  `--long`, a `--minutes` (10) minute video. Target < 200 MB for classic methods.
- neural: `measure -m NET` on the 60 s video for every network that ships weights: wall,
  frames/s of the whole command, peak RSS and, where summary.json has `timings`, the network's
  share.
- live: `rppgkit live VIDEO --jsonl OUT` latency and dropped frames, where that command exists.

Usage: python benchmarks/measure_speed.py [--repeat 5] [--work DIR] [--long [--minutes 10]]
       [--skip-neural] [--only {whole,startup,memory,neural,live} ...]

Videos are cached under `--work`; results go to WORK/results.json (merged per section). The
2-core machine this runs on is shared, so single figures wander by 10-20%: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from rppgkit.synth import SynthConfig, write_synth
from rppgkit.video.compress import compress
from rppgkit.video.reader import open_video
from rppgkit.video.writer import Codec, VideoWriter

H264 = Codec("libx264", "yuv420p", {"crf": "18", "preset": "veryfast"})
CAMERA = Codec(
    "libx264", "yuv420p", {"preset": "medium", "maxrate": "12M", "bufsize": "24M"}, 12_000_000
)
RPPGKIT = [sys.executable, "-m", "rppgkit"]
_SCRIPT = Path(sys.executable).with_name("rppgkit")  # the console script a user types
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else RPPGKIT
TARGETS = {"wall": 1.15, "cpu": 1.5, "first": 1.5, "startup_s": 0.3, "classic_rss_mb": 200}
SECTIONS = ("whole", "startup", "memory", "neural", "live")

# decode-only: the least any pipeline must do; prints frames, import seconds, decode seconds
DECODE_ONLY = """
import sys, time
t0 = time.perf_counter()
import av
t1 = time.perf_counter()
n = 0
with av.open(sys.argv[1]) as container:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    for frame in container.decode(stream):
        frame.to_ndarray(format="rgb24")
        n += 1
print(n, t1 - t0, time.perf_counter() - t1)
"""


# Starts one measured command and reports on it. A small process of its own, because a child's
# peak RSS (ru_maxrss) includes its parent's peak RSS at the fork, inherited until exec: spawned
# straight from this script (which renders and decodes video) every command would show this
# script's hundreds of MB. Here the floor is this launcher's ~10 MB. The wall time runs from the
# spawn to the exit; CPU (user+sys) and peak RSS come from wait4 and are the command's own, plus
# any children it waited for. Arguments: stdout file, stderr file, report file, time limit in
# seconds (0: none), the command.
LAUNCHER = """
import json, os, signal, sys, time
out, err, report, limit, *cmd = sys.argv[1:]
fds = [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) for p in (out, err)]
actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
           (os.POSIX_SPAWN_DUP2, fds[0], 1), (os.POSIX_SPAWN_DUP2, fds[1], 2)]
start = time.perf_counter()
pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=actions)
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
signal.alarm(int(limit))
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
signal.alarm(0)
code = os.waitstatus_to_exitcode(status)
killed = "SIGKILL (time limit or out of memory)"
with open(report, "w") as file:
    json.dump({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
               "rss_mb": usage.ru_maxrss / 1024, "exit": code,
               "status": killed if code == -9 else code}, file)
"""


# ---------------------------------------------------------------------------- videos


def make_video(minutes: float, work: Path) -> Path:
    """A 640x480 H.264 (in Matroska) synthetic face video with head motion and lighting change."""
    folder = work / f"synth_{minutes:g}min"
    if not (folder / "meta.json").exists():
        log(f"rendering {folder} ...")
        cfg = SynthConfig(
            duration_s=60 * minutes, hr_bpm=72, motion=1.0, lighting=1.0, face="astronaut", seed=1
        )
        write_synth(cfg, folder, codec=H264, masks=False)
    return folder / "video.mkv"


def camera_like(source: Path, work: Path) -> Path:
    """The frames of `source` re-encoded as a camera would: H.264 at 12 Mbit/s, preset medium."""
    target = work / f"{source.parent.name}_12M" / "video.mkv"
    if not target.exists():
        log(f"encoding {target} at 12 Mbit/s ...")
        compress(source, target, CAMERA)  # atomic: the file appears only when complete
    return target


def make_4k(source: Path, work: Path) -> Path:
    """The frames of `source` upscaled 4.5x to 2880x2160 and pillarboxed to 3840x2160 (4K UHD;
    the aspect ratio is kept, so the face is not stretched), H.264 CRF 18."""
    target = work / f"{source.parent.name}_4k" / "video.mkv"
    if target.exists():
        return target
    log(f"encoding {target} ...")
    target.parent.mkdir(parents=True, exist_ok=True)
    big = np.zeros((2160, 3840, 3), np.uint8)
    video = open_video(source)
    with VideoWriter(target, video.info.fps, H264) as writer:
        for frame in video.frames():
            big[:, 480:3360] = cv2.resize(frame.rgb, (2880, 2160), interpolation=cv2.INTER_LINEAR)
            writer.write(big, frame.time_s)
    return target


def video_facts(path: Path) -> dict:
    """Size, duration and mean bitrate of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = container.duration / 1e6
        size = f"{stream.codec_context.width}x{stream.codec_context.height}"
    return {
        "size": size,
        "duration_s": round(duration, 2),
        "mbit_s": round(path.stat().st_size * 8 / duration / 1e6, 2),
    }


# ---------------------------------------------------------------------------- processes


class Failed(RuntimeError):
    """A measured command exited with an error (or was stopped at its time limit)."""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_process(cmd: list[str], timeout: float | None = None) -> dict:
    """Run `cmd` under LAUNCHER; its wall (s), CPU user+sys (s), peak RSS (MB) and stdout.

    Raises Failed on a non-zero exit (or the time limit), with the end of its stderr.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out, err, report = (Path(tmp) / name for name in ("out", "err", "report.json"))
        limit = str(round(timeout)) if timeout else "0"
        launch = [sys.executable, "-c", LAUNCHER, str(out), str(err), str(report), limit]
        subprocess.run([*launch, *cmd], check=True, stdin=subprocess.DEVNULL)
        run = json.loads(report.read_text())
        stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
    if run.pop("exit") != 0:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        name = " ".join(Path(a).name for a in cmd[:5] if "\n" not in a)
        raise Failed(f"{name} exited {run['status']}: {tail}")
    return {**run, "stdout": stdout}


def decode_only(video: Path) -> dict:
    """One decode-only process: wall, CPU, RSS, and its own frame count and decode seconds."""
    run = run_process([sys.executable, "-c", DECODE_ONLY, str(video)])
    frames, import_s, decode_s = run.pop("stdout").split()
    return {**run, "frames": int(frames), "import_s": float(import_s), "decode_s": float(decode_s)}


def measure(video: Path, out: Path, method: str = "pos", timeout: float | None = None) -> dict:
    """One `python -m rppgkit measure` process, with what its summary.json reports."""
    cmd = [*RPPGKIT, "measure", str(video), "-o", str(out)]
    run = run_process([*cmd, "-m", method] if method != "pos" else cmd, timeout)
    run.pop("stdout")
    summary = json.loads((out / "summary.json").read_text())
    return {
        **run,
        "frames": summary.get("n_frames"),
        "stream_fps": summary.get("frames_per_s"),
        "hr_bpm": summary.get("hr_bpm"),
        "timings": summary.get("timings"),
    }


def bare_python() -> dict:
    """One `python -c pass`: the interpreter's own start-up."""
    run = run_process([sys.executable, "-c", "pass"])
    run.pop("stdout")
    return run


def medians(runs: list[dict]) -> dict:
    """Per-key median of numeric fields; other fields from the last run."""
    out = dict(runs[-1])
    for key, value in runs[-1].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def alternate(repeat: int, *jobs) -> list[dict]:
    """Run each zero-argument job in turn, `repeat` rounds (so a noisy neighbour hits all
    alike); the median of each job's results."""
    results: list[list[dict]] = [[] for _ in jobs]
    for _ in range(repeat):
        for job, runs in zip(jobs, results):
            runs.append(job())
    return [medians(runs) for runs in results]


# ---------------------------------------------------------------------------- sections


def whole_figures(label: str, video: Path, repeat: int, work: Path) -> dict:
    """Whole `measure` command against decode-only on one video: medians and their ratios."""
    out = work / "runs" / label.replace(" ", "_")
    dec, meas = alternate(repeat, lambda: decode_only(video), lambda: measure(video, out))
    wall, cpu = meas["wall_s"] / dec["wall_s"], meas["cpu_s"] / dec["cpu_s"]
    return {
        "video": label,
        **video_facts(video),
        "frames": dec["frames"],
        "decode_wall_s": round(dec["wall_s"], 2),
        "measure_wall_s": round(meas["wall_s"], 2),
        "wall_ratio": round(wall, 3),
        "decode_cpu_s": round(dec["cpu_s"], 2),
        "measure_cpu_s": round(meas["cpu_s"], 2),
        "cpu_ratio": round(cpu, 3),
        "decode_rss_mb": round(dec["rss_mb"], 1),
        "measure_rss_mb": round(meas["rss_mb"], 1),
        "stream_fps": meas["stream_fps"],
        "hr_bpm": meas["hr_bpm"],
        "meets": wall <= TARGETS["wall"] and cpu <= TARGETS["cpu"],
    }


def first_result(label: str, video: Path, repeat: int, work: Path) -> dict:
    """Whole `measure` command on a short clip against decode + a bare interpreter start.

    The floor is the decode-only process's own decode time (open to last RGB array) plus the
    wall of `python -c pass`; the ratio to the decode-only process's whole wall plus that start
    (which counts the start twice) is kept too, as `ratio_vs_process`.
    """
    out = work / "runs" / label.replace(" ", "_")
    bare, dec, meas = alternate(
        repeat, bare_python, lambda: decode_only(video), lambda: measure(video, out)
    )
    floor = dec["decode_s"] + bare["wall_s"]
    ratio = meas["wall_s"] / floor
    return {
        "video": label,
        **video_facts(video),
        "python_start_s": round(bare["wall_s"], 3),
        "decode_s": round(dec["decode_s"], 2),
        "floor_s": round(floor, 2),
        "decode_process_wall_s": round(dec["wall_s"], 2),
        "measure_wall_s": round(meas["wall_s"], 2),
        "ratio": round(ratio, 3),
        "ratio_vs_process": round(meas["wall_s"] / (dec["wall_s"] + bare["wall_s"]), 3),
        "measure_cpu_s": round(meas["cpu_s"], 2),
        "measure_rss_mb": round(meas["rss_mb"], 1),
        "meets": ratio <= TARGETS["first"],
    }


def startup_figures(repeat: int) -> list[dict]:
    """Wall of `rppgkit --help` and `rppgkit methods` beyond a bare interpreter start."""
    commands = {"rppgkit --help": [*CLI, "--help"], "rppgkit methods": [*CLI, "methods"]}
    jobs = [bare_python] + [lambda c=cmd: run_process(c) for cmd in commands.values()]
    bare, *runs = alternate(repeat, *jobs)
    rows = []
    for name, run in zip(commands, runs):
        extra = run["wall_s"] - bare["wall_s"]
        rows.append(
            {
                "command": name,
                "wall_s": round(run["wall_s"], 3),
                "python_start_s": round(bare["wall_s"], 3),
                "startup_s": round(extra, 3),
                "cpu_s": round(run["cpu_s"], 3),
                "rss_mb": round(run["rss_mb"], 1),
                "meets": extra <= TARGETS["startup_s"],
            }
        )
    return rows


def memory_figures(videos: dict[str, Path], work: Path) -> list[dict]:
    """Peak RSS and wall of one `measure` (POS) run per video, with decode-only beside it."""
    rows = []
    for label, video in videos.items():
        dec = decode_only(video)
        meas = measure(video, work / "runs" / f"memory_{label.replace(' ', '_')}")
        rows.append(
            {
                "video": label,
                **video_facts(video),
                "frames": dec["frames"],
                "measure_rss_mb": round(meas["rss_mb"], 1),
                "measure_wall_s": round(meas["wall_s"], 2),
                "measure_cpu_s": round(meas["cpu_s"], 2),
                "decode_rss_mb": round(dec["rss_mb"], 1),
                "decode_wall_s": round(dec["wall_s"], 2),
                "meets": meas["rss_mb"] < TARGETS["classic_rss_mb"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def neural_methods() -> tuple[list[str], list[dict]]:
    """Networks listed by `rppgkit methods` that ship weights; the others as skipped rows."""
    listing = run_process([*RPPGKIT, "methods"])["stdout"]
    shipped, skipped = [], []
    for line in listing.splitlines():
        name = line.split(maxsplit=1)[0] if line.strip() else ""
        if "shipped weights" in line:
            shipped.append(name)
        elif "--weights" in line:
            skipped.append({"method": name, "note": "skipped: ships no weights (needs --weights)"})
    return shipped, skipped


def neural_figures(video: Path, work: Path, timeout: float = 3600) -> list[dict]:
    """Wall, whole-command frames/s, peak RSS and network share of each shipped network."""
    shipped, rows = neural_methods()
    for method in shipped:
        out = work / "runs" / f"neural_{method.replace('+', '_')}"
        try:
            run = measure(video, out, method, timeout)
        except Failed as error:
            rows.append({"method": method, "note": f"skipped: {error}"})
            continue
        timings = run["timings"] if isinstance(run["timings"], dict) else {}
        network = timings.get("network_s") if _number(timings.get("network_s")) else None
        rows.append(
            {
                "method": method,
                "frames": run["frames"],
                "wall_s": round(run["wall_s"], 1),
                "fps_whole": round(run["frames"] / run["wall_s"], 1) if run["frames"] else None,
                "cpu_s": round(run["cpu_s"], 1),
                "rss_mb": round(run["rss_mb"], 1),
                "network_s": network,
                "network_share": None if network is None else round(network / run["wall_s"], 3),
                "timings": timings or None,
                "hr_bpm": run["hr_bpm"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


# ---------------------------------------------------------------------------- live


def live_figures(video: Path, work: Path | None = None, timeout: float = 600) -> dict:
    """Latency and dropped frames of `rppgkit live VIDEO --jsonl OUT`, if the command exists.

    Reads from each JSON line `latency_s` (seconds from a frame's arrival to its result) and
    `dropped` (a running count, or true/false per line); either may be missing.
    """
    try:
        run_process([*RPPGKIT, "live", "--help"], timeout=60)
    except Failed:
        return {"video": video.parent.name, "status": "not available (no `rppgkit live`)"}
    folder = work or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "live.jsonl"
    try:
        run = run_process([*RPPGKIT, "live", str(video), "--jsonl", str(out)], timeout)
    except Failed as error:
        return {"video": video.parent.name, "status": f"failed: {error}"}
    lines = []
    for text in out.read_text().splitlines() if out.exists() else []:
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    records = [r for r in lines if isinstance(r, dict)]
    latency = [float(r["latency_s"]) for r in records if _number(r.get("latency_s"))]
    drops = [r["dropped"] for r in records if "dropped" in r]
    if drops and all(isinstance(d, bool) for d in drops):
        dropped = sum(drops)
    else:
        dropped = max((d for d in drops if _number(d)), default=None)
    return {
        "video": video.parent.name,
        "status": "ok",
        "lines": len(records),
        "wall_s": round(run["wall_s"], 2),
        "rss_mb": round(run["rss_mb"], 1),
        "latency_median_s": round(statistics.median(latency), 3) if latency else None,
        "latency_max_s": round(max(latency), 3) if latency else None,
        "dropped": dropped,
    }


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------- output

# fmt: off
COLUMNS = {
    "whole": [
        ("video", "video"), ("Mbit/s", "mbit_s"), ("frames", "frames"),
        ("decode wall (s)", "decode_wall_s"), ("measure wall (s)", "measure_wall_s"),
        ("wall ratio", "wall_ratio"), ("decode CPU (s)", "decode_cpu_s"),
        ("measure CPU (s)", "measure_cpu_s"), ("CPU ratio", "cpu_ratio"),
        ("decode RSS (MB)", "decode_rss_mb"), ("measure RSS (MB)", "measure_rss_mb"),
        ("meets", "meets"),
    ],
    "first": [
        ("video", "video"), ("python start (s)", "python_start_s"), ("decode (s)", "decode_s"),
        ("floor (s)", "floor_s"), ("measure wall (s)", "measure_wall_s"), ("ratio", "ratio"),
        ("ratio vs process", "ratio_vs_process"), ("meets", "meets"),
    ],
    "startup": [
        ("command", "command"), ("wall (s)", "wall_s"), ("python start (s)", "python_start_s"),
        ("start-up (s)", "startup_s"), ("RSS (MB)", "rss_mb"), ("meets", "meets"),
    ],
    "memory": [
        ("video", "video"), ("size", "size"), ("frames", "frames"),
        ("measure RSS (MB)", "measure_rss_mb"), ("measure wall (s)", "measure_wall_s"),
        ("decode RSS (MB)", "decode_rss_mb"), ("decode wall (s)", "decode_wall_s"),
        ("meets", "meets"),
    ],
    "neural": [
        ("method", "method"), ("wall (s)", "wall_s"), ("frames/s", "fps_whole"),
        ("RSS (MB)", "rss_mb"), ("network share", "network_share"), ("note", "note"),
    ],
    "live": [
        ("video", "video"), ("status", "status"), ("median latency (s)", "latency_median_s"),
        ("max latency (s)", "latency_max_s"), ("dropped", "dropped"),
    ],
}
# fmt: on


def table(name: str, rows: list[dict]) -> str:
    """A markdown table of `rows` with the columns of section `name`; blanks where missing."""
    cols = COLUMNS[name]
    lines = ["| " + " | ".join(h for h, _ in cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        cells = ("" if row.get(key) is None else str(row[key]) for _, key in cols)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save(path: Path, sections: dict, args: argparse.Namespace) -> None:
    """Merge this run's sections into `path` (a JSON object), written atomically."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        results = {}
    if not isinstance(results, dict) or not isinstance(results.get("sections"), dict):
        results = {"sections": {}}
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for name, rows in sections.items():
        results["sections"][name] = {"when": stamp, "repeat": args.repeat, "rows": rows}
    results["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    results["targets"] = TARGETS
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="alternated runs; medians shown")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/speed"))
    parser.add_argument("--long", action="store_true", help="add a --minutes video to memory")
    parser.add_argument("--minutes", type=float, default=10, help="length of the --long video")
    parser.add_argument("--skip-neural", action="store_true")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    return parser.parse_args()


def run_sections(args: argparse.Namespace) -> dict[str, list[dict]]:
    """Every section asked for, its rows printed as JSON lines and a markdown table."""
    work, only = args.work, [s for s in args.only if not (args.skip_neural and s == "neural")]
    minute, clip = (lambda: make_video(1, work)), (lambda: make_video(0.2, work))  # on demand
    sections: dict[str, list[dict]] = {}

    def done(name: str, rows: list[dict]) -> None:
        sections[name] = rows
        print(f"\n{name}:\n{table(name, rows)}\n", flush=True)

    if "startup" in only:
        done("startup", startup_figures(args.repeat))
    if "whole" in only:
        rows = []
        videos = {"60 s CRF 18": minute(), "60 s 12 Mbit/s": camera_like(minute(), work)}
        for label, video in videos.items():
            rows.append(whole_figures(label, video, args.repeat, work))
            print(json.dumps(rows[-1]), flush=True)
        done("whole", rows)
        row = first_result("12 s CRF 18", clip(), args.repeat, work)
        print(json.dumps(row), flush=True)
        done("first", [row])
    if "memory" in only:
        videos = {"60 s": minute(), "4K 12 s": make_4k(clip(), work)}
        if args.long:
            videos[f"{args.minutes:g} min"] = make_video(args.minutes, work)
        done("memory", memory_figures(videos, work))
    if "neural" in only:
        done("neural", neural_figures(minute(), work))
    if "live" in only:
        row = live_figures(minute(), work / "runs" / "live")
        print(json.dumps(row), flush=True)
        done("live", [row])
    return sections


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sections = run_sections(args)
    save(args.work / "results.json", sections, args)


if __name__ == "__main__":
    main()
