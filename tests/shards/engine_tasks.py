"""Top-level task functions the engine tests send to worker processes (they must be importable)."""

from __future__ import annotations

import os


def square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x
