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
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rppgkit import dsp
from rppgkit.datasets import load_dataset
from rppgkit.errors import RppgError
from rppgkit.evaluate.reference import reference_hr
from rppgkit.pipeline import Options, measure


def fundamental_bpms(pulse: np.ndarray, fs: float, rhos: list[float | None]) -> np.ndarray:
    """HR of `pulse` (bpm) by `rppgkit.dsp.fundamental_peak` at each of `rhos` (one spectrum)."""
    spectrum = dsp.power_spectrum(pulse, fs)
    return 60 * np.array([dsp.fundamental_peak(*spectrum, *dsp.PULSE_BAND_HZ, r) for r in rhos])


def window_errors(split: Path, method: str, rhos: list[float]) -> np.ndarray:
    """[windows, 1 + len(rhos)] absolute HR errors (bpm) of `method` (``name`` or
    ``name=weights.pt``) on every recording of `split`: the highest peak first, then each `rho`."""
    name, _, weights = method.partition("=")
    rows = []
    for rec in load_dataset("synthetic", split):
        m = measure(rec.video, Options(method=name, weights=weights or None))
        refs, _ = reference_hr(rec.reference(), m)
        for w, ref in zip(m.windows, refs, strict=True):
            segment = m.pulse[round(w.start_s * m.fs) : round(w.end_s * m.fs)]
            rows.append(np.abs(fundamental_bpms(segment, m.fs, [None, *rhos]) - ref))
        print(f"  {method} {rec.id}", flush=True)
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("splits", nargs="+", type=Path)
    parser.add_argument("-m", "--method", action="append", required=True)
    parser.add_argument("--rho", nargs="+", type=float, default=[0.2, 0.3, 0.4, 0.5, 0.7])
    args = parser.parse_args()
    if not all(0 < r <= 1 for r in args.rho):  # NaN fails too
        parser.error("--rho: each value must be a share of the highest peak's power, in (0, 1]")
    lines = ["| method | highest peak | " + " | ".join(f"rho {r:g}" for r in args.rho) + " |"]
    lines.append("|---" * (2 + len(args.rho)) + "|")
    for method in args.method:
        try:
            errors = np.vstack([window_errors(s, method, args.rho) for s in args.splits])
        except RppgError as exc:
            raise SystemExit(f"error: {exc}") from None
        maes = np.nanmean(errors, axis=0)
        lines.append(f"| {method} | " + " | ".join(f"{e:.2f}" for e in maes) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
