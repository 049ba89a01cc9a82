"""DuckDB connections inside a memory budget, spilling to the project's own folder
(`.curaline/tmp`, one locked folder per process).

An in-memory DuckDB database may by default take 80 % of the machine's memory, and spills
to `.tmp` in whatever directory the process runs in. The driver's global stages (dedup's
band join, the release's record table, the split-leak check) then grew with the corpus:
the band join of the 1M-document benchmark took 560 MiB for 35 MiB of band files. With a
budget DuckDB spills its joins, sorts and aggregates to disk past it instead, so what it
holds is bounded by a setting rather than by the corpus (`engine.duckdb_memory` in
curaline.yaml).
"""

from __future__ import annotations

import atexit
import fcntl
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from curaline.sql import literal

if TYPE_CHECKING:
    from curaline.project import Project

#: The budget of each connection when curaline.yaml names none (at least PER_THREAD for each
#: of DuckDB's threads). Under 1 GiB the release's record table of the 1M-document benchmark
#: (125k records) took twice as long to build (5.0 s at 768 MiB, 2.6 s at 1 GiB or unbounded).
DEFAULT_MEMORY = "1GiB"
#: What one DuckDB thread needs to spill rather than fail: under about this, a sort or a
#: distinct on 2 threads ran out of memory instead of spilling (48 MiB failed, 96 MiB did not).
PER_THREAD = 128 * 2**20
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$")
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}  # fmt: skip


def check_memory(value: object, where: str = "engine.duckdb_memory") -> str:
    """A DuckDB memory size such as 512MiB or 2GB, at least PER_THREAD (one thread's need);
    anything else is refused by name."""
    if not isinstance(value, str) or not _SIZE.match(value):
        raise ValueError(f"{where}: {value!r} is not a memory size; write it like 512MiB or 2GB")
    if size_bytes(value) < PER_THREAD:
        raise ValueError(f"{where}: {value!r} is below {PER_THREAD >> 20}MiB, what one DuckDB thread needs "
                         "to spill instead of failing")  # fmt: skip
    return value.strip()


def size_bytes(value: str) -> int:
    """Bytes of a size check_memory accepted (DuckDB's reading: GB is 10**9, GiB 2**30)."""
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a memory size")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def spill_dir(project: Project | None) -> Path:
    """Where DuckDB writes what does not fit: the project's machine-local `.curaline/tmp`, else the
    system's temp folder. Each process spills into a folder of its own inside (`process_spill_dir`).

    Not under data/: the stage views and versioning list data/'s folders, and a process's folder
    appears and goes while they do (a `lineage sql` beside a run failed on one that went).
    """
    if project is None:
        return Path(tempfile.gettempdir()) / "curaline-duckdb"
    return project.root / ".curaline" / "tmp"


#: the spill folder of this process in each base: (base, pid) -> (folder, the fd holding its lock)
_OWN: dict[tuple[Path, int], tuple[Path, int]] = {}
LOCK_NAME = ".lock"


def process_spill_dir(base: Path) -> Path:
    """This process's spill folder inside `base` (`duckdb-<pid>-<random>`), made on first use and
    locked (flock) for as long as the process lives.

    DuckDB deletes its temporary files when a connection closes, and the release deletes its
    part files, but a process that is killed (kill -9, out of memory) leaves them: at 1M
    documents, gigabytes. A folder whose lock nobody holds belongs to a process that is gone,
    on this machine or any other sharing the project, so it is deleted here, when the next
    process makes its own; a live process's folder is never touched (its lock is held, also
    by a forked child that inherited it).
    """
    key = (base.resolve(), os.getpid())
    if key in _OWN:
        folder = _OWN[key][0]
        if folder.is_dir():
            return folder
        _release(key)  # deleted under us (by hand): a new one
    base.mkdir(parents=True, exist_ok=True)
    # made under a name the sweep ignores, locked, then renamed: no sweep sees it unlocked
    name = f"duckdb-{os.getpid()}-{secrets.token_hex(4)}"
    staging = base / f".new-{name}"
    staging.mkdir()
    fd = os.open(staging / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    folder = staging.rename(base / name)
    _OWN[key] = (folder, fd)
    # at exit: atexit in a main process, multiprocessing's finalizers in a pool's worker (which
    # ends with os._exit, skipping atexit)
    atexit.register(_release, key)
    from multiprocessing.util import Finalize

    Finalize(None, _release, args=(key,), exitpriority=0)
    sweep_spill_folders(base)
    return folder


def sweep_spill_folders(base: Path) -> list[Path]:
    """Delete the spill folders in `base` whose lock is free (their process is gone); returns them.
    A folder still being made (`.new-…`) is left to its maker, unless a minute old and unlocked."""
    import time

    gone = []
    for entry in sorted(base.iterdir()) if base.is_dir() else []:
        fresh = entry.name.startswith(".new-duckdb-")
        if not entry.is_dir() or not (entry.name.startswith("duckdb-") or fresh):
            continue
        if any(entry == own for own, _ in _OWN.values()):
            continue
        try:
            if fresh and time.time() - entry.stat().st_mtime < 60:
                continue
            fd = os.open(entry / LOCK_NAME, os.O_RDWR)
        except OSError:  # no lock file: not one of these folders, or deleted meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its process lives
            os.close(fd)
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)
            gone.append(entry)
        finally:
            os.close(fd)
    return gone


def own_spill_dir(project: Project | None) -> Path:
    """This process's spill folder for the project: in its .curaline/tmp, else (a read-only copy of a
    project, queried for compliance) in the system's temp folder."""
    try:
        return process_spill_dir(spill_dir(project))
    except OSError:
        return process_spill_dir(spill_dir(None))


def _release(key: tuple[Path, int]) -> None:
    """At exit: this process's folder goes (what DuckDB and the release left in it is done with).
    Once: both exit hooks call it; a forked child that inherited them leaves its parent's folder."""
    if key[1] != os.getpid() or key not in _OWN:
        return
    folder, fd = _OWN.pop(key)
    shutil.rmtree(folder, ignore_errors=True)
    os.close(fd)


def connect(project: Project | None = None, *, memory: str | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB connection with the project's budget (`memory` overrides it).

    The default grows with DuckDB's threads (PER_THREAD each); a budget named in
    curaline.yaml is kept, and the threads are cut to what it gives PER_THREAD each.
    """
    named = memory or (project.config.engine.duckdb_memory if project is not None else None)
    folder = own_spill_dir(project)
    con = duckdb.connect()
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    if named is None:
        budget = max(size_bytes(DEFAULT_MEMORY), PER_THREAD * threads)
    else:
        budget = size_bytes(named)
        con.execute(f"SET threads = {max(1, min(threads, budget // PER_THREAD))}")
    con.execute(f"SET memory_limit = '{budget}B'")
    con.execute(f"SET temp_directory = {literal(folder)}")
    return con
