"""The compression ladder: every video of a dataset re-encoded at several codec/bitrate levels,
with an index (ladder.json, ladder.csv) saying which file is which level. Level 0 is the
original. The ladder reads back as the dataset "ladder", whose recordings carry their level as
`group`, so evaluations split by level and STVEN finds its training pairs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from rppgkit.datasets.base import DatasetError, Recording, load_dataset, register_dataset
from rppgkit.fileio import ensure_dir, inside, removed_on_failure, write_json, write_text
from rppgkit.parallel import process_pool
from rppgkit.video.compress import compress, lossy_codec, parse_bitrate

INDEX = "ladder.json"
ORIGINAL = "0-original"


@dataclass(frozen=True)
class Level:
    name: str
    codec: str | None = None  # None: the original video
    bitrate: int | None = None
    crf: int | None = None


def parse_levels(text: str) -> list[Level]:
    """'x264:1000k,x265:500k,mpeg4:250k,x264:crf28' -> levels 1.. after the original."""
    levels = [Level(ORIGINAL)]
    for i, item in enumerate(filter(None, (s.strip() for s in text.split(","))), start=1):
        codec, _, quality = item.partition(":")
        if not quality:
            raise DatasetError(f"level {item!r} needs codec:bitrate or codec:crfN, e.g. x264:500k")
        if quality.lower().startswith("crf"):
            if not re.fullmatch(r"[0-9]{1,3}", quality[3:]):
                raise DatasetError(f"level {item!r}: write the quality as crfN, N from 0 to 51")
            crf, bitrate = int(quality[3:]), None
            label = quality.lower()
        else:
            crf, bitrate = None, parse_bitrate(quality)
            label = f"{bitrate // 1000}k"
        lossy_codec(codec, bitrate, crf)  # validate now, not after hours of encoding
        levels.append(Level(f"{i}-{codec}-{label}", codec, bitrate, crf))
    return levels


DEFAULT_LEVELS = ",".join(f"{c}:{b}k" for c in ("x264", "x265", "mpeg4") for b in (1000, 500, 250))


def build_ladder(
    dataset: str,
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    levels: list[Level],
    on_video: Callable[[str, str], None] | None = None,
    workers: int = 1,
) -> Path:
    """Encode every recording at every level (skipping files already there), `workers` files
    at a time; write the index."""
    recordings = load_dataset(dataset, root)
    out = Path(out_dir)
    rows, jobs = [], {}
    for rec in recordings:
        for level in levels:
            path = rec.video.resolve()
            if level.codec is not None:  # a name from the data: kept inside the output folder
                path = inside(out / level.name, rec.id, "recording id") / "video.mkv"
                if not path.exists():
                    jobs[(rec.id, level.name)] = (rec.video, path, level)
            rows.append({"recording": rec.id, "level": level.name, "path": path})
    with removed_on_failure(out):  # a failed first run leaves no folder behind
        ensure_dir(out)
        _encode(jobs, workers, on_video)
        _write_index(out, dataset, root, levels, rows)
    return out / INDEX


def _encode(
    jobs: dict[tuple[str, str], tuple[Path, Path, Level]],
    workers: int,
    on_video: Callable[[str, str], None] | None,
) -> None:
    """Run the encodings, `workers` at a time: (recording, level) -> (source, target, level)."""
    with process_pool(max(workers, 1)) as pool:
        futures = {
            pool.submit(compress, src, path, lossy_codec(lv.codec, lv.bitrate, lv.crf)): key
            for key, (src, path, lv) in jobs.items()
        }
        for future in as_completed(futures):
            future.result()
            if on_video is not None:
                on_video(*futures[future])


def _write_index(
    out: Path, dataset: str, root: str | os.PathLike, levels: list[Level], rows: list[dict]
) -> None:
    """ladder.json and ladder.csv: which file holds which recording at which level."""
    for row in rows:
        row["bytes"] = _size(row["path"])
        row["path"] = _relative(row["path"], out)
    index = {
        "dataset": dataset,
        "root": str(Path(root).resolve()),
        "levels": [asdict(level) for level in levels],
        "videos": rows,
    }
    write_json(out / INDEX, index)
    lines = ["recording,level,path,bytes"] + [
        f"{r['recording']},{r['level']},{r['path']},{r['bytes']}" for r in rows
    ]
    write_text(out / "ladder.csv", "\n".join(lines) + "\n")


def _size(path: Path) -> int:
    if path.is_dir():  # a folder of frames
        return sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return path.stat().st_size


def _relative(path: Path, out: Path) -> str:
    try:
        return str(path.relative_to(out))
    except ValueError:
        return str(path)


@register_dataset("ladder")
def ladder(root: Path) -> list[Recording]:
    """A compression ladder written by `rppgkit ladder`: every recording at every level."""
    index_path = root / INDEX if root.is_dir() else root
    if not index_path.is_file():
        raise DatasetError(f"{index_path} is missing; make the ladder with `rppgkit ladder`")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        originals = {r.id: r for r in load_dataset(index["dataset"], index["root"])}
    except (ValueError, KeyError, TypeError):
        raise DatasetError(
            f"{index_path} is not an index written by `rppgkit ladder`; make the ladder again"
        ) from None
    recordings = []
    for row in index["videos"]:
        original = originals.get(row["recording"])
        if original is None:
            raise DatasetError(
                f"{index_path}: recording {row['recording']} is no longer in {index['root']}"
            )
        recordings.append(
            Recording(
                dataset="ladder",
                id=f"{row['level']}/{original.id}",
                subject=original.subject,
                video=index_path.parent / row["path"],
                read_reference=original.read_reference,
                fps=original.fps,
                group=row["level"],
                skin_masks=original.skin_masks,  # re-encoding keeps every frame
                clean=None if row["level"] == ORIGINAL else original.video,
            )
        )
    return recordings


def level_index(group: str) -> int:
    """The level number of a ladder recording's group ("2-x264-500k" -> 2; original: 0)."""
    head = group.split("-", 1)[0]
    if not head.isdigit():
        raise DatasetError(f"{group!r} is not a compression-ladder level; use dataset ladder")
    return int(head)


def source_id(recording_id: str, level: str) -> str:
    """The original recording's id of a ladder recording: its id less its level (its group)
    ("2-x264-500k/baseline/s3" -> "baseline/s3"; an id a data config prefixed with its folder
    keeps it: "train/2-x264-500k/s3" -> "train/s3")."""
    parts = recording_id.split("/")
    parts.remove(level)
    return "/".join(parts)
