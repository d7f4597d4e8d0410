"""Sub-harmonic check: would reading a peak at half or a third of the highest spectral peak as
the pulse's fundamental lower a method's per-window HR error?

Some networks over-draw the pulse's harmonics (the rPPGNet files: docs/weights.md) and read slow
pulses at two or three times their rate. For each method this measures every recording under the
given synthetic split(s) once, then reads every 10 s window of its pulse twice: by the highest
peak in the band, as rppgkit did before, and with the check of `rppgkit.dsp.fundamental_peak`:
where a peak within 0.08 Hz of f/2 or f/3 (in the band) holds at least `rho` of the highest
peak's power, the lowest such peak is the rate.
The reference per window is the ground truth's, by rppgkit's own spectral path.

Meant for validation splits (the rule's 48 videos: `benchmarks/out/light-flicker/val+extra` and
its flickered copy, which `light_flicker.py --extra-seeds 12 16` writes): a setting chosen here
is scored on the test split afterwards, never here.

Usage: python benchmarks/subharmonic.py SPLIT [SPLIT ...] -m rppgnet -m pos [--rho 0.3 0.4 0.5]
(``-m NAME=WEIGHTS.pt`` scores a checkpoint of a method instead of its shipped file.)

``--paired`` (two methods) adds how far apart the two are, each read as RULE-1.4 scores it (its
highest peak, or its best rho where that is at least 1 bpm lower): the mean paired per-window
difference, second minus first, with a 95% interval from resampling whole recordings (windows of
one recording are not independent), so a rule can see whether its validation set separates them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rppgkit import dsp
from rppgkit.datasets import load_dataset
from rppgkit.errors import RppgError
from rppgkit.evaluate.metrics import mean_interval
from rppgkit.evaluate.reference import reference_hr
from rppgkit.pipeline import Options, measure


def fundamental_bpms(pulse: np.ndarray, fs: float, rhos: list[float | None]) -> np.ndarray:
    """HR of `pulse` (bpm) by `rppgkit.dsp.fundamental_peak` at each of `rhos` (one spectrum)."""
    spectrum = dsp.power_spectrum(pulse, fs)
    return 60 * np.array([dsp.fundamental_peak(*spectrum, *dsp.PULSE_BAND_HZ, r) for r in rhos])


RULE_MARGIN_BPM = 1.0
"""A rho replaces the highest peak in a method's score only when it is at least this much lower."""


def window_errors(split: Path, method: str, rhos: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """[windows, 1 + len(rhos)] absolute HR errors (bpm) of `method` (``name`` or
    ``name=weights.pt``) on every recording of `split`, the highest peak first, then each `rho`;
    and [windows] the recording each window comes from (``split/id``)."""
    name, _, weights = method.partition("=")
    rows, recordings = [], []
    for rec in load_dataset("synthetic", split):
        m = measure(rec.video, Options(method=name, weights=weights or None))
        refs, _ = reference_hr(rec.reference(), m)
        for w, ref in zip(m.windows, refs, strict=True):
            segment = m.pulse[round(w.start_s * m.fs) : round(w.end_s * m.fs)]
            rows.append(np.abs(fundamental_bpms(segment, m.fs, [None, *rhos]) - ref))
            recordings.append(f"{split}/{rec.id}")
        print(f"  {method} {rec.id}", flush=True)
    return np.array(rows), np.array(recordings)


def rule_column(maes: np.ndarray) -> int:
    """The column of `maes` (highest peak, then each rho) that RULE-1.4 scores a method by."""
    best = 1 + int(np.argmin(maes[1:]))
    return best if maes[best] <= maes[0] - RULE_MARGIN_BPM else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("splits", nargs="+", type=Path)
    parser.add_argument("-m", "--method", action="append", required=True)
    parser.add_argument("--rho", nargs="+", type=float, default=[0.2, 0.3, 0.4, 0.5, 0.7])
    parser.add_argument("--paired", action="store_true", help="two methods: their difference")
    args = parser.parse_args()
    if not all(0 < r <= 1 for r in args.rho):  # NaN fails too
        raise SystemExit("error: --rho: each value must be a share of the peak's power, in (0, 1]")
    if args.paired and len(args.method) != 2:
        raise SystemExit("error: --paired compares exactly two methods (-m A -m B)")
    lines = ["| method | highest peak | " + " | ".join(f"rho {r:g}" for r in args.rho) + " |"]
    lines.append("|---" * (2 + len(args.rho)) + "|")
    scored = []
    for method in args.method:
        try:
            parts = [window_errors(s, method, args.rho) for s in args.splits]
        except RppgError as exc:
            raise SystemExit(f"error: {exc}") from None
        errors = np.vstack([e for e, _ in parts])
        maes = np.nanmean(errors, axis=0)
        lines.append(f"| {method} | " + " | ".join(f"{e:.2f}" for e in maes) + " |")
        column = rule_column(maes)
        scored.append((errors[:, column], np.concatenate([r for _, r in parts]), column))
    if args.paired:
        lines.append(_paired_line(args.method, scored, args.rho))
    print("\n".join(lines))


def _paired_line(
    methods: list[str], scored: list[tuple[np.ndarray, np.ndarray, int]], rhos: list[float]
) -> str:
    """The `--paired` summary: second method minus first, each by its rule column."""
    (a, recordings, col_a), (b, other, col_b) = scored
    if not np.array_equal(recordings, other):
        raise SystemExit("error: --paired: the two methods did not read the same windows")
    diff = mean_interval(b - a, recordings, n_resamples=5000)
    name = ["highest peak", *(f"rho {r:g}" for r in rhos)]
    return (
        f"\npaired: {methods[1]} ({name[col_b]}) minus {methods[0]} ({name[col_a]}): "
        f"{diff.format()} bpm per window, mean [95% interval] "
        f"({len(np.unique(recordings))} recordings resampled)"
    )


if __name__ == "__main__":
    main()
