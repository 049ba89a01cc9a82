"""Dagster's SQLite event log, written through one kept connection per database file.

`SqliteEventLogStorage._connect` builds an engine (`create_engine`, NullPool) for every
connection and disposes of it after: the ~210 events of a `curaline run` open ~770
connections to the run's db and the index db. Each costs a new engine (and, as SQLAlchemy
caches compiled statements per engine, a fresh compilation of every INSERT), and opening and
closing the SQLite file: the last connection to close checkpoints the WAL into the db and
deletes the -wal and -shm files, which the next write creates again.

Here each shard (`<run_id>.db`, `index.db`) has one engine whose pool keeps one connection
open. Everything else is Dagster's: the same files in the same folder, `_db_lock` held for the
whole transaction, `_initdb` once per shard and process, the busy timeout, and
`with engine.connect() as conn: with conn.begin(): yield conn`.

Other processes (the webserver, the daemon) share the files as before: WAL mode lets them
read while this one writes, and an idle connection holds no lock. The webserver's live run
view watches `<run_id>.db` for changes (SqliteEventLogStorageWatchdog), which the stock class
touches when its connection closes; a kept connection would leave the new rows in the -wal
file, so each connection checkpoints after every commit (`PRAGMA wal_autocheckpoint=1`): the
.db changes with each write, as before. `wipe()` closes the connections before it deletes
files, and at most MAX_ENGINES shards keep one (a webserver reads many runs).

`curaline run` and `curaline materialize` open their instance with this class
(`curaline.cli.open_instance`, an override of the home's dagster.yaml in that process only,
with base_dir the home's own `history/runs`); every other process (the webserver, the
daemon, a sensor) reads and writes the same files with Dagster's stock class.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster._check as check
from dagster import StringSource
from dagster._config.config_schema import UserConfigSchema
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

#: shards with an engine (and its one kept connection) at once: the index and the runs being
#: written or read; the least recently used is closed, and rebuilt if it is used again
MAX_ENGINES = 32


def _checkpoint_every_commit(dbapi_connection: Any, _record: Any) -> None:
    """Copy each commit from the -wal file into the .db, as closing the stock class's connection did."""
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=1")


class CachedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one engine, and one kept connection, per shard (run db, index db).

    As instance config (base_dir: where Dagster's default storage keeps the event logs,
    `<DAGSTER_HOME>/history/runs`)::

        event_log_storage:
          module: resources.event_log
          class: CachedEngineSqliteEventLogStorage
          config: {base_dir: /path/to/home/history/runs}
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # set before super().__init__: it may connect (a fresh index db is initialized and reindexed)
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()  # never held across a yield: has_table runs inside _connect
        self._tables: set[str] = set()  # tables known to exist in the index db (they are never dropped)
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {"base_dir": StringSource}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> CachedEngineSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    # one connection kept; has_table's, inside a transaction, is an overflow closed after use.
                    # Connections move between threads only through the pool, one user at a time.
                    poolclass=QueuePool,
                    pool_size=1,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                )
                event.listen(engine, "connect", _checkpoint_every_commit)
                self._engines[shard] = engine
                if len(self._engines) > MAX_ENGINES:
                    # closes its kept connection; never one in use: _connect holds _db_lock, and the
                    # shard in use is the most recent
                    self._engines.popitem(last=False)[1].dispose()
            else:
                self._engines.move_to_end(shard)
            return engine

    def _forget_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
            self._tables.clear()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            check.str_param(shard, "shard")
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def has_table(self, table_name: str) -> bool:
        # asked inside index transactions (once per asset event): without _db_lock, as Dagster does
        if table_name in self._tables:
            return True
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            found = bool(engine.dialect.has_table(conn, table_name))
        if found:
            self._tables.add(table_name)
        return found

    def upgrade(self) -> None:
        super().upgrade()
        self._forget_engines()

    def wipe(self) -> None:
        self._forget_engines()  # no connection left open on a file about to be deleted
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._forget_engines()
