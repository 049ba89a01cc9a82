"""The global dedup stage over a project: exact, then near duplicates across every source.

Signatures and band buckets are computed per source (`source_signatures`) and stored,
so a new source costs only its own signatures; `deduplicate` then bands all sources
with one DuckDB join over the stored bucket files (out of core), verifies candidates
with true Jaccard on the few documents that need it, and writes each source's kept
records plus ledger events naming the document each removed one merged into.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curaline import stages
from curaline.database import connect
from curaline.kernels.dedup import (
    DedupConfig,
    Similarity,
    candidate_pairs,
    exact_duplicates,
    exact_jaccard,
    exact_similarity,
    merge_events,
    near_duplicates,
    needed_rows,
)
from curaline.kernels.minhash import MinHashConfig, shingle_sets, squashed_hashes
from curaline.licenses import CLASSES, classify
from curaline.minhash_bands import SIGNATURE_STAGE as SIGNATURE_STAGE  # re-exported: the stage dedup reads
from curaline.minhash_bands import band_files, banded, dedup_text
from curaline.minhash_bands import source_signatures as source_signatures
from curaline.project import Project
from curaline.sources import SourceManifest
from curaline.sql import literal_list
from curaline.stage import BATCH_ROWS
from curaline.store import parquet_files, release_unused_memory, write_parquet

OUTPUT_STAGE = "deduplicated"
#: the stage whose output dedup reads: the last per-source stage (the registry's upstream)
INPUT_STAGE = stages.records_input(OUTPUT_STAGE)


def normalized_hash(texts: pa.Array) -> pa.Array:
    """Exact-dup key: case and whitespace do not make two records different."""
    return pa.array(squashed_hashes(texts).view(np.int64)).cast(pa.string())


def _batches(project: Project, manifest: SourceManifest) -> Iterator[pa.Table]:
    """The source's dedup input, batch by batch, in row order (its shard files in order)."""
    for path in parquet_files(project.stage_path(INPUT_STAGE, manifest.id)):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])


def training_records(project: Project, manifests: list[SourceManifest]) -> int:
    """How many records dedup would compare: the training sources' inputs, from the file footers."""
    return sum(pq.ParquetFile(f).metadata.num_rows for m in manifests if banded(m.kind)
               for f in parquet_files(project.stage_path(INPUT_STAGE, m.id)) if f.exists())  # fmt: skip


@dataclass
class DedupStats:
    rows_in: int = 0
    kept: int = 0
    exact_removed: int = 0
    near_removed: int = 0
    #: near copies of taken-down records (curaline.takedown.near_copy_events)
    takedown_removed: int = 0
    clusters: int = 0
    candidate_pairs: int = 0
    shuffle_bytes: int = 0  # on an engine: bytes its shuffles wrote to partition files
    by_source: dict[str, tuple[int, int]] = field(default_factory=dict)  # source -> (in, kept)
    source_pairs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (removed src, kept src)
    removed_by: dict[str, Counter[str]] = field(default_factory=dict)  # source -> reason -> count
    biggest: list[tuple[str, int]] = field(default_factory=list)  # (kept doc, members removed)
    jaccards: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))


def deduplicate(
    project: Project, manifests: list[SourceManifest], minhash: MinHashConfig, dedup: DedupConfig,
    engine: Any = None,
) -> tuple[DedupStats, pa.Table]:
    """Remove exact then near duplicates across sources; returns stats and ledger events.

    With an engine (the Ray engine), exact and near removals are computed by shuffles on it
    (`curaline.dedup_shuffle`; preference sources keep the local path).
    """
    training = [m for m in manifests if banded(m.kind) and project.stage_path(INPUT_STAGE, m.id).exists()]
    stats = DedupStats()
    from curaline.dedup_shuffle import shuffled_removals, supported

    on_engine = engine is not None and supported(training)
    # one pass for what every record contributes (its id, its source's rank, its content hash):
    # no text is kept, so memory grows with the record count, not the corpus's bytes. On an
    # engine the map tasks hash the texts: the driver reads only the ids (for the statistics
    # and the takedown check), a column, not the corpus
    metas, pref_parts = [], []
    for m in training:
        if on_engine:
            ids = [pq.read_table(f, columns=["doc_id"])["doc_id"].combine_chunks()
                   for f in parquet_files(project.stage_path(INPUT_STAGE, m.id))]  # fmt: skip
            n = sum(len(a) for a in ids)
            metas.append(pa.table({"doc_id": pa.concat_arrays(ids) if ids else pa.array([], pa.string()),
                                   "source_id": pa.array([m.id] * n, pa.string())}))  # fmt: skip
            continue
        rank = CLASSES.index(classify(m.license))
        parts = []
        for t in _batches(project, m):
            if m.kind == "preference":  # pairs are compared part by part (kept: preference sets are small)
                pref_parts.append([t[c].combine_chunks().cast(pa.string()) for c in PAIR_PARTS])
            else:
                pref_parts.append([pa.nulls(t.num_rows, pa.string()) for _ in PAIR_PARTS])
            parts.append(pa.table({
                "doc_id": t["doc_id"].combine_chunks(),
                "source_id": pa.array([m.id] * t.num_rows, pa.string()),
                "priority": pa.array([m.priority] * t.num_rows, pa.int64()),
                "license_rank": pa.array([rank] * t.num_rows, pa.int64()),
                "collected": pa.array([m.collected] * t.num_rows, pa.date32()),
                "content_hash": normalized_hash(dedup_text(t, m.kind)),
            }))  # fmt: skip
        metas.append(pa.concat_tables(parts).combine_chunks() if parts else _meta_empty())
    if not metas:
        return stats, merge_events(exact_duplicates_empty(), near_empty(), dedup)
    meta = pa.concat_tables(metas)
    stats.rows_in = meta.num_rows
    release_unused_memory()  # the texts the pass read are gone: their pages need not stay under the join's

    if on_engine:  # shuffles on the engine (Ray): same removals
        del pref_parts
        shuffled = shuffled_removals(project, training, minhash, dedup, engine)
        exact, near = shuffled.exact, shuffled.near
        stats.candidate_pairs = shuffled.candidate_edges  # verified edges: reducers send no unverified pair
        stats.shuffle_bytes = shuffled.shuffle_bytes
    else:
        with connect(project) as con:  # within engine.duckdb_memory: past it, DuckDB spills
            exact = exact_duplicates(meta, con=con)
            listing = literal_list(band_files(project, [m.id for m in training]))
            pairs = candidate_pairs(con, f"read_parquet({listing})", max_bucket_pairs=dedup.max_bucket_pairs)
        gone = exact["doc_id"]
        pairs = pairs.filter(pc.invert(pc.or_(pc.is_in(pairs["a"], value_set=gone), pc.is_in(pairs["b"], value_set=gone))))
        stats.candidate_pairs = pairs.num_rows
        ids = meta["doc_id"]
        pair_rows = pa.table({  # doc ids -> meta row numbers, vectorized
            "a": pc.index_in(pairs["a"], value_set=ids).cast(pa.int64()),
            "b": pc.index_in(pairs["b"], value_set=ids).cast(pa.int64()),
        })  # fmt: skip
        rows = needed_rows(pair_rows)
        sets = shingle_sets(_texts_at(project, training, rows), config=minhash)
        is_pair = np.concatenate([np.full(t.num_rows, m.kind == "preference") for m, t in zip(training, metas, strict=True)])
        similarity = None
        if is_pair[rows].any():
            parts = [pa.concat_arrays([p[i] for p in pref_parts]) if pref_parts else pa.array([], pa.string())
                     for i in range(len(PAIR_PARTS))]  # fmt: skip
            similarity = pair_similarity(exact_similarity(sets, rows, meta.num_rows, dedup.threshold), rows, is_pair,
                                         parts, minhash, dedup.threshold)  # fmt: skip
        del pref_parts
        near = near_duplicates(meta, pair_rows, sets=sets, set_rows=rows, config=dedup, similarity=similarity)
    events = merge_events(exact, near, dedup)

    stats.exact_removed, stats.near_removed = exact.num_rows, near.num_rows
    stats.clusters = len(set(near["cluster_id"].to_pylist())) + len(set(exact["duplicate_of"].to_pylist()))
    stats.jaccards = near["jaccard"].to_numpy()
    source_of = dict(zip(meta["doc_id"].to_pylist(), meta["source_id"].to_pylist(), strict=True))
    removed_into = {**dict(zip(exact["doc_id"].to_pylist(), exact["duplicate_of"].to_pylist(), strict=True)),
                    **dict(zip(near["doc_id"].to_pylist(), near["duplicate_of"].to_pylist(), strict=True))}  # fmt: skip
    for gone, kept in removed_into.items():
        stats.source_pairs[(source_of[gone], source_of[kept])] += 1
    for doc, reason in zip(events["doc_id"].to_pylist(), events["reason"].to_pylist(), strict=True):
        stats.removed_by.setdefault(source_of[doc], Counter())[reason] += 1
    stats.biggest = Counter(removed_into.values()).most_common(10)
    # the cluster of each record that has one: kept representatives name themselves
    kept_reps = pa.array(sorted(set(removed_into.values())), pa.string())
    clusters = pa.table({
        "doc_id": pa.concat_arrays([kept_reps, near["doc_id"].combine_chunks(), exact["doc_id"].combine_chunks()]),
        "cluster": pa.concat_arrays([kept_reps, near["cluster_id"].combine_chunks(),
                                     exact["duplicate_of"].combine_chunks()]),
    })  # fmt: skip
    removed = pa.array(list(removed_into), pa.string())
    # a takedown covers the work: near copies (in any run's clusters) of taken-down records go too
    from curaline.takedown import NEAR_REASON, near_copy_events

    present = pc.filter(meta["doc_id"], pc.invert(pc.is_in(meta["doc_id"], value_set=removed)))
    copies = near_copy_events(project, present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present)
    if copies.num_rows:
        events = pa.concat_tables([events, copies])
        removed = pa.concat_arrays([removed, copies["doc_id"].combine_chunks()])
        stats.takedown_removed = copies.num_rows
        for doc in copies["doc_id"].to_pylist():
            stats.removed_by.setdefault(source_of[doc], Counter())[NEAR_REASON] += 1
    for m in training:
        rows_in, rows_kept = _write_kept(project, m, removed, clusters)
        stats.by_source[m.id] = (rows_in, rows_kept)
        stats.kept += rows_kept
    _remove_stale(project, OUTPUT_STAGE, {m.id for m in training})
    return stats, events


def _meta_empty() -> pa.Table:
    return pa.table({"doc_id": pa.array([], pa.string()), "source_id": pa.array([], pa.string()),
                     "priority": pa.array([], pa.int64()), "license_rank": pa.array([], pa.int64()),
                     "collected": pa.array([], pa.date32()), "content_hash": pa.array([], pa.string())})  # fmt: skip


def _texts_at(project: Project, training: list[SourceManifest], rows: np.ndarray) -> pa.Array:
    """The dedup text of the records at these (sorted) rows of the sources' concatenation, read
    batch by batch: only the candidates' texts are ever held, not the corpus."""
    out: list[pa.Array] = []
    offset = 0
    for m in training:
        for t in _batches(project, m):
            i, j = np.searchsorted(rows, [offset, offset + t.num_rows])
            if j > i:
                out.append(dedup_text(t.take(pa.array(rows[i:j] - offset)), m.kind).cast(pa.string()))
            offset += t.num_rows
    return pa.concat_arrays(out) if out else pa.array([], pa.string())


def _write_kept(project: Project, m: SourceManifest, removed: pa.Array, clusters: pa.Table) -> tuple[int, int]:
    """Write the source's records that were not removed, each with its cluster; (rows in, rows kept)."""
    files = parquet_files(project.stage_path(INPUT_STAGE, m.id))
    if not files:
        empty = pq.read_table(project.stage_path(INPUT_STAGE, m.id))
        return 0, write_parquet(project.stage_path(OUTPUT_STAGE, m.id),
                                empty.append_column("dup_cluster", pa.nulls(0, clusters["cluster"].type)))  # fmt: skip
    schema = pq.ParquetFile(files[0]).schema_arrow.append(pa.field("dup_cluster", clusters["cluster"].type))
    rows_in = 0

    def kept() -> Iterator[pa.Table]:
        nonlocal rows_in
        for t in _batches(project, m):
            rows_in += t.num_rows
            k = t.filter(pc.invert(pc.is_in(t["doc_id"], value_set=removed)))
            at = pc.index_in(k["doc_id"], value_set=clusters["doc_id"])
            yield k.append_column("dup_cluster", pc.take(clusters["cluster"], at)).cast(schema)

    rows_kept = write_parquet(project.stage_path(OUTPUT_STAGE, m.id), kept(), schema)
    return rows_in, rows_kept


#: What a preference record is compared on, part by part.
PAIR_PARTS = ("prompt", "chosen", "rejected")


def pair_similarity(
    whole: Similarity,
    rows: np.ndarray,
    is_pair: np.ndarray,
    parts: list[pa.Array],
    minhash: MinHashConfig,
    threshold: float,
) -> Similarity:
    """Jaccard of whole texts, except that preference pairs compare part by part.

    One ranking yields A>B, A>C, B>C: pairs sharing a prompt and an answer look alike as
    whole texts by construction. Two pairs are near duplicates only when prompt, chosen
    and rejected each are (the least of the three Jaccards); a part too short for one
    shingle must match exactly (case and whitespace aside). A pair whose own answers are
    near copies of each other (the judgement is about a detail shingles do not see, such
    as capitalisation) is never merged by similarity, only as an exact copy. A preference
    pair is never a duplicate of another kind's record.
    """
    n = len(is_pair)
    pair_rows = np.asarray(rows, dtype=np.int64)[is_pair[rows]]
    m = len(pair_rows)
    texts = pa.concat_arrays([part.take(pa.array(pair_rows)) for part in parts])  # part k of row i at k*m + i
    sets = shingle_sets(texts, config=minhash)
    empty = sets.sizes() == 0
    key = squashed_hashes(texts)
    at = np.full(n, -1, dtype=np.int64)  # meta row -> i
    at[pair_rows] = np.arange(m)

    def part_sim(ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        j = exact_jaccard(sets, ia, ib, at_least=threshold)
        short = empty[ia] | empty[ib]
        return np.where(short, (key[ia] == key[ib]).astype(np.float64), j)

    own = np.arange(m)
    ambiguous = np.zeros(n, dtype=bool)
    ambiguous[pair_rows] = part_sim(m + own, 2 * m + own) >= threshold  # chosen ~ rejected

    def sim(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros(len(x), dtype=np.float64)  # mixed and ambiguous pairs stay 0
        px, py = is_pair[x], is_pair[y]
        plain = ~px & ~py
        if plain.any():
            out[plain] = whole(x[plain], y[plain])
        both = px & py & ~ambiguous[x] & ~ambiguous[y]
        if both.any():
            ix, iy = at[x[both]], at[y[both]]
            least = np.ones(len(ix), dtype=np.float64)
            for k in range(len(parts)):
                least = np.minimum(least, part_sim(k * m + ix, k * m + iy))
            out[both] = least
        return out

    return sim


def exact_duplicates_empty() -> pa.Table:
    from curaline.kernels.dedup import EXACT_SCHEMA

    return EXACT_SCHEMA.empty_table()


def near_empty() -> pa.Table:
    from curaline.kernels.dedup import NEAR_SCHEMA

    return NEAR_SCHEMA.empty_table()


def _remove_stale(project: Project, stage: str, live: set[str]) -> None:
    """A source whose manifest is gone must not linger in a global stage's output."""
    folder = project.data_dir / stage
    for path in folder.glob("*.parquet") if folder.is_dir() else []:
        if path.stem not in live:
            Path(path).unlink()
