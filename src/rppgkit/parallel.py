"""Worker processes for per-video work (evaluation, clip preparation, encoding).

Workers are forked from a clean "fork server" that has imported rppgkit's video and face stages
once, not from the caller: a caller that has already run PyTorch (say, a training script that
then evaluates) holds OpenMP thread pools that a plain fork copies in a broken state, and the
workers hang. Starting from the server also costs only a fork per worker after the first pool.
Each worker keeps OpenCV to one thread: the parallelism is one video per process, and N
processes that each start a thread per core oversubscribe the machine.

Workers never outlive the caller. Each watches it (a pidfd on Linux, else a check each second)
and stops when it is gone, even killed with SIGKILL; the fork server's parent-death signal would
not do, as the server lives on while any worker does. Ctrl-C is the caller's to handle: workers
ignore SIGINT, and a pool left by an interrupt cancels the tasks not started and stops its
workers before the interrupt goes on. A worker stopped in a task unwinds it first (atomic writes
remove their temporaries), so it leaves no partial file, then exits at once.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

PRELOAD = ["rppgkit.evaluate.run", "rppgkit.clip.cache"]
STOPPED = 128 + signal.SIGTERM  # exit status of a worker stopped by its caller
STOP_WAIT_S = 10.0  # a stopped worker has this long to unwind its task before it is killed

T = TypeVar("T")
_in_task = False  # in a worker: running a task (stop by unwinding it) or idle (stop at once)


class WorkerPool(ProcessPoolExecutor):
    """A process pool whose workers stop with the caller: when it dies, and on its Ctrl-C."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Schedule `fn(*args, **kwargs)` in a worker."""
        return super().submit(_guarded, fn, *args, **kwargs)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.stop()  # Ctrl-C or exit: do not wait for the running tasks
        return super().__exit__(exc_type, exc, tb)

    def stop(self) -> None:
        """Cancel the tasks not started, stop the workers and wait until they are gone."""
        workers = list((self._processes or {}).values())
        self.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join(STOP_WAIT_S)
            if worker.is_alive():  # stuck in native code that ignores signals
                worker.kill()


def process_pool(workers: int) -> WorkerPool:
    """A pool of `workers` processes started by the fork server (spawned where there is none).

    Parameters
    ----------
    workers
        How many processes run tasks at once.

    Returns
    -------
    WorkerPool
        To be used as a context manager; its workers die with the caller.
    """
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
    else:
        context = multiprocessing.get_context("spawn")
    return WorkerPool(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )


def _start_worker(caller: int) -> None:
    """Set a worker up: stop with the caller, leave Ctrl-C to it, run OpenCV on one thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_stop)
    try:
        watch = os.pidfd_open(caller)
    except ProcessLookupError:  # gone already
        os._exit(STOPPED)
    except (AttributeError, OSError):  # no pidfds here: poll
        watch = None
    threading.Thread(target=_stop_after, args=(caller, watch), daemon=True).start()
    import cv2

    cv2.setNumThreads(1)


def _stop_after(caller: int, watch: int | None) -> None:
    """Wait for the caller to end, then stop this worker (SIGTERM, handled by `_on_stop`)."""
    if watch is not None:
        ended = select.poll()
        ended.register(watch, select.POLLIN)
        ended.poll()
    else:
        while _alive(caller):
            time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _on_stop(signum: int, frame: object) -> None:
    """SIGTERM in a worker: unwind the running task (see `_guarded`), or exit now when idle.
    Later ones (the pool stops every worker once one has gone) must not break the unwinding."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _in_task:
        raise SystemExit(STOPPED)
    os._exit(STOPPED)


def _guarded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one task in a worker; a task stopped by `_on_stop` ends the worker once unwound."""
    global _in_task
    _in_task = True
    try:
        return fn(*args, **kwargs)
    except SystemExit:
        os._exit(STOPPED)  # the task's own cleanup has run; nobody waits for its result
    finally:
        _in_task = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user (its pid was reused)
        return True
    return True
