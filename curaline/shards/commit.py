"""Exactly-once shard commits: a shard's outputs and ledger files become visible together.

A worker writes every file of a shard beside its final path under a hidden temporary
name, then writes the shard's marker (atomically: temp file, fsync, rename). The marker
is the commit point: it lists each temporary file and its final name, so the renames
that follow can be redone by whoever finds the marker after a kill (`recover`). A
shard without a marker was never committed: its temporary files are garbage and its
ledger rows were never visible. A marker also carries the shard's key (its input and
the chain's settings) and its result, so a rerun skips the shard, counting it from
the marker, exactly when nothing it depends on changed.

While a worker works on a shard it holds the shard's lock (`flock` on the marker's
`.lock` file): a worker orphaned by a killed run finishes or dies before a resumed
run can start the same shard, so no two attempts ever commit one shard.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MARKER_VERSION = 1


def _fsync_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class ShardCommit:
    """The files of one shard, staged under temporary names until `commit`."""

    def __init__(self, marker: Path, key: str):
        self.marker = marker
        self.key = key
        self.token = secrets.token_hex(6)  # this attempt's temporary names: never shared with another attempt
        self.files: list[tuple[Path, Path]] = []

    def stage(self, final: Path) -> Path:
        """The temporary path to write `final` to (hidden, in the same folder, so the rename is atomic)."""
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{self.token}.tmp")
        self.files.append((tmp, final))
        return tmp

    def commit(self, result: dict[str, Any], *, supersedes: list[str] | tuple[str, ...] = ()) -> None:
        """Make every staged file visible: the marker first (the commit point), then the renames.

        supersedes: files of an earlier commit of the same shard that this one replaces (removed
        after the renames, and again by `recover` if a kill came first).
        """
        missing = [str(t) for t, _ in self.files if not t.exists()]
        if missing:
            raise FileNotFoundError(f"staged shard file(s) not written: {', '.join(missing)}")
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": MARKER_VERSION, "key": self.key,
                "files": [[str(t), str(f)] for t, f in self.files], "result": result,
                "supersedes": [p for p in supersedes if p not in {str(f) for _, f in self.files}]}  # fmt: skip
        _fsync_write(self.marker, json.dumps(body, sort_keys=True).encode())
        _roll_forward(body)

    def abort(self) -> None:
        for tmp, _ in self.files:
            tmp.unlink(missing_ok=True)


def _roll_forward(body: dict[str, Any]) -> None:
    for tmp, final in body["files"]:
        if os.path.exists(tmp):
            os.replace(tmp, final)
    for path in body.get("supersedes", ()):
        if os.path.exists(path):
            os.unlink(path)


def read_marker(marker: Path) -> dict[str, Any] | None:
    try:
        body = json.loads(marker.read_bytes())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and body.get("version") == MARKER_VERSION else None


def recover(marker: Path, key: str, *, prefix: str | None = None) -> dict[str, Any] | None:
    """The committed result of a shard if its marker has this key, finishing a commit a kill interrupted.

    None when the shard must run: no marker, another key (its input or settings changed),
    or a committed file that is gone (removed by hand). A key starting with prefix also matches.
    """
    body = read_marker(marker)
    found = body.get("key") if body is not None else None
    if body is None or not (found == key or (prefix is not None and str(found).startswith(prefix))):
        return None
    _roll_forward(body)
    if not all(os.path.exists(final) for _, final in body["files"]):
        return None
    return body["result"]


def sweep(folder: Path, name: str, *, stamped: bool = False) -> int:
    """Remove temporary files an interrupted attempt left for `name` in folder; returns how many.

    stamped: name is a shard's ledger suffix (``shard=NNNNN-of-MMMMM.parquet``) and the final names
    are ``<time>-run=<run id>.<name>``: the leftovers of any run's attempt at that shard go (the
    caller holds the shard's lock, so no attempt is writing them)."""
    removed = 0
    if folder.is_dir():
        for entry in os.scandir(folder):
            ours = entry.name.startswith(f".{name}.") or (
                stamped and entry.name.startswith(".") and "-run=" in entry.name and f".{name}." in entry.name
            )
            if ours and entry.name.endswith(".tmp"):
                os.unlink(entry.path)
                removed += 1
    return removed


@contextmanager
def shard_lock(marker: Path) -> Iterator[None]:
    """Hold the shard's lock: waits while another process (an orphaned worker) holds it."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    with open(marker.with_name(marker.name + ".lock"), "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
