"""Task functions the Ray engine tests send to the cluster's workers (importable there via PYTHONPATH)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def where(x: int) -> tuple[int, int, str]:
    """x squared, and the worker process and Ray node that computed it."""
    import ray

    return x * x, os.getpid(), ray.get_runtime_context().get_node_id()


def logged_work(args: tuple[int, str]) -> str:
    """Appends 'start <x> <node> <pid>' to a log (O_APPEND: one line per attempt), hashes for a while, then 'end <x>'."""
    import ray

    x, log = args
    with Path(log).open("a") as f:
        f.write(f"start {x} {ray.get_runtime_context().get_node_id()} {os.getpid()}\n")
    digest = str(x).encode()
    for _ in range(400_000):  # about half a second of CPU: a node can be killed while this runs
        digest = hashlib.sha256(digest).digest()
    with Path(log).open("a") as f:
        f.write(f"end {x} - -\n")
    return digest.hex()
