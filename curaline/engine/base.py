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
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The engines curaline knows: a process pool here, or Ray tasks on a cluster.
ENGINE_KINDS = ("local", "ray")
#: `curaline run --engine/--address` set these for the Dagster steps the command runs (as --workers sets
#: CURALINE_WORKERS): the steps run in the same process and build their engine from the project's config
ENGINE_ENV = "CURALINE_ENGINE"
ADDRESS_ENV = "CURALINE_ENGINE_ADDRESS"


def check_address(address: str, where: str = "engine.address") -> str:
    """A Ray address: `auto` (the cluster this machine last started), `host:port` (the GCS) or `ray://host:port`."""
    text = address.strip()
    if text == "auto":
        return text
    rest = text.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{where}: {address!r} is not a Ray address; use auto, host:port or ray://host:port")
    return text


def default_workers() -> int:
    """All the cores this process may use (its CPU affinity), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class EngineConfig:
    """`engine: {kind: local, workers: N}` or `{kind: ray, address: ADDR}`; workers None means every core.

    duckdb_memory: the budget of each DuckDB connection a process opens (curaline.database),
    past which its joins and sorts spill to disk; None means curaline.database.DEFAULT_MEMORY.
    """

    kind: str = "local"
    workers: int | None = None
    address: str | None = None  # ray only; None there means "auto"
    duckdb_memory: str | None = None

    @classmethod
    def parse(cls, raw: object, where: str = "curaline.yaml") -> EngineConfig:
        """Validate the `engine:` section, naming the key at fault."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: engine: must be a mapping like {{kind: local, workers: 4}}")
        allowed = ("kind", "workers", "address", "duckdb_memory")
        unknown = sorted(set(map(str, raw)) - set(allowed))
        if unknown:
            raise ValueError(f"{where}: engine: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        kind = raw.get("kind", "local")
        if kind not in ENGINE_KINDS:
            raise ValueError(f"{where}: engine.kind: {kind!r} is not one of {', '.join(ENGINE_KINDS)}")
        workers = raw.get("workers")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"{where}: engine.workers: must be a positive integer, got {workers!r}")
        address = raw.get("address")
        if address is not None:
            if kind != "ray":
                raise ValueError(f"{where}: engine.address: only a ray engine has an address (kind is {kind!r})")
            if not isinstance(address, str):
                raise ValueError(f"{where}: engine.address: must be a string like auto or 127.0.0.1:6379")
            address = check_address(address, f"{where}: engine.address")
        memory = raw.get("duckdb_memory")
        if memory is not None:
            from curaline.database import check_memory

            memory = check_memory(memory, f"{where}: engine.duckdb_memory")
        return cls(kind=str(kind), workers=workers, address=address, duckdb_memory=memory)

    def with_engine(self, kind: str | None, address: str | None = None) -> EngineConfig:
        """The config with `--engine KIND --address ADDR` applied (an address alone implies ray)."""
        if kind is None and address is None:
            return self
        kind = kind or ("ray" if address else self.kind)
        if kind not in ENGINE_KINDS:
            raise ValueError(f"--engine: {kind!r} is not one of {', '.join(ENGINE_KINDS)}")
        if address is not None and kind != "ray":
            raise ValueError("--address: only the ray engine has an address")
        if address is not None:
            address = check_address(address, "--address")
        return replace(self, kind=kind, address=address or (self.address if kind == self.kind else None))

    def with_environment(self) -> EngineConfig:
        """The config with what `curaline run` put in the environment for its steps (CURALINE_ENGINE...)."""
        return self.with_engine(os.environ.get(ENGINE_ENV) or None, os.environ.get(ADDRESS_ENV) or None)

    @property
    def resolved_address(self) -> str:
        return self.address or "auto"

    @property
    def label(self) -> str:
        """Where shards run, for logs: `local, 4 workers` or `ray at 10.0.0.5:6379`."""
        if self.kind == "ray":
            return f"ray at {self.resolved_address}"
        return f"{self.kind}, {self.resolved_workers} worker(s)"

    def with_workers(self, workers: int | None) -> EngineConfig:
        """The config with a command-line override (`--workers N`) applied."""
        if workers is None:
            return self
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        return replace(self, workers=workers)

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


def make_engine(config: EngineConfig, *, preload: Sequence[str] = (), in_process: bool = True) -> Engine:
    """The engine a config names; preload: modules workers import once, before any task;
    in_process: see `LocalEngine`."""
    from curaline.engine.local import LocalEngine

    if config.kind == "local":
        return LocalEngine(config.resolved_workers, preload=preload, in_process=in_process)
    if config.kind == "ray":
        from curaline.engine.ray import RayEngine

        return RayEngine(config.resolved_address)
    raise ValueError(f"engine kind {config.kind!r} is not available; known: {', '.join(ENGINE_KINDS)}")


def describe_any(task: Any) -> str:
    return getattr(task, "label", None) or repr(task)[:120]
