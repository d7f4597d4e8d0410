"""Output that loses nothing: atomic files and result sets, paths kept apart and inside roots.

A file is written to a hidden temporary beside its target and renamed over it; a result set (a
folder of files that belong together) is written to a hidden temporary folder and swapped in as a
whole, so an interrupted or concurrent run never leaves a mix of old and new files. Scratch data
(face crops) lives in unnamed files that vanish with the process, even when it is killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import DTypeLike

from rppgkit.errors import RppgError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def ensure_dir(path: str | os.PathLike, hint: str = "choose another --out") -> Path:
    """Create `path` (and parents) or raise a one-line error saying why it cannot be used, ending
    with `hint`."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as exc:
        raise RppgError(
            f"cannot write to output directory {p}: {exc.strerror or exc}; {hint}"
        ) from None
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces `path`, on error it is removed."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_hidden(target), suffix=".tmp")
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


def shown(path: str | os.PathLike) -> str:
    """`path` as text that prints and writes as UTF-8 anywhere: the bytes of a file name that are
    not UTF-8 (which Python keeps as lone surrogates) are shown as escapes such as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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


NAME_MAX = 255  # bytes in one file name on common file systems


@contextlib.contextmanager
def prepared_output(
    target: str | os.PathLike, names: frozenset[str] | set[str] | None = None
) -> Iterator[Path]:
    """Check that a run can write `target` before it does its work; yield `target`.

    `target` is a file, or with `names` a result-set folder (see `atomic_dir`). Its name must fit
    the file system and a file must not be a folder; its folder is created (with parents) and
    must be writable. If the block raises, the folders created here are removed again when they
    are still empty, so a failed run leaves no empty output folder behind.
    """
    out = Path(target)
    made = [d for d in (out.parent, *out.parent.parents) if not os.path.lexists(d)]
    try:
        _check_name(out)
        ensure_dir(out.parent, "choose another output path")
        if names is not None:
            _check_replaceable(out, names)
        elif out.is_dir():
            raise RppgError(f"{out} is a folder; give the name of the file to write")
        yield out
    except BaseException:
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _check_name(out: Path) -> None:
    """Refuse a name no file can have, or one that names no entry of its own (`.`, `..`)."""
    if out.name in ("", ".", ".."):
        raise RppgError(f"{out} names no new file or folder; give one such as {out / 'results'}")
    if len(os.fsencode(out.name)) > NAME_MAX:
        raise RppgError(
            f"the output name {out.name[:40]}... is over {NAME_MAX} bytes long; give a shorter one"
        )


def _hidden(target: Path) -> str:
    """The prefix of a hidden temporary beside `target`, short enough for any valid name."""
    return "." + os.fsdecode(os.fsencode(target.name)[:200]) + "."


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, names: frozenset[str] | set[str]) -> Iterator[Path]:
    """Yield a hidden temporary folder; on success it replaces the folder `path` as a whole.

    `names` are the files a set may hold: an existing `path` that holds anything else is not a
    result set of this kind (say, the user's home folder given as --out) and is refused before any
    work is done, never replaced. A missing folder above `path` is created (see
    `prepared_output`).
    """
    with prepared_output(path, names) as target:
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=_hidden(target), suffix=".partial"))
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
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=_hidden(target), suffix=".old"))
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


class RecordFiles:
    """Records of fixed shapes appended one at a time (one per video frame, say) to unnamed
    scratch files, then read back as memory-mapped arrays: a whole video's face crops never sit
    in memory, and nothing is left on disk however the process ends. Made by `record_files`."""

    def __init__(
        self,
        handles: Mapping[str, BinaryIO],
        layout: Mapping[str, tuple[tuple[int, ...], DTypeLike]],
    ) -> None:
        self._handles = handles
        self._layout = {name: (tuple(shape), np.dtype(dt)) for name, (shape, dt) in layout.items()}
        self._blank = {n: bytes(int(np.prod(s)) * d.itemsize) for n, (s, d) in self._layout.items()}

    def append(self, name: str, record: np.ndarray) -> None:
        """Append one record to the file `name`, converted to its dtype."""
        shape, dtype = self._layout[name]
        if record.shape != shape:
            raise ValueError(f"a {name} record is {shape}, not {record.shape}")
        self._handles[name].write(np.ascontiguousarray(record, dtype).tobytes())

    def append_blank(self) -> None:
        """Append a record of zeros to every file (a frame with nothing to keep)."""
        for name, handle in self._handles.items():
            handle.write(self._blank[name])

    def arrays(self) -> dict[str, np.ndarray]:
        """Every file's records so far, read-only ``[N, *shape]``; the maps outlive the files."""
        out = {}
        for name, handle in self._handles.items():
            shape, dtype = self._layout[name]
            handle.flush()
            if handle.tell() == 0:  # an empty file cannot be mapped
                out[name] = np.zeros((0, *shape), dtype)
            else:
                out[name] = np.memmap(handle, dtype, "r").reshape(-1, *shape)
        return out


@contextlib.contextmanager
def record_files(
    layout: Mapping[str, tuple[tuple[int, ...], DTypeLike]],
    beside: str | os.PathLike | None = None,
) -> Iterator[RecordFiles]:
    """Open one unnamed scratch file per record kind, closed when the block ends.

    Parameters
    ----------
    layout
        Name -> (shape, dtype) of the records each file holds, e.g.
        ``{"crops": ((72, 72, 3), np.uint8)}``.
    beside
        A folder on the disk to use (default: the system's temporary folder): the output's own
        disk, where the arrays are copied to a file next.

    Returns
    -------
    A context manager yielding the `RecordFiles`; take `arrays()` before the block ends or after.
    """
    with contextlib.ExitStack() as stack:
        handles = {name: stack.enter_context(tempfile.TemporaryFile(dir=beside)) for name in layout}
        yield RecordFiles(handles, layout)


def content_key(parts: Sequence[object]) -> str:
    """A short name for cached content: 16 hex digits of the SHA-1 of `parts` as JSON.

    Parameters
    ----------
    parts
        Everything the content depends on (format versions, paths, sizes, settings), as JSON
        values; their order counts.

    Returns
    -------
    The key, the same on every machine and Python version for the same parts.
    """
    return hashlib.sha1(json.dumps(list(parts)).encode()).hexdigest()[:16]


@contextlib.contextmanager
def removed_on_failure(path: str | os.PathLike) -> Iterator[Path]:
    """Yield `path`, a folder a resumable run fills in place; if the block fails or is
    interrupted, remove what it created (the first missing folder on the way to `path`, with all
    in it), so a failed run into a new folder leaves nothing behind. A folder that existed is
    kept with each finished file in it (whole), for the next run to resume from."""
    out = Path(path)
    new = next((d for d in reversed([out, *out.parents]) if not os.path.lexists(d)), None)
    try:
        yield out
    except BaseException:
        if new is not None:
            shutil.rmtree(new, ignore_errors=True)
        raise
