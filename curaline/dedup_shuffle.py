"""Dedup's removals computed as shuffles on an engine (Ray across machines, or the local pool).

The same decisions as `curaline.dedup.deduplicate`, cut into tasks an engine runs:

- **exact**: a map task per source writes its documents' keep-policy keys partitioned by
  their content hash; a reducer per partition keeps the best document of each hash
  (`exact_duplicates`). A hash lives in one partition, so the union of the reducers'
  removals is the whole corpus's.
- **near**: a map task per source partitions its stored band buckets by (band, bucket); a
  reducer per partition forms the candidate pairs of its buckets (all of a bucket is in one
  partition, so small buckets give all pairs and large ones the same star) and verifies each
  pair with the true Jaccard of its two documents' shingle sets, read from the input
  folders; it writes the verified edges to a file. Up to `driver_edge_limit` edges, the
  driver reads them, builds the connected components (union-find) and applies the
  keep-policy with `near_duplicates`, the kernel the local stage uses: a total order
  (priority, licence, date, doc id), so the result does not depend on which reducer found
  an edge. Beyond it the edges stay in files: `curaline.components` labels every node with
  its component's smallest doc id (large-star/small-star, one engine map per round), the
  edges are shuffled by label, and a reducer per label partition runs the unchanged
  `near_duplicates` on its whole components (meta and shingle sets read for its documents
  only). Components are independent and the keep-policy's order is total, so the union of
  the reducers' removals equals the driver's; the driver concatenates them.

Partitions travel as parquet files under the project (`.curaline/shuffle/<token>/`), so
workers need only the shared filesystem the shard engine already needs. Preference
sources (compared part by part) are not handled here: `supported` says so and callers
use the local stage for them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline.components import Components, connected_components
from curaline.kernels.dedup import (
    EXACT_SCHEMA,
    NEAR_SCHEMA,
    DedupConfig,
    candidate_pairs,
    exact_duplicates,
    exact_jaccard,
    near_duplicates,
    needed_rows,
)
from curaline.kernels.minhash import MinHashConfig, shingle_sets, string_hashes
from curaline.licenses import CLASSES, classify
from curaline.project import Project
from curaline.sources import SourceManifest

#: reducers per shuffle when the caller does not say (a few per cluster CPU)
DEFAULT_PARTITIONS = 8

#: verified edges above which the driver no longer gathers them (see shuffled_removals)
DRIVER_EDGE_LIMIT = 2_000_000


@dataclass(frozen=True)
class SourceInput:
    """A source as the map tasks see it: its input folder and its keep-policy keys."""

    id: str
    kind: str
    input: str  # the source's folder (or file) of the dedup input stage
    bands: str  # its stored band buckets (minhash_bands: a folder of shard parts)
    priority: int
    license_rank: int
    collected: Any


@dataclass(frozen=True)
class MapTask:
    source: SourceInput
    out: str  # the shuffle's folder: part-NNNNN/<source>.parquet
    partitions: int

    @property
    def label(self) -> str:
        return f"{Path(self.out).name} map {self.source.id}"


@dataclass(frozen=True)
class ReduceTask:
    part: str  # the partition's folder
    sources: tuple[SourceInput, ...] = ()
    gone: str = ""  # parquet of doc ids exact dedup removed (near pairs with them are dropped)
    minhash: MinHashConfig | None = None
    dedup: DedupConfig | None = None
    edges: str = ""  # reduce_near_to_file: where its verified edges go

    @property
    def label(self) -> str:
        return f"reduce {Path(self.part).parent.name}/{Path(self.part).name}"


@dataclass(frozen=True)
class GroupTask:
    """One node partition of the components: its edges, re-keyed by their component's label."""

    first: str  # the components' round 0 partition: (u, v) both directions, u in this partition
    labels: str  # (node, label) of the same partition
    out: str  # groups/part-NNNNN/<name>.parquet, partitioned by label
    partitions: int
    name: str

    @property
    def label(self) -> str:
        return f"group {self.name}"


def supported(manifests: Sequence[SourceManifest]) -> bool:
    """Whether these sources can be deduplicated by shuffles (no preference pairs)."""
    return not any(m.kind == "preference" for m in _training_kinds(manifests))


def _training_kinds(manifests: Sequence[SourceManifest]) -> list[SourceManifest]:
    from curaline.minhash_bands import banded

    return [m for m in manifests if banded(m.kind)]


def _write_partitions(table: pa.Table, part: np.ndarray, out: Path, name: str, partitions: int) -> None:
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    for r in range(partitions):
        rows = order[bounds[r]:bounds[r + 1]]
        if len(rows):
            folder = out / f"part-{r:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.take(pa.array(rows)), folder / f"{name}.parquet")


def _read(path: str, **options: Any) -> pa.Table:
    """A source's dedup input; a folder without shards (a source that kept nothing) reads as no rows."""
    from curaline.store import parquet_files

    if not parquet_files(Path(path)):
        return pa.table({"doc_id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    return pq.read_table(path, **options)


def _meta(source: SourceInput) -> tuple[pa.Table, pa.Array]:
    from curaline.dedup import dedup_text, normalized_hash

    t = _read(source.input)
    text = dedup_text(t, source.kind)
    n = t.num_rows
    meta = pa.table({
        "doc_id": t["doc_id"].combine_chunks(),
        "source_id": pa.array([source.id] * n, pa.string()),
        "priority": pa.array([source.priority] * n, pa.int64()),
        "license_rank": pa.array([source.license_rank] * n, pa.int64()),
        "collected": pa.array([source.collected] * n, pa.date32()),
        "content_hash": normalized_hash(text),
    })  # fmt: skip
    return meta, text


def map_exact(task: MapTask) -> int:
    """Partition a source's keep-policy keys by content hash; returns its documents."""
    meta, _ = _meta(task.source)
    part = (string_hashes(pc.fill_null(meta["content_hash"], "")) % np.uint64(task.partitions)).astype(np.int64)
    _write_partitions(meta, part, Path(task.out), task.source.id, task.partitions)
    return meta.num_rows


def reduce_exact(task: ReduceTask) -> pa.Table:
    """The exact duplicates among the documents of one hash partition."""
    files = sorted(Path(task.part).glob("*.parquet"))
    if not files:
        return EXACT_SCHEMA.empty_table()
    return exact_duplicates(pa.concat_tables(pq.read_table(f) for f in files))


def map_bands(task: MapTask) -> int:
    """Partition a source's band buckets by (band, bucket); returns its band rows."""
    from curaline.minhash_bands import BAND_SCHEMA
    from curaline.store import parquet_files

    bands = pa.concat_tables([pq.read_table(f) for f in parquet_files(Path(task.source.bands))] or [BAND_SCHEMA.empty_table()])
    band = bands["band"].to_numpy().astype(np.uint64)
    bucket = bands["bucket"].to_numpy().astype(np.int64).view(np.uint64)
    key = (bucket ^ (band * np.uint64(0x9E3779B97F4A7C15))) * np.uint64(0xBF58476D1CE4E5B9)
    part = ((key >> np.uint64(33)) % np.uint64(task.partitions)).astype(np.int64)
    _write_partitions(bands, part, Path(task.out), task.source.id, task.partitions)
    return bands.num_rows


def _texts(sources: Sequence[SourceInput], ids: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(doc_id, dedup text) of the given documents, read from the sources' input folders."""
    from curaline.dedup import dedup_text

    got_ids, got_text = [], []
    for s in sources:
        t = _read(s.input, filters=pc.field("doc_id").isin(ids))
        got_ids.append(t["doc_id"].combine_chunks())
        got_text.append(dedup_text(t, s.kind))
    return pa.concat_arrays(got_ids), pa.concat_arrays(got_text)


def reduce_near(task: ReduceTask) -> pa.Table:
    """Verified edges (a, b, jaccard >= threshold) among the candidate pairs of one band partition."""
    from curaline.database import connect

    assert task.minhash is not None and task.dedup is not None
    empty = pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.string()),
                      "jaccard": pa.array([], pa.float64())})  # fmt: skip
    if not any(Path(task.part).glob("*.parquet")):
        return empty
    with connect() as con:
        pairs = candidate_pairs(con, f"read_parquet('{Path(task.part) / '*.parquet'}')",
                                max_bucket_pairs=task.dedup.max_bucket_pairs)  # fmt: skip
    gone = pq.read_table(task.gone)["doc_id"]
    pairs = pairs.filter(pc.invert(pc.or_(pc.is_in(pairs["a"], value_set=gone), pc.is_in(pairs["b"], value_set=gone))))
    if pairs.num_rows == 0:
        return empty
    need = pc.unique(pa.concat_arrays([pairs["a"].combine_chunks(), pairs["b"].combine_chunks()]))
    ids, texts = _texts(task.sources, need)
    sets = shingle_sets(texts, config=task.minhash)
    ia = pc.index_in(pairs["a"], value_set=ids).to_numpy(zero_copy_only=False).astype(np.int64)
    ib = pc.index_in(pairs["b"], value_set=ids).to_numpy(zero_copy_only=False).astype(np.int64)
    j = exact_jaccard(sets, ia, ib, at_least=task.dedup.threshold)
    keep = j >= task.dedup.threshold
    return pa.table({"a": pairs["a"].filter(pa.array(keep)), "b": pairs["b"].filter(pa.array(keep)),
                     "jaccard": pa.array(j[keep], pa.float64())})  # fmt: skip


def reduce_near_to_file(task: ReduceTask) -> int:
    """reduce_near, its edges written to task.edges: the driver reads them or leaves them to the components."""
    edges = reduce_near(task)
    pq.write_table(edges, task.edges)
    return edges.num_rows


def group_edges(task: GroupTask) -> int:
    """Each edge (a < b) of this node partition to the partition of its component's label; returns edge rows."""
    from curaline.database import connect

    with connect() as con:
        con.execute("SET threads TO 1")
        edges = con.sql(f"""
            SELECT e.u AS a, e.v AS b, hash(l.label) % {task.partitions} AS p
            FROM read_parquet('{Path(task.first) / '*.parquet'}') e JOIN read_parquet('{task.labels}') l ON e.u = l.node
            WHERE e.u < e.v
        """).to_arrow_table()  # fmt: skip
    _write_partitions(edges.drop_columns(["p"]), edges["p"].to_numpy().astype(np.int64), Path(task.out), task.name,
                      task.partitions)  # fmt: skip
    return edges.num_rows


def _meta_texts(sources: Sequence[SourceInput], ids: pa.Array) -> tuple[pa.Table, pa.Array]:
    """The keep-policy keys (META_COLUMNS) and dedup texts of the given documents, from the input folders."""
    from curaline.dedup import dedup_text, normalized_hash

    metas, texts = [], []
    for s in sources:
        t = pq.read_table(s.input, filters=pc.field("doc_id").isin(ids))
        text = dedup_text(t, s.kind)
        n = t.num_rows
        metas.append(pa.table({
            "doc_id": t["doc_id"].combine_chunks(),
            "source_id": pa.array([s.id] * n, pa.string()),
            "priority": pa.array([s.priority] * n, pa.int64()),
            "license_rank": pa.array([s.license_rank] * n, pa.int64()),
            "collected": pa.array([s.collected] * n, pa.date32()),
            "content_hash": normalized_hash(text),
        }))  # fmt: skip
        texts.append(text)
    return pa.concat_tables(metas), pa.concat_arrays(texts)


def keep_policy(task: ReduceTask) -> tuple[pa.Table, int]:
    """near_duplicates on the whole components of one label partition: (NEAR_SCHEMA rows, distinct edges).

    Components are independent and keep_rank is a total order (priority, licence, date,
    doc id), so the order it gives a component's documents does not depend on which other
    documents are in the table: the removals equal those of near_duplicates on all edges.
    """
    from curaline.database import connect
    from curaline.dedup import near_empty

    assert task.minhash is not None and task.dedup is not None
    if not any(Path(task.part).glob("*.parquet")):
        return near_empty(), 0
    with connect() as con:
        con.execute("SET threads TO 1")
        edges = con.sql(f"SELECT DISTINCT a, b FROM read_parquet('{Path(task.part) / '*.parquet'}')").to_arrow_table()
    ids = pc.unique(pa.concat_arrays([edges["a"].combine_chunks(), edges["b"].combine_chunks()]))
    meta, texts = _meta_texts(task.sources, ids)
    sets = shingle_sets(texts, config=task.minhash)  # aligned with meta's rows
    near = near_duplicates(meta, edges, sets=sets, config=task.dedup)
    return near, edges.num_rows


@dataclass
class ShuffleResult:
    exact: pa.Table  # EXACT_SCHEMA, sorted by doc_id
    near: pa.Table  # NEAR_SCHEMA, sorted by doc_id
    documents: int
    candidate_edges: int  # distinct verified edges the reducers found
    shuffle_bytes: int  # bytes written to the partition files (both shuffles)
    components: Components | None = None  # set when the edges were too many for the driver


def shuffled_removals(project: Project, manifests: Sequence[SourceManifest], minhash: MinHashConfig,
                      dedup: DedupConfig, engine: Any, *, partitions: int = DEFAULT_PARTITIONS,
                      driver_edge_limit: int = DRIVER_EDGE_LIMIT) -> ShuffleResult:  # fmt: skip
    """Exact and near removals of the training sources, computed by shuffles on `engine`.

    driver_edge_limit: verified edges (as the reducers count them, a pair found in two
    partitions twice) up to which the driver gathers them and runs near_duplicates itself;
    above it, the components and the keep-policy run on the engine (`_distributed_near`).
    Choose it as the driver's memory for this step divided by its bytes per edge: the edge
    table and the union-find take about 300 bytes per edge (1 M edges of 14-character ids:
    +310 MB peak RSS, benchmarks/bench_components.py), and the shingle sets of the edges'
    documents 4 bytes per shingle, one set per node, up to 2 nodes per edge: about 1-3 kB
    per edge for texts of a few hundred words. The default, 2 M edges, keeps the driver's
    share of near dedup to a few GB; the distributed path holds only per-round counters
    and the removal events (one row per removed document).
    """
    from curaline.dedup import INPUT_STAGE, SIGNATURE_STAGE

    training = [m for m in _training_kinds(manifests) if project.stage_path(INPUT_STAGE, m.id).exists()]
    if not supported(training):
        raise ValueError("preference sources are compared part by part: deduplicate them with the local stage")
    sources = tuple(SourceInput(id=m.id, kind=m.kind, input=str(project.stage_path(INPUT_STAGE, m.id)),
                                bands=str(project.stage_path(SIGNATURE_STAGE, m.id)), priority=m.priority,
                                license_rank=CLASSES.index(classify(m.license)), collected=m.collected)
                    for m in training)  # fmt: skip
    work = project.root / ".curaline" / "shuffle" / uuid.uuid4().hex[:12]
    work.mkdir(parents=True)  # a corpus without any duplicate writes no partition file, but gone.parquet
    try:
        exact_dir, near_dir = work / "exact", work / "near"
        maps = [MapTask(s, str(exact_dir), partitions) for s in sources]
        documents = sum(n for _, n in engine.map(map_exact, maps, describe=lambda t: t.label))
        parts = [ReduceTask(str(exact_dir / f"part-{r:05d}")) for r in range(partitions)]
        found = [t for _, t in engine.map(reduce_exact, parts, describe=lambda t: t.label)]
        exact = pa.concat_tables([EXACT_SCHEMA.empty_table(), *found]).cast(EXACT_SCHEMA).sort_by("doc_id")
        gone = work / "gone.parquet"
        pq.write_table(pa.table({"doc_id": exact["doc_id"]}), gone)  # shipped once, read by every reducer
        maps = [MapTask(s, str(near_dir), partitions) for s in sources]
        list(engine.map(map_bands, maps, describe=lambda t: t.label))
        edges_dir = work / "edges"
        edges_dir.mkdir()
        parts = [ReduceTask(str(near_dir / f"part-{r:05d}"), sources, str(gone), minhash, dedup,
                            str(edges_dir / f"part-{r:05d}.parquet")) for r in range(partitions)]  # fmt: skip
        found_edges = sum(n for _, n in engine.map(reduce_near_to_file, parts, describe=lambda t: t.label))
        shuffle_bytes = sum(p.stat().st_size for p in work.rglob("part-*/*.parquet"))
        if found_edges > driver_edge_limit:
            near, distinct, comps = _distributed_near(engine, [t.edges for t in parts], work, sources, minhash, dedup,
                                                      partitions)  # fmt: skip
            return ShuffleResult(exact, near, documents, distinct, shuffle_bytes, comps)
        edges = pa.concat_tables([pq.read_table(t.edges) for t in parts])
        # a pair whose buckets fell in two partitions comes back twice: one edge
        edges = edges.group_by(["a", "b"]).aggregate([]).sort_by([("a", "ascending"), ("b", "ascending")])
        meta = pa.concat_tables(pq.read_table(f) for f in sorted(exact_dir.rglob("*.parquet"))) if documents else None
        if meta is None or edges.num_rows == 0:
            from curaline.dedup import near_empty

            return ShuffleResult(exact, near_empty(), documents, edges.num_rows, shuffle_bytes)
        meta = meta.sort_by("doc_id")
        pair_rows = pa.table({"a": pc.index_in(edges["a"], value_set=meta["doc_id"]).cast(pa.int64()),
                              "b": pc.index_in(edges["b"], value_set=meta["doc_id"]).cast(pa.int64())})  # fmt: skip
        rows = needed_rows(pair_rows)
        ids, texts = _texts(sources, meta["doc_id"].take(pa.array(rows)))
        order = pc.index_in(meta["doc_id"].take(pa.array(rows)), value_set=ids)
        sets = shingle_sets(texts.take(order), config=minhash)  # aligned with rows
        near = near_duplicates(meta, pair_rows, sets=sets, set_rows=rows, config=dedup)
        return ShuffleResult(exact, near, documents, edges.num_rows, shuffle_bytes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _distributed_near(engine: Any, edge_files: list[str], work: Path, sources: tuple[SourceInput, ...],
                      minhash: MinHashConfig, dedup: DedupConfig, partitions: int) -> tuple[pa.Table, int, Components]:  # fmt: skip
    """Near removals with the edges left in files: components on the engine, then the keep-policy per component."""
    comps = connected_components(engine, edge_files, work / "components", partitions=partitions)
    groups = work / "groups"
    tasks = [GroupTask(str(Path(comps.first) / Path(f).stem), f, str(groups), partitions, Path(f).stem)
             for f in comps.labels]  # fmt: skip
    list(engine.map(group_edges, tasks, describe=lambda t: t.label))
    parts = [ReduceTask(str(groups / f"part-{r:05d}"), sources, "", minhash, dedup) for r in range(partitions)]
    found = list(engine.map(keep_policy, parts, describe=lambda t: t.label))
    near = pa.concat_tables([NEAR_SCHEMA.empty_table(), *(t for _, (t, _n) in found)]).cast(NEAR_SCHEMA)
    return near.sort_by("doc_id"), sum(n for _, (_t, n) in found), comps
