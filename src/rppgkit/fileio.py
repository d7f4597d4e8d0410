"""Output that loses nothing: atomic files and result sets, paths kept apart and inside roots.

A file is written to a hidden temporary beside its target and renamed over it; a result set (a
folder of files that belong together) is written to a hidden temporary folder and swapped in as a
whole, so an interrupted or concurrent run never leaves a mix of old and new files. Scratch data
(face crops) lives in unnamed files that vanish with the process, even when it is killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rppgkit.errors import RppgError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create `path` (and parents) or raise a one-line error saying why it cannot be used."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as exc:
        raise RppgError(
            f"cannot write to output directory {p}: {exc.strerror or exc}; choose another --out"
        ) from None
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces `path`, on error it is removed."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes files private; results are not
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def check_distinct(target: str | os.PathLike, *sources: str | os.PathLike) -> None:
    """Refuse an output path that is one of the inputs (it would be overwritten)."""
    out = Path(target)
    for source in sources:
        src = Path(source)
        same = (
            os.path.samefile(out, src)
            if out.exists() and src.exists()
            else out.resolve() == src.resolve()
        )
        if same:
            raise RppgError(f"{out} is the input itself; choose another output path")


def inside(root: str | os.PathLike, name: str, what: str = "name") -> Path:
    """`root / name` for a name that comes from data (a recording id), refused unless it stays
    inside `root`: no absolute paths, no `..`, no NUL, no part longer than a file name may be."""
    parts = Path(name).parts
    bad = (
        not name
        or "\0" in name
        or Path(name).is_absolute()
        or any(part in ("..", ".") for part in parts)
        or any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in parts)
    )
    if bad:
        raise RppgError(
            f"{what} {name[:80]!r} cannot be used as a file name under {root} (absolute, '..', "
            "NUL or over 255 bytes); rename it"
        )
    return Path(root) / name


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, names: frozenset[str] | set[str]) -> Iterator[Path]:
    """Yield a hidden temporary folder; on success it replaces the folder `path` as a whole.

    `names` are the files a set may hold: an existing `path` that holds anything else is not a
    result set of this kind (say, the user's home folder given as --out) and is refused before any
    work is done, never replaced.
    """
    target = Path(path)
    _check_replaceable(target, names)
    ensure_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes folders private; results are not
        with _locked(target.parent):
            _check_replaceable(target, names)
            _swap_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_replaceable(target: Path, names: frozenset[str] | set[str]) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise RppgError(f"{target} is a file; give a folder for the results")
    others = sorted(p.name for p in target.iterdir() if p.name not in names)
    if others:
        raise RppgError(
            f"{target} holds other files ({', '.join(others[:3])}); rppgkit replaces only a "
            "folder of its own results: choose a new or empty output folder"
        )


def _swap_in(tmp: Path, target: Path) -> None:
    """Put `tmp` at `target`; an old `target` is moved aside first and removed after."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
        os.replace(target, old / "set")
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on a folder, so two runs swap result sets in one at a time."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def scratch_array(
    shape: tuple[int, ...], dtype: Any = np.uint8, beside: str | os.PathLike | None = None
) -> np.memmap:
    """A zeroed array on disk in a file with no name: nothing is left behind however the process
    ends (a privacy tool must not leave face crops in a temporary folder when killed).

    Parameters
    ----------
    shape, dtype
        Of the array.
    beside
        A folder on the disk to use (default: the system's temporary folder).
    """
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    with tempfile.TemporaryFile(dir=beside) as handle:  # unlinked at once on POSIX
        handle.truncate(max(size, 1))
        return np.memmap(handle, dtype=dtype, mode="r+", shape=shape)
