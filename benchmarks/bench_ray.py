"""Near dedup on Ray against the local stage on corpus-100k: removals, recall, shuffle and edge counts.

The whole corpus (every document, not only what the quality filter keeps) is written as
the dedup stage's input of three sources (one shard per corpus file, the columns dedup
reads), banded once, then deduplicated twice in this one invocation: by the local stage
(`deduplicate`, union-find on the driver) and by the same stage on a loopback Ray cluster
(`deduplicate(..., engine=RayEngine)`: exact dedup by a content-hash shuffle, near dedup by
a (band, bucket) shuffle with true-Jaccard verification in the reducers). Recall is against
`ground_truth.jsonl.gz` (a planted pair is caught if either member was removed), as in
`bench_dedup.py`. Wall time of each side, and CPU seconds of this process plus every
descendant (the cluster's GCS, raylets and Ray workers included), measured around it.
The cluster (head with no CPUs, two 1-CPU worker nodes, dashboard off,
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`) starts before the Ray side; its start is reported,
not counted. The figures feed the projection in RESULTS.md ("Ray: projection to 1 TB").

    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 PYTHONPATH=. python benchmarks/bench_ray.py [--files 20]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_engine import CORPUS  # noqa: E402
from bench_engine import _own_cpu as cpu_of  # noqa: E402  (each process's own user + system time)

SOURCES = ("tech-docs", "vendor-manuals", "generated-howtos")


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall s, CPU s of this process and of every descendant, each process's own time)."""
    me = psutil.Process()
    before = cpu_of([me, *me.children(recursive=True)])
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    after = cpu_of([me, *me.children(recursive=True)])
    return wall, sum(v - before.get(pid, 0.0) for pid, v in after.items())


def write_input(root: Path, files: list[Path]) -> int:
    """Three sources whose dedup input is the corpus itself; returns the document count."""
    from curaline.dedup import INPUT_STAGE
    from curaline.project import Project

    (root / "sources").mkdir(parents=True)
    (root / "curaline.yaml").write_text("{}\n")
    project = Project.at(root)
    docs = 0
    for i, sid in enumerate(SOURCES):
        manifest = {"id": sid, "location": f"../corpus/{sid}/*.jsonl.gz", "format": "jsonl.gz", "kind": "document",
                    "fields": {"id": "id", "text": "text"}, "license": "MIT", "obtained": "public-dataset",
                    "languages": ["en"], "priority": i}  # fmt: skip
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(manifest))
        folder = project.stage_path(INPUT_STAGE, sid)
        folder.mkdir(parents=True)
        for n, f in enumerate(files[i :: len(SOURCES)]):
            rows = [json.loads(line) for line in gzip.open(f, "rt")]
            pq.write_table(pa.table({"doc_id": [r["id"] for r in rows], "source_id": [sid] * len(rows),
                                     "text": [r["text"] for r in rows]}), folder / f"shard-{n:05d}.parquet")  # fmt: skip
            docs += len(rows)
    return docs


def recall(truth: list[dict], removed: set[str]) -> dict[str, tuple[int, float]]:
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for g in truth:
        caught = g["id"] in removed or g["dup_of"] in removed
        for key in ("all", "kind " + g["kind"]):
            hits[key][0] += caught
            hits[key][1] += 1
    return {k: (n, c / n) for k, (c, n) in sorted(hits.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20, help="corpus shards to use (5,000 documents each)")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"needs the benchmark corpus at {CORPUS}")
    from ray._private.internal_api import get_memory_info_reply, get_state_from_address
    from ray.cluster_utils import Cluster

    import curaline.dedup_shuffle as shuffle
    from curaline.dedup import deduplicate, source_signatures
    from curaline.engine.ray import RayEngine
    from curaline.project import Project
    from curaline.sources import load_manifests

    files = sorted(CORPUS.glob("[0-9]*.jsonl.gz"))[: args.files]  # not ground_truth.jsonl.gz
    work = Path(tempfile.mkdtemp(prefix="curaline-bench-ray-"))
    try:
        docs = write_input(work / "p", files)
        project = Project.at(work / "p")
        manifests, problems = load_manifests(project.sources_dir, strict=False)
        minhash, dedup = project.config.for_stage("minhash_bands"), project.config.for_stage("deduplicated")
        wall_bands, _ = timed(lambda: [source_signatures(project, m, minhash, dedup) for m in manifests])
        rows: dict[str, tuple[float, float]] = {}
        got: dict[str, object] = {}
        rows["dedup stage, local (union-find on the driver, writes the kept records)"] = timed(
            lambda: got.update(local=deduplicate(project, manifests, minhash, dedup)))  # fmt: skip
        start = time.perf_counter()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        try:
            cluster.add_node(num_cpus=1)
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            startup = time.perf_counter() - start
            def on_ray() -> None:
                with RayEngine(cluster.address) as engine:
                    got["ray"] = deduplicate(project, manifests, minhash, dedup, engine=engine)

            rows["dedup stage on Ray, 2 worker nodes (shuffles; the driver writes the kept records)"] = timed(on_ray)
            store = get_memory_info_reply(get_state_from_address(cluster.address)).store_stats
        finally:
            cluster.shutdown()
        (stats_l, events_l), (stats_r, events_r) = got["local"], got["ray"]  # type: ignore[misc]
        truth = [json.loads(line) for line in gzip.open(CORPUS / "ground_truth.jsonl.gz", "rt")]
        present = {d for f in files for d in (json.loads(line)["id"] for line in gzip.open(f, "rt"))}
        truth = [g for g in truth if g["id"] in present and g["dup_of"] in present]
        removed_l, removed_r = set(events_l["doc_id"].to_pylist()), set(events_r["doc_id"].to_pylist())
        print(f"input: {docs:,} documents ({len(files)} corpus shards) as 3 sources, every document (no quality "
              f"filter before dedup); {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; banding "
              f"{wall_bands:.1f} s (shared, not in the sides); cluster start {startup:.1f} s (not in the sides); "
              f"{shuffle.DEFAULT_PARTITIONS} reducers per shuffle\n")  # fmt: skip
        print("| side | wall s | CPU s | docs/s (wall) | docs per CPU-s |\n|---|---:|---:|---:|---:|")
        for label, (wall, cpu) in rows.items():
            print(f"| {label} | {wall:.1f} | {cpu:.1f} | {docs / wall:,.0f} | {docs / cpu:,.0f} |")
        print(f"\nremovals: local {stats_l.exact_removed:,} exact + {stats_l.near_removed:,} near; Ray "
              f"{stats_r.exact_removed:,} exact + {stats_r.near_removed:,} near; ledger events "
              f"{'IDENTICAL' if events_r.equals(events_l) else 'DIFFERENT'}; removed sets "
              f"{'identical' if removed_l == removed_r else 'DIFFERENT'}")  # fmt: skip
        print(f"shuffle: {stats_r.shuffle_bytes:,} bytes written to partition files ({stats_r.shuffle_bytes / docs:,.0f} "
              f"per document); {stats_r.candidate_pairs:,} verified edges sent to the driver; Ray object store "
              f"{store.spilled_bytes_total:,} bytes spilled\n")  # fmt: skip
        print("| planted pairs (ground truth) | pairs | recall, local | recall, Ray |\n|---|---:|---:|---:|")
        rl, rr = recall(truth, removed_l), recall(truth, removed_r)
        for key, (n, r) in rl.items():
            print(f"| {key} | {n:,} | {r:.4f} | {rr[key][1]:.4f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
