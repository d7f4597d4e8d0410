"""Progress bars on stderr, shown only on a terminal (logs and pipes stay clean)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def stderr() -> Console:
    """The console on stderr; made at first use, so that `rppgkit --help` never imports rich.

    Log lines are never hard-wrapped, and user text (paths, messages) is never read as markup.
    """
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


@contextlib.contextmanager
def progress_bar(
    label: str, total: int | None, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A progress bar over frames, recordings or batches; yields a callback taking the index of
    the item just finished (and the total, where it becomes known on the way)."""
    if not (enabled and stderr().is_terminal):  # without a bar rich.progress is not imported
        yield lambda i, total=None: None
        return
    from rich.progress import (  # here: importing it costs 40-80 ms
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn()]
    with Progress(
        *columns,
        TimeRemainingColumn(),
        console=stderr(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def tick(i: int, total: int | None = None) -> None:
            bar.update(task, completed=i + 1, total=total or bar.tasks[0].total)

        yield tick
