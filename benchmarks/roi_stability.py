"""How steady and how faithful the face region is: the tracker and skin mask against the truth.

On synthetic test videos (rendered by `train_physnet.py`, or any `synthetic` dataset folders) it
runs rppgkit's face path (`extract_trace`) and reports per video:
- `box_band_%`: RMS of the tracked box centre minus the true centre, band-passed to the pulse
  band (0.6-3 Hz), in % of the true box width. This is the part of box motion a pulse estimator
  or a neural network's crops cannot tell from a pulse.
- `box_off_%`: RMS of the same difference unfiltered (how far off the box is at all);
- `pos_hits`: 10 s windows (1 s step) where POS on the trace is within 5 bpm of the truth;
- `pos_mae`: the per-window MAE of POS in bpm.

Usage: python benchmarks/roi_stability.py [FOLDER ...]
       (default: benchmarks/out/physnet/data/test/{tone-6,motion-2,baseline})
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rppgkit import dsp
from rppgkit.estimators import create
from rppgkit.pulse.heart_rate import sliding_heart_rate
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import open_video

DEFAULT = [Path("benchmarks/out/physnet/data/test") / c for c in ("tone-6", "motion-2", "baseline")]
BAND_HZ = (0.6, 3.0)


def video_figures(folder: Path) -> dict[str, float]:
    source = open_video(folder / "video.mkv")
    trace = extract_trace(source)
    fs = source.info.fps
    truth = np.genfromtxt(folder / "face_boxes.csv", delimiter=",", names=True)
    centre = np.stack([truth["x"] + truth["w"] / 2, truth["y"] + truth["h"] / 2], axis=1)
    boxes = trace.boxes.astype(float)
    tracked = boxes[:, :2] + boxes[:, 2:] / 2
    diff = (tracked - centre) / truth["w"][:, None]
    band = dsp.bandpass(diff - diff.mean(axis=0), fs, *BAND_HZ)
    _, rgb = dsp.resample_uniform(trace.times, trace.rgb, fs)
    pulse = create("pos")(rgb, fs)
    gt = np.genfromtxt(folder / "ground_truth.csv", delimiter=",", names=True)
    errors = []
    for w in sliding_heart_rate(pulse, fs):
        inside = (gt["time_s"] >= w.start_s) & (gt["time_s"] < w.end_s)
        errors.append(abs(w.bpm - gt["hr_bpm"][inside].mean()))
    errors = np.array(errors)
    return {
        "box_band_%": 100 * float(np.sqrt(np.mean(band**2) * 2)),
        "box_off_%": 100 * float(np.sqrt(np.mean((diff - diff.mean(axis=0)) ** 2) * 2)),
        "pos_hits": int(np.sum(errors < 5.0)),
        "windows": len(errors),
        "pos_mae": float(errors.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    for folder in args.folders:
        rows = {f"{folder.name}/{v.name}": video_figures(v) for v in sorted(folder.glob("s*"))}
        results |= rows
        hits = sum(r["pos_hits"] for r in rows.values())
        total = sum(r["windows"] for r in rows.values())
        band = np.mean([r["box_band_%"] for r in rows.values()])
        mae = np.mean([r["pos_mae"] for r in rows.values()])
        for name, r in rows.items():
            print(
                f"{name:14s} band {r['box_band_%']:.2f}%  off {r['box_off_%']:.2f}%  "
                f"POS {r['pos_hits']}/{r['windows']}  MAE {r['pos_mae']:.2f}"
            )
        print(f"{folder.name}: band {band:.2f}%  POS {hits}/{total}  MAE {mae:.2f}", flush=True)
    print(f"{time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
