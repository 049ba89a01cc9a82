"""Exact + near dedup vs datatrove 0.10.1 MinHash, rensa and datasketch, side by side.

On the same corpus and 2 cores, each system in its own process tree (peak RSS summed
over the tree by sampling every 50 ms):
  curaline end to end: read shards -> content hash + signatures (stored as parquet per
    shard, with the band rows) -> exact dedup -> DuckDB banding over the band parquet
    -> re-read the candidates' texts for their shingle sets -> verify + cluster;
  datatrove: the 4-stage MinHash pipeline (MinhashConfig defaults, 20 tasks, 2 workers,
    fork) in its own venv; its stage 4 also rewrites the kept corpus;
  signatures alone, 1 process, 128 permutations: rensa RMinHash, datasketch MinHash
    (shingling excluded, as in their docs) and curaline (text in, tokenization included).
Then recall against ground_truth.jsonl.gz (a pair is caught if either member was
removed) and precision (true Jaccard, recomputed here in Python, of each removed
document to the document it was attributed to: curaline's duplicate_of, datatrove's
kept member of the cluster).

    .venv/bin/python benchmarks/bench_dedup.py                     # ~6 min, datatrove dominates
    .venv/bin/python benchmarks/bench_dedup.py --skip-peers        # curaline only, ~1 min
    .venv/bin/python benchmarks/bench_dedup.py --scale 1000000 --skip-peers
        # the corpus oversampled 10x, copies with 0-5 % random word edits (built once)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "bench" / "corpus-100k"
SHARDS = "000*.jsonl.gz"  # not ground_truth.jsonl.gz
DT_VENV = Path(os.environ.get("DATATROVE_VENV", "/tmp/datatrove-venv"))
DT_PACKAGES = ["datatrove[io,processing]==0.10.1", "spacy", "rensa==0.5.0", "datasketch==2.0.0"]
OUT_MD = REPO / "benchmarks" / "RESULTS_dedup.md"
THRESHOLD = 0.7
#: Signatures and bucket hashes are random 32/64-bit values: dictionary encoding only costs.
RAW: dict[str, Any] = {"use_dictionary": False}


# --- the curaline side (runs in a child process) ---------------------------------------


def _read_shard(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        return pq.read_table(path, columns=["id", "text", "source"])
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("metadata", pa.struct([("source", pa.string())])),
        ]
    )
    t = pj.read_json(
        pa.input_stream(str(path), compression="gzip"),
        read_options=pj.ReadOptions(block_size=64 << 20),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )
    import pyarrow.compute as pc

    return pa.table(
        {"id": t["id"], "text": t["text"], "source": pc.struct_field(t["metadata"], "source")}
    )


def run_curaline(shards: list[Path], work: Path, threads: int) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import duckdb
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curaline.kernels.dedup import (
        DedupConfig,
        band_table,
        candidate_pairs,
        exact_duplicates,
        near_duplicates,
        needed_rows,
    )
    from curaline.kernels.minhash import (
        MinHashConfig,
        ShingleSets,
        minhash_signatures,
        shingle_sets,
        signatures_table,
        string_hashes,
    )

    pa.set_cpu_count(threads)
    mh, dc = MinHashConfig(), DedupConfig(threshold=THRESHOLD)
    minhash_signatures(pa.array(["warm up the compiled kernels"]), config=mh)
    for sub in ("signatures", "bands", "duckdb"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}

    def signatures(i: int) -> pa.Table:
        t = _read_shard(shards[i])
        sig = minhash_signatures(t["text"], config=mh)
        pq.write_table(
            signatures_table(t["id"], sig), work / "signatures" / f"{i:05d}.parquet", **RAW
        )
        pq.write_table(band_table(t["id"], sig, dc), work / "bands" / f"{i:05d}.parquet", **RAW)
        return pa.table(
            {
                "doc_id": t["id"],
                "source_id": t["source"],
                "content_hash": pa.array(string_hashes(t["text"]).view(np.int64)),
            }
        )

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(signatures, range(len(shards))))
    bases = np.cumsum([0] + [p.num_rows for p in parts])
    n = int(bases[-1])
    meta = pa.concat_tables(parts).combine_chunks()
    # keep-policy keys: one priority and licence for the whole corpus, no dates: doc_id decides
    meta = meta.append_column("priority", pa.array(np.zeros(n, np.int32)))
    meta = meta.append_column("license_rank", pa.array(np.zeros(n, np.int32)))
    meta = meta.append_column("collected", pa.nulls(n, pa.date32()))
    times["1 read + signatures + band rows (parquet per shard)"] = time.perf_counter() - t0

    t = time.perf_counter()
    exact = exact_duplicates(meta)
    times["2 exact dedup (DuckDB window)"] = time.perf_counter() - t

    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads={threads}; SET memory_limit='1GB'")
    con.execute(f"SET temp_directory='{work / 'duckdb'}'")
    con.register("exact_removed", exact.select(["doc_id"]))
    con.execute(
        f"CREATE VIEW live_bands AS SELECT b.* FROM read_parquet('{work}/bands/*.parquet') b "
        "ANTI JOIN exact_removed e ON b.doc_id = e.doc_id"
    )
    pairs = candidate_pairs(con, "live_bands", max_bucket_pairs=dc.max_bucket_pairs)
    con.close()
    rows_pairs = pa.table({c: pc.index_in(pairs[c], value_set=meta["doc_id"]) for c in ("a", "b")})
    del pairs
    times["3 candidate pairs (DuckDB banding over parquet)"] = time.perf_counter() - t

    t = time.perf_counter()
    rows = needed_rows(rows_pairs)

    def sets_of(i: int) -> ShingleSets:
        lo, hi = np.searchsorted(rows, [bases[i], bases[i + 1]])
        if lo == hi:
            return ShingleSets(np.zeros(1, np.int64), np.zeros(0, np.uint32))
        texts = _read_shard(shards[i])["text"]
        return shingle_sets(texts.take(pa.array(rows[lo:hi] - bases[i])), config=mh)

    with ThreadPoolExecutor(threads) as pool:
        sets = ShingleSets.concat(list(pool.map(sets_of, range(len(shards)))))
    times["4 shingle sets of candidates (re-read shards)"] = time.perf_counter() - t

    t = time.perf_counter()
    near = near_duplicates(meta, rows_pairs, sets=sets, set_rows=rows, config=dc)
    times["5 verify + cluster (true Jaccard, keep-policy)"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    pq.write_table(exact, work / "exact.parquet")
    pq.write_table(near, work / "near.parquet")
    return {
        "docs": n,
        "times": times,
        "total": total,
        "pairs": rows_pairs.num_rows,
        "candidates": len(rows),
        "exact_removed": exact.num_rows,
        "near_removed": near.num_rows,
    }


def run_curaline_signatures(shards: list[Path], limit: int) -> dict[str, Any]:
    """Signatures only, 1 thread: text in (tokenization included), and tokens in."""
    import numpy as np
    import pyarrow as pa

    from curaline.kernels import minhash as mk

    pa.set_cpu_count(1)
    texts = _load_texts(shards, limit)
    arr = pa.array(texts)
    cfg = mk.MinHashConfig()
    mk.minhash_signatures(arr.slice(0, 10), config=cfg)
    t = time.perf_counter()
    mk.minhash_signatures(arr, config=cfg)
    full = time.perf_counter() - t
    t = time.perf_counter()
    batches = list(mk._token_hash_batches(arr, True))
    tok = time.perf_counter() - t
    a, b = mk.permutations(cfg)
    out = np.empty((len(texts), cfg.num_perm), dtype=np.uint32)
    t = time.perf_counter()
    for lo, hi, th, doc_off in batches:
        mk._nb_signatures(th, doc_off, cfg.shingle_size, a, b, out[lo:hi])
    core = time.perf_counter() - t
    np_cfg = mk.MinHashConfig(backend="numpy")
    t = time.perf_counter()
    mk.minhash_signatures(arr.slice(0, 5000), config=np_cfg)
    numpy_rate = 5000 / (time.perf_counter() - t)
    return {
        "docs": len(texts),
        "text_in": len(texts) / full,
        "tokenize": len(texts) / tok,
        "shingles_in": len(texts) / core,
        "numpy_text_in": numpy_rate,
    }


def _load_texts(shards: list[Path], limit: int) -> list[str]:
    texts: list[str] = []
    for path in shards:
        with gzip.open(path, "rt") as f:
            texts += [json.loads(line)["text"] for line in f]
        if len(texts) >= limit:
            break
    return texts[:limit]


# --- peers (run in the datatrove venv) -------------------------------------------------

PEER_SIGNATURES = r"""
import gzip, json, re, sys, time
from pathlib import Path
shards, limit, ds_limit = sorted(Path(sys.argv[1]).glob("000*.jsonl.gz")), int(sys.argv[2]), int(sys.argv[3])
texts = []
for p in shards:
    with gzip.open(p, "rt") as f:
        texts += [json.loads(l)["text"] for l in f]
    if len(texts) >= limit:
        break
texts = texts[:limit]
def shingles(t, k=5):
    w = re.findall(r"\w+", t.lower())
    return [" ".join(w[i:i + k]) for i in range(max(len(w) - k + 1, 1))] if w else []
sh = [shingles(t) for t in texts]
from rensa import RMinHash
t = time.perf_counter()
for s in sh:
    m = RMinHash(num_perm=128, seed=42); m.update(s); m.digest()
rensa = len(sh) / (time.perf_counter() - t)
from datasketch import MinHash
enc = [[x.encode("utf8") for x in s] for s in sh[:ds_limit]]
t = time.perf_counter()
for s in enc:
    m = MinHash(num_perm=128, seed=1); m.update_batch(s); m.digest()
ds = len(enc) / (time.perf_counter() - t)
print(json.dumps({"rensa": rensa, "rensa_docs": len(sh), "datasketch": ds, "datasketch_docs": len(enc)}))
"""

DATATROVE_MINHASH = r"""
import json, sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers.jsonl import JsonlWriter

corpus, work, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = MinhashConfig()
reader = lambda: JsonlReader(corpus, glob_pattern="000*.jsonl.gz")
stages = [
    ("1 signatures", [reader(), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)], 20),
    ("2 buckets", [MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                                       config=cfg)], cfg.num_buckets),
    ("3 cluster", [MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove",
                                       config=cfg, save_cluster_id=True)], 1),
    ("4 filter + write", [reader(), MinhashDedupFilter(input_folder=f"{work}/remove", load_cluster_ids=True,
                          exclusion_writer=JsonlWriter(f"{work}/removed")), JsonlWriter(f"{work}/kept")], 20),
]
times = {}
for name, pipeline, tasks in stages:
    t = time.perf_counter()
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks),
                          logging_dir=f"{work}/logs/{name[0]}", start_method="fork").run()
    times[name] = time.perf_counter() - t
print(json.dumps(times))
"""


def ensure_peer_venv() -> Path:
    """Create the shared datatrove venv under its lock, or reuse it."""
    py = DT_VENV / "bin" / "python"
    check = f"{py} -c 'import datatrove, spacy, rensa, datasketch'"
    script = (
        f"{check} 2>/dev/null || ({sys.executable} -m venv {DT_VENV} 2>/dev/null || python3 -m venv "
        f"{DT_VENV}; {DT_VENV}/bin/pip install -q " + " ".join(f"'{p}'" for p in DT_PACKAGES) + ")"
    )
    subprocess.run(["flock", f"{DT_VENV}.lock", "sh", "-c", script], check=True)
    return py


# --- process-tree RSS sampling -----------------------------------------------------------


def run_sampled(cmd: list[str], env: dict[str, str] | None = None) -> tuple[str, float, float]:
    """Run cmd; return its stdout, wall seconds and peak RSS (MiB) summed over its tree."""
    import psutil

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - t
    done.set()
    th.join()
    if proc.returncode:
        raise SystemExit(f"{cmd[:3]} failed with {proc.returncode}")
    return out, wall, peak[0] / 2**20


# --- evaluation ----------------------------------------------------------------------------


def _shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    w = re.findall(r"\w+", text.lower())
    if len(w) < k:
        return {tuple(w)} if w else set()
    return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)}


def _jaccard(x: str, y: str) -> float:
    a, b = _shingles(x), _shingles(y)
    return len(a & b) / len(a | b) if a | b else 1.0


def _bucket(j: float) -> str:
    for lo, name in ((0.9, ">= 0.9"), (0.8, "0.8-0.9"), (0.7, "0.7-0.8"), (0.5, "0.5-0.7")):
        if j >= lo:
            return name
    return "< 0.5"


def recall(truth: list[dict[str, Any]], removed: set[str]) -> dict[str, tuple[int, float]]:
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for g in truth:
        caught = g["id"] in removed or g["dup_of"] in removed
        keys = ["kind " + g["kind"]] + (
            [] if g["kind"] == "exact" else ["J " + _bucket(g["jaccard5"])]
        )
        for key in keys:
            hits[key][0] += caught
            hits[key][1] += 1
    order = ["J >= 0.9", "J 0.8-0.9", "J 0.7-0.8", "J 0.5-0.7", "J < 0.5"]
    keys = sorted(hits, key=lambda k: (order.index(k) if k in order else len(order), k))
    return {k: (hits[k][1], hits[k][0] / hits[k][1]) for k in keys}


def precision(
    attributed: dict[str, str], texts: dict[str, str], injected: set[str]
) -> dict[str, Any]:
    """Share of removed docs whose true Jaccard to their kept doc is >= THRESHOLD."""
    ok = {"all": [0, 0], "not injected": [0, 0]}
    for doc, kept in attributed.items():
        good = _jaccard(texts[doc], texts[kept]) >= THRESHOLD
        for key in ("all",) + (() if doc in injected else ("not injected",)):
            ok[key][0] += good
            ok[key][1] += 1
    if not injected:  # the oversampled corpus has no injected copies to set apart
        del ok["not injected"]
    return {k: (v[1], v[0] / max(v[1], 1)) for k, v in ok.items()}


def _read_jsonl_dir(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in sorted(path.glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            rows += [json.loads(line) for line in fh]
    return rows


def datatrove_attribution(work: Path) -> tuple[set[str], dict[str, str]]:
    """Removed ids, and removed id -> the kept member of its cluster."""
    removed = _read_jsonl_dir(work / "removed")
    kept_of: dict[Any, str] = {}
    for d in _read_jsonl_dir(work / "kept"):
        cid = d.get("metadata", {}).get("minhash_cluster_id")
        if cid is not None:
            kept_of[cid] = d["id"]
    attributed = {}
    for d in removed:
        cid = d.get("metadata", {}).get("minhash_cluster_id")
        if cid in kept_of:
            attributed[d["id"]] = kept_of[cid]
    return {d["id"] for d in removed}, attributed


# --- the 1M corpus -----------------------------------------------------------------------


def build_scaled_corpus(target: int, out: Path) -> list[Path]:
    """The corpus oversampled to `target` docs: replica r > 0 of each doc gets random word
    edits at a rate drawn from U(0, 5 %), so copies span Jaccard ~0.6..1. Built once."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    done = out / "DONE"
    if done.exists():
        return sorted(out.glob("*.parquet"))
    out.mkdir(parents=True, exist_ok=True)
    base = sorted(CORPUS.glob(SHARDS))
    replicas = -(-target // 100_000)
    rng = np.random.default_rng(20240601)
    k = 0
    for r in range(replicas):
        for path in base:
            t = _read_shard(path)
            if r:
                words = pc.utf8_split_whitespace(t["text"].combine_chunks())
                flat = pc.list_flatten(words)
                parent = pc.list_parent_indices(words).to_numpy()
                rate = rng.uniform(0, 0.05, len(t))[parent]
                mask = rng.random(len(flat)) < rate
                repl = flat.take(pa.array(rng.integers(0, len(flat), int(mask.sum()))))
                flat = pc.replace_with_mask(flat, pa.array(mask), repl)
                offsets = words.offsets
                text = pc.binary_join(pa.ListArray.from_arrays(offsets, flat), " ")
                ids = pc.binary_join_element_wise(t["id"], pa.scalar(f"r{r}"), ".")
                t = pa.table({"id": ids, "text": text, "source": t["source"]})
            pq.write_table(t, out / f"{k:05d}.parquet")
            k += 1
    done.touch()
    return sorted(out.glob("*.parquet"))


# --- report ----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", type=int, default=100_000, help="documents (> 100k: oversampled)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/curaline-bench-dedup"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS_dedup.md")
    ap.add_argument("--child", choices=["curaline", "signatures"], help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:  # inside the sampled child process
        shards = json.loads(os.environ["BENCH_SHARDS"])
        paths = [Path(p) for p in shards]
        if args.child == "curaline":
            res = run_curaline(paths, args.work / "curaline", args.threads)
        else:
            res = run_curaline_signatures(paths, int(os.environ["BENCH_LIMIT"]))
        print(json.dumps(res))
        return

    scaled = args.scale > 100_000
    shards = (
        build_scaled_corpus(args.scale, args.work / f"corpus-{args.scale}")
        if scaled
        else sorted(CORPUS.glob(SHARDS))
    )
    shutil.rmtree(args.work / "curaline", ignore_errors=True)
    env = {
        **os.environ,
        "BENCH_SHARDS": json.dumps([str(p) for p in shards]),
        "PYTHONPATH": str(REPO),
    }
    me = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--work",
        str(args.work),
        "--threads",
        str(args.threads),
    ]
    out, wall, rss = run_sampled([*me, "--child", "curaline"], env)
    cur = json.loads(out.strip().splitlines()[-1])
    cur["wall"], cur["rss"] = wall, rss
    report: dict[str, Any] = {"curaline": cur, "scale": args.scale}

    if not args.skip_peers and not scaled:
        py = ensure_peer_venv()
        dt_work = args.work / "datatrove"
        shutil.rmtree(dt_work, ignore_errors=True)
        dt_work.mkdir(parents=True)
        (dt_work / "run.py").write_text(DATATROVE_MINHASH)
        out, wall, rss = run_sampled(
            [str(py), str(dt_work / "run.py"), str(CORPUS), str(dt_work), str(args.threads)]
        )
        report["datatrove"] = {
            "times": json.loads(out.strip().splitlines()[-1]),
            "wall": wall,
            "rss": rss,
        }
        (args.work / "peers.py").write_text(PEER_SIGNATURES)
        out, _, rss = run_sampled(
            [str(py), str(args.work / "peers.py"), str(CORPUS), "100000", "20000"]
        )
        report["peers"] = {**json.loads(out.strip().splitlines()[-1]), "rss": rss}
        out, _, rss = run_sampled([*me, "--child", "signatures"], {**env, "BENCH_LIMIT": "100000"})
        report["cur_signatures"] = {**json.loads(out.strip().splitlines()[-1]), "rss": rss}

    report.update(evaluate(args, shards, report, scaled))
    md = render(report, args)
    print(md)
    if not args.no_write:
        write_results(md, scaled)


def evaluate(
    args: argparse.Namespace, shards: list[Path], report: dict[str, Any], scaled: bool
) -> dict[str, Any]:
    import numpy as np
    import pyarrow.parquet as pq

    exact = pq.read_table(args.work / "curaline" / "exact.parquet").to_pydict()
    near = pq.read_table(args.work / "curaline" / "near.parquet").to_pydict()
    attributed = dict(zip(exact["doc_id"], exact["duplicate_of"], strict=True))
    attributed.update(zip(near["doc_id"], near["duplicate_of"], strict=True))
    removed = set(attributed)
    res: dict[str, Any] = {}
    if scaled:  # precision on a sample of 3,000 near removals; recall on 3,000 replica pairs
        rng = np.random.default_rng(0)
        pick = set(
            rng.choice(near["doc_id"], size=min(3000, len(near["doc_id"])), replace=False).tolist()
        )
        texts: dict[str, str] = {}
        sample_pairs: list[tuple[str, str]] = []
        wanted = pick | {attributed[d] for d in pick}
        for k, p in enumerate(shards):  # the first 100k docs (replica 0) are the originals
            t = pq.read_table(p, columns=["id", "text"]).to_pydict()
            for i, x in zip(t["id"], t["text"], strict=True):
                if k < 20 or i in wanted:
                    texts[i] = x
                elif rng.random() < 3000 / args.scale:
                    sample_pairs.append((i, i.rsplit(".", 1)[0]))
                    texts[i] = x
        truth = [
            {"id": a, "dup_of": b, "kind": "edit0-5", "jaccard5": _jaccard(texts[a], texts[b])}
            for a, b in sample_pairs
        ]
        res["cur_recall"] = recall(truth, removed)
        res["cur_precision"] = precision({d: attributed[d] for d in pick}, texts, set())
        return res

    truth = [json.loads(line) for line in gzip.open(CORPUS / "ground_truth.jsonl.gz", "rt")]
    injected = {g["id"] for g in truth}
    texts = {}
    for p in shards:
        with gzip.open(p, "rt") as f:
            for line in f:
                d = json.loads(line)
                texts[d["id"]] = d["text"]
    res["cur_recall"] = recall(truth, removed)
    res["cur_precision"] = precision(attributed, texts, injected)
    res["cur_near_precision"] = precision(
        dict(zip(near["doc_id"], near["duplicate_of"], strict=True)), texts, injected
    )
    if "datatrove" in report:
        dt_removed, dt_attr = datatrove_attribution(args.work / "datatrove")
        res["dt_recall"] = recall(truth, dt_removed)
        res["dt_precision"] = precision(dt_attr, texts, injected)
        res["dt_removed"] = len(dt_removed)
        res["dt_attributed"] = len(dt_attr)
    return res


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    c = r["curaline"]
    n = c["docs"]
    cmd = (
        "PYTHONPATH=. .venv/bin/python benchmarks/bench_dedup.py"
        + (f" --scale {args.scale}" if args.scale > 100_000 else "")
        + (" --skip-peers" if args.skip_peers else "")
    )
    lines = [
        f"Command: `{cmd}` ({os.cpu_count()} cores; threshold {THRESHOLD}, 25 bands x 5 rows)",
        "",
    ]
    lines += ["| system / stage | wall s | docs/s | peak RSS MiB |", "|---|---:|---:|---:|"]
    for stage, sec in c["times"].items():
        lines.append(f"| curaline {stage} | {sec:.2f} | {n / sec:,.0f} | |")
    lines.append(
        f"| **curaline end to end** | **{c['total']:.2f}** | **{n / c['total']:,.0f}** | {c['rss']:.0f} |"
    )
    if "datatrove" in r:
        d = r["datatrove"]
        for stage, sec in d["times"].items():
            lines.append(f"| datatrove {stage} | {sec:.2f} | {n / sec:,.0f} | |")
        tot = sum(d["times"].values())
        lines.append(
            f"| **datatrove end to end** | **{tot:.2f}** | **{n / tot:,.0f}** | {d['rss']:.0f} |"
        )
        lines.append(f"| speed-up curaline / datatrove | | **{tot / c['total']:.1f}x** | |")
    lines += [
        "",
        f"curaline: {c['exact_removed']:,} exact + {c['near_removed']:,} near removed; "
        f"{c['pairs']:,} candidate pairs over {c['candidates']:,} documents; "
        f"wall incl. interpreter start {c['wall']:.1f} s.",
    ]
    if "peers" in r:
        p, s = r["peers"], r["cur_signatures"]
        lines += [
            "",
            "Signatures alone, 128 permutations, 1 process, 1 thread:",
            "",
            "| implementation | docs/s | input |",
            "|---|---:|---|",
            f"| curaline (numba) | {s['text_in']:,.0f} | raw text: tokenize + shingle + hash included |",
            f"| curaline (numba), tokens in | {s['shingles_in']:,.0f} | token hashes (tokenizing alone: "
            f"{s['tokenize']:,.0f} docs/s) |",
            f"| curaline (NumPy backend) | {s['numpy_text_in']:,.0f} | raw text |",
            f"| rensa 0.5.0 RMinHash | {p['rensa']:,.0f} | 5-gram strings, prepared outside the timing |",
            f"| datasketch 2.0.0 MinHash | {p['datasketch']:,.0f} | 5-gram bytes, prepared outside "
            f"({p['datasketch_docs']:,} docs) |",
        ]
    systems = [("curaline", "cur")] + ([("datatrove", "dt")] if "dt_recall" in r else [])
    lines += ["", "Recall (a pair is caught if either member was removed):", ""]
    lines += ["| bucket | pairs | " + " | ".join(s for s, _ in systems) + " |"]
    lines += ["|---|---:|" + "---:|" * len(systems)]
    for key, (count, _) in r["cur_recall"].items():
        vals = " | ".join(f"{r[f'{p}_recall'][key][1]:.3f}" for _, p in systems)
        lines.append(f"| {key} | {count:,} | {vals} |")
    lines += [
        "",
        f"Precision: removed documents whose true Jaccard to the kept document they are "
        f"attributed to is >= {THRESHOLD}:",
        "",
    ]
    lines += [
        "| removed documents | " + " | ".join(s for s, _ in systems) + " |",
        "|---|" + "---:|" * len(systems),
    ]
    for key in r["cur_precision"]:
        vals = " | ".join(
            f"{r[f'{p}_precision'][key][1]:.3f} of {r[f'{p}_precision'][key][0]:,}"
            for _, p in systems
        )
        lines.append(f"| {key} | {vals} |")
    if "cur_near_precision" in r:
        npc = r["cur_near_precision"]
        lines.append(
            f"| curaline near removals only | {npc['all'][1]:.3f} of {npc['all'][0]:,} | |"
        )
    if "dt_removed" in r:
        lines.append("")
        lines.append(
            f"datatrove removed {r['dt_removed']:,}; {r['dt_attributed']:,} carry a cluster id "
            "with a kept member (precision is over those)."
        )
    return "\n".join(lines) + "\n"


def write_results(md: str, scaled: bool) -> None:
    """Replace this run's section of RESULTS_dedup.md (100k and 1M sections kept apart)."""
    title = "## 1M documents (oversampled)" if scaled else "## 100k corpus, side by side"
    text = OUT_MD.read_text() if OUT_MD.exists() else "# Dedup benchmark\n"
    sections = re.split(r"(?m)^(?=## )", text)
    head, rest = sections[0], [s for s in sections[1:] if not s.startswith(title)]
    rest.append(f"{title}\n\n{md}\n")
    rest.sort(
        key=lambda s: 0 if s.startswith("## Summary") else 1 if s.startswith("## 100k") else 2
    )
    OUT_MD.write_text(head + "".join(rest))


if __name__ == "__main__":
    main()
