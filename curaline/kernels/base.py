"""The contract every per-record curation kernel follows.

A kernel takes an Arrow table (one batch of records of one source), the names of the
string columns that hold text, and its config; it returns the table with its text
columns possibly rewritten and its signal columns added, a keep mask, and one ledger
event per dropped or changed record. Events carry rule names and numbers, never text,
so the ledger can be shared with auditors without leaking personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ACTIONS = ("drop", "redact", "modify", "merge-into", "takedown")

#: Columns of the events a kernel returns (the stage runner adds stage and run id).
EVENT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),  # rule name, e.g. gopher_short_doc
        pa.field("value", pa.float64()),  # measured value of the rule's signal
        pa.field("threshold", pa.float64()),  # the configured threshold it was held to
        pa.field("detail", pa.string()),  # short, text-free note: counts, "email=2", "cluster=..."
        # the record the event points at: the kept doc of a merge-into, the evaluation item a
        # contaminated record copies; null otherwise (readers never parse it out of `detail`)
        pa.field("related_doc_id", pa.string()),
    ]
)


def empty_events() -> pa.Table:
    return EVENT_SCHEMA.empty_table()


def make_events(
    doc_ids: pa.Array | list[str],
    action: str,
    reason: str | list[str],
    value: Sequence[float | None] | np.ndarray | None = None,
    threshold: float | Sequence[float | None] | None = None,
    detail: Sequence[str | None] | str | None = None,
    related_doc_id: Sequence[str | None] | pa.Array | None = None,
) -> pa.Table:
    """Build an events table; scalars are broadcast over doc_ids."""
    if action not in ACTIONS:
        raise ValueError(f"unknown ledger action {action!r}; allowed: {', '.join(ACTIONS)}")
    n = len(doc_ids)

    def col(x: object, typ: pa.DataType) -> pa.Array:
        if isinstance(x, pa.ChunkedArray | pa.Array):
            return (x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x).cast(typ)
        if x is None or isinstance(x, (str, int, float)):
            return pa.array([x] * n, type=typ)
        return pa.array(x, type=typ)

    return pa.table(
        {
            "doc_id": pa.array(doc_ids, type=pa.string()),
            "action": pa.array([action] * n, type=pa.string()),
            "reason": col(reason, pa.string()),
            "value": col(value, pa.float64()),
            "threshold": col(threshold, pa.float64()),
            "detail": col(detail, pa.string()),
            "related_doc_id": col(related_doc_id, pa.string()),
        },
        schema=EVENT_SCHEMA,
    )


@dataclass
class KernelResult:
    """What a kernel returns for one batch.

    table:  every input row, in input order, text columns possibly rewritten, signal
            columns added (so operators can re-threshold without recomputing).
    keep:   boolean mask over table rows; False rows are dropped by the stage.
    events: EVENT_SCHEMA rows, one per dropped record (action "drop") and one per
            changed record (action "redact" or "modify"); a record may have several.
    """

    table: pa.Table
    keep: np.ndarray
    events: pa.Table

    def __post_init__(self) -> None:
        if len(self.keep) != self.table.num_rows:
            raise ValueError("keep mask length differs from table rows")
        dropped = set(
            self.events.filter(pc.equal(self.events["action"], "drop"))["doc_id"].to_pylist()
        )
        n_dropped = int((~self.keep).sum())
        if len(dropped) != n_dropped:
            raise ValueError(
                f"kernel dropped {n_dropped} records but logged drop events for {len(dropped)}"
            )
