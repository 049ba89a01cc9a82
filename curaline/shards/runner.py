"""One pass per shard: read a shard once, run the per-record stage chain, commit every output.

`run_shard` is the task an engine runs in a worker. For its shard it ingests the input
slice (takedown requests applied), then runs each stage's kernel on the batch the
previous stage kept, writing each stage's kept rows, and each stage's ledger rows, to
staged files that `ShardCommit` makes visible together. Schema validation runs on
the same Arrow batches before they are written (Pandera on Polars, vectorized): every
row of every output is checked, without reading any file back. The result is plain
JSON (counts, reasons, a sample of each stage's signal, validation reports) stored
in the shard's marker, so a resumed run reports committed shards without rereading.

`run_phase` runs many shard tasks on an engine: it skips committed shards, reruns a
shard whose records repeat a source id an earlier shard holds (the duplicate is then
quarantined exactly as in a whole-source read), and reports progress.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline.kernels.base import EVENT_SCHEMA
from curaline.project import IngestConfig
from curaline.records import NON_TEXT_KINDS, TEXT_COLUMNS
from curaline.shards.commit import ShardCommit, recover, shard_lock, sweep
from curaline.shards.plan import Shard
from curaline.sources import SourceManifest
from curaline.stage import Kernel, StageStats, output_schema, passthrough

if TYPE_CHECKING:
    from curaline.minhash_bands import BandSpec

#: values of each stage's signal a shard keeps for the report's histogram
SIGNAL_SAMPLE = 5_000
RAW = "raw_records"
QUARANTINE = "quarantined_records"


@dataclass(frozen=True)
class ChainStage:
    """One per-record stage as a worker runs it: a pure kernel and its resolved config."""

    name: str
    kernel: Kernel
    config: Any
    signal_columns: Mapping[str, pa.DataType] = field(default_factory=dict)
    signal_column: str | None = None


@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs for one shard; picklable, so it can travel to any engine."""

    manifest: SourceManifest
    shard: Shard
    shards: int  # how many shards the source has (ledger file names say "i of n")
    run_id: str
    chain: tuple[ChainStage, ...]
    outputs: Mapping[str, str]  # stage (raw_records, quarantined_records, each chain stage) -> final file
    #: stage (raw_records, each chain stage) -> its ledger slot (`curaline.ledger.shard_ledger_slot`): the
    #: worker writes `<recorded at>-<slot name>` when it commits, so the time it records names the file
    ledgers: Mapping[str, str]
    marker: str
    key: str  # the shard's input and the chain's settings: a committed shard with this key is skipped
    ingest: IngestConfig = field(default_factory=IngestConfig)
    takedown_requests: tuple[Any, ...] = ()
    seen_ids: tuple[str, ...] = ()  # source ids earlier shards hold (see run_phase)
    #: the MinHash band part of the records the chain kept (curaline.minhash_bands), None when the
    #: source is not deduplicated; committed with the shard, checked and completed by the minhash_bands step
    bands: BandSpec | None = None

    @property
    def label(self) -> str:
        return self.shard.label

    @property
    def full_key(self) -> str:
        if not self.seen_ids:
            return self.key
        import hashlib

        return self.key + ":" + hashlib.sha256("\x1f".join(sorted(self.seen_ids)).encode()).hexdigest()[:16]


# ---- validation on the batches themselves ------------------------------------------------


# ---- staged parquet ---------------------------------------------------------------------


class _Staged:
    """A parquet file written to a temporary path (ShardCommit renames it), same layout as AtomicParquetWriter."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_size: int = 50_000):
        self.schema = schema
        self.row_group_size = row_group_size
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self.writer.write_table(table.select(self.schema.names).cast(self.schema), self.row_group_size)

    def add_key_value_metadata(self, metadata: dict[bytes | str, bytes | str]) -> None:
        self.writer.add_key_value_metadata(metadata)

    def close(self) -> None:
        self.writer.close()


#: compiled takedown matchers of this worker, by their requests' repr (requests hold dicts: not hashable)
_MATCHERS: dict[str, Any] = {}


def _matcher(requests: tuple[Any, ...]) -> Any:
    from curaline.takedown import matcher

    key = repr(requests)
    if key not in _MATCHERS:
        if len(_MATCHERS) >= 4:
            _MATCHERS.clear()
        _MATCHERS[key] = matcher(requests)
    return _MATCHERS[key]


@dataclass
class _StageAcc(StageStats):
    """A stage's counts over one shard, with its ledger events."""

    events: list[pa.Table] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        return {"rows_in": self.rows_in, "kept": self.kept, "dropped": dict(self.dropped),
                "changed": dict(self.changed), "records_changed": self.records_changed,
                "ledger_drop_rows": self.ledger_drop_rows, "signal": self.signal_values().tolist()}  # fmt: skip


def _apply(stage: ChainStage, kind: str, table: pa.Table, acc: _StageAcc) -> pa.Table:
    """One stage on one batch, counted as the per-stage runner counts it; returns the kept rows."""
    kernel = passthrough if kind in NON_TEXT_KINDS else stage.kernel
    result = kernel(table, kind=kind, config=stage.config)
    keep = np.asarray(result.keep, dtype=bool)
    acc.count(keep, result.events)
    acc.events.append(result.events)
    acc.sample_signal(result.table, stage.signal_column if kind not in NON_TEXT_KINDS else None, SIGNAL_SAMPLE)
    return result.table.filter(pa.array(keep))


def committed(task: ShardTask) -> dict[str, Any] | None:
    """The stored result of a shard committed with this task's key (marked skipped), else None."""
    marker = Path(task.marker)
    with shard_lock(marker):
        return _recovered(task, marker)


def _recovered(task: ShardTask, marker: Path) -> dict[str, Any] | None:
    # a shard told the ids of earlier shards (see run_phase) stays valid for a first round
    # that does not know them yet: the key covers every file of the source, so same key, same ids
    done = recover(marker, task.full_key, prefix=None if task.seen_ids else task.key + ":")
    return None if done is None else {**done, "skipped": True}


def run_shard(task: ShardTask) -> dict[str, Any]:
    """Ingest one shard and run its stage chain; commit everything at once; returns the shard's result.

    A shard already committed with the same key is not run again: its stored result is returned.
    """
    marker = Path(task.marker)
    with shard_lock(marker):
        done = _recovered(task, marker)
        if done is not None:
            return done
        return _run_locked(task, marker, task.full_key)


def _run_locked(task: ShardTask, marker: Path, key: str) -> dict[str, Any]:
    import datetime as dt

    from curaline.ledger import ledger_table, shard_ledger_file
    from curaline.schemas import QuarantineRow, ValidationReport, record_model, stage_schema
    from curaline.shards.reader import ShardReader

    m = task.manifest
    kind = m.kind
    for path in [*task.outputs.values(), *([task.bands.path] if task.bands is not None else [])]:
        sweep(Path(path).parent, Path(path).name)  # what a killed attempt left behind
    for path in task.ledgers.values():  # a killed attempt of any run at this shard (its slot's shard part)
        sweep(Path(path).parent, "shard=" + Path(path).name.rsplit(".shard=", 1)[-1], stamped=True)
    commit = ShardCommit(marker, key)
    reader = ShardReader(m, task.shard, task.ingest, seen_ids=task.seen_ids)
    raw_schema = reader.schema
    from curaline.ingest import QUARANTINE_SCHEMA, drop_taken_down
    from curaline.sources import WEB_FORMATS
    from curaline.web.rights import CHECK as RESERVATION_CHECK
    from curaline.web.rights import reservation_events

    signals = {s.name: ({} if kind in NON_TEXT_KINDS else dict(s.signal_columns)) for s in task.chain}
    schemas: dict[str, pa.Schema] = {}
    prev = raw_schema
    for s in task.chain:
        schemas[s.name] = prev = output_schema(prev, signals[s.name])
    writers = {RAW: _Staged(commit.stage(Path(task.outputs[RAW])), raw_schema),
               QUARANTINE: _Staged(commit.stage(Path(task.outputs[QUARANTINE])), QUARANTINE_SCHEMA)}  # fmt: skip
    for s in task.chain:
        writers[s.name] = _Staged(commit.stage(Path(task.outputs[s.name])), schemas[s.name])
    bands = None
    if task.bands is not None:
        from curaline.minhash_bands import BAND_SCHEMA, BandWriter

        bands = BandWriter(_Staged(commit.stage(Path(task.bands.path)), BAND_SCHEMA, row_group_size=500_000),
                           task.bands, kind)  # fmt: skip
    checks = {RAW: record_model(kind, m.format).to_schema(), QUARANTINE: QuarantineRow.to_schema(),
              **{s.name: stage_schema(kind, signals[s.name]) for s in task.chain}}  # fmt: skip
    reports = {name: ValidationReport() for name in checks}
    accs = {s.name: _StageAcc() for s in task.chain}
    takedown = _matcher(tuple(task.takedown_requests)) if task.takedown_requests else None
    takedown_events: list[pa.Table] = [EVENT_SCHEMA.empty_table()]
    flag_events: list[pa.Table] = []
    web = m.format in WEB_FORMATS
    ids: list[pa.Array] = []
    lengths: list[float] = []
    text_column = (TEXT_COLUMNS[kind] or (None,))[0]
    try:
        for batch in reader.batches():
            table = batch.records
            if takedown is not None and table.num_rows:
                table, ev = drop_taken_down(table, takedown, m.id, reader.stats)
                takedown_events.append(ev)
            if web:  # a reservation found in a page is a ledger row of the stage that found it
                flag_events.append(reservation_events(table))
            reports[RAW].add_batch(table, checks[RAW])
            reports[QUARANTINE].add_batch(batch.quarantine, checks[QUARANTINE])
            writers[RAW].write(table)
            writers[QUARANTINE].write(batch.quarantine)
            ids.append(table["doc_id"].combine_chunks())
            if text_column and len(lengths) < SIGNAL_SAMPLE and table.num_rows:
                sizes = pc.utf8_length(pc.fill_null(table[text_column], "")).to_numpy(zero_copy_only=False)
                lengths += sizes[: SIGNAL_SAMPLE - len(lengths)].astype(float).tolist()
            for s in task.chain:
                table = _apply(s, kind, table, accs[s.name])
                reports[s.name].add_batch(table, checks[s.name])
                writers[s.name].write(table)
            if bands is not None:  # what dedup will compare: the last stage's kept records
                bands.write(table)
    finally:
        for w in writers.values():
            w.close()
        if bands is not None:
            bands.finish()
            bands.sink.close()
    stats = reader.stats
    if not stats.balanced:
        raise AssertionError(f"{task.label}: read {stats.read} != ingested + quarantined + taken down")
    all_ids = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
    unique = len(pc.unique(all_ids)) == len(all_ids)
    if not unique:  # a doc id twice in one shard: the raw schema's uniqueness fails here, as in validate_file
        repeated = len(all_ids) - len(pc.unique(all_ids))
        reports[RAW].failures += repeated
        reports[RAW].by_check["doc_id: unique across file"] = repeated
    stamp = dt.datetime.now(dt.UTC)
    extra = {"shard": task.shard.index, "shards": task.shards}
    # a web source's raw ledger says its pages were checked for reservations: no flag is then a count
    footer: dict[str, dict[str, Any]] = {RAW: {"checks": [RESERVATION_CHECK]}} if web else {}
    ledger_events = {RAW: pa.concat_tables(takedown_events + flag_events),
                     **{s.name: pa.concat_tables(accs[s.name].events or [EVENT_SCHEMA.empty_table()]) for s in task.chain}}  # fmt: skip
    ledgers: dict[str, str] = {}
    for stage, events in ledger_events.items():
        table = ledger_table(events, stage=stage, partition=m.id, run_id=task.run_id, at=stamp, **extra,
                             **footer.get(stage, {}))  # fmt: skip
        ledgers[stage] = str(shard_ledger_file(Path(task.ledgers[stage]), stamp))
        w = _Staged(commit.stage(Path(ledgers[stage])), table.schema, row_group_size=8_192)
        w.write(table)
        w.close()
    result = {
        "source": m.id, "shard": task.shard.index, "shards": task.shards, "run_id": task.run_id, "skipped": False,
        "ingest": {"read": stats.read, "ingested": stats.ingested, "quarantined": dict(stats.quarantined),
                   "files": stats.files, "blank_lines": stats.blank_lines, "trees": stats.trees,
                   "trees_without_pairs": stats.trees_without_pairs, "taken_down": stats.taken_down,
                   "skipped": dict(stats.skipped),
                   "lengths": lengths, "takedown_rows": sum(t.num_rows for t in takedown_events),
                   "tdm_reserved": sum(t.num_rows for t in flag_events)},
        "validation": {name: reports[name].to_dict() for name in (RAW, QUARANTINE)},
        "stages": {s.name: {**accs[s.name].result(), "validation": reports[s.name].to_dict()} for s in task.chain},
        "outputs": dict(task.outputs), "ledgers": ledgers,
    }  # fmt: skip
    # the same shard of the same input, committed before without the ids of earlier shards: its
    # ledger files are replaced, not kept beside these (the ledger never holds a shard twice)
    from curaline.shards.commit import read_marker

    old = read_marker(marker)
    same_input = old is not None and str(old.get("key", "")).split(":")[0] == task.key
    supersedes = list(old["result"]["ledgers"].values()) if same_input and old is not None else []
    try:
        commit.commit(result, supersedes=supersedes)
    except BaseException:
        commit.abort()
        raise
    return result


# ---- a phase: many shards on an engine ------------------------------------------------------


def _cross_shard_duplicates(tasks: Sequence[ShardTask], results: Sequence[dict[str, Any]]) -> dict[int, tuple[str, ...]]:
    """Per task index: the source ids its records share with earlier shards of the same source.

    Read from the committed raw outputs (two columns); ids of records that takedown requests
    removed count as well, through their doc ids in the raw ledger files. Only sources
    whose records have ids of their own can repeat one (a position is unique).
    """
    from curaline.database import connect

    by_source: dict[str, list[int]] = {}
    for i, t in enumerate(tasks):
        if "id" in t.manifest.fields or t.manifest.format == "oasst":
            by_source.setdefault(t.manifest.id, []).append(i)
    out: dict[int, tuple[str, ...]] = {}
    for idxs in (v for v in by_source.values() if len(v) > 1):
        parts = []
        for i in idxs:
            files = results[i]  # a skipped shard's ledger file is the committing run's
            kept = pq.read_table(files["outputs"][RAW], columns=["doc_id", "source_record_id"])
            gone = pq.read_table(files["ledgers"][RAW], columns=["doc_id", "action"])
            gone = gone.filter(pc.equal(gone["action"], "takedown")).select(["doc_id"])  # not the flags
            for table in (kept.select(["doc_id"]), gone):
                parts.append(pa.table({"doc_id": table["doc_id"], "task": pa.array(np.full(table.num_rows, i))}))
            parts[-2] = parts[-2].append_column("source_record_id", kept["source_record_id"])
            parts[-1] = parts[-1].append_column("source_record_id", pa.nulls(gone.num_rows, pa.string()))
        ids = pa.concat_tables(parts)  # noqa: F841 (DuckDB reads it by name)
        with connect() as con:
            rows = con.sql(
                "SELECT i.task, i.source_record_id FROM ids i JOIN "
                "(SELECT doc_id, min(task) AS first FROM ids GROUP BY doc_id HAVING count(DISTINCT task) > 1) d "
                "ON i.doc_id = d.doc_id WHERE i.task > d.first AND i.source_record_id IS NOT NULL"
            ).fetchall()
        found: dict[int, set[str]] = {}
        for task, rid in rows:
            found.setdefault(int(task), set()).add(rid)
        out.update({i: tuple(sorted(v)) for i, v in found.items()})
    return out


def run_phase(engine: Any, tasks: Sequence[ShardTask], *, progress: Callable[[dict[str, Any]], None] | None = None,
              on_source_done: Callable[[str], None] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Run every shard task (skipping committed ones); results in task order.

    Once every shard of a source is done, a shard holding a source id an earlier shard of
    its source already holds runs again (after the first round), told those ids, so the
    later record is quarantined as `duplicate_source_id` exactly as a whole-source read
    quarantines it. on_source_done(source id) is called as soon as a source's shards are
    final, while other sources' shards still run.
    """
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    of_source: dict[str, list[int]] = {}
    for i, task in enumerate(tasks):
        of_source.setdefault(task.manifest.id, []).append(i)
    left = {source: len(idxs) for source, idxs in of_source.items()}
    again: dict[int, tuple[str, ...]] = {}

    def finished(i: int, result: dict[str, Any]) -> None:
        results[i] = result
        if progress is not None:
            progress(result)
        source = tasks[i].manifest.id
        left[source] -= 1
        if left[source] == 0:
            idxs = of_source[source]
            repeated = _cross_shard_duplicates([tasks[k] for k in idxs], [results[k] for k in idxs])  # type: ignore[misc]
            again.update({idxs[k]: ids for k, ids in repeated.items()})
            if not repeated and on_source_done is not None:
                on_source_done(source)

    # committed shards are reported from here: a step whose shards `curaline run` already ran starts no pool
    todo = []
    for i, task in enumerate(tasks):
        done = committed(task)
        if done is None:
            todo.append(i)
        else:
            finished(i, done)
    # largest shards first: a big shard handed out last keeps one worker busy while the others idle
    # (shards of 20, 10, 20, 15, 15 and 20 thousand records in source order end at 55 on 2 workers, at 50 by size)
    order = sorted(todo, key=lambda i: -tasks[i].shard.size)
    for j, result in engine.map(run_shard, [tasks[i] for i in order], describe=lambda t: t.label):
        finished(order[j], result)
    if again:
        redo = {i: replace(tasks[i], seen_ids=tuple(sorted(set(tasks[i].seen_ids) | set(ids)))) for i, ids in again.items()}
        order = sorted(redo)
        for j, result in engine.map(run_shard, [redo[i] for i in order], describe=lambda t: t.label):
            results[order[j]] = result
        if on_source_done is not None:
            for source in dict.fromkeys(tasks[i].manifest.id for i in order):
                on_source_done(source)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]
