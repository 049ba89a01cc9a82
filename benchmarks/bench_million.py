"""One source of 1M documents through `curaline run --workers 2`: does memory stay flat?

The input is corpus-100k (../shared/bench) replicated `--copies` times (default 10: 1M
documents), every copy but the first perturbed (one letter of the alphabet replaced by an
accented one, a different letter per copy, so a copy is neither an exact nor a near
duplicate of its original: every word holding that letter changes), written by this script
as gzip'd JSON lines into a fresh project with one source and one release. The same
project is also built from one copy (100k documents) and both are run end to end, each
as its own process tree, sampled with psutil every 0.2 s:

- peak RSS of the driver (`curaline run`: Dagster, the global stages, the release) and of the
  largest pool worker (a shard's pass): goal ≤ 1.5 GiB per worker; the UTC time of the
  driver's peak (to find its step in the run's log);
- peak RSS of the whole tree at one instant (driver + workers): flat means about the same at 1M as at 100k;
- wall and CPU seconds (each process's own time, summed).

    PYTHONPATH=. nice -n 5 .venv/bin/python benchmarks/bench_million.py [--copies 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_engine import CORPUS, read_by_run  # noqa: E402

ACCENTED = dict(zip("aeioucdnrstlmgy", "áéíóúçđñřšťłḿğý", strict=True))


def write_source(folder: Path, copies: int) -> int:
    """copies x corpus-100k as gzip'd JSON lines of 50,000 documents; returns the count."""
    folder.mkdir(parents=True)
    tables = [None] + [str.maketrans({k: v}) for k, v in list(ACCENTED.items())[: max(copies - 1, 0)]]
    if copies > len(tables):
        raise SystemExit(f"--copies at most {len(tables)}")
    n, part, out, buf = 0, 0, None, 0
    for c in range(copies):
        for shard in sorted(CORPUS.glob("[0-9]*.jsonl.gz")):  # not ground_truth.jsonl.gz
            with gzip.open(shard, "rt", encoding="utf-8") as fh:
                for line in fh:
                    if out is None or buf == 50_000:
                        if out is not None:
                            out.close()
                        out = gzip.open(folder / f"part-{part:04d}.jsonl.gz", "wt", encoding="utf-8", compresslevel=1)
                        part, buf = part + 1, 0
                    doc = json.loads(line)
                    table = tables[c]
                    text = doc["text"] if table is None else doc["text"].translate(table)
                    out.write(json.dumps({"id": f"{doc['id']}-c{c}", "text": text}) + "\n")
                    n, buf = n + 1, buf + 1
    if out is not None:
        out.close()
    return n


def write_project(root: Path, copies: int, corpus: Path | None = None) -> int:
    (root / "sources").mkdir(parents=True)
    (root / "releases").mkdir()
    if corpus is not None:  # the input of an earlier (kept) run, moved here
        shutil.move(str(corpus), root / "corpus")
        docs = sum(sum(1 for _ in gzip.open(f, "rb")) for f in sorted((root / "corpus").glob("*.jsonl.gz")))
    else:
        docs = write_source(root / "corpus", copies)
    manifest = {"id": "web-docs", "location": "../corpus/*.jsonl.gz", "format": "jsonl.gz", "kind": "document",
                "fields": {"id": "id", "text": "text"}, "license": "MIT", "obtained": "public-dataset",
                "languages": ["en"], "owner": "bench@example.com", "personal_data": "expected",
                "license_url": "https://example.com/licence"}  # fmt: skip
    (root / "sources" / "web-docs.yaml").write_text(yaml.safe_dump(manifest))
    spec = {"name": "bench", "description": "benchmark release", "use": "research", "sources": "all",
            "languages": ["en"], "quality": "default", "dedup": True, "decontaminate": False,
            "mix": {"by": "source", "weights": {"web-docs": 1.0}},
            "splits": {"train": 0.98, "validation": 0.01, "test": 0.01, "seed": 1}}  # fmt: skip
    (root / "releases" / "bench.yaml").write_text(yaml.safe_dump(spec))
    return docs


def measure(cmd: list[str]) -> dict[str, float]:
    start = time.perf_counter()
    proc = psutil.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    cpu: dict[int, float] = {}
    driver = worker = tree_peak = 0.0
    driver_at = ""
    while proc.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        total = 0.0
        for p in tree:
            try:
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system
                rss = p.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                continue
            total += rss
            if p.pid == proc.pid:
                if rss > driver:
                    driver, driver_at = rss, time.strftime("%H:%M:%S", time.gmtime())
            else:
                worker = max(worker, rss)
        tree_peak = max(tree_peak, total)
        time.sleep(0.2)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-4000:]}")
    return {"wall": time.perf_counter() - start, "cpu": sum(cpu.values()), "driver": driver, "worker": worker,
            "tree": tree_peak, "driver_at": driver_at}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="keep the projects (printed) instead of removing them")
    ap.add_argument("--only-large", action="store_true", help="skip the one-copy run")
    ap.add_argument("--corpus", type=Path, help="move this folder (a kept run's corpus/) in as the large run's input")
    args = ap.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"needs the benchmark corpus at {CORPUS}")
    work = Path(tempfile.mkdtemp(prefix="curaline-bench-million-"))
    curaline = Path(sys.executable).parent / "curaline"
    print("| documents | wall s | CPU s | peak RSS, driver (MiB) | peak RSS, largest worker (MiB) | peak RSS, whole tree (MiB) |"
          "\n|---:|---:|---:|---:|---:|---:|", flush=True)  # fmt: skip
    try:
        for copies in (args.copies,) if args.only_large else (1, args.copies):
            root = work / f"x{copies}"
            t0 = time.perf_counter()
            docs = write_project(root, copies, args.corpus if copies == args.copies else None)
            made = time.perf_counter() - t0
            m = measure([str(curaline), "run", "--workers", "2", "--project", str(root)])
            read = read_by_run(root)
            if read != docs:
                raise SystemExit(f"the run read {read:,} of {docs:,} documents")
            print(f"| {docs:,} | {m['wall']:.0f} | {m['cpu']:.0f} | {m['driver']:,.0f} | {m['worker']:,.0f} | "
                  f"{m['tree']:,.0f} |  (input written in {made:.0f} s; driver peak at {m['driver_at']} UTC)", flush=True)  # fmt: skip
            if not args.keep:
                shutil.rmtree(root)
    finally:
        if args.keep:
            print(f"projects kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("CURALINE_LOG_LEVEL", "WARNING")
    main()
