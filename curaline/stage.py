"""Run a per-record kernel over one source partition, batch by batch.

The stage runner is the one place that turns a kernel's keep mask and events into the
stage's output file, its ledger rows and its counts, so every cleaning stage gets the
same guarantees: bounded memory, atomic output, in = kept + dropped checked, and a
ledger that agrees with the metadata by construction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline.kernels.base import EVENT_SCHEMA, FLAG_ACTIONS, KernelResult, empty_events
from curaline.records import NON_TEXT_KINDS
from curaline.store import AtomicParquetWriter, parquet_files

Kernel = Callable[..., KernelResult]

#: Rows per kernel call: large enough to vectorize, small enough to bound memory.
BATCH_ROWS = 20_000
#: Values of the main signal kept for the report's histogram.
SIGNAL_SAMPLE = 50_000


@dataclass
class StageStats:
    rows_in: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    records_changed: int = 0
    #: drop rows in the ledger: a record that failed two rules has two, but counts once in dropped
    ledger_drop_rows: int = 0
    signal: list[np.ndarray] = field(default_factory=list)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.kept + self.dropped_total

    def signal_values(self) -> np.ndarray:
        return np.concatenate(self.signal) if self.signal else np.array([], dtype=float)

    def count(self, keep: np.ndarray, events: pa.Table) -> None:
        """Add one batch's keep mask and events (the stage runner and the shard worker count alike)."""
        self.rows_in += len(keep)
        self.kept += int(keep.sum())
        is_drop = pc.equal(events["action"], "drop")
        drops = events.filter(is_drop)
        # a record counts once, under its first failing rule, however many rules it failed
        first_reason = dict(zip(reversed(drops["doc_id"].to_pylist()), reversed(drops["reason"].to_pylist()), strict=True))
        self.dropped.update(first_reason.values())
        self.ledger_drop_rows += drops.num_rows
        # a flag (FLAG_ACTIONS) is an observation: the record passed unchanged
        changes = events.filter(pc.invert(pc.or_(is_drop, pc.is_in(events["action"], value_set=pa.array(FLAG_ACTIONS)))))
        self.changed.update(changes["reason"].to_pylist())
        self.records_changed += len(set(changes["doc_id"].to_pylist()))

    def sample_signal(self, table: pa.Table, column: str | None, limit: int = SIGNAL_SAMPLE) -> None:
        """Keep the first `limit` values of the stage's main signal (the report's histogram)."""
        have = sum(len(a) for a in self.signal)
        if column and have < limit:
            self.signal.append(table[column].to_numpy(zero_copy_only=False).astype(float)[: limit - have])


def passthrough(table: pa.Table, *, kind: str, config: Any) -> KernelResult:
    """The kernel of a text stage for records that are not text (annotations): keep all, change nothing."""
    return KernelResult(table, np.ones(table.num_rows, dtype=bool), empty_events())


def stage_signals(kind: str, signal_columns: Mapping[str, pa.DataType]) -> dict[str, pa.DataType]:
    """A text stage adds no signal columns to records that are not text."""
    return {} if kind in NON_TEXT_KINDS else dict(signal_columns)


def output_schema(input_schema: pa.Schema, signal_columns: Mapping[str, pa.DataType]) -> pa.Schema:
    """The input columns (text possibly rewritten) plus the stage's signal columns."""
    fields = [f for f in input_schema if f.name not in signal_columns]
    return pa.schema([*fields, *(pa.field(n, t) for n, t in signal_columns.items())])


def run_record_stage(
    kernel: Kernel,
    *,
    kind: str,
    config: Any,
    input_path: Path,
    output_path: Path,
    signal_columns: Mapping[str, pa.DataType],
    signal_column: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> tuple[StageStats, pa.Table]:
    """Apply kernel to every batch of input_path; write the kept rows; return stats and events.

    Records of a non-text kind (annotations) pass through unchanged, without signal columns.
    """
    if kind in NON_TEXT_KINDS:
        kernel, signal_columns, signal_column = passthrough, {}, None
    stats = StageStats()
    files = parquet_files(input_path)  # a file, or a sharded stage's folder
    schema = output_schema(pq.read_schema(files[0]), signal_columns)
    all_events: list[pa.Table] = []
    with AtomicParquetWriter(output_path, schema) as writer:
        for batch in (b for f in files for b in pq.ParquetFile(f).iter_batches(batch_size=batch_rows)):
            result = kernel(pa.Table.from_batches([batch]), kind=kind, config=config)
            keep = np.asarray(result.keep, dtype=bool)
            stats.count(keep, result.events)
            writer.write(result.table.filter(pa.array(keep)))
            all_events.append(result.events)
            stats.sample_signal(result.table, signal_column)
    if not stats.balanced:
        raise AssertionError(f"{output_path}: rows in {stats.rows_in} != kept {stats.kept} + dropped {stats.dropped_total}")
    events = pa.concat_tables(all_events) if all_events else EVENT_SCHEMA.empty_table()
    return stats, events
