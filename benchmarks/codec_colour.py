"""Codec and colour: how much of a recording's pulse is a change of colour, and how much of
brightness, after its camera and codec.

For each recording (a synthetic dataset folder with ``ground_truth.csv`` or a real clip folder
with ``reference.csv``, both as ``rppgkit.datasets`` and ``benchmarks/realdev`` write them) the
face's mean skin colour is traced as ``rppgkit measure`` traces it, normalised by its mean and
band-passed to 0.7-3 Hz; the reference pulse then weights each frequency by its power, which
picks the bins that carry the pulse without assuming a lag between the two:

- **direction**: R : G : B of the colour change in step with the reference (relative changes,
  G = 1); the optics put blood's at about 0.43 : 1 : 0.69 (de Haan & van Leest's signature),
  a change of light at 1 : 1 : 1, and a codec that keeps only luma moves the first towards it;
- **shares**: the part of the band's power that lies at the pulse, in green, in brightness
  (the channels' mean) and in colour (2G - R - B, blind to any grey change). A network can only
  learn to read colour from clips whose colour share is not near zero.

``--reencode RATE`` adds each recording once more after an x264 encode at RATE bit/s (as
``rppgkit compress`` makes it: x264's defaults, yuv420p), to ask what the same codec does to a
real face.

Usage: python benchmarks/codec_colour.py FOLDER [FOLDER ...] [--reencode 1e6] [--out FILE]
e.g.   python benchmarks/codec_colour.py benchmarks/out/v2/data/train benchmarks/realdev/data \
           --reencode 1e6 --out benchmarks/out/codec-colour/generator-1.4.md
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rppgkit import dsp
from rppgkit.datasets.manifest import csv_reference
from rppgkit.errors import RppgError
from rppgkit.fileio import write_text
from rppgkit.trace.extract import extract_trace
from rppgkit.video.compress import compress, lossy_codec
from rppgkit.video.reader import open_video

BAND_HZ = (0.7, 3.0)
PULSE_BINS = 0.05  # the band's bins weighted highest by the reference: the pulse's share
REFERENCE_FILES = ("ground_truth.csv", "reference.csv")
VIDEO_NAMES = ("video.mkv", "video.mp4", "video.mov", "video.avi")
_SHARES = ("green", "brightness", "colour")


@dataclass(frozen=True)
class PulseColour:
    """Where a recording's pulse lies in colour space (see the module's text)."""

    direction: np.ndarray  # [3] R, G, B relative changes in step with the reference, G = 1
    green: float  # share of the band's power at the pulse, green channel
    brightness: float  # the same for the mean of the three channels
    colour: float  # the same for 2G - R - B


def pulse_colour(rgb: np.ndarray, fs: float, reference: np.ndarray) -> PulseColour:
    """The pulse's colour direction and shares in a skin-colour trace.

    Parameters
    ----------
    rgb
        ``[N, 3]`` mean skin colour per frame (no NaN).
    fs
        Frame rate, Hz.
    reference
        ``[N]`` reference pulse at the same frames (any lag, any units).

    Returns
    -------
    PulseColour

    Examples
    --------
    >>> t = np.arange(600) / 30.0
    >>> pulse = np.sin(2 * np.pi * 1.2 * t)
    >>> rgb = 100 * (1 + 1e-3 * np.outer(pulse, [0.4, 1.0, 0.7]))
    >>> np.round(pulse_colour(rgb, 30.0, np.roll(pulse, 5)).direction, 2)
    array([0.4, 1. , 0.7])
    """
    change = dsp.bandpass(rgb / rgb.mean(axis=0) - 1.0, fs, *BAND_HZ)
    n = dsp.next_fast_len(4 * len(change))
    taper = np.hanning(len(change))
    spectra = np.fft.rfft(change * taper[:, None], n, axis=0)
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    weight = np.abs(np.fft.rfft((reference - reference.mean()) * taper, n)) ** 2 * band
    green = spectra[:, 1]
    cross = (weight[:, None] * (spectra * np.conj(green)[:, None]).real).sum(axis=0)
    at_pulse = weight >= np.sort(weight[band])[-max(1, int(PULSE_BINS * band.sum()))]

    def share(spectrum: np.ndarray) -> float:
        power = np.abs(spectrum) ** 2
        return float(power[at_pulse & band].sum() / power[band].sum())

    return PulseColour(
        direction=cross / cross[1],
        green=share(green),
        brightness=share(spectra.mean(axis=1)),
        colour=share(spectra @ np.array([-1.0, 2.0, -1.0])),
    )


def recordings(folder: Path) -> list[Path]:
    """Every folder at or under `folder` that holds a video and a reference pulse."""
    found = [p.parent for name in REFERENCE_FILES for p in folder.rglob(name)]
    return sorted(p for p in set(found) if _video(p) is not None)


def _video(folder: Path) -> Path | None:
    return next((folder / n for n in VIDEO_NAMES if (folder / n).exists()), None)


def measure(folder: Path, video: Path) -> PulseColour:
    """`pulse_colour` of one recording's video, read with its folder's reference."""
    trace = extract_trace(open_video(video))
    ok = ~np.isnan(trace.rgb).any(axis=1)
    if ok.sum() < 0.9 * len(ok):
        raise RppgError(f"{video}: a face in only {ok.mean():.0%} of frames")
    times = trace.times[ok]
    fs = (len(times) - 1) / (times[-1] - times[0])
    table = csv_reference(folder / _reference_name(folder), "pulse", "time_s", None)
    reference = np.interp(times, table.times, table.pulse)
    return pulse_colour(trace.rgb[ok], fs, reference)


def row(name: str, result: PulseColour) -> str:
    d = " : ".join(f"{x:.2f}" for x in result.direction)
    return f"| {name} | {d} | {result.green:.2f} | {result.brightness:.2f} | {result.colour:.2f} |"


def run(folders: list[Path], rate: float | None) -> str:
    """The table of every recording under `folders`, with a median row per folder."""
    lines = [
        "| recording | direction R : G : B | green | brightness | colour 2G-R-B |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for folder in folders:
            results = []
            for rec in recordings(folder):
                video = _video(rec)
                name = str(rec.relative_to(folder)) if rec != folder else rec.name
                results.append(measure(rec, video))
                lines.append(row(f"{folder.name}/{name}", results[-1]))
                if rate is not None:
                    copy = Path(tmp) / rec.name / "video.mkv"
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(rec / _reference_name(rec), copy.parent)
                    again = measure(
                        copy.parent, compress(video, copy, lossy_codec("x264", round(rate)))
                    )
                    lines.append(row(f"{folder.name}/{name}, x264 {rate / 1e6:g} Mbit/s", again))
                print(lines[-1], flush=True)
            if len(results) > 1:
                median = PulseColour(
                    np.median([r.direction for r in results], axis=0),
                    *(float(np.median([getattr(r, k) for r in results])) for k in _SHARES),
                )
                lines.append(row(f"**{folder} (median of {len(results)})**", median))
    return "\n".join(lines) + "\n"


def _reference_name(folder: Path) -> str:
    return next(n for n in REFERENCE_FILES if (folder / n).exists())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--reencode", type=float, default=None, help="x264 bit/s")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.reencode is not None and not 1e4 <= args.reencode <= 1e9:
        parser.error("--reencode must be a bitrate between 1e4 and 1e9 bit/s")
    try:
        missing = [f for f in args.folders if not f.is_dir()]
        if missing:
            raise RppgError(f"{missing[0]} is not a folder of recordings")
        table = run(args.folders, args.reencode)
    except RppgError as error:
        raise SystemExit(f"error: {error}") from None
    print(table)
    if args.out is not None:
        try:
            write_text(args.out, table)
        except OSError as error:
            raise SystemExit(f"error: cannot write {args.out}: {error.strerror}") from None


if __name__ == "__main__":
    main()
