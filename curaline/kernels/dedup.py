"""Exact and near deduplication across all sources: the global dedup stage's kernels.

Exact: documents sharing a content hash; the keep-policy picks the survivor.

Near: MinHash signatures (curaline.kernels.minhash, stored per source) are cut into
bands; documents sharing a band bucket are candidates (a DuckDB join that runs out of
core over parquet files of (doc_id, band, bucket), so adding a source only adds its
own rows). Candidates are then verified: true Jaccard of the shingle sets when the
caller can give them (``ShingleSets``), else the signature estimate. Verified pairs
form connected components, but a component is a chain, not a cluster: A~B and B~C
does not make A~C. So each component's representative is chosen by the keep-policy,
only members whose Jaccard *to the representative* reaches the threshold are removed,
and the others are re-clustered among themselves, round after round. Every removed
document is thus attributable: "merged into D, Jaccard J >= threshold".

Keep-policy (exact and near alike), best first: higher source ``priority``; then the
more permissive licence (``license_rank``, lower = more permissive, ranked by the
caller's licence policy); then the earliest ``collected`` date; then ``doc_id``.
Nulls rank last in each key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import make_events
from curaline.kernels.minhash import EMPTY, ShingleSets

if TYPE_CHECKING:
    import duckdb

Similarity = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: Columns the keep-policy reads from the metadata table.
META_COLUMNS = ("doc_id", "source_id", "priority", "license_rank", "collected", "content_hash")

#: Per removed document: the cluster it belonged to, the document kept for it, Jaccard.
NEAR_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string(), nullable=False),
        pa.field("jaccard", pa.float64(), nullable=False),
    ]
)

EXACT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string(), nullable=False),
    ]
)

_KEEP_ORDER_SQL = (
    "priority DESC NULLS LAST, license_rank ASC NULLS LAST, collected ASC NULLS LAST, doc_id ASC"
)

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class DedupConfig:
    """Near-dedup thresholds and the LSH shape.

    threshold: 0.7 Jaccard of word 5-gram sets. Lee et al. 2022 (arXiv 2107.06499) use
        0.8; FineWeb's 14x8 bands put its S-curve midpoint near 0.72. 0.7 with exact
        verification removes more true copies without removing unlike documents.
    bands x rows: 25 x 5 (125 of 128 permutations). The candidate probability
        1 - (1 - s**5)**25 is 0.990 at s = 0.7 and 0.87 at s = 0.6, so recall is set
        by the LSH only below the threshold; verification restores precision.
    verify: "exact" (true Jaccard, needs ShingleSets) or "estimate" (signatures).
    max_bucket_pairs: buckets up to this size give all their pairs; larger ones (shared
        templates) give a star to their smallest doc_id, so pairs stay O(n).
    max_rounds: re-clustering rounds; members still unresolved after them are kept.
    shuffle_min_records: on the Ray engine, dedup runs as shuffles on the cluster from this
        many training records up; below, in the driver, as on the local engine (the same
        removals). At 100k records on 2 cores the shuffles took 10.1 s against 4.4 s in one
        process, and one process handled 1M in 50 s and 2.1 GB: the shuffles pay off where
        a driver would not cope. Measured on a 2-core machine, not a real cluster.
    """

    threshold: float = 0.7
    bands: int = 25
    rows: int = 5
    verify: str = "exact"
    max_bucket_pairs: int = 32
    max_rounds: int = 20
    shuffle_min_records: int = 1_000_000

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if self.verify not in ("exact", "estimate"):
            raise ValueError(f"unknown verify {self.verify!r}: exact or estimate")
        if self.shuffle_min_records < 0:
            raise ValueError("shuffle_min_records must be >= 0 (0: always shuffles on the Ray engine)")


# --- keep-policy and exact dedup -------------------------------------------------------


def keep_rank(meta: pa.Table) -> np.ndarray:
    """Rank of each row under the keep-policy: 0 is the document to keep first."""
    order = pc.sort_indices(
        meta,
        sort_keys=[
            ("priority", "descending", "at_end"),
            ("license_rank", "ascending", "at_end"),
            ("collected", "ascending", "at_end"),
            ("doc_id", "ascending", "at_end"),
        ],
    ).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def exact_duplicates(meta: pa.Table, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """(doc_id, duplicate_of) for each document whose content hash a better one holds.

    con: a connection to run in (the caller's, with its project's budget); default a fresh one
    with the default budget.
    """
    from curaline.database import connect

    own = con is None
    con = connect() if con is None else con
    try:
        con.register("meta", meta.select(list(META_COLUMNS)))
        out = con.sql(
            f"""
            SELECT doc_id, duplicate_of FROM (
                SELECT doc_id, first_value(doc_id) OVER (
                    PARTITION BY content_hash ORDER BY {_KEEP_ORDER_SQL}) AS duplicate_of
                FROM meta WHERE content_hash IS NOT NULL)
            WHERE doc_id <> duplicate_of ORDER BY doc_id
            """
        ).to_arrow_table()
    finally:
        con.unregister("meta")
        if own:
            con.close()
    return out.cast(EXACT_SCHEMA)


# --- banding ---------------------------------------------------------------------------


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n x bands) uint64: one hash of each band's `rows` signature values."""
    if bands * rows > signatures.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} permutations")
    sig = signatures[:, : bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    acc = np.zeros((len(signatures), bands), dtype=np.uint64)
    for r in range(rows):
        acc *= _GOLD
        acc += sig[:, :, r]
    acc ^= acc >> np.uint64(30)  # splitmix64 finalizer: buckets spread over 64 bits
    acc *= _MIX1
    acc ^= acc >> np.uint64(27)
    acc *= _MIX2
    acc ^= acc >> np.uint64(31)
    return acc


def band_table(
    doc_ids: pa.Array | np.ndarray, signatures: np.ndarray, config: DedupConfig
) -> pa.Table:
    """(doc_id, band int16, bucket int64) rows to store per source; token-less docs skipped."""
    keys = band_keys(signatures, config.bands, config.rows)
    live = np.flatnonzero(~(signatures == EMPTY).all(axis=1))
    ids = pa.array(doc_ids) if isinstance(doc_ids, np.ndarray) else doc_ids
    ids = ids.take(pa.array(np.repeat(live, config.bands)))
    return pa.table(
        {
            "doc_id": ids,
            "band": pa.array(np.tile(np.arange(config.bands, dtype=np.int16), len(live))),
            "bucket": pa.array(keys[live].reshape(-1).view(np.int64)),
        }
    )


def candidate_pairs(
    con: duckdb.DuckDBPyConnection, bands_table: str, *, max_bucket_pairs: int = 32
) -> pa.Table:
    """Distinct (a, b), a < b, of documents sharing a band bucket, sorted.

    bands_table: a DuckDB table name or table expression with doc_id, band, bucket, e.g.
    "read_parquet('bands/*.parquet')" -- DuckDB spills to disk past its memory limit, so
    this runs out of core. Buckets above max_bucket_pairs docs give a star to their
    smallest doc_id instead of all pairs (templates shared by thousands of pages).
    """
    k = int(max_bucket_pairs)
    # multi-doc buckets first (a hash aggregate; most buckets hold one document), then
    # only their members are joined: all pairs in small buckets, a star in large ones
    sql = f"""
        WITH multi AS (
            SELECT band, bucket, count(*) AS k, min(doc_id) AS root FROM {bands_table}
            GROUP BY band, bucket HAVING count(*) > 1
        ),
        t AS (
            SELECT s.doc_id, s.band, s.bucket, m.k, m.root
            FROM {bands_table} s JOIN multi m ON s.band = m.band AND s.bucket = m.bucket
        ),
        pairs AS (
            SELECT x.doc_id AS a, y.doc_id AS b
            FROM t x JOIN t y
                ON x.band = y.band AND x.bucket = y.bucket AND x.doc_id < y.doc_id
            WHERE x.k <= {k} AND y.k <= {k}
            UNION ALL
            SELECT root AS a, doc_id AS b FROM t WHERE k > {k} AND doc_id <> root
        )
        SELECT DISTINCT a, b FROM pairs ORDER BY a, b
    """
    return con.sql(sql).to_arrow_table()


# --- verification ----------------------------------------------------------------------


def estimated_jaccard(
    signatures: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 1 << 16
) -> np.ndarray:
    """Fraction of equal MinHash values of rows a[i] and b[i] (unbiased Jaccard estimate)."""
    out = np.empty(len(a), dtype=np.float64)
    for lo in range(0, len(a), chunk):
        sa, sb = signatures[a[lo : lo + chunk]], signatures[b[lo : lo + chunk]]
        out[lo : lo + chunk] = (sa == sb).mean(axis=1)
    return out


def exact_jaccard(
    sets: ShingleSets, a: np.ndarray, b: np.ndarray, at_least: float = 0.0
) -> np.ndarray:
    """True Jaccard of shingle sets a[i] and b[i] (indices into `sets`).

    A compiled, branch-free merge of the two sorted sets per pair when numba is
    importable, else _exact_jaccard_np. at_least > 0 lets a pair stop as soon as it can
    no longer reach that Jaccard: values below at_least are then lower bounds, values at
    or above it exact -- all a threshold test needs.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    try:
        intersect = _nb_intersect()
    except ImportError:
        return _exact_jaccard_np(sets, a, b)
    # J >= t  <=>  |A & B| >= t (|A| + |B|) / (1 + t)
    need = at_least * (sets.sizes()[a] + sets.sizes()[b]) / (1.0 + at_least) - 1e-9
    inter = intersect(sets.offsets, sets.hashes, a, b, need)
    union = sets.sizes()[a] + sets.sizes()[b] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _exact_jaccard_np(
    sets: ShingleSets, a: np.ndarray, b: np.ndarray, budget: int = 1 << 23
) -> np.ndarray:
    """NumPy only: pairs in chunks of about `budget` shingles; the chunk's distinct a-sets
    are laid out as sorted (local rank << 32 | fingerprint) keys and each b-shingle is
    looked up with np.searchsorted under its pair's a rank."""
    sizes = sets.sizes()
    out = np.zeros(len(a), dtype=np.float64)
    if len(a) == 0:
        return out
    order = np.argsort(a, kind="stable")
    cost = np.cumsum(sizes[a[order]] + sizes[b[order]])
    lo = 0
    while lo < len(order):
        spent = int(cost[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(cost, spent + budget, side="right")), lo + 1)
        idx = order[lo:hi]
        ua, inv = np.unique(a[idx], return_inverse=True)
        keys = _gather(sets, ua, tag=np.arange(len(ua), dtype=np.uint64))
        queries = _gather(sets, b[idx], tag=inv.astype(np.uint64))
        pos = np.searchsorted(keys, queries)
        hit = np.zeros(len(queries), dtype=np.int64)
        ok = pos < len(keys)
        hit[ok] = keys[pos[ok]] == queries[ok]
        qsizes = sizes[b[idx]]
        starts = np.r_[0, np.cumsum(qsizes)[:-1]]
        inter = np.zeros(len(idx), dtype=np.int64)
        nz = qsizes > 0
        inter[nz] = np.add.reduceat(hit, starts[nz]) if len(hit) else 0
        union = sizes[a[idx]] + qsizes - inter
        out[idx] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        lo = hi
    return out


_NB: list[Callable[..., np.ndarray]] = []


def _nb_intersect() -> Callable[..., np.ndarray]:
    """numba-compiled |A & B| of sorted sets, per pair (compiled once, cached on disk)."""
    if not _NB:
        import numba

        _NB.append(numba.njit(nogil=True, cache=True)(_loop_intersect))
    return _NB[0]


def _loop_intersect(
    offsets: np.ndarray, hashes: np.ndarray, a: np.ndarray, b: np.ndarray, need: np.ndarray
) -> np.ndarray:
    out = np.zeros(len(a), dtype=np.int64)
    for p in range(len(a)):
        i, i_end = offsets[a[p]], offsets[a[p] + 1]
        j, j_end = offsets[b[p]], offsets[b[p] + 1]
        n = 0
        steps = 0
        while i < i_end and j < j_end:
            x, y = hashes[i], hashes[j]
            n += x == y
            i += x <= y
            j += y <= x
            steps += 1
            if steps & 63 == 0 and n + min(i_end - i, j_end - j) < need[p]:
                break  # cannot reach the threshold any more
        out[p] = n
    return out


def _gather(sets: ShingleSets, docs: np.ndarray, tag: np.ndarray) -> np.ndarray:
    """Concatenated (tag << 32 | fingerprint) of the given documents' sets."""
    lens = sets.sizes()[docs]
    starts = sets.offsets[docs]
    total = int(lens.sum())
    shift = np.repeat(starts - np.r_[0, np.cumsum(lens)[:-1]], lens)
    idx = np.arange(total, dtype=np.int64) + shift
    return (np.repeat(tag, lens) << np.uint64(32)) | sets.hashes[idx].astype(np.uint64)


# --- clustering ------------------------------------------------------------------------


def needed_rows(pairs: pa.Table) -> np.ndarray:
    """Sorted rows whose shingle sets exact verification needs (set_rows below)."""
    a = pairs["a"].to_numpy()
    b = pairs["b"].to_numpy()
    return _unique(np.concatenate([a, b]).astype(np.int64))


def near_duplicates(
    meta: pa.Table,
    pairs: pa.Table,
    *,
    signatures: np.ndarray | None = None,
    sets: ShingleSets | None = None,
    set_rows: np.ndarray | None = None,
    config: DedupConfig | None = None,
    similarity: Similarity | None = None,
) -> pa.Table:
    """NEAR_SCHEMA rows for the documents near dedup removes, sorted by doc_id.

    meta: META_COLUMNS (the keep-policy's keys), one row per document.
    pairs: candidate pairs (a, b), either row numbers of meta or doc_ids.
    signatures: rows aligned with meta (needed for verify="estimate").
    sets, set_rows: shingle sets of the meta rows `set_rows` (default: all rows), e.g.
        of needed_rows(pairs) only; needed for verify="exact".
    similarity: replaces the Jaccard of the whole texts (meta rows in, values out), e.g.
        to compare preference pairs part by part.
    """
    config = config or DedupConfig()
    a, b = _pair_rows(meta, pairs)
    sim = similarity or _similarity(config, signatures, sets, set_rows, meta.num_rows)
    doc_ids = meta["doc_id"].combine_chunks()
    if len(a) == 0:
        return NEAR_SCHEMA.empty_table()

    keep = sim(a, b) >= config.threshold
    a, b = a[keep], b[keep]
    nodes = _unique(np.concatenate([a, b]))  # compact node c <-> meta row nodes[c]
    u, v = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    rank = keep_rank(meta)[nodes]
    cluster = np.full(len(nodes), -1, dtype=np.int64)  # first-round representative row
    removed_c: list[np.ndarray] = []
    kept_c: list[np.ndarray] = []
    jacc: list[np.ndarray] = []
    for _ in range(config.max_rounds):
        if len(u) == 0:
            break
        label = _components(len(nodes), u, v)
        # representative of each component: its best-ranked node
        order = np.lexsort((rank, label))
        first = np.r_[True, label[order][1:] != label[order][:-1]]
        rep_of_label = np.empty(label.max() + 1, dtype=np.int64)
        rep_of_label[label[order][first]] = order[first]
        active = _unique(np.concatenate([u, v]))
        rep = rep_of_label[label[active]]
        fresh = cluster[rep] < 0
        cluster[rep[fresh]] = nodes[rep[fresh]]
        cluster[active] = np.where(cluster[active] < 0, cluster[rep], cluster[active])
        members = active[active != rep]
        mrep = rep_of_label[label[members]]
        j = sim(nodes[members], nodes[mrep])
        drop = j >= config.threshold
        removed_c.append(members[drop])
        kept_c.append(mrep[drop])
        jacc.append(j[drop])
        # the rest re-cluster among themselves: keep only edges between them
        rest = np.zeros(len(nodes), dtype=bool)
        rest[members[~drop]] = True
        live = rest[u] & rest[v]
        u, v = u[live], v[live]

    if not removed_c:
        return NEAR_SCHEMA.empty_table()
    gone = np.concatenate(removed_c)
    into = np.concatenate(kept_c)
    out = pa.table(
        {
            "doc_id": doc_ids.take(pa.array(nodes[gone])),
            "cluster_id": doc_ids.take(pa.array(cluster[gone])),
            "duplicate_of": doc_ids.take(pa.array(nodes[into])),
            "jaccard": pa.array(np.concatenate(jacc), type=pa.float64()),
        },
        schema=NEAR_SCHEMA,
    )
    return out.sort_by("doc_id")


def _unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique hashes first in NumPy 2.3+: slower here)."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def _pair_rows(meta: pa.Table, pairs: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    cols = []
    for name in ("a", "b"):
        col = pairs[name]
        if pa.types.is_integer(col.type):
            cols.append(col.to_numpy().astype(np.int64))
        else:
            idx = pc.index_in(col, value_set=meta["doc_id"].combine_chunks())
            if idx.null_count:
                raise ValueError(f"{idx.null_count} pair doc_ids are not in meta")
            cols.append(idx.to_numpy().astype(np.int64))
    return cols[0], cols[1]


def _similarity(
    config: DedupConfig,
    signatures: np.ndarray | None,
    sets: ShingleSets | None,
    set_rows: np.ndarray | None,
    n_rows: int,
) -> Similarity:
    if config.verify == "estimate":
        if signatures is None:
            raise ValueError('verify="estimate" needs the signatures')
        return lambda x, y: estimated_jaccard(signatures, x, y)
    if sets is None:
        raise ValueError('verify="exact" needs the shingle sets (or use verify="estimate")')
    return exact_similarity(sets, set_rows, n_rows, config.threshold)


def exact_similarity(sets: ShingleSets, set_rows: np.ndarray | None, n_rows: int, threshold: float) -> Similarity:
    """True Jaccard of meta rows x[i], y[i] whose sets are `sets` (of `set_rows`, default all)."""
    if set_rows is None:
        return lambda x, y: exact_jaccard(sets, x, y, at_least=threshold)
    where = np.full(n_rows, -1, dtype=np.int64)  # meta row -> index into sets
    where[np.asarray(set_rows, dtype=np.int64)] = np.arange(len(set_rows))

    def sim(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ix, iy = where[x], where[y]
        if (ix < 0).any() or (iy < 0).any():
            raise ValueError("set_rows lacks rows of the pairs: compute sets for needed_rows")
        return exact_jaccard(sets, ix, iy, at_least=threshold)

    return sim


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


# --- ledger ----------------------------------------------------------------------------


def merge_events(exact: pa.Table, near: pa.Table, config: DedupConfig | None = None) -> pa.Table:
    """EVENT_SCHEMA rows (action "merge-into") for exact and near removals."""
    config = config or DedupConfig()
    ex = make_events(
        exact["doc_id"],
        "merge-into",
        "exact_duplicate",
        value=np.ones(exact.num_rows),
        threshold=1.0,
        related_doc_id=exact["duplicate_of"],
    )
    nd = make_events(
        near["doc_id"],
        "merge-into",
        "near_duplicate",
        value=near["jaccard"].to_numpy(),
        threshold=config.threshold,
        detail=pc.binary_join_element_wise("cluster=", near["cluster_id"], "").to_pylist(),
        related_doc_id=near["duplicate_of"],
    )
    return pa.concat_tables([ex, nd])
