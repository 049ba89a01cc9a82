"""The global decontamination stage: training records sharing long n-grams with any
registered evaluation set (every source of kind `evaluation`) are dropped, the ledger
naming the evaluation item and its source."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curaline import stages
from curaline.kernels.decontam import DecontamConfig, EvalIndex, decontaminate
from curaline.project import Project
from curaline.records import NON_TEXT_KINDS
from curaline.sources import SourceManifest
from curaline.stage import BATCH_ROWS
from curaline.store import parquet_files, write_parquet

OUTPUT_STAGE = "decontaminated"
INPUT_STAGE = stages.records_input(OUTPUT_STAGE)
#: evaluation items are read as the training records were cleaned up to the first stage that
#: drops nothing of an evaluation set: normalized (so mojibake or spacing do not hide a copy)
#: and PII-redacted (so an item and its training copy carry the same placeholders, and this
#: stage never reads a PII-holding output), before any language or quality filter
EVAL_STAGE = "pii_redacted"


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


def evaluation_sources(project: Project, manifests: list[SourceManifest]) -> list[SourceManifest]:
    """The evaluation sets the stage reads: every source of kind `evaluation` with an EVAL_STAGE output."""
    return [m for m in manifests if m.kind == "evaluation" and project.stage_path(EVAL_STAGE, m.id).exists()]


def input_files(project: Project, manifests: list[SourceManifest]) -> list[Path]:
    """What the stage reads (its lineage inputs): the training records, then the evaluation items."""
    training = [project.stage_path(INPUT_STAGE, m.id) for m in manifests
                if m.kind != "evaluation" and project.stage_path(INPUT_STAGE, m.id).exists()]  # fmt: skip
    return training + [project.stage_path(EVAL_STAGE, m.id) for m in evaluation_sources(project, manifests)]


def decontaminate_project(
    project: Project, manifests: list[SourceManifest], config: DecontamConfig
) -> tuple[DecontamStats, pa.Table]:
    stats = DecontamStats()
    evals = evaluation_sources(project, manifests)
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
        source_events: list[pa.Table] = []
        seen = [0]
        first = parquet_files(path)
        if not first:  # no file: an empty output of the input's (empty) shape
            rows_kept = write_parquet(project.stage_path(OUTPUT_STAGE, m.id), pq.read_table(path))
        else:
            schema = decontaminate(pq.ParquetFile(first[0]).schema_arrow.empty_table(), kind=m.kind, index=index,
                                   config=config).table.schema  # fmt: skip
            batches = _judged(path, m.kind, index, config, source_events, seen)
            rows_kept = write_parquet(project.stage_path(OUTPUT_STAGE, m.id), (t.cast(schema) for t in batches), schema)
        rows_in = seen[0]
        stats.rows_in += rows_in
        stats.kept += rows_kept
        stats.by_source[m.id] = (rows_in, rows_kept)
        for result_events in source_events:
            for item in result_events["related_doc_id"].to_pylist():  # the eval item: its source is the set
                stats.by_eval_set[(m.id, item.split(":", 1)[0])] += 1
        events.extend(source_events)
    from curaline.kernels.base import EVENT_SCHEMA

    return stats, pa.concat_tables(events) if events else EVENT_SCHEMA.empty_table()


def _judged(path: Path, kind: str, index: EvalIndex, config: DecontamConfig, events: list[pa.Table],
            seen: list[int]) -> Iterator[pa.Table]:  # fmt: skip
    """The kept records, batch by batch (each record is judged alone): memory is one batch, not the
    source; the events go to `events`, the rows read to `seen[0]`."""
    for f in parquet_files(path):
        for batch in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS):
            result = decontaminate(pa.Table.from_batches([batch]), kind=kind, index=index, config=config)
            seen[0] += batch.num_rows
            events.append(result.events)
            yield result.table.filter(pa.array(result.keep))
