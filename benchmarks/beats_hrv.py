"""Beats and HRV against known beat times: the synthetic suite and its compression ladder.

For every suite video (rendered by benchmarks/synthetic_suite.py, whose traces this reuses) the
true systolic peak times are recomputed from the video's meta.json; the method's pulse then goes
through rppgkit's beat detection (guided by the heart rate, rppgkit.pulse.beats) and, for
comparison, through Elgendi's detector as neurokit2 implements it (rppgkit's detector before
this one). Per condition it reports the beat count error per 30 s, the RMSSD and SDNN errors
(all beats and good beats), the pulse SNR and quality index, and for how many videos the HRV
gate lets HRV through, with its RMSSD error there. A second table gives the per-window HR error
by the windows' quality index.

`--calibrate` instead sweeps simulated RGB traces (no video; not the suite) over noise levels
and prints the RMSSD error against the beat-timing noise estimate: the validation data on which
the HRV gate's threshold (rppgkit.pulse.quality.MAX_TIMING_SD_MS) was chosen.

Usage: python benchmarks/beats_hrv.py [--work benchmarks/out/suite] [--method pos]
       python benchmarks/beats_hrv.py --calibrate
"""

from __future__ import annotations

import argparse
import itertools
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgkit.datasets import load_dataset
from rppgkit.errors import TooShortError
from rppgkit.estimators import create
from rppgkit.evaluate.run import cached_trace
from rppgkit.pipeline import Options, analyse
from rppgkit.pulse import detect_beats, heart_rate, hrv
from rppgkit.synth.generate import SynthConfig, synthesize
from rppgkit.synth.waveform import pulse_waveform

FS = 30.0


@dataclass(frozen=True)
class Row:
    """One video: beat counts, HRV errors and the gate's decision."""

    condition: str
    true_beats: int
    found: int
    elgendi_found: int
    duration_s: float
    rmssd_true: float
    rmssd_all: float
    rmssd_good: float
    rmssd_elgendi: float
    sdnn_true: float
    sdnn_good: float
    snr_db: float
    quality: float
    gated_rmssd: float  # NaN where the gate refused HRV


def _rmssd_sdnn(times_s: np.ndarray) -> tuple[float, float]:
    try:
        result = hrv(np.asarray(times_s) * 1000.0, 1000.0)
    except TooShortError:
        return float("nan"), float("nan")
    return result.rmssd_ms, result.sdnn_ms


def _elgendi(pulse: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(nk.ppg_findpeaks(pulse, sampling_rate=fs)["PPG_Peaks"]) / fs


def _true_beats(video: Path) -> np.ndarray:
    meta = json.loads((video.parent / "meta.json").read_text())
    return synthesize(SynthConfig(**meta["config"])).beat_times


def _row(condition: str, rec, method: str, traces: Path) -> Row:
    opts = Options(method=method)
    m = analyse(cached_trace(rec, opts, traces), opts)
    t0 = float(m.times[0])
    truth = _true_beats(rec.clean or rec.video)
    truth = truth[(truth >= t0) & (truth <= m.times[-1])]
    found = m.beats.times_s + t0
    elgendi = _elgendi(m.pulse, m.fs) + t0
    rmssd_true, sdnn_true = _rmssd_sdnn(truth)
    rmssd_good, sdnn_good = _rmssd_sdnn(found[m.beats.good])
    return Row(
        condition=condition,
        true_beats=truth.size,
        found=found.size,
        elgendi_found=elgendi.size,
        duration_s=float(m.times[-1] - m.times[0]),
        rmssd_true=rmssd_true,
        rmssd_all=_rmssd_sdnn(found)[0],
        rmssd_good=rmssd_good,
        rmssd_elgendi=_rmssd_sdnn(elgendi)[0],
        sdnn_true=sdnn_true,
        sdnn_good=sdnn_good,
        snr_db=m.heart_rate.snr_db,
        quality=m.quality.index,
        gated_rmssd=m.hrv.rmssd_ms if m.hrv is not None else float("nan"),
    )


def _table(rows: list[Row]) -> str:
    """Markdown: one line per condition, means over its videos."""
    lines = [
        "| condition | videos | beats/30 s error (rppgkit / Elgendi) | RMSSD error ms "
        "(good beats / all / Elgendi) | SDNN error ms | SNR dB | quality | HRV reported | "
        "RMSSD error where reported |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for condition in dict.fromkeys(r.condition for r in rows):
        group = [r for r in rows if r.condition == condition]

        def mean(values: list[float]) -> str:
            finite = [v for v in values if np.isfinite(v)]
            return f"{np.mean(finite):.1f}" if finite else "–"

        per30 = [30 * abs(r.found - r.true_beats) / r.duration_s for r in group]
        el30 = [30 * abs(r.elgendi_found - r.true_beats) / r.duration_s for r in group]
        reported = [r for r in group if np.isfinite(r.gated_rmssd)]
        lines.append(
            f"| {condition} | {len(group)} | {mean(per30)} / {mean(el30)} | "
            f"{mean([abs(r.rmssd_good - r.rmssd_true) for r in group])} / "
            f"{mean([abs(r.rmssd_all - r.rmssd_true) for r in group])} / "
            f"{mean([abs(r.rmssd_elgendi - r.rmssd_true) for r in group])} | "
            f"{mean([abs(r.sdnn_good - r.sdnn_true) for r in group])} | "
            f"{mean([r.snr_db for r in group])} | {mean([r.quality for r in group])} | "
            f"{len(reported)}/{len(group)} | "
            f"{mean([abs(r.gated_rmssd - r.rmssd_true) for r in reported])} |"
        )
    return "\n".join(lines)


def quality_table(work: Path, method: str) -> str:
    """Per-window HR error of ``method`` by quality index, over every suite and ladder window
    that benchmarks/synthetic_suite.py evaluated (its results/ JSON files)."""
    hr, ref, index = [], [], []
    for path in sorted(work.glob(f"eval/*/results/{method}/*.json")):
        windows = json.loads(path.read_text())["windows"]
        for h, r, q in zip(windows["hr_bpm"], windows["ref_hr_bpm"], windows["quality"]):
            if None not in (h, r, q):
                hr.append(h), ref.append(r), index.append(q)
    error, index = np.abs(np.subtract(hr, ref)), np.asarray(index)
    lines = [
        "| window quality | windows | HR MAE (bpm) | within 5 bpm |",
        "|---|---|---|---|",
    ]
    for lo, hi in itertools.pairwise([0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.01]):
        sel = (index >= lo) & (index < hi)
        if sel.any():
            lines.append(
                f"| {lo:g}-{min(hi, 1):g} | {sel.sum()} | {error[sel].mean():.2f} | "
                f"{np.mean(error[sel] <= 5):.0%} |"
            )
    return "\n".join(lines)


def suite(work: Path, method: str) -> None:
    """The table over the rendered suite and ladder under ``work``."""
    rows = []
    for folder in sorted((work / "videos").iterdir()):
        for rec in load_dataset("synthetic", folder):
            rows.append(_row(folder.name, rec, method, work / "eval" / folder.name / "traces"))
        print("done", folder.name, flush=True)
    if (work / "ladder").exists():
        for rec in load_dataset("ladder", work / "ladder"):
            if rec.group.startswith("0-"):
                continue
            rows.append(_row(rec.group, rec, method, work / "eval" / "ladder" / "traces"))
        print("done ladder", flush=True)
    table = _table(rows) + "\n\n" + quality_table(work, method)
    out = work / f"beats-{method}.md"
    out.write_text(table + "\n")
    print(table)
    print(f"\nwritten to {out}")


def _simulated(noise: float, hr: float, seed: int) -> tuple[float, float, float, float]:
    """Timing noise (ms), SNR, RMSSD error (good beats) and beats/30 s error of POS on one
    simulated 60 s trace."""
    t = np.arange(0, 60, 1 / FS)
    wave = pulse_waveform(t, hr, seed=seed * 1000 + int(hr))
    skin = np.array([180.0, 120.0, 100.0])
    signature = np.array([0.33, 0.77, 0.53])
    rgb = skin * (1 - 0.005 * signature * (2 * wave.pulse[:, None] - 1))
    rgb = rgb * (1 + noise * np.random.default_rng(seed).standard_normal(rgb.shape))
    pulse = create("pos")(rgb, FS)
    estimate = heart_rate(pulse, FS)
    beats = detect_beats(pulse, FS, estimate.freq_hz)
    error = _rmssd_sdnn(beats.times_s[beats.good])[0] - _rmssd_sdnn(wave.beat_times)[0]
    count = 30 * abs(beats.times_s.size - wave.beat_times.size) / 60
    return 1000 * beats.timing_sd_s, estimate.snr_db, abs(error), count


def calibrate(seeds: int = 3) -> None:
    """RMSSD error against the timing-noise estimate on simulated traces (validation data for
    the HRV gate; the suite videos never enter it)."""
    results = np.array(
        [
            _simulated(noise, hr, seed)
            for noise in (0.0, 0.0001, 0.0002, 0.0003, 0.0004, 0.0006, 0.0009, 0.0013, 0.002)
            for hr in (54.0, 66.0, 84.0, 96.0, 120.0)
            for seed in range(seeds)
        ]
    )
    print("| timing noise ms | traces | SNR dB | RMSSD error ms (median / 90th pct) | beats/30 s |")
    print("|---|---|---|---|---|")
    for lo, hi in itertools.pairwise([0, 2, 3, 4, 5, 7, 10, 15, np.inf]):
        sel = (results[:, 0] >= lo) & (results[:, 0] < hi)
        if sel.any():
            err = results[sel, 2]
            print(
                f"| {lo:g}-{hi:g} | {sel.sum()} | {np.median(results[sel, 1]):.1f} | "
                f"{np.nanmedian(err):.1f} / {np.nanpercentile(err, 90):.1f} | "
                f"{results[sel, 3].mean():.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/suite"))
    parser.add_argument("--method", default="pos")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()
    if args.calibrate:
        calibrate()
    else:
        suite(args.work, args.method)


if __name__ == "__main__":
    main()
