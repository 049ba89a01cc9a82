"""Connected components of an edge list too large for one machine: large-star/small-star on an engine.

The driver's union-find (`curaline.kernels.dedup._components`) needs the whole edge list in
its memory. Here the edges stay in parquet partitions on the shared filesystem and every
round is one `engine.map` over the P partitions, so the driver holds only per-round counters.

The algorithm is Kiveris et al. 2014 ("Connected Components in MapReduce and Beyond"),
alternating two operations on an undirected graph, both keyed by a node u and its
neighbourhood N(u) (a partition holds every edge of its nodes in both directions, nodes
hash-partitioned with DuckDB's `hash`):

- large-star: m = min(N(u) + u); every neighbour v > u is linked to m instead of u;
- small-star: m = min of u's neighbours v <= u; u and those neighbours are linked to m.

Both keep each component connected and its node set unchanged, and both shrink the
component towards a star around its smallest node, which then maps to itself under both
(O(log^2 n) rounds in theory, a few more than log n in practice). A partition knows when
its nodes are done: each has either no smaller neighbour (a centre) or exactly one smaller
neighbour and no larger one (a leaf). When no partition reports a node that is not done,
every component is a star around its minimum and the round writes the (node, label) files
instead of edges: label = the component's smallest node id, so the result is deterministic.

Node ids may be any type DuckDB orders (integers, strings: compared bytewise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: a bound that no real graph reaches (log^2 of 10^12 nodes is ~1,600; observed rounds are tens)
MAX_ROUNDS = 200


@dataclass(frozen=True)
class SplitTask:
    """Writes one edge file's (a, b) rows in both directions, partitioned by the first node."""

    edges: str  # a parquet file with columns a, b
    out: str  # round-00000: part-NNNNN/<name>.parquet
    partitions: int
    name: str

    @property
    def label(self) -> str:
        return f"components split {Path(self.edges).name}"


@dataclass(frozen=True)
class StarTask:
    """One partition's large- or small-star step; writes labels instead when its nodes are all done."""

    part: str  # round-k/part-r: (u, v) rows, both directions of each edge
    out: str  # round-(k+1)
    labels: str  # labels-k/part-r.parquet, written if every node of this partition is done
    partitions: int
    large: bool
    name: str

    @property
    def label(self) -> str:
        return f"components {'large' if self.large else 'small'}-star {Path(self.part).parent.name}/{self.name}"


@dataclass
class Components:
    """Where the labels are and what it took to compute them."""

    labels: list[str]  # parquet files of (node, label), one per non-empty partition, nodes partitioned by hash
    first: str  # round 0: part-r/*.parquet of (u, v), both directions, u partitioned like the labels
    nodes: int
    edges: int  # edge rows read (duplicates included)
    rounds: int
    violations: list[int]  # per round: nodes that were not yet a star's centre or leaf


def _connect() -> Any:
    from curaline.database import connect

    con = connect()
    con.execute("SET threads TO 1")  # the engine runs the partitions in parallel; one thread per task
    con.execute("SET preserve_insertion_order = false")
    return con


def _write(table: pa.Table, key: str, out: Path, name: str, partitions: int) -> None:
    """table's rows into out/part-NNNNN/<name>.parquet by its int column `key`, which is dropped."""
    part = table[key].to_numpy()
    table = table.drop_columns([key])
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    for r in range(partitions):
        rows = order[bounds[r]:bounds[r + 1]]
        if len(rows):
            folder = out / f"part-{r:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.take(pa.array(rows)), folder / f"{name}.parquet")


def split_edges(task: SplitTask) -> int:
    """Round 0: each edge as (u, v) and (v, u), partitioned by u; self-loops dropped. Returns edge rows read."""
    with _connect() as con:
        con.execute(f"CREATE TEMP TABLE edges AS SELECT a, b FROM read_parquet('{task.edges}') "
                    "WHERE a IS NOT NULL AND b IS NOT NULL")
        n = con.execute("SELECT count(*) FROM edges").fetchall()[0][0]
        both = con.sql(f"""
            SELECT u, v, hash(u) % {task.partitions} AS p FROM (
                SELECT a AS u, b AS v FROM edges WHERE a <> b UNION ALL SELECT b, a FROM edges WHERE a <> b)
        """).to_arrow_table()  # fmt: skip
    _write(both, "p", Path(task.out), task.name, task.partitions)
    return int(n)


def star(task: StarTask) -> tuple[int, int]:
    """(nodes of this partition not yet done, edge rows written) for one large- or small-star step."""
    files = sorted(Path(task.part).glob("*.parquet"))
    if not files:
        return 0, 0
    listing = ", ".join(f"'{f}'" for f in files)
    with _connect() as con:
        con.execute(f"CREATE TEMP TABLE e AS SELECT DISTINCT u, v FROM read_parquet([{listing}])")
        con.execute("""
            CREATE TEMP TABLE n AS SELECT u, min(v) FILTER (WHERE v < u) AS low,
                count(*) FILTER (WHERE v < u) AS smaller, count(*) FILTER (WHERE v > u) AS larger
            FROM e GROUP BY u
        """)  # fmt: skip
        row = con.execute("SELECT count(*) FILTER (WHERE smaller > 1 OR (smaller = 1 AND larger > 0)) FROM n").fetchall()[0]
        pending = int(row[0])
        if pending == 0:  # a centre labels itself, a leaf its one (smaller) neighbour: the centre
            labels = con.sql("SELECT u AS node, coalesce(low, u) AS label FROM n").to_arrow_table()
            pq.write_table(labels, task.labels)  # the result if no partition has pending nodes
        if task.large:  # link every larger neighbour v of u to m = min(N(u) + u)
            new = "SELECT e.v AS x, coalesce(n.low, n.u) AS y FROM e JOIN n USING (u) WHERE e.v > e.u"
        else:  # link u and its smaller neighbours to m = the smallest of them
            new = """SELECT u AS x, low AS y FROM n WHERE low IS NOT NULL
                     UNION ALL SELECT e.v, n.low FROM e JOIN n USING (u) WHERE e.v < e.u AND e.v <> n.low"""
        both = con.sql(f"""
            WITH new AS (SELECT DISTINCT x, y FROM ({new}))
            SELECT u, v, hash(u) % {task.partitions} AS p FROM (
                SELECT x AS u, y AS v FROM new UNION ALL SELECT y, x FROM new)
        """).to_arrow_table()  # fmt: skip
    _write(both, "p", Path(task.out), task.name, task.partitions)
    return pending, both.num_rows


def connected_components(engine: Any, edge_files: Sequence[str | Path], work: str | Path, *, partitions: int,
                         max_rounds: int = MAX_ROUNDS) -> Components:  # fmt: skip
    """Label every node of the edges (parquet files with columns a, b) with its component's smallest node.

    work: an empty folder on the filesystem the engine's workers share; round folders are
    removed as the next round is written, except round 0 (`Components.first`), which callers
    can join with the labels partition by partition.
    """
    import shutil

    work = Path(work)
    first = work / "round-00000"
    first.mkdir(parents=True)
    splits = [SplitTask(str(f), str(first), partitions, f"e{i:05d}") for i, f in enumerate(edge_files)]
    edges = sum(n for _, n in engine.map(split_edges, splits, describe=lambda t: t.label))
    violations: list[int] = []
    current = first
    for k in range(max_rounds):
        out = work / f"round-{k + 1:05d}"
        labels = work / f"labels-{k:05d}"
        labels.mkdir(parents=True)
        tasks = [StarTask(str(current / f"part-{r:05d}"), str(out), str(labels / f"part-{r:05d}.parquet"), partitions,
                          large=k % 2 == 0, name=f"r{r:05d}") for r in range(partitions)]  # fmt: skip
        pending = sum(p for _, (p, _n) in engine.map(star, tasks, describe=lambda t: t.label))
        violations.append(pending)
        if current != first:
            shutil.rmtree(current, ignore_errors=True)
        if pending:
            shutil.rmtree(labels, ignore_errors=True)
        else:
            shutil.rmtree(out, ignore_errors=True)
            files = sorted(str(p) for p in labels.glob("part-*.parquet"))
            nodes = sum(pq.read_metadata(f).num_rows for f in files)
            return Components(files, str(first), nodes, edges, k + 1, violations)
        current = out
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds (pending: {violations[-5:]})")


def read_labels(components: Components) -> pa.Table:
    """All (node, label) rows, sorted by node: for tests and small graphs only (it is the whole node set)."""
    if not components.labels:
        return pa.table({"node": pa.array([], pa.int64()), "label": pa.array([], pa.int64())})
    return pa.concat_tables(pq.read_table(f) for f in components.labels).sort_by("node")
