"""The global decontamination stage: training records sharing long n-grams with any
registered evaluation set (every source of kind `evaluation`) are dropped, the ledger
naming the evaluation item and its source."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from curaline import stages
from curaline.kernels.decontam import DecontamConfig, EvalIndex, decontaminate
from curaline.project import Project
from curaline.records import NON_TEXT_KINDS
from curaline.sources import SourceManifest
from curaline.store import write_parquet

OUTPUT_STAGE = "decontaminated"
INPUT_STAGE = stages.records_input(OUTPUT_STAGE)
#: evaluation items are read after normalization (so mojibake or spacing do not hide a copy)
EVAL_STAGE = "normalized"


@dataclass
class DecontamStats:
    rows_in: int = 0
    kept: int = 0
    eval_items: int = 0
    eval_items_too_short: int = 0
    eval_sets: list[str] = field(default_factory=list)
    by_source: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_eval_set: Counter[tuple[str, str]] = field(default_factory=Counter)  # (training src, eval src)
    eval_files: list[str] = field(default_factory=list)


def decontaminate_project(
    project: Project, manifests: list[SourceManifest], config: DecontamConfig
) -> tuple[DecontamStats, pa.Table]:
    stats = DecontamStats()
    evals = [m for m in manifests if m.kind == "evaluation" and project.stage_path(EVAL_STAGE, m.id).exists()]
    items = [pq.read_table(project.stage_path(EVAL_STAGE, m.id), columns=["doc_id", "source_id", "text"]) for m in evals]
    index = EvalIndex.build(pa.concat_tables(items) if items else
                            pa.table({"doc_id": pa.array([], pa.string()), "source_id": pa.array([], pa.string()),
                                      "text": pa.array([], pa.string())}), config)  # fmt: skip
    stats.eval_sets = [m.id for m in evals]
    stats.eval_files = [str(project.stage_path(EVAL_STAGE, m.id)) for m in evals]
    stats.eval_items = sum(t.num_rows for t in items)
    stats.eval_items_too_short = index.too_short
    events: list[pa.Table] = []
    for m in manifests:
        path = project.stage_path(INPUT_STAGE, m.id)
        if m.kind == "evaluation" or m.kind in NON_TEXT_KINDS or not path.exists():
            continue
        table = pq.read_table(path)
        result = decontaminate(table, kind=m.kind, index=index, config=config)
        kept = result.table.filter(pa.array(result.keep))
        write_parquet(project.stage_path(OUTPUT_STAGE, m.id), kept)
        stats.rows_in += table.num_rows
        stats.kept += kept.num_rows
        stats.by_source[m.id] = (table.num_rows, kept.num_rows)
        for item in result.events["related_doc_id"].to_pylist():  # the eval item: its source is the set
            stats.by_eval_set[(m.id, item.split(":", 1)[0])] += 1
        events.append(result.events)
    from curaline.kernels.base import EVENT_SCHEMA

    return stats, pa.concat_tables(events) if events else EVENT_SCHEMA.empty_table()
