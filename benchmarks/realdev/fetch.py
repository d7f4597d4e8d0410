"""Fetch the real-video development set into `benchmarks/realdev/data/` (git-ignored).

Every clip comes out of a pinned release archive of a package on PyPI (at the address
PyPI's simple index gives for it), checked by the sha256 of the archive and of each file taken out
of it. Nothing is fetched from anywhere else, and nothing here runs when rppgkit or its tests run.
Each clip becomes one folder in the layout `benchmarks/real_video.py` reads:

    data/<clip>/video.<ext>       the video, byte for byte as the package ships it
    data/<clip>/SOURCE.md         package, version, path inside, licence evidence, reference kind
    data/<clip>/reference.csv     time_s,pulse: a contact PPG on the video's clock, where one exists
    data/<clip>/<original files>  the package's own reference files, unchanged

Clips without a contact reference then get a pseudo-reference (or are marked as having none)
by `pseudo.py`, which this script runs on them at the end. `data/INDEX.md` lists every clip with
its reference kind: contact, pseudo or none.

Usage: python benchmarks/realdev/fetch.py [--data DIR] [--force]
Then:  python benchmarks/real_video.py --data benchmarks/realdev/data
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import shutil
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from rppgkit.errors import RppgError
from rppgkit.fileio import ensure_dir

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
DOWNLOADS = ".downloads"  # inside the data folder: archives as pip saved them


@dataclass(frozen=True)
class Package:
    """One pinned release archive on PyPI."""

    name: str
    version: str
    filename: str
    sha256: str
    licence: str  # the licence as the archive states it, quoted from its files


@dataclass(frozen=True)
class Clip:
    """One video taken out of a package archive, with its reference where the package has one."""

    name: str
    package: Package
    video: str  # member path inside the archive
    video_sha256: str
    reference: str  # "contact" (waveform shipped), or "none" (pseudo.py decides)
    notes: str  # what the clip shows, in a few lines of markdown
    vitals: str | None = None  # member path of the package's reference file
    vitals_sha256: str | None = None
    pulse_column: str | None = None  # the contact PPG column of `vitals`


VITALLENS = Package(
    name="vitallens",
    version="0.2.2",
    filename="vitallens-0.2.2.tar.gz",
    sha256="f725f1dfc073d74234ada2c8aec90684ea872425c103e65106a47c519dda5d41",
    licence=(
        'MIT. `vitallens-0.2.2/LICENSE`: "MIT License / Copyright (c) 2024 Rouast Labs / '
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this "
        'software and associated documentation files (the "Software"), to deal in the Software '
        'without restriction [...]"; `PKG-INFO`: "License: MIT License", "Classifier: License :: '
        'OSI Approved :: MIT License". The sample video carries no separate notice; unlike '
        "`sample_video_2.mp4` (credited to the VitalVideos dataset, whose terms the package "
        "does not state, so it is not used here), it is credited to no third party."
    ),
)
BOB_IO_VIDEO = Package(
    name="bob.io.video",
    version="3.0.5",
    filename="bob.io.video-3.0.5.zip",
    sha256="0c56c698355b39a0964456320155e27b29e6747de5a2fe62cc3f857db836a166",
    licence=(
        'BSD-3-Clause. `bob.io.video-3.0.5/LICENSE`: "Copyright (c) 2016 Idiap Research '
        "Institute, http://www.idiap.ch/ / Written by Andre Anjos <andre.anjos@idiap.ch> / "
        "Redistribution and use in source and binary forms, with or without modification, are "
        'permitted provided that the following conditions are met: [...]"; `setup.py`: '
        "`license='BSD'`; `MANIFEST.in` ships `bob/io/video/data` with the package. The video "
        "carries no separate notice and is credited to no third party; it was added to the "
        "project's tests in 2010 by the same author (repository history). Who the person is "
        "is not stated."
    ),
)

CLIPS = (
    Clip(
        name="vitallens-sample1",
        package=VITALLENS,
        video="vitallens-0.2.2/examples/sample_video_1.mp4",
        video_sha256="b8d9eb0fa0020359ac462447682670e214ba096f5aacbc048f3b78fd68dcd487",
        vitals="vitallens-0.2.2/examples/sample_vitals_1.csv",
        vitals_sha256="9b56f8390d63651dc4a7774f0c79eea0af279670fb5402d2dbdbe4940a35671d",
        pulse_column="ppg",
        reference="contact",
        notes=(
            "One adult man, frontal, seated indoors in daylight, head nearly still (small "
            "sway, blinks), plain background with a staircase. 640x480, 354 frames at "
            "30.01 fps (11.76 s), H.264 High yuv420p at about 13 Mbit/s (libx264 re-encode). "
            "Skin type: not stated (light skin as far as visible).\n\n"
            "Reference: `sample_vitals_1.csv`, one row per video frame, recorded with "
            '"gold-standard medical equipment" (examples README of the upstream repository, not '
            "in the sdist): `ppg`, `ecg`, "
            "`resp` waveforms, `sbp`/`dbp`, `spo2`, `hr_ecg`, `hr_ppg`, `hrv_sdnn_ecg`, `rr`. "
            "Its `hr_ecg` runs 75.0-87.0 bpm over the clip (mean 78.1); `hr_ppg` mean 78.4. "
            "`reference.csv` is its `ppg` column on the video frames' own timestamps."
        ),
    ),
    Clip(
        name="bob-io-video-test",
        package=BOB_IO_VIDEO,
        video="bob.io.video-3.0.5/bob/io/video/data/test.mov",
        video_sha256="fa644b7119483c7a82dc4b5a578f0ee42dc968c271582160ba54b73ff347a372",
        reference="none",
        notes=(
            "One adult man with glasses, frontal, seated in an office under indoor light, head "
            "still, talking lightly throughout; a wall and a framed picture behind. 320x240, "
            "375 frames at 25 fps (15.0 s), motion-JPEG (every frame an intra-coded JPEG) at "
            "about 2.4 Mbit/s, no audio. Skin type: not stated (light to medium as far as "
            "visible; beard). No physiological reference ships with it."
        ),
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(package: Package, downloads: Path) -> Path:
    """The package's archive in `downloads`, fetched from PyPI unless already there and intact.

    The archive's address comes from PyPI's simple index (what pip reads) for the package; the
    file is taken as it is, with no build step (pip would prepare an sdist's metadata, which
    fails for some of them), and kept only if its sha256 is the pinned one.
    """
    path = downloads / package.filename
    if path.exists() and sha256(path.read_bytes()) == package.sha256:
        return path
    index = f"https://pypi.org/simple/{re.sub(r'[-_.]+', '-', package.name).lower()}/"
    print(f"PyPI: {package.name}=={package.version}, {package.filename}", flush=True)
    try:
        with urllib.request.urlopen(index, timeout=60) as answer:
            links = re.findall(r'href="([^"#]+)', answer.read().decode())
        url = next(u for u in links if u.rsplit("/", 1)[-1] == package.filename)
        with urllib.request.urlopen(url, timeout=300) as answer:
            data = answer.read()
    except (OSError, StopIteration) as error:
        raise SystemExit(f"could not fetch {package.filename} from PyPI: {error!r}") from None
    digest = sha256(data)
    if digest != package.sha256:
        raise SystemExit(
            f"{package.filename} has sha256 {digest}, expected {package.sha256}: not used"
        )
    downloads.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    tmp.rename(path)
    return path


def member_bytes(archive: Path, member: str, expected: str) -> bytes:
    """The bytes of `member` of a .tar.gz or .zip archive, checked against their sha256."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zipped:
            data = zipped.read(member)
    else:
        with tarfile.open(archive, "r:gz") as tar:
            info = tar.getmember(member)
            if not info.isfile():
                raise SystemExit(f"{archive.name}: {member} is not a regular file")
            handle = tar.extractfile(info)
            assert handle is not None
            data = handle.read()
    if sha256(data) != expected:
        raise SystemExit(f"{archive.name}: {member} has sha256 {sha256(data)}, not {expected}")
    return data


def frame_times(video: Path) -> np.ndarray:
    """Presentation time of every frame in seconds, 0 at the first frame."""
    with av.open(str(video)) as container:
        times = [frame.time for frame in container.decode(video=0)]
    if not times or any(t is None for t in times):
        raise SystemExit(f"{video}: frames without timestamps")
    return np.asarray(times, dtype=float) - times[0]


def video_facts(video: Path) -> dict:
    """Codec, size, frame rate, length and bit rate, as the container states them."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        return {
            "codec": f"{ctx.name} ({ctx.profile or '-'}, {ctx.pix_fmt})",
            "resolution": f"{stream.width}x{stream.height}",
            "frames": stream.frames,
            "duration_s": round(container.duration / 1e6, 2) if container.duration else None,
            "bit_rate_kbps": round(container.bit_rate / 1000) if container.bit_rate else None,
            "size_bytes": video.stat().st_size,
        }


def write_reference_csv(vitals: bytes, column: str, times: np.ndarray, out: Path) -> None:
    """`time_s,pulse` from a per-frame vitals table: row i is frame i."""
    rows = list(csv.DictReader(io.StringIO(vitals.decode())))
    if len(rows) != len(times):
        raise SystemExit(f"{len(rows)} reference rows for {len(times)} frames: not per frame")
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["time_s", "pulse"])
        for t, row in zip(times, rows, strict=True):
            writer.writerow([f"{t:.6f}", row[column]])


def source_md(clip: Clip, facts: dict) -> str:
    pkg = clip.package
    lines = [
        f"# {clip.name}",
        "",
        f"- Source: PyPI package `{pkg.name}=={pkg.version}`, sdist `{pkg.filename}` "
        f"(sha256 `{pkg.sha256}`), file `{clip.video}` (sha256 `{clip.video_sha256}`).",
        f"- Licence: {pkg.licence}",
        (
            f"- Reference kind: **contact** (`{clip.vitals}`, column `{clip.pulse_column}`)"
            if clip.reference == "contact"
            else "- Reference kind: no contact reference; `pseudo.py` grants a pseudo-reference "
            "(`reference.json`) or marks the clip as having none (`pseudo.json` says which)"
        ),
        f"- Video: {facts['codec']}, {facts['resolution']}, {facts['frames']} frames, "
        f"{facts['duration_s']} s, {facts['bit_rate_kbps']} kbit/s, {facts['size_bytes']} bytes.",
        "",
        clip.notes,
        "",
        "Fetched by `benchmarks/realdev/fetch.py`; not redistributed by rppgkit.",
        "",
    ]
    return "\n".join(lines)


def fetch_clip(clip: Clip, data: Path, force: bool) -> Path:
    """Write one clip's folder (whole: a half-written folder is never left under its name)."""
    folder = data / clip.name
    if folder.exists() and not force:
        print(f"{clip.name}: already there (--force to rewrite)")
        return folder
    archive = download(clip.package, data / DOWNLOADS)
    tmp = data / f".{clip.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    video = tmp / ("video" + Path(clip.video).suffix.lower())
    video.write_bytes(member_bytes(archive, clip.video, clip.video_sha256))
    if clip.vitals and clip.vitals_sha256:
        vitals = member_bytes(archive, clip.vitals, clip.vitals_sha256)
        (tmp / Path(clip.vitals).name).write_bytes(vitals)
        if clip.pulse_column:
            write_reference_csv(
                vitals, clip.pulse_column, frame_times(video), tmp / "reference.csv"
            )
    facts = video_facts(video)
    (tmp / "SOURCE.md").write_text(source_md(clip, facts))
    (tmp / "clip.json").write_text(
        json.dumps({"name": clip.name, "reference": clip.reference, **facts}, indent=1) + "\n"
    )
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    print(
        f"{clip.name}: {facts['resolution']}, {facts['duration_s']} s, {clip.reference} reference"
    )
    return folder


def reference_kind(folder: Path) -> str:
    """contact, pseudo or none: what `real_video.py` will compare this clip against."""
    if (folder / "reference.json").exists():
        return json.loads((folder / "reference.json").read_text()).get("kind", "stated")
    return "contact" if (folder / "reference.csv").exists() else "none"


def write_index(data: Path) -> None:
    lines = ["# Real-video development set", "", "| clip | reference | source |", "|---|---|---|"]
    for clip in CLIPS:
        folder = data / clip.name
        if folder.is_dir():
            pkg = clip.package
            lines.append(
                f"| {clip.name} | {reference_kind(folder)} | {pkg.name}=={pkg.version} "
                f"`{clip.video}` |"
            )
    (data / "INDEX.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="where the clip folders go")
    parser.add_argument("--force", action="store_true", help="rewrite clips already there")
    args = parser.parse_args()
    try:
        ensure_dir(args.data, "choose another --data")  # before anything is downloaded
        fetch_all(args.data, args.force)
    except RppgError as error:
        raise SystemExit(f"error: {error}") from None
    except OSError as error:  # e.g. the disk filling up
        raise SystemExit(f"error: {error}; choose another --data") from None


def fetch_all(data: Path, force: bool) -> None:
    """Every clip of `CLIPS` into `data`, the pseudo rule on those without a reference, INDEX.md."""
    folders = [fetch_clip(clip, data, force) for clip in CLIPS]
    unreferenced = [f for f, c in zip(folders, CLIPS, strict=True) if c.reference == "none"]
    if unreferenced:
        sys.path.insert(0, str(HERE))
        from pseudo import label_folder  # beside this script

        for folder in unreferenced:
            label_folder(folder)
    write_index(data)
    print((data / "INDEX.md").read_text())


if __name__ == "__main__":
    main()
