"""The whole cleaning chain (all five kernels) over the 100k benchmark corpus.

Issue goal: the chain must reach >= 3x datatrove's Gopher repetition + quality filters
alone. Runs the kernels exactly as the stage runner does, batch by batch, on one or two
processes, and prints docs/s, per-stage seconds and peak RSS.

With `--peer`, the same invocation also runs datatrove 0.10.1 (JsonlReader ->
GopherRepetitionFilter -> GopherQualityFilter -> JsonlWriter, 20 tasks on 2 workers, in
its own venv, as benchmarks/bench_quality.py does) on the same shards, and times both
sides the same way: each a child process, once, wall and CPU (user + sys of the process
tree), process start and imports included. The ratio is from that one run.

    .venv/bin/python benchmarks/bench_cleaning_chain.py [--shards 20] [--procs 2] [--peer]
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "bench" / "corpus-100k"

STAGES = ("normalize", "langid", "quality", "pii", "toxicity")


def load_shard(path: Path) -> pa.Table:
    rows = [orjson.loads(line) for line in gzip.open(path, "rb")]
    return pa.table({"doc_id": [f"bench:{r['id']}" for r in rows], "text": [r["text"] for r in rows]})


def run_shard(path: str) -> tuple[int, dict[str, float], int]:
    from curaline.kernels import langid, normalize, pii, quality, toxicity

    kernels = [
        ("normalize", lambda t: normalize.normalize_text(t, kind="document")),
        ("langid", lambda t: langid.detect_language(t, kind="document", config=langid.LangIdConfig(keep_languages=("en",)))),
        ("quality", lambda t: quality.score_quality(t, kind="document")),
        ("pii", lambda t: pii.redact_pii(t, kind="document")),
        ("toxicity", lambda t: toxicity.score_toxicity(t, kind="document")),
    ]
    table = load_shard(Path(path))
    n = table.num_rows
    seconds = dict.fromkeys(STAGES, 0.0)
    for name, kernel in kernels:
        start = time.perf_counter()
        result = kernel(table)
        table = result.table.filter(pa.array(result.keep))
        seconds[name] += time.perf_counter() - start
    return n, seconds, table.num_rows


def peer_run(shards: int, procs: int) -> None:
    """Both sides as child processes in this one invocation: curaline's chain, then datatrove's Gopher."""
    import shutil
    import tempfile

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_quality import DT_SCRIPT, ensure_datatrove, timed

    if shards != 20:
        sys.exit("--peer runs datatrove on all 20 corpus shards; use --shards 20")
    py = ensure_datatrove()  # installed before any timing
    chain_wall, chain_rss, chain_cpu = timed([sys.executable, __file__, "--shards", str(shards), "--procs", str(procs)])
    work = Path(tempfile.mkdtemp(prefix="bench-chain-dt-"))
    try:
        script = work / "dt.py"
        script.write_text(DT_SCRIPT)
        dt_wall, dt_rss, dt_cpu = timed([str(py), str(script), str(CORPUS), str(work / "out"), "0"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    docs = 100_000
    print("\n| side (one run each, process start included) | wall s | CPU s | docs/s wall | docs per CPU s | peak RSS of the tree, MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, wall, cpu, rss in ((f"curaline, whole cleaning chain (5 kernels), {procs} processes", chain_wall, chain_cpu,
                                   chain_rss),
                                  ("datatrove 0.10.1, Gopher repetition + quality only, 20 tasks on 2 workers", dt_wall,
                                   dt_cpu, dt_rss)):  # fmt: skip
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {docs / wall:,.0f} | {docs / cpu:,.0f} | {rss / 2**20:,.0f} |")
    print(f"\nratio, curaline's whole chain over datatrove's Gopher filters: {dt_wall / chain_wall:.1f}x wall, "
          f"{dt_cpu / chain_cpu:.1f}x CPU (goal >= 3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--peer", action="store_true", help="also run datatrove's Gopher filters, same run, and compare")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"needs the benchmark corpus at {CORPUS}")
    if args.peer:
        return peer_run(args.shards, args.procs)
    shards = sorted(str(p) for p in CORPUS.glob("*.jsonl.gz"))[: args.shards]
    # warm the compiled kernels once (numba caches, RE2 patterns) outside the timing
    run_shard(shards[0])
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.procs) as pool:
        results = list(pool.map(run_shard, shards))
    wall = time.perf_counter() - start
    docs = sum(r[0] for r in results)
    kept = sum(r[2] for r in results)
    per_stage = {s: sum(r[1][s] for r in results) for s in STAGES}
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(f"cleaning chain: {docs} docs in {wall:.1f} s on {args.procs} process(es): {docs / wall:,.0f} docs/s "
          f"(kernels only, warm; --peer for the same-run ratio against datatrove); kept {kept}; "
          f"peak RSS of one process {rss / 1024:,.0f} MiB")  # fmt: skip
    print("| stage | CPU seconds | docs/s per process |\n|---|---:|---:|")
    for s in STAGES:
        print(f"| {s} | {per_stage[s]:.1f} | {docs / per_stage[s]:,.0f} |")
    print(f"(pid {os.getpid()}, loading JSON excluded from stage seconds, included in wall time)")


if __name__ == "__main__":
    main()
