"""The shard engine: workers 1 vs 2, kernels alone vs the pipeline, and the fixed cost of a run.

Every figure comes from this one invocation, each side run as its own process (Python
start included) in the same window, the same number of times (--reps, median shown):

1. kernels only: the five cleaning kernels over the input, batch by batch, on 1 and on 2
   processes (the floor the pipeline is held to);
2. shard phase: ingest + the five stages, one pass per shard, committed with ledger
   rows and validation, on `LocalEngine(1)` and `LocalEngine(2)` (no Dagster, DVC, release);
3. end to end: `curaline run --workers 1` and `--workers 2` on a fresh copy of the project
   (every stage, Dagster, DVC, lineage, release and reports), and on a 1k-document project.

CPU is the whole process tree's (user + system), sampled with psutil every 0.1 s, so
pool workers (children of the forkserver, which `/usr/bin/time` does not see) count: each
process's own time, so a lower bound (a process's last 0.1 s, and one shorter than that, are
missed). A side that reads fewer documents than the input stops the benchmark.

    python benchmarks/bench_engine.py [--files 4] [--reps 1] [--skip-e2e]

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


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """(wall s, CPU s of the whole process tree, peak RSS MiB of one process, output) of a command."""
    start = time.perf_counter()
    proc = psutil.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    cpu: dict[int, float] = {}
    rss = 0.0
    while proc.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
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
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-4000:]}")
    return wall, sum(cpu.values()), rss, out


# ---- the child processes ---------------------------------------------------------------------


def child_kernels(files: list[str], procs: int) -> None:
    from concurrent.futures import ProcessPoolExecutor

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_cleaning_chain import run_shard

    with ProcessPoolExecutor(max_workers=procs) as pool:
        docs = sum(r[0] for r in pool.map(run_shard, files))
    print(f"kernels: {docs} docs")


def child_phase(project_dir: str, workers: int) -> None:
    from curaline.engine import LocalEngine
    from curaline.project import Project
    from curaline.shards.chain import WORKER_MODULES, record_chain
    from curaline.shards.phase import source_tasks
    from curaline.shards.runner import run_phase
    from curaline.sources import load_manifests

    project = Project.at(project_dir)
    manifests, _ = load_manifests(project.sources_dir)
    tasks = [t for m in manifests for t in source_tasks(project, m, "bench", record_chain(m, project))]
    with LocalEngine(workers, preload=WORKER_MODULES) as engine:
        results = run_phase(engine, tasks)
    print(f"phase: {sum(r['ingest']['read'] for r in results)} docs in {len(results)} shards")


# ---- the benchmark ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4, help="corpus shards to use (5,000 documents each)")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--skip-e2e", action="store_true", help="only kernels and the shard phase")
    parser.add_argument("--child", choices=["kernels", "phase"], help=argparse.SUPPRESS)
    parser.add_argument("--procs", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    parser.add_argument("inputs", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "kernels":
        return child_kernels(args.inputs, args.procs)
    if args.child == "phase":
        return child_phase(args.project, args.procs)
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
        ("kernels only, 1 process", lambda: me + ["--child", "kernels", "--procs", "1", *map(str, files)]),
        ("kernels only, 2 processes", lambda: me + ["--child", "kernels", "--procs", "2", *map(str, files)]),
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
    for _ in range(args.reps):
        for label, make in sides:
            cmd = make()
            wall, cpu, rss, out = measure(cmd)
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
    med = {k: tuple(statistics.median(v[i] for v in vs) for i in range(3)) for k, vs in rows.items()}
    print(f"input: {docs:,} documents ({len(files)} corpus shards) as 3 sources; {os.cpu_count()} cores; "
          f"median of {args.reps} run(s) per side, all in this invocation\n")
    print("| side | wall s | CPU s | docs/s | peak RSS of one process (MiB) |\n|---|---:|---:|---:|---:|")
    for label, (wall, cpu, rss) in med.items():
        n = 1000 if "1k" in label else docs
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {n / wall:,.0f} | {rss:,.0f} |")

    def ratio(a: str, b: str) -> str:
        return f"{med[a][0] / med[b][0]:.2f}x" if a in med and b in med else "n/a"

    print("\n| ratio (wall) | value |\n|---|---:|")
    print(f"| kernels: 1 process / 2 processes | {ratio('kernels only, 1 process', 'kernels only, 2 processes')} |")
    print(f"| shard phase: 1 worker / 2 workers | {ratio('shard phase, 1 worker', 'shard phase, 2 workers')} |")
    print(f"| shard phase 2 workers / kernels only 2 processes | {ratio('shard phase, 2 workers', 'kernels only, 2 processes')} |")
    if not args.skip_e2e:
        print(f"| `curaline run`: --workers 1 / --workers 2 | {ratio('`curaline run --workers 1`', '`curaline run --workers 2`')} |")
        print(f"| `curaline run --workers 2` / kernels only 2 processes | "
              f"{ratio('`curaline run --workers 2`', 'kernels only, 2 processes')} |")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
