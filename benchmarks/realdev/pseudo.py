"""Pseudo-reference heart rates for real clips without a contact reference.

A clip gets a pseudo-reference HR only where rppgkit's training-free (classic) methods agree on
it and the pulse they agree on stands out of the noise:

1. Decode the video once (`extract_trace`) and run every classic method on that trace with
   `rppgkit.pipeline.analyse`, as `benchmarks/real_video.py` does; take each method's
   whole-video HR and SNR. A method that fails gives no HR.
2. The centre is the median of the HRs the methods gave. A method *agrees* when its HR is
   within `TOLERANCE_BPM` (2 bpm) of that median.
3. The clip gets a pseudo-reference when at least `MIN_AGREEING` (4) methods agree - four of
   seven is a majority, counting failed methods as disagreeing - and the median SNR of the
   agreeing methods (the SNR of the agreed pulse) is above `MIN_SNR_DB`. Its HR is the median.
4. Otherwise the clip is marked "no reference".

Why an SNR gate at all: the classic methods are not independent. On a trace of pure sensor
noise, with no pulse in it, four or more of the seven land within 2 bpm of their median in
about two trials of three (`--calibrate` measures it), because they all recombine the same
three colour channels. Agreement alone would hand noise a reference. The threshold is set
above the SNRs that agreement reaches without a pulse (`--calibrate`; figures in
`benchmarks/realdev/README.md`).

Output, in the clip's folder:
- no contact reference, rule met: `reference.json` {"hr_bpm", "kind": "pseudo", "methods",
  "snr_db", "rule"} (what `real_video.py` compares against) and `pseudo.json` (the same, plus
  every method's HR and SNR);
- no contact reference, rule not met: `pseudo.json` with "kind": "none" and the reason; any
  earlier pseudo `reference.json` is removed;
- a contact reference (`reference.csv`, or a `reference.json` not of kind "pseudo"): only
  `pseudo.json`, as a check of the rule against the contact reference; nothing is overwritten.

Usage: python benchmarks/realdev/pseudo.py [CLIP_FOLDER ...] [--data DIR]
       python benchmarks/realdev/pseudo.py --calibrate [--trials N] [--durations S ...]
       python benchmarks/realdev/pseudo.py --synth N
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

TOLERANCE_BPM = 2.0  # a method agrees within this of the methods' median HR
MIN_AGREEING = 4  # of the seven classic methods
MIN_SNR_DB = 4.0  # median SNR of the agreeing methods must exceed this (see --calibrate)
DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class MethodHR:
    """One method's whole-video heart rate and its SNR; both None where the method failed."""

    method: str
    hr_bpm: float | None
    snr_db: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The rule's answer for one clip."""

    kind: str  # "pseudo" or "none"
    hr_bpm: float | None  # median of the methods' HRs; None without any
    snr_db: float | None  # median SNR of the agreeing methods
    methods: tuple[str, ...]  # the agreeing methods
    reason: str
    estimates: tuple[MethodHR, ...] = field(default=())

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "hr_bpm": None if self.hr_bpm is None else round(self.hr_bpm, 2),
            "snr_db": None if self.snr_db is None else round(self.snr_db, 2),
            "methods": list(self.methods),
            "reason": self.reason,
            "rule": rule_text(),
            "estimates": [asdict(e) for e in self.estimates],
        }


def rule_text(
    tolerance_bpm: float = TOLERANCE_BPM,
    min_agreeing: int = MIN_AGREEING,
    min_snr_db: float = MIN_SNR_DB,
) -> str:
    return (
        f"at least {min_agreeing} classic methods within {tolerance_bpm:g} bpm of the median "
        f"of their whole-video HRs, and the median SNR of those above {min_snr_db:g} dB"
    )


def decide(
    estimates: Sequence[MethodHR],
    tolerance_bpm: float = TOLERANCE_BPM,
    min_agreeing: int = MIN_AGREEING,
    min_snr_db: float = MIN_SNR_DB,
) -> Verdict:
    """Apply the pseudo-reference rule to the methods' whole-video HRs and SNRs."""
    ok = [
        e
        for e in estimates
        if e.hr_bpm is not None and np.isfinite(e.hr_bpm) and e.snr_db is not None
    ]
    if not ok:
        return Verdict("none", None, None, (), "no method gave a heart rate", tuple(estimates))
    centre = float(np.median([e.hr_bpm for e in ok]))
    agreeing = [e for e in ok if abs(e.hr_bpm - centre) <= tolerance_bpm]
    names = tuple(e.method for e in agreeing)
    snr = float(np.median([e.snr_db for e in agreeing])) if agreeing else None
    if len(agreeing) < min_agreeing:
        reason = (
            f"only {len(agreeing)} of {len(estimates)} methods within {tolerance_bpm:g} bpm of "
            f"the median {centre:.2f} bpm (need {min_agreeing})"
        )
        return Verdict("none", centre, snr, names, reason, tuple(estimates))
    if snr is None or not snr > min_snr_db:
        reason = (
            f"{len(agreeing)} methods agree on {centre:.2f} bpm but their median SNR "
            f"{snr:.2f} dB is not above {min_snr_db:g} dB"
        )
        return Verdict("none", centre, snr, names, reason, tuple(estimates))
    reason = (
        f"{len(agreeing)} of {len(estimates)} methods within {tolerance_bpm:g} bpm of "
        f"{centre:.2f} bpm, median SNR {snr:.2f} dB"
    )
    return Verdict("pseudo", centre, snr, names, reason, tuple(estimates))


def classic_methods() -> list[str]:
    """rppgkit's training-free methods: those reading the RGB trace."""
    from rppgkit.estimators import available, create

    return [n for n in sorted(available()) if create(n).input_kind == "trace"]


def estimate(video: Path) -> list[MethodHR]:
    """Every classic method's whole-video HR and SNR, from one decoding of `video`."""
    from rppgkit.errors import RppgError
    from rppgkit.pipeline import analyse
    from rppgkit.trace.extract import extract_trace
    from rppgkit.video.reader import open_video

    trace = extract_trace(open_video(video))
    out = []
    for method in classic_methods():
        try:
            summary = analyse(trace, method=method).summary()
        except RppgError as exc:
            out.append(MethodHR(method, None, None, str(exc)))
            continue
        out.append(MethodHR(method, float(summary.hr_bpm), float(summary.hr_snr_db)))
    return out


def has_contact_reference(folder: Path) -> bool:
    """A reference that did not come from this rule: a PPG csv or a stated HR."""
    ref = folder / "reference.json"
    if ref.exists() and json.loads(ref.read_text()).get("kind") != "pseudo":
        return True
    return (folder / "reference.csv").exists()


def video_of(folder: Path) -> Path:
    from rppgkit.video.reader import VIDEO_SUFFIXES

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise SystemExit(f"{folder} holds no video")
    return files[0]


def label_folder(folder: Path) -> Verdict:
    """Run the rule on the clip in `folder` and write its verdict (see the module docstring)."""
    verdict = decide(estimate(video_of(folder)))
    record = verdict.to_json()
    contact = has_contact_reference(folder)
    record["contact_reference"] = contact
    (folder / "pseudo.json").write_text(json.dumps(record, indent=1) + "\n")
    if not contact:
        ref = folder / "reference.json"
        if verdict.kind == "pseudo":
            keys = ("hr_bpm", "kind", "methods", "snr_db", "rule")
            ref.write_text(json.dumps({k: record[k] for k in keys}, indent=1) + "\n")
        elif ref.exists():
            ref.unlink()  # an earlier pseudo-reference that the rule no longer grants
    hr = "-" if verdict.hr_bpm is None else f"{verdict.hr_bpm:.2f} bpm"
    used = "contact reference kept; check only" if contact else f"reference: {verdict.kind}"
    print(f"{folder.name}: {verdict.kind} {hr} ({verdict.reason}); {used}")
    return verdict


def calibrate(durations: Sequence[float], trials: int, fs: float = 30.0, seed: int = 0) -> list:
    """The rule without the SNR gate, on skin-coloured traces of sensor noise and slow drift
    (no pulse): how often the methods agree by chance, and the SNR they then reach."""
    from rppgkit import dsp
    from rppgkit.estimators import create
    from rppgkit.pulse.heart_rate import heart_rate

    rng = np.random.default_rng(seed)
    methods = classic_methods()
    rows = []
    for duration in durations:
        n = round(duration * fs)
        snrs = []
        for _ in range(trials):
            drift = np.cumsum(rng.normal(0, 0.02, (n, 3)), axis=0)
            rgb = np.array([150.0, 100.0, 80.0]) + rng.normal(0, 0.3, (n, 3)) + drift
            found = []
            for m in methods:
                hr = heart_rate(create(m)(rgb, fs), fs, dsp.PULSE_BAND_HZ)
                found.append(MethodHR(m, hr.bpm, hr.snr_db))
            verdict = decide(found, min_snr_db=-np.inf)
            if verdict.kind == "pseudo":
                snrs.append(verdict.snr_db)
        q = np.percentile(snrs, [50, 95, 99, 100]) if snrs else [np.nan] * 4
        rows.append(
            {
                "duration_s": duration,
                "trials": trials,
                "agree": len(snrs),
                "snr_p50": round(float(q[0]), 2),
                "snr_p95": round(float(q[1]), 2),
                "snr_p99": round(float(q[2]), 2),
                "snr_max": round(float(q[3]), 2),
            }
        )
        print(rows[-1], flush=True)
    return rows


SYNTH_SCENES = (  # (motion, lighting) of the synthetic calibration clips
    (0.0, 0.0),
    (1.0, 0.0),
    (0.0, 1.0),
    (1.0, 1.0),
    (1.0, 2.0),
)


def calibrate_synth(seeds: int, duration_s: float = 12.0, skin_tone: int = 3) -> list:
    """The whole rule path (video, face, trace, seven methods) on synthetic face videos of
    `duration_s`, each scene of `SYNTH_SCENES` rendered without a pulse and with one: the SNR
    the agreeing methods reach with nothing to find, beside the SNR of a real pulse."""
    import tempfile

    from rppgkit.synth import SynthConfig, write_synth

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            for motion, lighting in SYNTH_SCENES:
                for amplitude in (0.0, 0.005):
                    config = SynthConfig(
                        duration_s=duration_s,
                        width=320,
                        height=240,
                        hr_bpm=60.0 + 7 * seed + 10 * motion + 5 * lighting,
                        skin_tone=skin_tone,
                        pulse_amplitude=amplitude,
                        motion=motion,
                        lighting=lighting,
                        seed=seed,
                    )
                    paths = write_synth(config, Path(tmp) / "clip", masks=False)
                    truth = paths.mean_hr_bpm
                    verdict = decide(estimate(paths.video), min_snr_db=-np.inf)
                    row = {
                        "seed": seed,
                        "motion": motion,
                        "lighting": lighting,
                        "pulse": amplitude,
                        "true_bpm": round(truth, 2),
                        "agree": len(verdict.methods),
                        "median_bpm": None if verdict.hr_bpm is None else round(verdict.hr_bpm, 2),
                        "snr_db": None if verdict.snr_db is None else round(verdict.snr_db, 2),
                        "rule": decide(verdict.estimates).kind,
                    }
                    rows.append(row)
                    print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="clip folders (default: all)")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of clip folders")
    parser.add_argument("--calibrate", action="store_true", help="measure the no-pulse SNRs")
    parser.add_argument("--trials", type=int, default=300, help="noise traces per length")
    parser.add_argument("--durations", type=float, nargs="+", default=[10.0, 12.0, 20.0, 30.0])
    parser.add_argument(
        "--synth", type=int, default=0, help="calibrate on this many seeds of synthetic videos"
    )
    args = parser.parse_args()
    if args.calibrate:
        calibrate(args.durations, args.trials)
    if args.synth:
        calibrate_synth(args.synth)
    if args.calibrate or args.synth:
        return
    folders = args.folders or sorted(
        p for p in args.data.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    for folder in folders:
        label_folder(folder)


if __name__ == "__main__":
    main()
