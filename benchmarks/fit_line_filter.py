"""Fit the extraction line filter (curaline/web/boilerplate.py) on the tune half of the benchmark.

    PYTHONPATH=. .venv/bin/python benchmarks/fit_line_filter.py [--write]

Pages: ../shared/data/article-extraction-benchmark (181 real pages, MIT), the ones whose
key's md5 is even ("tune", 86 pages; the score signal's split too). The odd half
("report") is never read here: benchmarks/bench_extract.py --split report measures on it.

Procedure, fixed before any measurement on the report half:

1. Resiliparse's main-content text of each page, cut into lines.
2. A line's label: 1 when at least half of its word 4-shingles occur in the page's
   human-marked article body (the benchmark's own tokenizer and shingles); a line of under
   4 words: 1 when every word occurs in the body.
3. Each page's lines weigh by their share of its words (the benchmark's F1 is per page).
4. Pass 1: L2 logistic regression (Newton, lambda 0.01) on standardized LINE_FEATURES.
   Pass 1 is cross-fitted over two folds of the tune pages (sha1 of the key), so pass 2
   learns from pass-1 outputs on lines pass 1 did not see; the shipped pass 1 is refit on
   all tune pages.
5. Pass 2: the same regression on LINE_FEATURES + NEIGHBOUR_FEATURES.
6. The keep threshold: the best benchmark F1 on the tune pages among 0.3, 0.4, 0.5, 0.6.
7. max_unsure: the tune pages' 90th percentile of the unsure share, so about one page in
   ten goes to trafilatura (the budget that leaves room for 5x trafilatura's speed).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_extract import DATA, load_evaluate  # noqa: E402

from curaline.web import boilerplate as bp  # noqa: E402
from curaline.web.extract import _resiliparse  # noqa: E402
from curaline.web.reader import decode  # noqa: E402

L2 = 0.01
THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
ESCALATE_SHARE = 0.10


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    b = np.zeros(z.shape[1])
    ridge = L2 * np.eye(len(b))
    ridge[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ b))
        grad = z.T @ ((p - y) * w) + ridge @ b
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + ridge + 1e-9 * np.eye(len(b))
        step = np.linalg.solve(hess, grad)
        b -= step
        if np.abs(step).max() < 1e-10:
            break
    return b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--write", action="store_true", help=f"write the weights to {bp.MODEL_PATH}")
    ap.add_argument("--out", type=Path, help="write the weights here instead (the test compares it with the shipped file)")
    args = ap.parse_args()
    if not (args.data / "ground-truth.json").exists():
        sys.exit(f"needs the benchmark at {args.data} (../shared/data/article-extraction-benchmark)")
    ev = load_evaluate(args.data)
    truth_all = json.loads((args.data / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(k for k in truth_all if int(hashlib.md5(k.encode()).hexdigest(), 16) % 2 == 0)
    truth = {k: truth_all[k] for k in keys}
    pages: dict[str, tuple[str, list[str], np.ndarray, np.ndarray, np.ndarray]] = {}
    for k in keys:
        html, _ = decode(gzip.decompress((args.data / "html" / f"{k}.html.gz").read_bytes()), None)
        assert html is not None, k
        lines = bp.split_lines(_resiliparse(html))
        body = truth[k].get("articleBody", "")
        shingles, tokens = set(ev._ngrams(body, 4)), set(ev._tokenize(body))
        labels = []
        for line in lines:
            toks = ev._tokenize(line)
            if len(toks) >= 4:
                grams = ev._ngrams(line, 4)
                labels.append(float(sum(g in shingles for g in grams) / len(grams) >= 0.5))
            else:
                labels.append(float(bool(toks) and all(t in tokens for t in toks)))
        counts = [bp.word_count(line) for line in lines]
        words = np.asarray(counts, dtype=np.float64)
        pages[k] = (html, lines, bp.line_features(html, lines, counts), np.asarray(labels), words / max(words.sum(), 1.0))
    used = [k for k in keys if pages[k][1]]

    def stack(ks: list[str], extra: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
        xs = [np.hstack([pages[k][2], extra[k]]) if extra else pages[k][2] for k in ks]
        return np.vstack(xs), np.concatenate([pages[k][3] for k in ks]), np.concatenate([pages[k][4] for k in ks])

    x1, y1, w1 = stack(used)
    mean1, scale1 = x1.mean(0), x1.std(0) + 1e-9
    fold = {k: int(hashlib.sha1(k.encode()).hexdigest(), 16) % 2 for k in used}
    cross: dict[str, np.ndarray] = {}
    for f in (0, 1):
        xf, yf, wf = stack([k for k in used if fold[k] != f])
        b = fit(xf, yf, wf, mean1, scale1)
        for k in used:
            if fold[k] == f:
                cross[k] = bp.neighbour_features(bp.predict(pages[k][2], mean1, scale1, b))
    weights1 = fit(x1, y1, w1, mean1, scale1)
    x2, y2, w2 = stack(used, cross)
    mean2, scale2 = x2.mean(0), x2.std(0) + 1e-9
    weights2 = fit(x2, y2, w2, mean2, scale2)

    def model(threshold: float, max_unsure: float = 1.0) -> bp.LineModel:
        return bp.LineModel(mean1, scale1, weights1, mean2, scale2, weights2, threshold, max_unsure, "")

    def f1(threshold: float) -> float:
        out = {k: {"articleBody": bp.filter_lines(pages[k][0], "\n".join(pages[k][1]), model(threshold))[0]}
               for k in keys}  # fmt: skip
        return _f1(ev, truth, out)

    scores = {t: f1(t) for t in THRESHOLDS}
    threshold = max(THRESHOLDS, key=lambda t: (scores[t], -t))
    unsure = sorted(bp.filter_lines(pages[k][0], "\n".join(pages[k][1]), model(threshold))[1] for k in keys)
    max_unsure = float(unsure[int(len(unsure) * (1 - ESCALATE_SHARE))])
    for t in THRESHOLDS:
        print(f"threshold {t}: tune F1 {scores[t]:.4f}{'  (chosen)' if t == threshold else ''}")
    print(f"max_unsure {max_unsure:.4f}: {sum(u >= max_unsure for u in unsure)} of {len(keys)} tune pages escalate")
    print(f"{len(y1)} lines, {int(y1.sum())} labelled article, from {len(used)} pages")
    spec = {
        "about": "curaline extraction line filter; fit by benchmarks/fit_line_filter.py on the article-extraction "
                 "benchmark's pages whose key's md5 is even (MIT, scrapinghub)",
        "features": list(bp.LINE_FEATURES), "neighbour_features": list(bp.NEIGHBOUR_FEATURES),
        "threshold": threshold, "max_unsure": round(max_unsure, 6),
        **{name: [round(float(v), 8) for v in arr] for name, arr in (
            ("mean1", mean1), ("scale1", scale1), ("weights1", weights1),
            ("mean2", mean2), ("scale2", scale2), ("weights2", weights2))},
    }  # fmt: skip
    out = args.out or (bp.MODEL_PATH if args.write else None)
    if out is not None:
        out.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out}")


def _f1(ev, truth: dict, out: dict) -> float:  # type: ignore[no-untyped-def]
    """The benchmark's F1 without its bootstrap (n_bootstrap=0 divides by nothing useful)."""
    tp_fp_fns = [ev.string_shingle_matching(true=truth[k].get("articleBody", ""), pred=out[k]["articleBody"])
                 for k in truth]  # fmt: skip
    return float(ev.metrics_from_tp_fp_fns(tp_fp_fns)["f1"])


if __name__ == "__main__":
    main()
