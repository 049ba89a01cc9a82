"""The local engine: a process pool over the machine's cores.

Workers are forked from a forkserver that has already imported the modules the tasks
need (`preload`), so a worker starts in milliseconds instead of re-importing Arrow,
NumPy and the kernels: the fixed cost of a run is paid once, not once per worker. With
one task, or one worker (unless `in_process=False`), tasks run in the calling process:
no pool, no pickling, same results.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

from curaline.engine.base import Engine, TaskError

T = TypeVar("T")
R = TypeVar("R")


def _die_with_driver(driver: int) -> None:
    """End this worker when the driver process ends: a run killed with -9 leaves no worker behind.

    Workers are children of the forkserver, which outlives a killed driver, so the worker
    watches the driver itself: a thread blocks on a pidfd (Linux), which becomes readable
    when the driver exits. Without pidfds, the worker simply lives until its queue closes.
    """
    import select
    import threading

    try:
        fd = os.pidfd_open(driver)
    except ProcessLookupError:  # the driver died while this worker started
        os._exit(70)
    except (AttributeError, OSError):
        return

    def watch() -> None:
        select.select([fd], [], [])
        os._exit(70)

    threading.Thread(target=watch, name="curaline-driver-watch", daemon=True).start()


class LocalEngine(Engine):
    def __init__(self, workers: int, *, preload: Sequence[str] = (), in_process: bool = True):
        """in_process=False: one worker is a process of its own, for a caller with other work
        to do meanwhile (`curaline run` sets up Dagster while its shards run)."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.preload = tuple(preload)
        self.in_process = in_process
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["curaline.engine.local", *self.preload])
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_die_with_driver,
                                             initargs=(os.getpid(),))
        return self._pool

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], *, describe: Callable[[T], str] = repr) -> Iterator[tuple[int, R]]:
        if (self.workers == 1 and self.in_process) or len(tasks) <= 1:
            for i, task in enumerate(tasks):
                try:
                    result = fn(task)
                except Exception as exc:
                    raise TaskError(describe(task), f"{type(exc).__name__}: {exc}") from exc
                yield i, result
            return
        pool = self._executor()
        # at most two tasks per worker in flight: memory stays bounded by workers, not by shards
        pending: dict[Future[R], int] = {}
        queue = iter(range(len(tasks)))
        failure: TaskError | None = None

        def submit() -> bool:
            i = next(queue, None)
            if i is None:
                return False
            pending[pool.submit(fn, tasks[i])] = i
            return True

        for _ in range(2 * self.workers):
            if not submit():
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                error = future.exception()
                if error is not None:
                    if failure is None:
                        failure = TaskError(describe(tasks[i]), f"{type(error).__name__}: {error}")
                        failure.__cause__ = error
                    continue
                if failure is None:
                    submit()
                yield i, future.result()
        if failure is not None:
            raise failure

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
