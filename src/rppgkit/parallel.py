"""Worker processes for per-video work (evaluation, clip preparation).

Workers are forked from a clean "fork server" that has imported rppgkit's video and face stages
once, not from the caller: a caller that has already run PyTorch (say, a training script that
then evaluates) holds OpenMP thread pools that a plain fork copies in a broken state, and the
workers hang. Starting from the server also costs only a fork per worker after the first pool.
Each worker keeps OpenCV to one thread: the parallelism is one video per process, and N
processes that each start a thread per core oversubscribe the machine.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

PRELOAD = ["rppgkit.evaluate.run", "rppgkit.clip.cache"]


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes started by the fork server (spawned where there is none)."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_one_thread)


def _one_thread() -> None:
    import cv2

    cv2.setNumThreads(1)
