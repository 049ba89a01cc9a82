"""The shard engine: workers 1 vs 2, kernels alone vs the pipeline, and the fixed cost of a run.

Every figure comes from this one invocation, each side run as its own process (Python
start included) in the same window, the same number of times (--reps, median shown):

1. kernels only: the kernels of the record chain the pipeline runs (the registry's stages,
   in its order, with the settings each source resolves: `record_chain`) over the input
   files, on 1 and on 2 processes (the floor the pipeline is held to). Until 2026-12-07 this
   side ran `bench_cleaning_chain.py`'s five kernels in an older order, redaction after
   quality (on 13 % of the documents instead of all);
2. shard phase: ingest + the six stages, one pass per shard, committed with ledger
   rows, validation and MinHash bands, on `LocalEngine(1)` and `LocalEngine(2)` (no Dagster, DVC, release);
3. end to end: `curaline run --workers 1` and `--workers 2` on a fresh copy of the project
   (every stage, Dagster, DVC, lineage, release and reports), and on a 1k-document project;
4. with --ray, the same on a Ray cluster started here on loopback (`ray.cluster_utils.Cluster`:
   a head with no CPUs and two 1-CPU worker nodes, dashboard off): the shard phase and
   `curaline run --engine ray` on 2 nodes, the run again with one worker node killed
   (`remove_node(allow_graceful=False)`) once its first shard is committed, then the phase and
   the run on the 1 node left. The cluster's processes (GCS, raylets, Ray workers) are this
   script's children, not the measured command's: their CPU time during a side is added to it.
   The cluster's start is reported, not counted. Ray's spilled bytes are read from its store
   stats after the Ray sides.

CPU is the whole process tree's (user + system), sampled with psutil every 0.1 s, so
pool workers (children of the forkserver, which `/usr/bin/time` does not see) count: each
process's own time, so a lower bound (a process's last 0.1 s, and one shorter than that, are
missed). A side that reads fewer documents than the input stops the benchmark.

    python benchmarks/bench_engine.py [--files 4] [--reps 1] [--skip-e2e] [--ray] [--fixed-only]

The input is the first --files shards of ../shared/bench/corpus-100k (5,000 documents
each) as three sources, as `bench_reports.py` lays them out.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "bench" / "corpus-100k"
CURALINE = Path(sys.executable).parent / "curaline"


def write_project(root: Path, files: list[Path], *, release: bool = True) -> int:
    """Three document sources over the given corpus files (round robin); returns the document count."""
    (root / "sources").mkdir(parents=True)
    (root / "releases").mkdir()
    ids = ["tech-docs", "vendor-manuals", "generated-howtos"]
    licences = {"tech-docs": "MIT", "vendor-manuals": "LicenseRef-Vendor-Manuals", "generated-howtos": "Apache-2.0"}
    docs = 0
    for i, sid in enumerate(ids):
        mine = files[i :: len(ids)]
        if not mine:
            continue
        (root / "corpus" / sid).mkdir(parents=True)
        for f in mine:
            os.symlink(f, root / "corpus" / sid / f.name)
            with gzip.open(f, "rb") as fh:
                docs += sum(1 for _ in fh)
        manifest = {"id": sid, "location": f"../corpus/{sid}/*.jsonl.gz", "format": "jsonl.gz", "kind": "document",
                    "fields": {"id": "id", "text": "text"}, "license": licences[sid], "obtained": "public-dataset",
                    "languages": ["en"], "owner": "bench@example.com", "personal_data": "expected",
                    "license_url": "https://example.com/licence"}  # fmt: skip
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(manifest))
    if release:
        spec = {"name": "bench", "description": "benchmark release", "use": "research", "sources": "all",
                "languages": ["en"], "quality": "default", "dedup": True, "decontaminate": False,
                "mix": {"by": "source", "weights": {s: 1.0 for s in ids if (root / "sources" / f"{s}.yaml").exists()}},
                "splits": {"train": 0.98, "validation": 0.01, "test": 0.01, "seed": 1}}  # fmt: skip
        (root / "releases" / "bench.yaml").write_text(yaml.safe_dump(spec))
    # the corpus files are symlinks out of the project: ingest refuses them unless their folder is allowed
    (root / "curaline.yaml").write_text(yaml.safe_dump({"license_classes": {"LicenseRef-Vendor-Manuals": "non-commercial"},
                                                        "ingest": {"allowed_roots": sorted({str(f.parent) for f in files})}}))  # fmt: skip
    return docs


def read_by_run(project: Path) -> int:
    """Documents a `curaline run` read (kept + quarantined rows of every source's ingest shards)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for stage in ("raw_records", "quarantined_records")
               for f in (project / "data" / stage).rglob("*.parquet"))  # fmt: skip


def _own_cpu(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return out


def measure(cmd: list[str], env: dict[str, str] | None = None, *, also: Callable[[], list[psutil.Process]] | None = None,
            during: Callable[[psutil.Popen], None] | None = None) -> tuple[float, float, float, str]:  # fmt: skip
    """(wall s, CPU s of the whole process tree, peak RSS MiB of one process, output) of a command.

    also: processes outside the command's tree whose work it causes (a Ray cluster's): their CPU
    time during the side is added. during: called every 0.1 s while the command runs."""
    cluster_before = _own_cpu(also()) if also else {}
    start = time.perf_counter()
    proc = psutil.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    cpu: dict[int, float] = {}
    cluster: dict[int, float] = {}
    rss = 0.0
    while proc.poll() is None:
        if during:
            during(proc)
        try:
            tree = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        if also:
            mine = {p.pid for p in tree}
            cluster.update(_own_cpu([p for p in also() if p.pid not in mine]))
        for p in tree:
            try:
                t = p.cpu_times()
                # each process's own time only: a parent's children_* already holds the time of
                # children it reaped, which are sampled themselves (forkserver workers were counted twice)
                cpu[p.pid] = t.user + t.system
                rss = max(rss, p.memory_info().rss / 2**20)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.1)
    wall = time.perf_counter() - start
    if also:
        cluster.update(_own_cpu([p for p in also() if p.pid not in cpu]))
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-4000:]}")
    caused = sum(v - cluster_before.get(pid, 0.0) for pid, v in cluster.items())
    return wall, sum(cpu.values()) + caused, rss, out


# ---- the child processes ---------------------------------------------------------------------


def chain_file(job: tuple[str, str, str]) -> int:
    """The source's record chain (the registry's stages, order and resolved settings, as
    `curaline.shards.chain.record_chain` gives a shard) over one corpus file, kernels only."""
    import numpy as np
    import pyarrow as pa

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_cleaning_chain import load_shard

    from curaline.project import Project
    from curaline.shards.chain import record_chain
    from curaline.sources import load_manifests

    project_dir, source_id, path = job
    project = Project.at(project_dir)
    (manifest,) = [m for m in load_manifests(project.sources_dir)[0] if m.id == source_id]
    table = load_shard(Path(path))
    n = table.num_rows
    for stage in record_chain(manifest, project):
        result = stage.kernel(table, kind=manifest.kind, config=stage.config)
        table = result.table.filter(pa.array(np.asarray(result.keep, dtype=bool)))
    return n


def child_kernels(project_dir: str, procs: int) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from curaline.project import Project
    from curaline.sources import load_manifests

    project = Project.at(project_dir)
    jobs = [(project_dir, m.id, str(f)) for m in load_manifests(project.sources_dir)[0] for f in m.files()]
    with ProcessPoolExecutor(max_workers=procs) as pool:
        docs = sum(pool.map(chain_file, jobs))
    print(f"kernels: {docs} docs")


def child_phase(project_dir: str, workers: int, address: str | None = None) -> None:
    from curaline.engine import LocalEngine
    from curaline.engine.ray import RayEngine
    from curaline.project import Project
    from curaline.shards.chain import WORKER_MODULES, record_chain
    from curaline.shards.phase import source_tasks
    from curaline.shards.runner import run_phase
    from curaline.sources import load_manifests

    project = Project.at(project_dir)
    manifests, _ = load_manifests(project.sources_dir)
    tasks = [t for m in manifests for t in source_tasks(project, m, "bench", record_chain(m, project))]
    with (RayEngine(address) if address else LocalEngine(workers, preload=WORKER_MODULES)) as engine:
        results = run_phase(engine, tasks)
    print(f"phase: {sum(r['ingest']['read'] for r in results)} docs in {len(results)} shards")


# ---- the benchmark ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4, help="corpus shards to use (5,000 documents each)")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--skip-e2e", action="store_true", help="only kernels and the shard phase")
    parser.add_argument("--fixed-only", action="store_true",
                        help="only the 1k-document run (the fixed cost), --reps times, each rep's figures printed")
    parser.add_argument("--ray", action="store_true", help="add the Ray sides (a loopback cluster of 2 worker nodes)")
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["kernels", "phase"], help=argparse.SUPPRESS)
    parser.add_argument("--procs", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "kernels":
        return child_kernels(args.project, args.procs)
    if args.child == "phase":
        return child_phase(args.project, args.procs, args.address)
    if not CORPUS.is_dir():
        raise SystemExit(f"needs the benchmark corpus at {CORPUS}")
    files = sorted(CORPUS.glob("*.jsonl.gz"))[: args.files]
    work = Path(tempfile.mkdtemp(prefix="curaline-bench-engine-"))
    template = work / "template"
    docs = write_project(template, files)
    me = [sys.executable, str(Path(__file__).resolve())]
    rows: dict[str, list[tuple[float, float, float]]] = {}

    def fresh(name: str) -> Path:
        target = work / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(template, target, symlinks=True)
        return target

    sides: list[tuple[str, callable]] = [
        ("kernels only, 1 process", lambda: me + ["--child", "kernels", "--procs", "1", "--project", str(template)]),
        ("kernels only, 2 processes", lambda: me + ["--child", "kernels", "--procs", "2", "--project", str(template)]),
        ("shard phase, 1 worker", lambda: me + ["--child", "phase", "--procs", "1", "--project", str(fresh("p1"))]),
        ("shard phase, 2 workers", lambda: me + ["--child", "phase", "--procs", "2", "--project", str(fresh("p2"))]),
    ]  # fmt: skip
    if not args.skip_e2e:
        small = work / "small"
        one_k = Path(tempfile.mkdtemp(prefix="corpus-1k-", dir=work)) / "00000.jsonl.gz"
        with gzip.open(files[0], "rb") as src, gzip.open(one_k, "wb") as dst:
            for i, line in enumerate(src):
                if i == 1000:
                    break
                dst.write(line)

        def fresh_small() -> Path:
            if small.exists():
                shutil.rmtree(small)
            write_project(small, [one_k])
            return small

        sides += [
            ("`curaline run --workers 1`", lambda: [str(CURALINE), "run", "--workers", "1", "--project", str(fresh("e1"))]),
            ("`curaline run --workers 2`", lambda: [str(CURALINE), "run", "--workers", "2", "--project", str(fresh("e2"))]),
            ("`curaline run --workers 2`, 1k documents", lambda: [str(CURALINE), "run", "--workers", "2", "--project",
                                                                   str(fresh_small())]),
        ]  # fmt: skip
    if args.fixed_only:
        if args.skip_e2e or args.ray:
            raise SystemExit("--fixed-only measures the 1k-document run alone: drop --skip-e2e and --ray")
        sides = [s for s in sides if "1k" in s[0]]

    def record(label: str, cmd: list[str], result: tuple[float, float, float, str]) -> None:
        wall, cpu, rss, out = result
        # a side that read fewer documents than the input measured nothing (a refused manifest, a bad glob)
        expected = 1000 if "1k" in label else docs
        if "--child" in cmd:
            found = re.search(r"^(?:kernels|phase): (\d+) docs", out, re.M)
            read = int(found.group(1)) if found else -1
        else:
            read = read_by_run(Path(cmd[cmd.index("--project") + 1]))
        if read != expected:
            raise SystemExit(f"{label}: read {read:,} of {expected:,} documents; output:\n{out[-3000:]}")
        rows.setdefault(label, []).append((wall, cpu, rss))

    for _ in range(args.reps):
        for label, make in sides:
            cmd = make()
            record(label, cmd, measure(cmd))
    notes: list[str] = []
    if args.ray:
        notes = ray_sides(args, me, fresh, record, skip_e2e=args.skip_e2e)
    med = {k: tuple(statistics.median(v[i] for v in vs) for i in range(3)) for k, vs in rows.items()}
    if args.fixed_only:  # the spread is the point: print every rep
        for label, vs in rows.items():
            print(f"{label}, each rep: " + ", ".join(f"{w:.1f} s wall / {c:.2f} CPU-s" for w, c, _ in vs))
    print(f"input: {docs:,} documents ({len(files)} corpus shards) as 3 sources; {os.cpu_count()} cores; "
          f"median of {args.reps} run(s) per side, all in this invocation\n")
    print("| side | wall s | CPU s | docs/s | peak RSS of one process (MiB) |\n|---|---:|---:|---:|---:|")
    for label, (wall, cpu, rss) in med.items():
        n = 1000 if "1k" in label else docs
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {n / wall:,.0f} | {rss:,.0f} |")

    def ratio(a: str, b: str) -> str:
        return f"{med[a][0] / med[b][0]:.2f}x" if a in med and b in med else "n/a"

    if args.fixed_only:
        shutil.rmtree(work, ignore_errors=True)
        return
    print("\n| ratio (wall) | value |\n|---|---:|")
    print(f"| kernels: 1 process / 2 processes | {ratio('kernels only, 1 process', 'kernels only, 2 processes')} |")
    print(f"| shard phase: 1 worker / 2 workers | {ratio('shard phase, 1 worker', 'shard phase, 2 workers')} |")
    print(f"| shard phase 2 workers / kernels only 2 processes | {ratio('shard phase, 2 workers', 'kernels only, 2 processes')} |")
    if not args.skip_e2e:
        print(f"| `curaline run`: --workers 1 / --workers 2 | {ratio('`curaline run --workers 1`', '`curaline run --workers 2`')} |")
        print(f"| `curaline run --workers 2` / kernels only 2 processes | "
              f"{ratio('`curaline run --workers 2`', 'kernels only, 2 processes')} |")  # fmt: skip
    if args.ray:
        r2, r1, kill = "shard phase, Ray, 2 worker nodes", "shard phase, Ray, 1 worker node", "`curaline run --engine ray`, 2 worker nodes"
        print(f"| shard phase: Ray 1 node / Ray 2 nodes | {ratio(r1, r2)} |")
        print(f"| shard phase: Ray 2 nodes / local 2 workers (per-core throughput, local / Ray) | {ratio(r2, 'shard phase, 2 workers')} |")
        if not args.skip_e2e:
            print(f"| `curaline run`: Ray 1 node / Ray 2 nodes | {ratio('`curaline run --engine ray`, 1 worker node', kill)} |")
            print(f"| `curaline run`: Ray 2 nodes / local --workers 2 (per-core throughput, local / Ray) | "
                  f"{ratio(kill, '`curaline run --workers 2`')} |")  # fmt: skip
            print(f"| `curaline run` on Ray: a node killed / none killed | "
                  f"{ratio('`curaline run --engine ray`, a worker node killed mid-run', kill)} |")  # fmt: skip
        print()
        for line in notes:
            print(line)
    shutil.rmtree(work, ignore_errors=True)


def dedup_removals(project: Path) -> set[tuple[str, str, str]]:
    """(doc, reason, kept doc) of every record the run's dedup stage removed, from the ledger."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((project / "lineage" / "ledger" / "stage=deduplicated").rglob("*.parquet"))
    if not files:
        return set()
    t = pa.concat_tables(pq.read_table(f, columns=["doc_id", "reason", "related_doc_id"]) for f in files)
    return set(zip(t["doc_id"].to_pylist(), t["reason"].to_pylist(), t["related_doc_id"].to_pylist(), strict=True))


def ray_sides(args: argparse.Namespace, me: list[str], fresh: Callable[[str], Path],
              record: Callable[[str, list[str], tuple[float, float, float, str]], None], *, skip_e2e: bool) -> list[str]:  # fmt: skip
    """The Ray sides on a loopback cluster started here, once per rep; lines to print under the table."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every socket on 127.0.0.1 (README, 'Scaling out')
    from ray._private.internal_api import get_memory_info_reply, get_state_from_address
    from ray.cluster_utils import Cluster

    notes = []
    me_proc = psutil.Process()
    def one_rep(rep: int) -> None:
            start = time.perf_counter()
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
            try:
                cluster.add_node(num_cpus=1)
                cluster.add_node(num_cpus=1)
                cluster.wait_for_nodes()
                notes.append(f"rep {rep + 1}: cluster of 2 worker nodes started in {time.perf_counter() - start:.1f} s (not in any side)")

                def cluster_procs() -> list[psutil.Process]:
                    return me_proc.children(recursive=True)  # the measured command's tree is subtracted in measure

                def run_side(label: str, cmd: list[str], during: Callable[[psutil.Popen], None] | None = None) -> None:
                    record(label, cmd, measure(cmd, also=cluster_procs, during=during))

                addr = ["--address", cluster.address]
                run_side("shard phase, Ray, 2 worker nodes", me + ["--child", "phase", *addr, "--project", str(fresh("r2p"))])
                if not skip_e2e:
                    run_side("`curaline run --engine ray`, 2 worker nodes",
                             [str(CURALINE), "run", "--engine", "ray", *addr, "--project", str(fresh("r2"))])  # fmt: skip
                    victim = sorted(cluster.worker_nodes, key=lambda n: n.node_id)[0]
                    killed: dict[str, float] = {}
                    target = fresh("rk")
                    t0 = time.perf_counter()

                    def kill_after_first_commit(_: psutil.Popen) -> None:
                        if killed:
                            return
                        done = [p for p in (target / "data" / "raw_records").rglob("shard-*.parquet") if not p.name.startswith(".")]
                        if done:
                            killed["at"] = time.perf_counter() - t0
                            cluster.remove_node(victim, allow_graceful=False)

                    run_side("`curaline run --engine ray`, a worker node killed mid-run",
                             [str(CURALINE), "run", "--engine", "ray", *addr, "--project", str(target)], kill_after_first_commit)  # fmt: skip
                    notes.append(f"rep {rep + 1}: the worker node was killed {killed.get('at', float('nan')):.1f} s into the run "
                                 f"(after its first committed shard); the run finished on the node left")  # fmt: skip
                    local = dedup_removals(target.parent / "e2")  # the local `curaline run --workers 2` side's project
                    for name in ("r2", "rk"):
                        ray = dedup_removals(target.parent / name)
                        notes.append(f"rep {rep + 1}: dedup removals of the Ray run `{name}`: {len(ray):,}; of `curaline run "
                                     f"--workers 2`: {len(local):,}; {'the same set' if ray == local else 'DIFFERENT sets'}")  # fmt: skip
                else:
                    cluster.remove_node(sorted(cluster.worker_nodes, key=lambda n: n.node_id)[0], allow_graceful=False)
                run_side("shard phase, Ray, 1 worker node", me + ["--child", "phase", *addr, "--project", str(fresh("r1p"))])
                if not skip_e2e:
                    run_side("`curaline run --engine ray`, 1 worker node",
                             [str(CURALINE), "run", "--engine", "ray", *addr, "--project", str(fresh("r1"))])  # fmt: skip
                stats = get_memory_info_reply(get_state_from_address(cluster.address)).store_stats
                notes.append(f"rep {rep + 1}: Ray object store: {stats.spilled_bytes_total:,} bytes spilled, "
                             f"{stats.restored_bytes_total:,} restored (the node left; shards travel as files, results as small dicts)")  # fmt: skip
            finally:
                cluster.shutdown()

    for rep in range(args.reps):
        one_rep(rep)
    return notes


if __name__ == "__main__":
    main()
