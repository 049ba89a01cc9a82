"""The learned quality classifier vs the heuristic rules, on human-labelled web pages.

Evaluation set (kept apart from training: the shipped model never saw these pages):
scrapinghub's article-extraction-benchmark, 181 real web pages whose article body was
marked by human annotators (ground-truth.json, MIT). Per page, two documents:
- keep: the human-marked article body;
- drop: the rest of the page's visible text (navigation, footers, related links, cookie
  and share prompts, comments), i.e. the lines of resiliparse's full-page text
  (`main_content=False`) that are not in the article body.
Both sides are then judged by the rules (curaline's default web rules), the classifier
(shipped default model, q_model_score >= threshold) and both combined.

Speed: q_model_score over corpus-100k (../shared/bench) in one process, one thread.

Command: `nice -n 10 python benchmarks/bench_quality_model.py [--model PATH]`
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
AEB = REPO.parent / "shared" / "data" / "article-extraction-benchmark"
CORPUS = REPO.parent / "shared" / "bench" / "corpus-100k"
_WS = re.compile(r"\s+")


def _norm(s: str) -> str:
    return _WS.sub(" ", s).strip()


def eval_set() -> tuple[list[str], np.ndarray]:
    from resiliparse.extract.html2text import extract_plain_text

    truth = json.loads((AEB / "ground-truth.json").read_text(encoding="utf-8"))
    texts: list[str] = []
    labels: list[int] = []
    for key, item in sorted(truth.items()):
        body = item["articleBody"].strip()
        html = gzip.decompress((AEB / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        page = extract_plain_text(html, main_content=False)
        body_norm = _norm(body)
        rest = [ln.strip() for ln in page.splitlines() if ln.strip() and _norm(ln) not in body_norm]
        if body:
            texts.append(body)
            labels.append(1)
        if rest:
            texts.append("\n".join(rest))
            labels.append(0)
    return texts, np.array(labels)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney U / (n_pos * n_neg), ties counted half."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main() -> None:
    from curaline.kernels.quality import QualityConfig, score_quality
    from curaline.kernels.quality_model import BUILTIN, load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=BUILTIN)
    ap.add_argument("--speed-docs", type=int, default=40_000)
    args = ap.parse_args()
    texts, labels = eval_set()
    print(f"evaluation set: {len(texts)} documents ({labels.sum()} keep, {(labels == 0).sum()} drop) "
          f"from {AEB.name}", flush=True)
    table = pa.table({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts})
    rules = score_quality(table, kind="document", config=QualityConfig(quality_model=None)).keep
    model = load_model(args.model)
    scores = model.score(pa.array(texts, pa.large_string()))
    default_thr = QualityConfig().quality_model_low or 0.0
    rows = [("rules (Gopher + C4 + FineWeb defaults)", rules.astype(bool), None)]
    for thr in sorted({default_thr, 0.5}):
        rows.append((f"classifier, q_model_score >= {thr}", scores >= thr, thr))
    rows.append((f"rules + classifier (>= {default_thr}): curaline's default", rules.astype(bool) & (scores >= default_thr), None))
    auc = roc_auc(scores, labels)
    out = ["| decision | accuracy | keep precision | keep recall | drop recall |", "|---|---:|---:|---:|---:|"]
    for name, keep, _ in rows:
        acc = float((keep == (labels == 1)).mean())
        prec = float((labels[keep] == 1).mean()) if keep.any() else float("nan")
        rec = float(keep[labels == 1].mean())
        drec = float((~keep)[labels == 0].mean())
        out.append(f"| {name} | {acc:.3f} | {prec:.3f} | {rec:.3f} | {drec:.3f} |")
    print("\n".join(out))
    print(f"classifier ROC AUC: {auc:.3f} (model digest {model.digest}, trained on "
          f"{', '.join(m['source'] + ' (' + m['license'] + ')' for m in model.meta.get('positive', []) + model.meta.get('negative', []))})")
    # speed: one process, one thread, real prose documents
    docs: list[str] = []
    for shard in sorted(CORPUS.glob("*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as fh:
            docs.extend(json.loads(line)["text"] for line in fh)
        if len(docs) >= args.speed_docs:
            break
    docs = docs[: args.speed_docs]
    arr = pa.array(docs, pa.large_string())
    model.score(arr[:100])  # compiled code loaded before timing
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        model.score(arr)
        best = min(best, time.process_time() - t0)
    chars = sum(len(d) for d in docs)
    print(f"scoring speed: {len(docs):,} corpus-100k docs (mean {chars / len(docs):,.0f} chars) in {best:.2f} CPU-s "
          f"= {len(docs) / best:,.0f} docs/s per core (best of 3, process CPU time)")


if __name__ == "__main__":
    main()
