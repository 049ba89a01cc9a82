"""Connected components of a synthetic edge list: the driver's union-find vs curaline.components on an engine.

    python benchmarks/bench_components.py driver|engine [--edges 1000000] [--workers 2] [--partitions 8] [--strings]

One mode per process, so the driver's peak RSS (getrusage) is that mode's alone; the
graph is written by a child process first: `edges` random pairs over as many nodes (many
small trees and one large component) plus a 100,000-node path, as 8 parquet files (as the
dedup reducers write theirs).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write(folder: str, edges: int, strings: bool) -> None:
    rng = np.random.default_rng(0)
    chain = 100_000
    n = edges - chain
    path = rng.permutation(chain) + n
    a = np.concatenate([rng.integers(0, n, n), path[:-1]])
    b = np.concatenate([rng.integers(0, n, n), path[1:]])
    a, b = a[a != b], b[a != b]
    for i, rows in enumerate(np.array_split(np.arange(len(a)), 8)):
        ca, cb = a[rows], b[rows]
        if strings:
            ca, cb = np.char.add("web:doc-", ca.astype(str)), np.char.add("web:doc-", cb.astype(str))
        pq.write_table(pa.table({"a": ca, "b": cb}), Path(folder) / f"edges-{i}.parquet")


def main() -> None:
    if sys.argv[1] == "write":
        return write(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["driver", "engine"])
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--strings", action="store_true", help="doc-id-like string nodes instead of int64")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        subprocess.run([sys.executable, __file__, "write", tmp, str(args.edges), str(int(args.strings))], check=True)
        files = sorted(Path(tmp).glob("edges-*.parquet"))
        before = rss_mb()
        t = time.perf_counter()
        if args.mode == "driver":  # what near_duplicates does: gather, compact node ids, union-find
            from curaline.kernels.dedup import _components, _unique

            edges = pa.concat_tables(pq.read_table(f) for f in files)
            if args.strings:
                nodes_s = pa.concat_arrays([edges["a"].combine_chunks(), edges["b"].combine_chunks()]).unique().sort()
                u = pa.compute.index_in(edges["a"], value_set=nodes_s).to_numpy().astype(np.int64)
                v = pa.compute.index_in(edges["b"], value_set=nodes_s).to_numpy().astype(np.int64)
                count = len(nodes_s)
            else:
                ea, eb = edges["a"].to_numpy(), edges["b"].to_numpy()
                nodes = _unique(np.concatenate([ea, eb]))
                u, v = np.searchsorted(nodes, ea), np.searchsorted(nodes, eb)
                count = len(nodes)
            label = _components(count, u, v)
            summary = f"{count} nodes, {label.max() + 1} components"
        else:
            from curaline.components import connected_components
            from curaline.engine.local import LocalEngine

            with LocalEngine(args.workers, preload=["curaline.components"]) as engine:
                got = connected_components(engine, files, Path(tmp) / "work", partitions=args.partitions)
            summary = f"{got.nodes} nodes, {got.rounds} rounds, pending per round {got.violations}"
        took = time.perf_counter() - t
        print(f"{args.mode}: {len(files)} files, {args.edges:,} edges{' (strings)' if args.strings else ''}: "
              f"{took:.1f} s; {summary}; driver peak RSS {rss_mb():.0f} MB (before: {before:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
