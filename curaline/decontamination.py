"""The global decontamination stage: training records sharing long n-grams with any
registered evaluation set (every source of kind `evaluation`) are dropped, the ledger
naming the evaluation item and its source.

On an engine (Ray, or the local pool), each row group of each source is a task. The
evaluation n-gram index is built once by the driver and written once to a file beside the
project (`.curaline/decontam/<token>/index.pkl`): a worker process reads it on its first
task and keeps it, so every worker gets the index once, not once per task. A task writes
its kept rows, one row group per judged batch, to a part file and returns its ledger
events; the driver copies the parts into the output in task order with the same writes
the local path makes, so the output's bytes do not depend on where the work ran.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    #: on an engine: tasks run, worker reads of the shipped index (one per worker, not per task), its size
    tasks: int = 0
    index_loads: int = 0
    index_bytes: int = 0


def evaluation_sources(project: Project, manifests: list[SourceManifest]) -> list[SourceManifest]:
    """The evaluation sets the stage reads: every source of kind `evaluation` with an EVAL_STAGE output."""
    return [m for m in manifests if m.kind == "evaluation" and project.stage_path(EVAL_STAGE, m.id).exists()]


def input_files(project: Project, manifests: list[SourceManifest]) -> list[Path]:
    """What the stage reads (its lineage inputs): the training records, then the evaluation items."""
    training = [project.stage_path(INPUT_STAGE, m.id) for m in manifests
                if m.kind != "evaluation" and project.stage_path(INPUT_STAGE, m.id).exists()]  # fmt: skip
    return training + [project.stage_path(EVAL_STAGE, m.id) for m in evaluation_sources(project, manifests)]


def decontaminate_project(
    project: Project, manifests: list[SourceManifest], config: DecontamConfig, engine: Any = None,
) -> tuple[DecontamStats, pa.Table]:
    """Judge every training record against the evaluation index; with an engine, row groups are its tasks."""
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
    training = _training(project, manifests)
    shipped = _EngineRun(project, index, config, engine) if engine is not None else None
    try:
        for m in training:
            _decontaminate_source(project, m, index, config, shipped, stats, events)
    finally:
        if shipped is not None:
            stats.tasks, stats.index_loads, stats.index_bytes = shipped.tasks, shipped.loads, shipped.index_bytes
            shipped.close()
    from curaline.kernels.base import EVENT_SCHEMA

    return stats, pa.concat_tables(events) if events else EVENT_SCHEMA.empty_table()


def _decontaminate_source(project: Project, m: SourceManifest, index: EvalIndex, config: DecontamConfig,
                          shipped: _EngineRun | None, stats: DecontamStats, events: list[pa.Table]) -> None:  # fmt: skip
    path = project.stage_path(INPUT_STAGE, m.id)
    source_events: list[pa.Table] = []
    seen = [0]
    files = parquet_files(path)
    if not files:  # no file: an empty output of the input's (empty) shape
        rows_kept = write_parquet(project.stage_path(OUTPUT_STAGE, m.id), pq.read_table(path))
    else:
        groups = _row_groups(files)  # refuses a damaged file by name before anything is written
        schema = decontaminate(pq.ParquetFile(files[0]).schema_arrow.empty_table(), kind=m.kind, index=index,
                               config=config).table.schema  # fmt: skip
        if shipped is None:
            batches: Iterator[pa.Table] = (t for f, g in groups
                                           for t in _judged(f, g, m.kind, index, config, source_events, seen))  # fmt: skip
        else:
            batches = shipped.judged(groups, m.kind, source_events, seen)
        rows_kept = write_parquet(project.stage_path(OUTPUT_STAGE, m.id), (t.cast(schema) for t in batches), schema)
    rows_in = seen[0]
    stats.rows_in += rows_in
    stats.kept += rows_kept
    stats.by_source[m.id] = (rows_in, rows_kept)
    for result_events in source_events:
        for item in result_events["related_doc_id"].to_pylist():  # the eval item: its source is the set
            stats.by_eval_set[(m.id, item.split(":", 1)[0])] += 1
    events.extend(source_events)


def row_groups(project: Project, manifests: list[SourceManifest]) -> int:
    """How many tasks the stage has on an engine: the row groups of its training inputs."""
    return sum(len(_row_groups(parquet_files(project.stage_path(INPUT_STAGE, m.id)))) for m in _training(project, manifests))


def _training(project: Project, manifests: list[SourceManifest]) -> list[SourceManifest]:
    return [m for m in manifests if m.kind != "evaluation" and m.kind not in NON_TEXT_KINDS
            and project.stage_path(INPUT_STAGE, m.id).exists()]  # fmt: skip


def _row_groups(files: list[Path]) -> list[tuple[Path, int]]:
    """(file, row group) of a dataset in order: the unit of work on an engine, and the local path's order."""
    out = []
    for f in files:
        try:
            groups = pq.ParquetFile(f).num_row_groups
        except (OSError, pa.ArrowInvalid) as exc:  # a damaged stage output: name it, as every reader here does
            raise ValueError(f"{f}: not a readable parquet file ({exc}); rebuild it (curaline run)") from exc
        out += [(f, g) for g in range(groups)]
    return out


def _judged(path: Path, group: int, kind: str, index: EvalIndex, config: DecontamConfig, events: list[pa.Table],
            seen: list[int]) -> Iterator[pa.Table]:  # fmt: skip
    """The kept records of one row group, batch by batch (each record is judged alone): memory is one
    batch, not the source; the events go to `events`, the rows read to `seen[0]`."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
        result = decontaminate(pa.Table.from_batches([batch]), kind=kind, index=index, config=config)
        seen[0] += batch.num_rows
        events.append(result.events)
        yield result.table.filter(pa.array(result.keep))


@dataclass(frozen=True)
class JudgeTask:
    """One row group of a source's input, judged on a worker against the shipped index."""

    index: str  # the index file the driver wrote once
    input: str
    group: int
    kind: str
    config: DecontamConfig
    out: str  # the part file of the kept rows: one row group per judged batch

    @property
    def label(self) -> str:
        return f"decontaminate {Path(self.input).parent.name}/{Path(self.input).name} row group {self.group}"


#: the index a worker process has read, by file: read on its first task, kept for the others
_SHIPPED: dict[str, EvalIndex] = {}


def _shipped_index(path: str) -> tuple[EvalIndex, bool]:
    """The index and whether this call read it (the first task of this worker for this run)."""
    loaded = path not in _SHIPPED
    if loaded:
        import pickle

        _SHIPPED.clear()  # a new run's index replaces the last one: one index held per worker
        with open(path, "rb") as fh:
            _SHIPPED[path] = pickle.load(fh)  # noqa: S301 - the driver's own file, written for this run
    return _SHIPPED[path], loaded


def judge_row_group(task: JudgeTask) -> dict[str, Any]:
    """The engine task: judge one row group, write its kept rows to the part file; rows read and events back."""
    from curaline.store import AtomicParquetWriter

    index, loaded = _shipped_index(task.index)
    events: list[pa.Table] = []
    seen = [0]
    schema = decontaminate(pq.ParquetFile(task.input).schema_arrow.empty_table(), kind=task.kind, index=index,
                           config=task.config).table.schema  # fmt: skip
    with AtomicParquetWriter(Path(task.out), schema) as writer:
        for kept in _judged(Path(task.input), task.group, task.kind, index, task.config, events, seen):
            writer.write(kept.cast(schema))  # an empty batch writes nothing, as in the output's writer
    from curaline.kernels.base import EVENT_SCHEMA

    return {"rows": seen[0], "loaded": loaded,
            "events": pa.concat_tables(events) if events else EVENT_SCHEMA.empty_table()}  # fmt: skip


class _EngineRun:
    """The index written once for the workers, and the part files of one stage run (removed after)."""

    def __init__(self, project: Project, index: EvalIndex, config: DecontamConfig, engine: Any):
        import pickle
        import uuid

        self.engine, self.config = engine, config
        self.work = project.root / ".curaline" / "decontam" / uuid.uuid4().hex[:12]
        self.work.mkdir(parents=True)
        self.index = self.work / "index.pkl"
        with open(self.index, "wb") as fh:
            pickle.dump(index, fh, protocol=5)
        self.index_bytes = self.index.stat().st_size
        self.tasks = self.loads = 0

    def judged(self, groups: list[tuple[Path, int]], kind: str, events: list[pa.Table],
               seen: list[int]) -> Iterator[pa.Table]:  # fmt: skip
        """The kept rows in input order: parts judged on the engine, copied batch by batch."""
        tasks = [JudgeTask(str(self.index), str(f), g, kind, self.config, str(self.work / f"part-{i:06d}.parquet"))
                 for i, (f, g) in enumerate(groups)]  # fmt: skip
        results: list[dict[str, Any] | None] = [None] * len(tasks)
        for i, result in self.engine.map(judge_row_group, tasks, describe=lambda t: t.label):
            results[i] = result
        for task, result in zip(tasks, results, strict=True):
            assert result is not None
            self.tasks += 1
            self.loads += bool(result["loaded"])
            seen[0] += result["rows"]
            events.append(result["events"])
            part = pq.ParquetFile(task.out)
            for g in range(part.num_row_groups):
                yield part.read_row_group(g)
            Path(task.out).unlink()

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.work, ignore_errors=True)
