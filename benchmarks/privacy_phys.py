"""Privacy-Phys (seed 004) on synthetic videos: does the edit hold, and is it invisible?

Renders 10 synthetic 640x480, 10 s face videos with true heart rates 60-100 bpm (skin types
I-V), edits each to carry 120 bpm and 50 bpm with `anonymize_video` and its defaults (the
shipped PhysNet, lambda 0.1), then for every edit measures
- PSNR and SSIM of the edited against the original video, and whether any pixel off the skin
  mask (the core pipeline's, recomputed here) changed;
- the heart rate POS, CHROM and the shipped rPPGNet (none used in the optimisation) read from
  the original and the edited video;
- the wall time per 10 s of video on this machine.

Usage: python benchmarks/privacy_phys.py [--videos N]
Results: benchmarks/out/privacy/{results.json, results.md}
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from rppgkit.models.zoo import shipped_weights
from rppgkit.privacy.edit import anonymize_video
from rppgkit.privacy.report import edit_report
from rppgkit.privacy.target import target_from_hr
from rppgkit.synth import SynthConfig, write_synth
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import open_video

WORK = Path("benchmarks/out/privacy")
TARGETS = (120.0, 50.0)
TOLERANCE_BPM = 3.0


def off_skin_changes(original: Path, edited: Path) -> int:
    """Pixels outside the pipeline's skin mask that differ between the two videos."""
    masks: list[np.ndarray | None] = []
    extract_trace(open_video(original), on_face=lambda rgb, box, skin: masks.append(skin))
    count = 0
    for a, b, skin in zip(open_video(original).frames(), open_video(edited).frames(), masks):
        moved = np.any(a.rgb != b.rgb, axis=2)
        count += int(moved.sum() if skin is None else moved[~skin].sum())
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=10)
    n = parser.parse_args().videos
    rows = []
    for i in range(n):
        hr = 60.0 + 40.0 * i / max(n - 1, 1)
        folder = WORK / "videos" / f"v{i}"
        if not (folder / "meta.json").exists():
            config = SynthConfig(duration_s=10.0, hr_bpm=hr, skin_tone=1 + i % 5, seed=100 + i)
            write_synth(config, folder, masks=False)
        for bpm in TARGETS:
            out = WORK / "edited" / f"v{i}-{bpm:.0f}.mkv"
            out.parent.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            done = anonymize_video(
                folder / "video.mkv",
                out,
                lambda d, bpm=bpm: target_from_hr(bpm, d),
                shipped_weights("physnet"),
            )
            seconds = time.perf_counter() - start
            report = edit_report(folder / "video.mkv", out, done.target.source, bpm)
            row = {
                "video": f"v{i}",
                "true_hr_bpm": hr,
                "skin_tone": 1 + i % 5,
                "target_bpm": bpm,
                "edit_s": seconds,
                "s_per_10s": seconds / (done.frames / 30.0) * 10.0,
                "pearson": done.final_pearson,
                "off_skin_changes": off_skin_changes(folder / "video.mkv", out),
                "report": asdict(report),
            }
            rows.append(row)
            reads = ", ".join(
                f"{r.estimator} {r.original_bpm:.1f}->{r.edited_bpm:.1f}" for r in report.readings
            )
            print(
                f"v{i} ({hr:.0f} bpm) -> {bpm:.0f}: PSNR {report.likeness.psnr_db:.1f} dB, "
                f"{reads}, {seconds:.0f} s",
                flush=True,
            )
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    summary = {"device": device, "threads": torch.get_num_threads(), "rows": rows}
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "results.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    (WORK / "results.md").write_text(tables(summary))
    print(tables(summary))


def tables(summary: dict) -> str:
    rows = summary["rows"]
    readers = [r["estimator"] for r in rows[0]["report"]["readings"]]
    lines = [
        f"Privacy-Phys on {len(rows) // len(TARGETS)} synthetic 640x480 10 s videos "
        f"({summary['device']}, {summary['threads']} threads)",
        "",
        "| target | videos | PSNR min / mean (dB) | SSIM min | off-skin pixels changed | "
        + " | ".join(f"{r} within {TOLERANCE_BPM:g} bpm" for r in readers)
        + " | time per 10 s |",
        "|---" * (5 + len(readers)) + "|",
    ]
    for bpm in TARGETS:
        sel = [r for r in rows if r["target_bpm"] == bpm]
        psnr = [r["report"]["likeness"]["psnr_db"] for r in sel]
        ssim = [r["report"]["likeness"]["ssim"] for r in sel]
        hits = []
        for k in range(len(readers)):
            ok = sum(
                abs(r["report"]["readings"][k]["edited_bpm"] - bpm) <= TOLERANCE_BPM for r in sel
            )
            hits.append(f"{ok}/{len(sel)}")
        lines.append(
            f"| {bpm:.0f} bpm | {len(sel)} | {min(psnr):.1f} / {np.mean(psnr):.1f} | "
            f"{min(ssim):.4f} | {sum(r['off_skin_changes'] for r in sel)} | "
            + " | ".join(hits)
            + f" | {np.median([r['s_per_10s'] for r in sel]):.0f} s |"
        )
    lines += ["", "Per video (HR read from the original -> the edited video, bpm):", ""]
    lines += ["| video | true HR | tone | target | PSNR | " + " | ".join(readers) + " |"]
    lines += ["|---" * (5 + len(readers)) + "|"]
    for r in rows:
        reads = " | ".join(
            f"{x['original_bpm']:.1f} -> {x['edited_bpm']:.1f}" for x in r["report"]["readings"]
        )
        lines.append(
            f"| {r['video']} | {r['true_hr_bpm']:.1f} | {r['skin_tone']} | {r['target_bpm']:.0f} "
            f"| {r['report']['likeness']['psnr_db']:.1f} | {reads} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
