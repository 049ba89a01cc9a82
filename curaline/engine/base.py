"""The engine interface and its configuration (`engine:` in curaline.yaml).

An engine maps a picklable top-level function over picklable tasks and yields
``(index, result)`` pairs as tasks complete, in completion order, so the caller can
commit, count and report each shard as soon as it is done. A task that raises ends
the map with `TaskError`, naming the task, after the tasks already running finish.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The engines curaline knows; `ray` is the next implementation of the same interface.
ENGINE_KINDS = ("local",)


def default_workers() -> int:
    """All the cores this process may use (its CPU affinity), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class EngineConfig:
    """`engine: {kind: local, workers: N}`; workers None means every core."""

    kind: str = "local"
    workers: int | None = None

    @classmethod
    def parse(cls, raw: object, where: str = "curaline.yaml") -> EngineConfig:
        """Validate the `engine:` section, naming the key at fault."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: engine: must be a mapping like {{kind: local, workers: 4}}")
        unknown = sorted(set(map(str, raw)) - {"kind", "workers"})
        if unknown:
            raise ValueError(f"{where}: engine: unknown key(s) {', '.join(unknown)}; allowed: kind, workers")
        kind = raw.get("kind", "local")
        if kind not in ENGINE_KINDS:
            raise ValueError(f"{where}: engine.kind: {kind!r} is not one of {', '.join(ENGINE_KINDS)}")
        workers = raw.get("workers")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"{where}: engine.workers: must be a positive integer, got {workers!r}")
        return cls(kind=str(kind), workers=workers)

    def with_workers(self, workers: int | None) -> EngineConfig:
        """The config with a command-line override (`--workers N`) applied."""
        if workers is None:
            return self
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        return EngineConfig(kind=self.kind, workers=workers)

    @property
    def resolved_workers(self) -> int:
        return self.workers or default_workers()


class TaskError(RuntimeError):
    """A task failed in a worker; `task` is the task's description, the cause is chained."""

    def __init__(self, task: str, message: str):
        super().__init__(f"{task}: {message}")
        self.task = task


class Engine(ABC):
    """Runs a function over tasks; used as a context manager so workers are always released."""

    #: how many tasks may run at once
    workers: int

    @abstractmethod
    def map(self, fn: Callable[[T], R], tasks: Sequence[T], *, describe: Callable[[T], str] = repr) -> Iterator[tuple[int, R]]:
        """Yield (index into tasks, result) for every task, as each completes."""

    @abstractmethod
    def close(self) -> None:
        """Release the workers (a pool's processes, a cluster connection)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def make_engine(config: EngineConfig, *, preload: Sequence[str] = ()) -> Engine:
    """The engine a config names; preload: modules workers import once, before any task."""
    from curaline.engine.local import LocalEngine

    if config.kind == "local":
        return LocalEngine(config.resolved_workers, preload=preload)
    raise ValueError(f"engine kind {config.kind!r} is not available; known: {', '.join(ENGINE_KINDS)}")


def describe_any(task: Any) -> str:
    return getattr(task, "label", None) or repr(task)[:120]
