"""The whole cleaning chain (all five kernels) over the 100k benchmark corpus.

Issue goal: the chain must reach >= 3x datatrove's Gopher repetition + quality filters
alone (353 docs/s measured on this machine kind; `bench_quality.py` measures datatrove
side by side). Runs the kernels exactly as the stage runner does, batch by batch, on
one or two processes, and prints docs/s, per-stage seconds and peak RSS.

    .venv/bin/python benchmarks/bench_cleaning_chain.py [--shards 20] [--procs 2]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--procs", type=int, default=2)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"needs the benchmark corpus at {CORPUS}")
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
          f"({docs / wall / 353:.1f}x datatrove's 353 docs/s for Gopher alone); kept {kept}; "
          f"peak RSS of one process {rss / 1024:,.0f} MiB")  # fmt: skip
    print("| stage | CPU seconds | docs/s per process |\n|---|---:|---:|")
    for s in STAGES:
        print(f"| {s} | {per_stage[s]:.1f} | {docs / per_stage[s]:,.0f} |")
    print(f"(pid {os.getpid()}, loading JSON excluded from stage seconds, included in wall time)")


if __name__ == "__main__":
    main()
