"""The record-level ledger: what each stage dropped or changed, and why.

One append-only parquet file per (stage, partition, run), written atomically under
`lineage/ledger/`, so readers (compliance staff) can query while runs write, and a
rerun adds a new file instead of rewriting history. The "current" ledger of a stage
and partition is its latest run's file (see `curaline.lineage.views`). Rows carry ids,
rule names and numbers, never record text, so the ledger holds no personal data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import ACTIONS, EVENT_SCHEMA
from curaline.project import Project
from curaline.store import write_parquet

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("partition", pa.string(), nullable=False),  # source id, or "__all__" for global stages
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        *[EVENT_SCHEMA.field(n) for n in ("action", "reason", "value", "threshold", "detail")],
    ]
)

GLOBAL_PARTITION = "__all__"


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
    for name in ("action", "reason", "value", "threshold", "detail"):
        cols[name] = events[name]
    return pa.table(cols, schema=LEDGER_SCHEMA)


def write_ledger(project: Project, events: pa.Table, *, stage: str, partition: str | None, run_id: str) -> Path:
    """Append one run's ledger rows (possibly none: an empty file still records the run)."""
    path = ledger_path(project, stage, partition, run_id)
    write_parquet(path, to_ledger(events, stage=stage, partition=partition, run_id=run_id), LEDGER_SCHEMA)
    return path
