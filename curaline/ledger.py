"""The record-level ledger: what each stage dropped or changed, and why.

One append-only parquet file per (stage, partition, run), written atomically under
`lineage/ledger/`, so readers (compliance staff) can query while runs write, and a
rerun adds a new file instead of rewriting history. The "current" ledger of a stage
and partition is its latest run's file (see `curaline.lineage.views`). Rows carry ids,
rule names and numbers, never record text, so the ledger holds no personal data.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import ACTIONS, EVENT_SCHEMA
from curaline.project import Project
from curaline.store import AtomicParquetWriter

#: the event columns a ledger row carries; files written before `related_doc_id` existed lack it,
#: and `curaline.lineage.views.ledger_sql` reads them with the kept doc / eval item recovered from `detail`
EVENT_FIELDS = ("action", "reason", "value", "threshold", "detail", "related_doc_id")

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("partition", pa.string(), nullable=False),  # source id, or "__all__" for global stages
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        *[EVENT_SCHEMA.field(n) for n in EVENT_FIELDS],
    ]
)

GLOBAL_PARTITION = "__all__"

#: Actions after which the record is gone from the stage's output.
REMOVAL_ACTIONS = ("drop", "merge-into", "takedown")
#: Footer key of the per-file counts (see `summarize`).
SUMMARY_KEY = "curaline.ledger.summary"
#: Rows per row group: a doc_id lookup in a sorted file reads one group of this size.
ROW_GROUP_ROWS = 8_192


_last_sequence = 0


def next_sequence() -> int:
    """When a ledger file was written, as the file itself records it (ns since the epoch, strictly
    increasing within a process): which run of a stage is the latest never depends on mtimes."""
    global _last_sequence
    _last_sequence = max(time.time_ns(), _last_sequence + 1)
    return _last_sequence


def ledger_dir(project: Project) -> Path:
    return project.lineage_dir / "ledger"


def ledger_path(project: Project, stage: str, partition: str | None, run_id: str) -> Path:
    part = partition or GLOBAL_PARTITION
    return ledger_dir(project) / f"stage={stage}" / f"partition={part}" / f"run={run_id}.parquet"


def to_ledger(events: pa.Table, *, stage: str, partition: str | None, run_id: str, at: dt.datetime | None = None) -> pa.Table:
    """Kernel events (EVENT_SCHEMA) stamped with stage, partition, run and time."""
    bad = set(pc.unique(events["action"]).to_pylist()) - set(ACTIONS)
    if bad:
        raise ValueError(f"unknown ledger action(s): {sorted(bad)}")
    n = events.num_rows
    stamp = at or dt.datetime.now(dt.UTC)
    cols = {
        "doc_id": events["doc_id"],
        "stage": pa.array([stage] * n, pa.string()),
        "partition": pa.array([partition or GLOBAL_PARTITION] * n, pa.string()),
        "run_id": pa.array([run_id] * n, pa.string()),
        "recorded_at": pa.array([stamp] * n, pa.timestamp("us", tz="UTC")),
    }
    for name in EVENT_FIELDS:
        cols[name] = events[name] if name in events.column_names else pa.nulls(n, EVENT_SCHEMA.field(name).type)
    return pa.table(cols, schema=LEDGER_SCHEMA)



def summarize(table: pa.Table) -> dict[str, Any]:
    """Distinct records removed / changed per source, and per action and reason.

    Stored in the file's footer so that `lineage sources` reads counts for a million-row
    ledger from footers alone; distinct because one record may break several rules.
    """
    ids = table["doc_id"]
    source = pc.list_element(pc.split_pattern(ids, ":", max_splits=1), 0)
    removal = pc.is_in(table["action"], value_set=pa.array(REMOVAL_ACTIONS))
    keyed = pa.table({"source": source, "removal": removal, "doc_id": ids, "action": table["action"],
                      "reason": table["reason"]})  # fmt: skip
    sources: dict[str, dict[str, int]] = {}
    for row in keyed.group_by(["source", "removal"]).aggregate([("doc_id", "count_distinct")]).to_pylist():
        kind = "removed" if row["removal"] else "changed"
        sources.setdefault(row["source"], {"removed": 0, "changed": 0})[kind] = row["doc_id_count_distinct"]
    reasons: dict[str, dict[str, int]] = {}
    for row in keyed.group_by(["action", "reason"]).aggregate([("doc_id", "count_distinct")]).to_pylist():
        reasons.setdefault(row["action"], {})[row["reason"]] = row["doc_id_count_distinct"]
    return {"rows": table.num_rows, "sources": sources, "reasons": reasons}


def ledger_table(events: pa.Table, *, stage: str, partition: str | None, run_id: str, **extra: Any) -> pa.Table:
    """The rows of one ledger file: sorted by doc_id (stably); `summarize`'s counts, the write
    sequence (which file of a stage is the latest, see `curaline.lineage.views`) and extra in the footer."""
    table = to_ledger(events, stage=stage, partition=partition, run_id=run_id)
    table = table.take(pc.sort_indices(table, sort_keys=[("doc_id", "ascending")]))
    summary = {"stage": stage, "partition": partition or GLOBAL_PARTITION, "run_id": run_id,
               "sequence": next_sequence(), **extra, **summarize(table)}  # fmt: skip
    return table.replace_schema_metadata({SUMMARY_KEY: json.dumps(summary, sort_keys=True)})


def shard_ledger_path(project: Project, stage: str, partition: str, run_id: str, shard: int, shards: int) -> Path:
    """One shard's ledger file: beside the partition's whole-run files, named by run and shard."""
    return ledger_path(project, stage, partition, run_id).with_name(f"run={run_id}.shard={shard:05d}-of-{shards:05d}.parquet")


def write_ledger(project: Project, events: pa.Table, *, stage: str, partition: str | None, run_id: str) -> Path:
    """Append one run's ledger rows (possibly none: an empty file still records the run).

    Rows are sorted by doc_id (stably: a record's events keep their order) in small row
    groups; the footer carries the counts of `summarize` under SUMMARY_KEY. The file is
    then added to the lineage index (`curaline.lineage.index`), so the first `lineage
    trace` after a run does not have to index it.
    """
    path = ledger_path(project, stage, partition, run_id)
    table = ledger_table(events, stage=stage, partition=partition, run_id=run_id)
    with AtomicParquetWriter(path, table.schema, row_group_size=ROW_GROUP_ROWS) as writer:
        writer.write(table)
    # keep `lineage trace`'s index current (a cache: a busy or broken index never fails the run)
    from curaline.lineage.index import record_ledger_file

    record_ledger_file(project, path)
    return path
