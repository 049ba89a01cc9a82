"""The record-level ledger: what each stage dropped or changed, and why.

One append-only parquet file per (stage, partition, run), or per shard of a run for the
sharded stages (`curaline.shards`), written atomically under `lineage/ledger/` and named
by the time it records, so readers (compliance staff) can query while runs write, and a
rerun adds a new file instead of rewriting history. The "current" ledger of a stage and
partition is its latest run's file, or the latest file of each shard of the latest plan
(see `curaline.lineage.views`). Rows carry ids, rule names and numbers, never record
text, so the ledger holds no personal data.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import ACTIONS, EVENT_SCHEMA, FLAG_ACTIONS
from curaline.lineage.views import LEDGER_STAMP, ledger_file_name
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


def ledger_dir(project: Project) -> Path:
    return project.lineage_dir / "ledger"


def ledger_path(project: Project, stage: str, partition: str | None, run_id: str, at: dt.datetime | None = None) -> Path:
    """``<recorded at>-run=<run id>.parquet``: the name says when, so order never needs an mtime."""
    part = partition or GLOBAL_PARTITION
    return ledger_dir(project) / f"stage={stage}" / f"partition={part}" / ledger_file_name(run_id, at or dt.datetime.now(dt.UTC))


def run_ledger_file(project: Project, stage: str, partition: str | None, run_id: str) -> Path | None:
    """The ledger file one run wrote for (stage, partition), if any (its name carries its time)."""
    folder = ledger_path(project, stage, partition, run_id).parent
    found = [p for p in folder.glob(f"*run={run_id}.parquet") if p.name.split("run=", 1)[1] == f"{run_id}.parquet"]
    return max(found, key=lambda p: p.name) if found else None


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
    """Distinct records removed / changed / flagged per source, and per action and reason.

    A flag (FLAG_ACTIONS: an observation, the record passed unchanged) is neither removed nor
    changed: it is counted under "flagged" only. Stored in the file's footer so that `lineage sources` reads counts for a million-row
    ledger from footers alone; distinct because one record may break several rules.
    """
    ids = table["doc_id"]
    source = pc.list_element(pc.split_pattern(ids, ":", max_splits=1), 0)
    removal = pc.is_in(table["action"], value_set=pa.array(REMOVAL_ACTIONS))
    flag = pc.is_in(table["action"], value_set=pa.array(FLAG_ACTIONS))
    keyed = pa.table({"source": source, "removal": removal, "flag": flag, "doc_id": ids, "action": table["action"],
                      "reason": table["reason"]})  # fmt: skip
    sources: dict[str, dict[str, int]] = {}
    for row in keyed.group_by(["source", "removal", "flag"]).aggregate([("doc_id", "count_distinct")]).to_pylist():
        kind = "removed" if row["removal"] else "flagged" if row["flag"] else "changed"
        slot = sources.setdefault(row["source"], {"removed": 0, "changed": 0, "flagged": 0})
        slot[kind] = row["doc_id_count_distinct"]
    reasons: dict[str, dict[str, int]] = {}
    for row in keyed.group_by(["action", "reason"]).aggregate([("doc_id", "count_distinct")]).to_pylist():
        reasons.setdefault(row["action"], {})[row["reason"]] = row["doc_id_count_distinct"]
    return {"rows": table.num_rows, "sources": sources, "reasons": reasons}


def ledger_table(events: pa.Table, *, stage: str, partition: str | None, run_id: str,
                 at: dt.datetime | None = None, **extra: Any) -> pa.Table:  # fmt: skip
    """The rows of one ledger file, stamped `at`: sorted by doc_id (stably); `summarize`'s counts,
    the recorded time (what orders the files, see `curaline.lineage.views`) and extra in the footer."""
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    table = to_ledger(events, stage=stage, partition=partition, run_id=run_id, at=at)
    table = table.take(pc.sort_indices(table, sort_keys=[("doc_id", "ascending")]))
    summary = {"stage": stage, "partition": partition or GLOBAL_PARTITION, "run_id": run_id,
               "recorded_at": at.isoformat(), **extra, **summarize(table)}  # fmt: skip
    return table.replace_schema_metadata({SUMMARY_KEY: json.dumps(summary, sort_keys=True)})


def shard_ledger_slot(project: Project, stage: str, partition: str, run_id: str, shard: int, shards: int) -> Path:
    """Where one shard of a run writes its ledger file, before the time is known:
    ``run=<run id>.shard=NNNNN-of-MMMMM.parquet`` beside the partition's other files; the worker
    names the file `shard_ledger_file(slot, at)` when it commits."""
    folder = ledger_dir(project) / f"stage={stage}" / f"partition={partition}"
    return folder / f"run={run_id}.shard={shard:05d}-of-{shards:05d}.parquet"


def shard_ledger_file(slot: Path, at: dt.datetime) -> Path:
    """``<recorded at>-run=<run id>.shard=NNNNN-of-MMMMM.parquet``: ordered by time like every ledger file."""
    return slot.with_name(f"{at.astimezone(dt.UTC).strftime(LEDGER_STAMP)}-{slot.name}")


def shard_ledger_path(project: Project, stage: str, partition: str, run_id: str, shard: int, shards: int,
                      at: dt.datetime | None = None) -> Path:  # fmt: skip
    """One shard's ledger file: beside the partition's whole-run files, named by time, run and shard."""
    slot = shard_ledger_slot(project, stage, partition, run_id, shard, shards)
    return shard_ledger_file(slot, at or dt.datetime.now(dt.UTC))


def write_ledger(project: Project, events: pa.Table, *, stage: str, partition: str | None, run_id: str,
                 at: dt.datetime | None = None) -> Path:  # fmt: skip
    """Append one run's ledger rows (possibly none: an empty file still records the run).

    Rows are sorted by doc_id (stably: a record's events keep their order) in small row
    groups; the footer carries the counts of `summarize` under SUMMARY_KEY. The file is
    then added to the lineage index (`curaline.lineage.index`), so the first `lineage
    trace` after a run does not have to index it.
    """
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    path = ledger_path(project, stage, partition, run_id, at)
    table = ledger_table(events, stage=stage, partition=partition, run_id=run_id, at=at)
    with AtomicParquetWriter(path, table.schema, row_group_size=ROW_GROUP_ROWS) as writer:
        writer.write(table)
    for other in path.parent.glob(f"*run={run_id}.parquet"):  # a retried step replaces its run's file
        if other != path and other.name.split("run=", 1)[1] == f"{run_id}.parquet":
            other.unlink(missing_ok=True)
    # keep `lineage trace`'s index current (a cache: a busy or broken index never fails the run)
    from curaline.lineage.index import record_ledger_file

    record_ledger_file(project, path)
    return path
