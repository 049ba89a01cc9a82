"""Measure the langid kernel: per-language accuracy on the Lingua test sentences, speed.

Usage: python benchmarks/measure_langid.py [--per-lang 1000] [--shards 2]

Accuracy: ../shared/data/lingua-langid-75lang/<iso>.txt (1,000 web sentences per
language; Lingua's test set, from the Leipzig corpora). A sentence counts as right when
the detector's raw best language is the file's language (ISO 639-1; nb and nn are both
"no", Norwegian, for ELD). "Claimed" languages are those the detector knows; the
others cannot be right and are listed with where they go. Note: ELD's author reports
this sentence set among its own benchmarks, so the independent figure he gives is
Tatoeba-50 (98.7 %).

Speed: corpus-100k (English technical docs, ~1,400 chars), whole kernel and the
detector alone, one process.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from curaline.kernels.langid import (
    LangIdConfig,
    canonical_code,
    detect_language,
    detect_strings,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SENTENCES = SHARED / "data" / "lingua-langid-75lang"
CORPUS = SHARED / "bench" / "corpus-100k"


def _code(iso: str) -> str | None:
    try:
        return canonical_code(iso)
    except ValueError:
        return None


def measure_accuracy(per_lang: int) -> None:
    rows = []
    for path in sorted(SENTENCES.glob("??.txt")):
        iso = path.stem
        sents = [s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
        sents = sents[:per_lang]
        langs, scores = detect_strings(sents)
        code = _code(iso)
        right = np.array([lang == code for lang in langs]) if code else np.zeros(len(sents))
        top = Counter(langs).most_common(1)[0]
        rows.append((iso, code, len(sents), float(right.mean()), top, float(np.median(scores))))
    claimed = [r for r in rows if r[1]]
    print("| language | as | n | accuracy | median score |\n|---|---|---:|---:|---:|")
    for iso, code, n, acc, _, med in claimed:
        print(f"| {iso} | {code} | {n} | {acc:.3f} | {med:.2f} |")
    n_all = sum(r[2] for r in claimed)
    micro = sum(r[2] * r[3] for r in claimed) / n_all
    macro = float(np.mean([r[3] for r in claimed]))
    print(
        f"\nclaimed languages: {len(claimed)} of {len(rows)}; accuracy over {n_all} sentences:"
        f" {micro:.4f} (macro over languages {macro:.4f})"
    )
    print(
        "not claimed (most frequent label, median score): "
        + ", ".join(
            f"{iso}->{top[0]} {top[1] / n:.0%} ({med:.2f})"
            for iso, code, n, _, top, med in rows
            if not code
        )
    )


def load_shard(path: Path) -> pa.Table:
    opts = pj.ReadOptions(block_size=64 << 20)  # some docs are longer than the 1 MiB default
    t = pj.read_json(pa.input_stream(str(path), compression="gzip"), read_options=opts)
    return pa.table({"doc_id": t.column("id"), "text": t.column("text")})


def measure_speed(shards: int) -> None:
    tables = [load_shard(p) for p in sorted(CORPUS.glob("*.jsonl.gz"))[:shards]]
    n = sum(t.num_rows for t in tables)
    chars = sum(pc.sum(pc.utf8_length(t.column("text"))).as_py() for t in tables)
    config = LangIdConfig(keep_languages=("en",))
    detect_language(tables[0].slice(0, 10), kind="document", config=config)  # warm up
    t0 = time.perf_counter()
    labels: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for t in tables:
        res = detect_language(t, kind="document", config=config)
        labels.update(res.table.column("language").to_pylist())
        reasons.update(res.events.column("reason").to_pylist())
    dt = time.perf_counter() - t0
    print(f"\ncorpus-100k, {shards} shard(s): {n} docs, {chars / n:.0f} chars/doc")
    print(
        f"detect_language (keep en, max_chars 1000): {dt:.2f} s, {n / dt:,.0f} docs/s (1 process)"
    )
    print(f"labels: {dict(labels.most_common(6))}; drops: {dict(reasons)}")
    texts = tables[0].column("text").to_pylist()
    t0 = time.perf_counter()
    detect_strings([s[:1000] for s in texts])
    dt = time.perf_counter() - t0
    print(f"detector alone on {len(texts)} docs: {len(texts) / dt:,.0f} docs/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-lang", type=int, default=1000)
    ap.add_argument("--shards", type=int, default=2)
    args = ap.parse_args()
    measure_accuracy(args.per_lang)
    measure_speed(args.shards)


if __name__ == "__main__":
    main()
