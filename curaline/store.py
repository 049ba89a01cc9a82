"""Parquet storage with atomic writes: a reader never sees half a file.

Every output is written to a temporary file beside its target and renamed over it
only once complete, so a crashed run leaves the previous version intact and a rerun
replaces it idempotently.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq


class AtomicParquetWriter:
    """Stream Arrow batches into one parquet file that appears only on success."""

    def __init__(self, path: Path, schema: pa.Schema, *, row_group_size: int = 50_000):
        self.path = path
        self.schema = schema
        self.row_group_size = row_group_size
        self.rows = 0
        self._tmp: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> AtomicParquetWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        return self

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        assert self._writer is not None, "use AtomicParquetWriter as a context manager"
        if data.num_rows == 0:
            return
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        self._writer.write_table(table.select(self.schema.names).cast(self.schema), self.row_group_size)
        self.rows += table.num_rows

    def add_key_value_metadata(self, metadata: dict[bytes | str, bytes | str]) -> None:
        """Footer key-values, known only once the rows are written (e.g. a digest of them)."""
        assert self._writer is not None, "use AtomicParquetWriter as a context manager"
        self._writer.add_key_value_metadata(metadata)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._writer is not None and self._tmp is not None
        self._writer.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)


def write_parquet(path: Path, data: pa.Table | Iterable[pa.RecordBatch], schema: pa.Schema | None = None) -> int:
    """Write a table (or batches with a schema) atomically; returns the row count."""
    if isinstance(data, pa.Table):
        schema = schema or data.schema
        batches: Iterable[pa.Table | pa.RecordBatch] = [data]
    else:
        if schema is None:
            raise ValueError("a schema is needed to write batches")
        batches = data
    with AtomicParquetWriter(path, schema) as writer:
        for batch in batches:
            writer.write(batch)
    return writer.rows


def parquet_files(path: Path) -> list[Path]:
    """The parquet files of a dataset: the file itself, or a folder's (a sharded stage output), in order.

    Hidden files (an interrupted shard's temporary files) are not part of the dataset,
    as for DuckDB's and pyarrow's own folder readers.
    """
    if path.is_dir():
        return sorted(p for p in path.glob("*.parquet") if not p.name.startswith((".", "_")))
    return [path]


def file_digest(path: Path) -> str:
    """MD5 of the file's bytes: the same content hash DVC records for an output."""
    h = hashlib.md5()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def release_unused_memory() -> None:
    """Hand the memory Arrow's pool keeps after a step back to the system.

    `curaline run` runs every global step and the release in one process. Arrow's allocator
    (mimalloc) kept what dedup had freed: 240 MiB at 1M documents, which the release then
    stacked its own on top of. Call between steps, when nothing large is alive.
    """
    pa.default_memory_pool().release_unused()
