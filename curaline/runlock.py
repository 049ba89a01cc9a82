"""One `curaline run` per project at a time: the project lock.

Two runs on one project would both do all the work and race on the same outputs. The
lock is an `flock` on ``.curaline/run.lock`` (released by the kernel when its holder
exits, even after kill -9, so a dead run never blocks the next); the file names its
holder (pid, host, start time) so the refusal says who holds it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ProjectLocked(RuntimeError):
    """Another run holds the project's lock."""


def lock_path(root: Path) -> Path:
    return root / ".curaline" / "run.lock"


def _holder(fh) -> str:
    fh.seek(0)
    try:
        info = json.loads(fh.read() or b"{}")
    except ValueError:
        info = {}
    if not info:
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}"


@contextmanager
def project_lock(root: Path, *, wait: bool = False, on_wait=None) -> Iterator[None]:
    """Hold the project's run lock; refuse (ProjectLocked) or, with wait, block until it is free."""
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fh)
            if not wait:
                raise ProjectLocked(f"project {root} is being run by {holder} (lock {path}): "
                                    "wait for that run to finish, or pass --wait") from None  # fmt: skip
            if on_wait is not None:
                on_wait(f"waiting for the run of {holder} to finish (lock {path})")
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0)
            fh.truncate()
            info = {"pid": os.getpid(), "host": socket.gethostname(),
                    "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
            fh.write(json.dumps(info).encode())
            fh.flush()
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
