"""The Ray engine against the local engine: the shard phase and dedup, all sides in one invocation.

One loopback cluster (`ray.cluster_utils.Cluster`: head with no CPUs, two one-CPU worker
nodes, dashboard off, `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`) is started once; the cluster's
start is reported, not counted in the sides. Each side runs the shard phase (ingest + the
five per-record stages, committed with ledger rows and validation) on a fresh copy of the
project, in this order: local engine 1 worker, local 2 workers, Ray 2 worker nodes, Ray 1
worker node (the second node removed). Then dedup's removals on the phase's output: the
local stage's kernels vs the shuffles on Ray (2 nodes). Wall time of each side, and the CPU
seconds of this process plus its descendants, the cluster's processes included (psutil),
measured around the side. A warm-up phase (not reported) pays imports and compiled kernels
first; Ray's worker processes start within the first Ray side, as a real run's would.

    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 python benchmarks/bench_ray.py [--files 3] [--shard-records 1000]

Input: the first --files shards of ../shared/bench/corpus-100k (5,000 documents each) as
three sources, laid out as `bench_engine.py` does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import psutil  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_engine import CORPUS, write_project  # noqa: E402


def cpu_of(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def tree() -> list[psutil.Process]:
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall s, CPU s of this process and all its descendants: pool workers, the cluster's processes)."""
    before = {p.pid: cpu_of([p]) for p in tree()}
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    after = {p.pid: cpu_of([p]) for p in tree()}
    return wall, sum(v - before.get(pid, 0.0) for pid, v in after.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3, help="corpus shards to use (5,000 documents each)")
    parser.add_argument("--shard-records", type=int, default=1000, help="ingest.shard_records of the project")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"needs the benchmark corpus at {CORPUS}")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    from ray.cluster_utils import Cluster

    from curaline.dedup import deduplicate, source_signatures
    from curaline.dedup_shuffle import shuffled_removals
    from curaline.engine import LocalEngine
    from curaline.engine.ray import RayEngine
    from curaline.project import Project
    from curaline.shards.chain import WORKER_MODULES, record_chain
    from curaline.shards.phase import source_tasks
    from curaline.shards.runner import run_phase
    from curaline.sources import load_manifests

    files = sorted(CORPUS.glob("*.jsonl.gz"))[: args.files]
    work = Path(tempfile.mkdtemp(prefix="curaline-bench-ray-"))
    template = work / "template"
    docs = write_project(template, files, release=False)
    import yaml

    for link in (template / "corpus").rglob("*.jsonl.gz"):  # copies: sources may not read outside the project
        target = link.resolve()
        link.unlink()
        shutil.copyfile(target, link)
    config_path = template / "curaline.yaml"  # shards of --shard-records documents: work for every worker
    config = (yaml.safe_load(config_path.read_text()) if config_path.exists() else None) or {}
    config.setdefault("ingest", {})["shard_records"] = args.shard_records
    config_path.write_text(yaml.safe_dump(config))

    def phase(name: str, engine_of: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            target = work / name
            shutil.copytree(template, target, symlinks=True)
            project = Project.at(target)
            manifests, _ = load_manifests(project.sources_dir)
            tasks = [t for m in manifests for t in source_tasks(project, m, "bench", record_chain(m, project))]
            with engine_of() as engine:  # type: ignore[attr-defined]
                run_phase(engine, tasks)
        return run

    start = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    rows: dict[str, tuple[float, float]] = {}
    try:
        cluster.add_node(num_cpus=1)
        cluster.add_node(num_cpus=1)
        startup = time.perf_counter() - start
        phase("warm-up", lambda: LocalEngine(1))()  # imports and compiled kernels: paid before any side
        rows["shard phase, local engine, 1 worker"] = timed(phase("l1", lambda: LocalEngine(1)))
        rows["shard phase, local engine, 2 workers"] = timed(phase("l2", lambda: LocalEngine(2, preload=WORKER_MODULES)))
        rows["shard phase, Ray, 2 worker nodes"] = timed(phase("r2", lambda: RayEngine(cluster.address)))
        project = Project.at(work / "r2")
        manifests, _ = load_manifests(project.sources_dir)
        minhash, dedup = project.config.for_stage("minhash_bands"), project.config.for_stage("deduplicated")
        for m in manifests:
            source_signatures(project, m, minhash, dedup)
        local: dict[str, object] = {}
        rows["dedup stage, local (removals + writing kept records)"] = timed(lambda: local.update(r=deduplicate(project, manifests, minhash, dedup)))
        shuffled: dict[str, object] = {}

        def on_ray() -> None:
            with RayEngine(cluster.address) as engine:
                shuffled["r"] = shuffled_removals(project, manifests, minhash, dedup, engine, partitions=4)

        rows["dedup removals, shuffles on Ray, 2 worker nodes"] = timed(on_ray)
        read = {name: sum(1 for _ in (work / name / "data" / "raw_records").rglob("*.parquet")) for name in ("l1", "r2")}
        assert read["l1"] == read["r2"] > 0, read
        cluster.remove_node(sorted(cluster.worker_nodes, key=lambda n: n.node_id)[0])
        rows["shard phase, Ray, 1 worker node"] = timed(phase("r1", lambda: RayEngine(cluster.address)))
    finally:
        cluster.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    stats = local["r"][0]  # type: ignore[index]
    got = shuffled["r"]
    same = (got.exact.num_rows, got.near.num_rows) == (stats.exact_removed, stats.near_removed)  # type: ignore[attr-defined]
    print(f"input: {docs:,} documents ({len(files)} corpus shards) as 3 sources; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}; cluster start {startup:.1f} s (not in the sides)\n")
    print("| side | wall s | CPU s | docs/s |\n|---|---:|---:|---:|")
    for label, (wall, cpu) in rows.items():
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {docs / wall:,.0f} |")

    def ratio(a: str, b: str) -> str:
        return f"{rows[a][0] / rows[b][0]:.2f}x"

    print("\n| ratio (wall, this run) | value |\n|---|---:|")
    print(f"| shard phase: Ray 1 node / Ray 2 nodes | {ratio('shard phase, Ray, 1 worker node', 'shard phase, Ray, 2 worker nodes')} |")
    print(f"| shard phase: Ray 2 nodes / local 2 workers | {ratio('shard phase, Ray, 2 worker nodes', 'shard phase, local engine, 2 workers')} |")
    print(f"| dedup: shuffles on Ray / local stage | {ratio('dedup removals, shuffles on Ray, 2 worker nodes', 'dedup stage, local (removals + writing kept records)')} |")
    print(f"\ndedup on Ray: {got.exact.num_rows} exact + {got.near.num_rows} near removals "  # type: ignore[attr-defined]
          f"({'same counts as' if same else 'DIFFERENT from'} the local stage), {got.candidate_edges} verified edges, "  # type: ignore[attr-defined]
          f"{got.shuffle_bytes / 2**20:.1f} MiB shuffled")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
