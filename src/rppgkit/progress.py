"""Progress bars on stderr, shown only on a terminal (logs and pipes stay clean)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(
    label: str, total: int | None, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A progress bar over frames, recordings or batches; yields a callback taking the index of
    the item just finished (and the total, where it becomes known on the way)."""
    if not (enabled and sys.stderr.isatty()):  # without a bar rich is not imported
        yield lambda i, total=None: None
        return
    from rich.console import Console
    from rich.progress import (  # here: importing rich costs 0.1 s
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
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def tick(i: int, total: int | None = None) -> None:
            bar.update(task, completed=i + 1, total=total or bar.tasks[0].total)

        yield tick
