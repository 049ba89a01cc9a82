"""Measure the normalize kernel: ftfy's own test cases, then throughput on corpus-100k.

Usage: python benchmarks/measure_normalize.py [--shards 2]

Cases: ../shared/data/ftfy-mojibake-cases (ftfy's tests/test-cases, Apache-2.0). ftfy's
expected outputs come from its default ``fix_text``, which also uncurls quotes, folds
ligatures and full-width forms and unescapes HTML; the kernel deliberately does only the
encoding repair, so a case counts as fixed when the kernel output equals the expected
output after the kernel's own non-encoding steps (NFC, controls, whitespace), and
"fixed modulo ftfy extras" when they match once both sides get those ftfy extras too.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from curaline.kernels.normalize import (
    MOJIBAKE,
    NormalizeConfig,
    _ftfy_config,
    mojibake_regex,
    normalize_column,
    normalize_text,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CASES = SHARED / "data" / "ftfy-mojibake-cases"
CORPUS = SHARED / "bench" / "corpus-100k"
FILES = ("in-the-wild", "synthetic", "language-names", "negative", "known-failures")


def _extras(texts: list[str]) -> list[str]:
    """ftfy's default non-encoding fixes, applied to both sides for the lenient score."""
    import ftfy

    cfg = ftfy.TextFixerConfig(fix_encoding=False, normalization="NFC", explain=False)
    return [ftfy.fix_text(t, cfg) for t in texts]


def measure_cases() -> None:
    import ftfy

    no_ftfy = NormalizeConfig(fix_mojibake=False)
    print(
        "| file | cases | fixed exactly | fixed modulo ftfy extras | mojibake fix applied "
        "| ftfy default passes | prefilter misses |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in FILES:
        cases = json.loads((CASES / f"{name}.json").read_text())
        orig = [c["original"] for c in cases]
        table = pa.table({"doc_id": [str(i) for i in range(len(cases))], "text": orig})
        res = normalize_text(table, kind="document")
        out = res.table.column("text").to_pylist()
        bits = res.table.column("normalize_changes").to_numpy()
        expected, _ = normalize_column(pa.array([c["fixed"] for c in cases]), no_ftfy)
        expected_l = expected.to_pylist()
        exact = sum(o == e for o, e in zip(out, expected_l, strict=True))
        lenient = sum(o == e for o, e in zip(_extras(out), _extras(expected_l), strict=True))
        applied = int(((bits & MOJIBAKE) != 0).sum())
        upstream = sum(ftfy.fix_text(c["original"]) == c["fixed"] for c in cases)
        flagged = pc.match_substring_regex(pa.array(orig), mojibake_regex()).to_pylist()
        cfg = _ftfy_config()
        misses = sum(
            (not f) and ftfy.fix_text(o, cfg) != o for o, f in zip(orig, flagged, strict=True)
        )
        print(
            f"| {name} | {len(cases)} | {exact} | {lenient} | {applied} | {upstream} | {misses} |"
        )


def load_shard(path: Path) -> pa.Table:
    opts = pj.ReadOptions(block_size=64 << 20)  # some docs are longer than the 1 MiB default
    t = pj.read_json(pa.input_stream(str(path), compression="gzip"), read_options=opts)
    return pa.table({"doc_id": t.column("id"), "text": t.column("text")})


def measure_throughput(shards: int) -> None:
    import ftfy

    tables = [load_shard(p) for p in sorted(CORPUS.glob("*.jsonl.gz"))[:shards]]
    n = sum(t.num_rows for t in tables)
    chars = sum(pc.sum(pc.utf8_length(t.column("text"))).as_py() for t in tables)
    flagged = sum(
        pc.sum(pc.match_substring_regex(t.column("text"), mojibake_regex())).as_py() or 0
        for t in tables
    )
    t0 = time.perf_counter()
    changes: dict[str, int] = {}
    dropped = 0
    for t in tables:
        res = normalize_text(t, kind="document")
        dropped += int((~res.keep).sum())
        for r in res.events.column("reason").to_pylist():
            changes[r] = changes.get(r, 0) + 1
    dt = time.perf_counter() - t0
    print(f"\ncorpus-100k, {shards} shard(s): {n} docs, {chars / n:.0f} chars/doc")
    print(
        f"normalize_text: {dt:.2f} s, {n / dt:,.0f} docs/s, {chars / dt / 1e6:.1f} M chars/s "
        f"(1 process); ftfy pre-check flagged {flagged} docs ({flagged / n:.2%})"
    )
    print(f"events by reason: {dict(sorted(changes.items()))}; dropped {dropped}")

    sample = tables[0].column("text").to_pylist()[:2000]
    cfg = _ftfy_config()
    t0 = time.perf_counter()
    for s in sample:
        ftfy.fix_text(s, cfg)
    dt = time.perf_counter() - t0
    print(
        f"for comparison, ftfy.fix_text on every doc (no pre-check): {len(sample) / dt:,.0f} docs/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shards", type=int, default=2)
    args = ap.parse_args()
    measure_cases()
    measure_throughput(args.shards)


if __name__ == "__main__":
    main()
