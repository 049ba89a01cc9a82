"""The Ray engine: shards become Ray tasks on an existing cluster, running the same pure task function.

The engine connects to a cluster someone else started (`ray start --head`, KubeRay, or a
test's `ray.cluster_utils.Cluster`); it never starts one, so nothing it does can take a
machine's Ray processes down. Each task is `ray.remote(fn)` with system-failure retries:
a worker or node that dies mid-shard has its tasks rerun elsewhere, and because a shard
commits its files with a marker (`curaline.shards.commit`), a rerun writes the same bytes
and the ledger never holds a shard twice. A task that *raises* is not retried: the error
is the data's or the code's, and it ends the map with `TaskError`, as in the local engine.

Workers write the shard files themselves, so every node must see the project at the same
path (a shared filesystem); results travel back as small JSON-like dicts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from curaline.engine.base import Engine, TaskError

T = TypeVar("T")
R = TypeVar("R")

#: times Ray reruns a task whose worker or node died (not one that raised)
MAX_RETRIES = 3
#: Ray's switch that keeps 127.0.0.1 as the node address instead of the machine's interface address
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rpartition(":")[0]
    return host in ("127.0.0.1", "localhost", "::1", "[::1]")


#: seconds to wait for a TCP answer from the cluster's address before refusing (ray.init itself retries for minutes)
PROBE_TIMEOUT_S = 5.0


class RayUnavailable(ValueError):
    """No Ray cluster answers at the configured address (a ValueError: a configuration problem)."""


def _endpoint(address: str) -> str | None:
    """host:port to probe: the address itself, or for `auto` the cluster this machine last started."""
    if address != "auto":
        return address.removeprefix("ray://")
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"].removeprefix("ray://")
    from ray._private.utils import read_ray_address

    return read_ray_address()


def probe(address: str) -> None:
    """Refuse within seconds when nothing listens at the address, instead of ray.init's long retries."""
    import socket

    endpoint = _endpoint(address)
    if endpoint is None:
        raise RayUnavailable(f"no Ray cluster at {address!r}: none was started on this machine; start one "
                             "(README, 'Scaling out') or pass --address")  # fmt: skip
    host, _, port = endpoint.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        raise RayUnavailable(f"no Ray cluster at {address!r} ({endpoint}: {exc}); start one "
                             "(README, 'Scaling out') or pass --address") from exc  # fmt: skip


class RayEngine(Engine):
    """Runs tasks on the Ray cluster at `address` (`auto`, `host:port` or `ray://host:port`)."""

    def __init__(self, address: str = "auto", *, max_retries: int = MAX_RETRIES):
        self.address = address
        self.max_retries = max_retries
        self.workers = 0  # known once connected: the cluster's CPUs
        self._connected_here = False

    def connect(self) -> None:
        """Join the cluster (or reuse this process's connection); refuse clearly when none answers."""
        if is_loopback(self.address):
            # a driver of a loopback cluster must not advertise the machine's interface address
            os.environ.setdefault(LOOPBACK_ENV, "0")
        import ray

        if ray.is_initialized():  # reuse this process's connection, but only to the cluster asked for
            current = ray.get_runtime_context().gcs_address
            wanted = self.address.removeprefix("ray://")
            if self.address != "auto" and not self.address.startswith("ray://") and wanted != current:
                probe(self.address)  # nothing there: refused as without a connection
                raise RayUnavailable(f"this process is connected to the Ray cluster at {current}; it cannot also "
                                     f"use {self.address!r} (one cluster per process)")  # fmt: skip
        else:
            probe(self.address)
            try:
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False,
                         configure_logging=False)  # fmt: skip
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RayUnavailable(
                    f"no Ray cluster at {self.address!r} ({type(exc).__name__}: {exc}); start one "
                    "(README, 'Scaling out') or pass --address") from exc  # fmt: skip
            self._connected_here = True
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 0)))

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], *, describe: Callable[[T], str] = repr) -> Iterator[tuple[int, R]]:
        if not tasks:
            return
        import ray
        from ray.exceptions import RayError, RayTaskError

        self.connect()
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(fn)
        # at most two tasks per cluster CPU in flight: the driver's memory stays bounded by the cluster, not the shards
        pending: dict[Any, int] = {}
        queue = iter(range(len(tasks)))
        failure: TaskError | None = None

        def submit() -> bool:
            i = next(queue, None)
            if i is None:
                return False
            pending[remote.remote(tasks[i])] = i
            return True

        for _ in range(2 * self.workers):
            if not submit():
                break
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except RayTaskError as exc:  # the task raised: name the original error, as the local engine does
                    cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                    if failure is None:
                        failure = TaskError(describe(tasks[i]), f"{type(cause).__name__}: {cause}")
                        failure.__cause__ = cause
                    continue
                except RayError as exc:  # retries exhausted: the worker or node kept dying
                    if failure is None:
                        failure = TaskError(describe(tasks[i]), f"{type(exc).__name__}: {exc}")
                        failure.__cause__ = exc
                    continue
                if failure is None:
                    submit()
                yield i, result
        if failure is not None:
            raise failure

    def close(self) -> None:
        if self._connected_here:
            import ray

            ray.shutdown()
            self._connected_here = False
