"""Quality stage vs datatrove 0.10.1, side by side on the 100k benchmark corpus.

Runs, on the same cores and corpus, each in its own process tree (peak RSS summed over
the tree by sampling):
  curaline score_quality: Gopher (repetition + quality), + C4, and all rule families,
    in 1 process x 1 thread, 1 process x 2 threads and 2 processes x 1 thread;
  datatrove: JsonlReader -> GopherRepetitionFilter -> GopherQualityFilter (-> C4QualityFilter)
    -> JsonlWriter, 20 tasks on 2 workers (fork), in its own venv.
Both sides read the gzip JSONL shards and write the kept documents. Agreement is per
document: datatrove's kept / excluded outputs (with filter_reason) against curaline's
keep mask and first-failing rule. Prints a Markdown report and writes RESULTS_quality.md.

    .venv/bin/python benchmarks/bench_quality.py            # ~12 minutes, datatrove dominates
    .venv/bin/python benchmarks/bench_quality.py --skip-datatrove
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "bench" / "corpus-100k"
SHARDS = "000*.jsonl.gz"  # not ground_truth.jsonl.gz
DT_VENV = Path(os.environ.get("DATATROVE_VENV", "/tmp/datatrove-venv"))
DT_SPEC = "datatrove[io,processing]==0.10.1"
OUT_MD = REPO / "benchmarks" / "RESULTS_quality.md"

# datatrove reason -> curaline rule name
DT_REASONS = {
    "empty": "empty_text",
    "dup_para_frac": "gopher_rep_dup_para_frac",
    "dup_para_char_frac": "gopher_rep_dup_para_char_frac",
    "dup_line_frac": "gopher_rep_dup_line_frac",
    "dup_line_char_frac": "gopher_rep_dup_line_char_frac",
    **{f"top_{n}_gram": f"gopher_rep_top_{n}gram" for n in (2, 3, 4)},
    **{f"duplicated_{n}_n_grams": f"gopher_rep_dup_{n}gram" for n in range(5, 11)},
    "gopher_enough_stop_words": "gopher_too_few_stop_words",
    "lorem_ipsum": "c4_lorem_ipsum",
    "curly_bracket": "c4_curly_bracket",
    "too_few_sentences": "c4_too_few_sentences",
}

FAMILIES = {
    "gopher": {"c4": False, "fineweb": False},
    "gopher+c4": {"fineweb": False},
    "all": {},
}

DT_SCRIPT = r"""
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.filters import GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter
from datatrove.pipeline.writers import JsonlWriter
corpus, out, with_c4 = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
steps = [
    JsonlReader(corpus, glob_pattern="000*.jsonl.gz"),
    GopherRepetitionFilter(exclusion_writer=JsonlWriter(f"{out}/excluded/rep")),
    GopherQualityFilter(exclusion_writer=JsonlWriter(f"{out}/excluded/quality")),
]
if with_c4:
    steps.append(C4QualityFilter(exclusion_writer=JsonlWriter(f"{out}/excluded/c4")))
steps.append(JsonlWriter(f"{out}/kept"))
LocalPipelineExecutor(steps, tasks=20, workers=2, logging_dir=f"{out}/logs",
                      start_method="fork").run()
"""


NOTES = """
### Notes

- Speed: curaline computes every signal (Gopher, C4, FineWeb) in one compiled pass per
  document (numba, `curaline/kernels/textstats.py`); the families in brackets only switch
  rules on, so all curaline rows do the same work. The timed runs load the numba cache
  (compiled once before timing; a cold compile costs ~10 s once per machine).
  "2 proc" = a pool of 2 processes over the 20 shards; "2 thread" = one process whose
  compiled kernel runs on 2 threads (it releases the GIL): same speed, half the memory.
- Where the decisions differ, it is the words: datatrove tokenizes with spaCy's English
  tokenizer, curaline with a compiled re-implementation of its prefix / suffix / infix
  rules that lacks spaCy's exception tables (abbreviations such as "Inc." or "Dr.",
  emoticons such as ":*", "and/or", "cannot" is handled). Punctuation tokens count as
  words without letters, so documents near the 80 % alphabetic-words line
  (gopher_below_alpha_threshold) or near 50 words flip. Line, paragraph, C4 and FineWeb
  line statistics follow datatrove's definitions exactly (same splitting, greedy
  duplicated n-gram count, Counter tie-break for the top n-gram); the n-gram ones agree
  wherever the tokens do.
- C4 is applied at document level (lorem ipsum, curly bracket, fewer than 5 sentences in
  the lines C4 would keep, counted with spaCy's sentencizer rule); datatrove also rewrites
  the text to the kept lines, curaline does not (the `q_c4_line_keep_frac` signal says
  how much would go). If a document has both "lorem ipsum" and "{", the earlier line wins
  as in datatrove.
- FineWeb's duplicated-line character ratio uses the paper's 0.1 (datatrove's default is
  0.01); FineWeb rules see the original text, not C4's rewrite.
- datatrove's side also writes each dropped document through its exclusion writers
  (needed for the per-document reasons); that is a few percent of its run time.
"""


class TreeRSS:
    """Peak of the summed RSS of a process and all its descendants, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(0.05)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(cmd: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak tree RSS and CPU seconds (user + sys of all waited-for children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd)
    rss = TreeRSS(p.pid)
    rc = p.wait()
    wall = time.perf_counter() - t0
    peak = rss.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if rc != 0:
        raise SystemExit(f"command failed ({rc}): {' '.join(cmd)}")
    return wall, peak, cpu


# -- curaline worker (runs in a child process) ---------------------------------------------


def _score_shard(args: tuple[str, str, str, int]) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    from curaline.kernels.quality import QualityConfig, score_quality

    shard, out, family, threads = args
    opts = pj.ReadOptions(block_size=1 << 26)  # a block must hold whole lines
    table = pj.read_json(pa.input_stream(shard, compression="gzip"), read_options=opts)
    table = table.rename_columns(["doc_id" if c == "id" else c for c in table.column_names])
    config = QualityConfig(threads=threads, **FAMILIES[family])
    res = score_quality(table, kind="document", config=config)
    name = Path(shard).name.split(".")[0]
    pq.write_table(res.table.filter(res.keep), f"{out}/kept-{name}.parquet")
    pq.write_table(res.events, f"{out}/events-{name}.parquet")
    return table.num_rows, int(res.keep.sum())


def worker(out: str, family: str, procs: int, threads: int) -> None:
    shards = sorted(str(p) for p in CORPUS.glob(SHARDS))
    jobs = [(s, out, family, threads) for s in shards]
    if procs == 1:
        for j in jobs:
            _score_shard(j)
    else:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(procs) as pool:
            pool.map(_score_shard, jobs, chunksize=1)


def curaline_decisions(out: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    decisions: dict[str, str] = {}
    for f in sorted(out.glob("kept-*.parquet")):
        decisions.update(
            dict.fromkeys(pq.read_table(f, columns=["doc_id"])["doc_id"].to_pylist(), "keep")
        )
    for f in sorted(out.glob("events-*.parquet")):
        ev = pq.read_table(f, columns=["doc_id", "reason"])
        decisions.update(zip(ev["doc_id"].to_pylist(), ev["reason"].to_pylist(), strict=True))
    return decisions


# -- datatrove ------------------------------------------------------------------------------


def ensure_datatrove() -> Path:
    py = DT_VENV / "bin" / "python"
    ok = (
        py.exists()
        and subprocess.run(
            [str(py), "-c", "import datatrove, spacy"], capture_output=True
        ).returncode
        == 0
    )
    if not ok:
        subprocess.run([sys.executable, "-m", "venv", str(DT_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", DT_SPEC, "spacy"], check=True)
    return py


def datatrove_decisions(out: Path) -> dict[str, str]:
    decisions: dict[str, str] = {}
    for f in sorted((out / "kept").glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            decisions.update((json.loads(line)["id"], "keep") for line in fh)
    for f in sorted((out / "excluded").rglob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            for line in fh:
                d = json.loads(line)
                reason = d.get("metadata", {}).get("filter_reason", "?")
                decisions[d["id"]] = DT_REASONS.get(reason, reason)
    return decisions


def agreement(dt: dict[str, str], cl: dict[str, str]) -> dict[str, object]:
    ids = dt.keys() & cl.keys()
    both_keep = sum(dt[i] == "keep" and cl[i] == "keep" for i in ids)
    both_drop = sum(dt[i] != "keep" and cl[i] != "keep" for i in ids)
    same_reason = sum(dt[i] != "keep" and dt[i] == cl[i] for i in ids)
    only_dt = Counter(dt[i] for i in ids if dt[i] != "keep" and cl[i] == "keep")
    only_cl = Counter(cl[i] for i in ids if cl[i] != "keep" and dt[i] == "keep")
    return {
        "docs": len(ids),
        "missing": len(dt.keys() ^ cl.keys()),
        "both_keep": both_keep,
        "both_drop": both_drop,
        "same_reason": same_reason,
        "only_dt": only_dt,
        "only_cl": only_cl,
        "agree": (both_keep + both_drop) / max(len(ids), 1),
    }


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--worker", nargs=4, metavar=("OUT", "FAMILY", "PROCS", "THREADS"))
    args = ap.parse_args()
    if args.worker:
        out, family, procs, threads = args.worker
        worker(out, family, int(procs), int(threads))
        return
    if not CORPUS.is_dir():
        raise SystemExit(f"benchmark corpus not found at {CORPUS}")
    n_docs = 100_000
    mib = 1024 * 1024
    tmp = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    print(f"# work dir {tmp}", flush=True)
    # compile (numba caches to disk) so no timed run pays for it
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import pyarrow as pa; from curaline.kernels.quality import "
            "score_quality as s; s(pa.table({'doc_id': ['a'], 'text': ['x y. ' * 60]}), "
            "kind='document')",
        ],  # fmt: skip
        check=True,
        cwd=REPO,
    )
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, str, float, int, float]] = []
    cl_decisions: dict[str, dict[str, str]] = {}
    for family, procs, threads in [
        ("gopher", 1, 1), ("gopher", 1, 2), ("gopher", 2, 1),
        ("gopher+c4", 1, 1), ("gopher+c4", 2, 1),
        ("all", 1, 1), ("all", 1, 2), ("all", 2, 1),
    ]:  # fmt: skip
        out = tmp / f"cl-{family}-{procs}p{threads}t"
        out.mkdir()
        cmd = [sys.executable, __file__, "--worker", str(out), family, str(procs), str(threads)]
        # best of two: the machine may be shared, and these runs are short
        wall, peak, cpu = min(timed(cmd), timed(cmd))
        label = f"curaline score_quality [{family}], {procs} proc x {threads} thread"
        rows.append((label, family, wall, peak, cpu))
        print(
            f"{label}: {wall:.1f} s, {n_docs / wall:,.0f} docs/s, {peak / mib:.0f} MiB", flush=True
        )
        cl_decisions.setdefault(family, curaline_decisions(out))
    agreements: dict[str, dict[str, object]] = {}
    if not args.skip_datatrove:
        py = ensure_datatrove()
        script = tmp / "dt_run.py"
        script.write_text(DT_SCRIPT)
        for family, with_c4 in (("gopher", "0"), ("gopher+c4", "1")):
            out = tmp / f"dt-{family}"
            wall, peak, cpu = timed([str(py), str(script), str(CORPUS), str(out), with_c4])
            label = f"datatrove 0.10.1 [{family}], 20 tasks on 2 workers"
            rows.append((label, family, wall, peak, cpu))
            print(f"{label}: {wall:.1f} s, {n_docs / wall:,.0f} docs/s, {peak / mib:.0f} MiB",
                  flush=True)  # fmt: skip
            agreements[family] = agreement(datatrove_decisions(out), cl_decisions[family])
    md = report(rows, agreements, cl_decisions, n_docs) + NOTES
    md += (
        f"\nLoad average (1 min) before / after the runs: {load_before:.2f} / "
        f"{os.getloadavg()[0]:.2f} (other jobs on a shared machine inflate wall times).\n"
    )
    print(md)
    OUT_MD.write_text(md)
    shutil.rmtree(tmp, ignore_errors=True)


def report(
    rows: list[tuple[str, str, float, int, float]],
    agreements: dict[str, dict[str, object]],
    cl: dict[str, dict[str, str]],
    n_docs: int,
) -> str:
    import platform

    mib = 1024 * 1024
    dt_wall = {fam: wall for label, fam, wall, _, _ in rows if label.startswith("datatrove")}
    lines = [
        "## Quality stage (Gopher repetition + quality, C4, FineWeb) vs datatrove",
        "",
        f"Corpus: `../shared/bench/corpus-100k` ({n_docs:,} docs, 20 gzip JSONL shards); "
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}. Both sides read "
        "the shards, filter, and write the kept documents (curaline: parquet with the signal "
        "columns + the drop events; datatrove: JSONL, plus its exclusion writers for the "
        "per-document reasons). Peak RSS is summed over the whole process tree.",
        "",
        "Command: `.venv/bin/python benchmarks/bench_quality.py`",
        "",
        "| run | wall | docs/s | x datatrove docs/s (same rules) | CPU (all processes) "
        "| docs per CPU-s | peak RSS (all processes) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, fam, wall, peak, cpu in rows:
        ref = dt_wall.get(fam) or dt_wall.get("gopher+c4" if fam == "all" else fam)
        speed = f"{ref / wall:.1f}x" if ref and not label.startswith("datatrove") else "—"
        lines.append(
            f"| {label} | {wall:.1f} s | {n_docs / wall:,.0f} | {speed} | {cpu:.1f} s "
            f"| {n_docs / cpu:,.0f} | {peak / mib:,.0f} MiB |"
        )
    lines.append("")
    lines.append(
        "(`all` adds the FineWeb rules; its ratio is against datatrove's Gopher + C4 run.)"
    )
    for fam, a in agreements.items():
        lines += [
            "",
            f"### Agreement with datatrove, [{fam}] ({a['docs']:,} docs, {a['missing']} unmatched)",
            "",
            "| | datatrove keep | datatrove drop |",
            "|---|---:|---:|",
            f"| curaline keep | {a['both_keep']:,} | {sum(a['only_dt'].values()):,} |",  # type: ignore[attr-defined]
            f"| curaline drop | {sum(a['only_cl'].values()):,} | {a['both_drop']:,} |",  # type: ignore[attr-defined]
            "",
            f"Same keep/drop decision: {a['agree']:.2%}; of the documents both drop, "
            f"{a['same_reason'] / max(int(a['both_drop']), 1):.2%} with the same first rule.",  # type: ignore[call-overload]
            "",
            "Top disagreements (rule that fired on one side only): datatrove-only drops: "
            + ", ".join(f"{r} {c}" for r, c in a["only_dt"].most_common(5))  # type: ignore[attr-defined]
            + "; curaline-only drops: "
            + ", ".join(f"{r} {c}" for r, c in a["only_cl"].most_common(5)),  # type: ignore[attr-defined]
        ]
    if "all" in cl:
        reasons = Counter(v for v in cl["all"].values())
        kept = reasons.pop("keep", 0)
        lines += [
            "",
            f"### curaline [all] decisions: {kept:,} kept of {len(cl['all']):,}",
            "",
            ", ".join(f"{r} {c:,}" for r, c in reasons.most_common()),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
