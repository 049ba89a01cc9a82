"""Main-content extraction: quality and speed of every extractor, in one run.

Quality is the article-extraction benchmark's own metric (its evaluate.py: shingle
F1/precision/recall over 181 real pages, ../shared/data/article-extraction-benchmark);
speed is pages per CPU second on one core (CPU time, so a shared machine's load does
not move it much), HTML decoding excluded (done once, as ingest does, with
curaline.web.reader.decode). Every extractor sees the same pages in the same process.

    nice -n 10 .venv/bin/python benchmarks/bench_extract.py [--repeat 2] [--split report]

`--split tune|report` keeps the pages whose key's md5 is even (tune: what the line filter,
curaline/web/line_filter.json, and the "score" signal were fit on) or odd (report: held out).
A cascade's "sent to trafilatura" counts the pages whose text trafilatura made.
Speed is reported as CPU pages/s and wall pages/s, both on one core.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curaline.web.extract import ExtractConfig, extract  # noqa: E402
from curaline.web.reader import decode  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "article-extraction-benchmark"


def load_evaluate(folder: Path):
    spec = importlib.util.spec_from_file_location("aeb_evaluate", folder / "evaluate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def trafilatura_defaults(html: str) -> str:
    """trafilatura exactly as its README calls it: the reference the goal names."""
    import trafilatura

    return trafilatura.extract(html) or ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--repeat", type=int, default=1, help="passes over the pages per extractor (speed only)")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--split", choices=("all", "tune", "report"), default="all",
                    help="the pages whose key's md5 is even (tune) or odd (report, held out from the score's fit)")
    args = ap.parse_args()
    if not (args.data / "ground-truth.json").exists():
        sys.exit(f"needs the benchmark at {args.data} (../shared/data/article-extraction-benchmark)")
    ev = load_evaluate(args.data)
    truth = json.loads((args.data / "ground-truth.json").read_text(encoding="utf-8"))
    if args.split != "all":
        parity = 0 if args.split == "tune" else 1
        truth = {k: v for k, v in truth.items() if int(hashlib.md5(k.encode()).hexdigest(), 16) % 2 == parity}
    pages: dict[str, str] = {}
    for key in truth:
        html, _ = decode(gzip.decompress((args.data / "html" / f"{key}.html.gz").read_bytes()), None)
        assert html is not None, key
        pages[key] = html

    base = ExtractConfig()
    cascades = {
        "cascade signal=lines (default)": base,
        "cascade signal=lines, max_unsure=0.3": replace(base, max_unsure=0.3),
        "cascade signal=markup, min_markers=3": replace(base, signal="markup"),
        "cascade signal=score": replace(base, signal="score"),
        "cascade signal=score, no line filter (before)": replace(base, signal="score", line_filter=False),
    }
    runs = {
        "trafilatura (library defaults)": lambda h: (trafilatura_defaults(h), "trafilatura"),
        "trafilatura (curaline settings: fast, no tables)": lambda h: extract(h, replace(base, extractor="trafilatura")),
        "resiliparse (main content, no line filter)": lambda h: extract(
            h, replace(base, extractor="resiliparse", line_filter=False)),
        "resiliparse + line filter": lambda h: extract(h, replace(base, extractor="resiliparse")),
        **{name: (lambda c: lambda h: extract(h, c))(config) for name, config in cascades.items()},
    }  # fmt: skip
    results = {}
    for name, fn in runs.items():
        out: dict[str, tuple[str, str]] = {}
        start, wall = time.process_time(), time.perf_counter()
        for _ in range(args.repeat):
            out = {k: fn(h) for k, h in pages.items()}
        cpu, wall = time.process_time() - start, time.perf_counter() - wall
        metrics = ev.evaluate(truth, {k: {"articleBody": v[0]} for k, v in out.items()}, 1000)
        escalated = sum(v[1] == "trafilatura" for v in out.values()) if name in cascades else None
        results[name] = {"f1": metrics["f1"], "f1_std": metrics["f1_std"], "precision": metrics["precision"],
                         "recall": metrics["recall"], "pages_per_s": len(pages) * args.repeat / cpu,
                         "wall_pages_per_s": len(pages) * args.repeat / wall,
                         "escalated": escalated}  # fmt: skip
        print(f"{name:50s} F1 {metrics['f1']:.3f}  P {metrics['precision']:.3f}  R {metrics['recall']:.3f}  "
              f"{results[name]['pages_per_s']:7.1f} pages/s CPU {results[name]['wall_pages_per_s']:7.1f} wall",
              flush=True)  # fmt: skip
    ref = results["trafilatura (library defaults)"]
    print(f"\n{len(pages)} pages (split: {args.split}), {args.repeat} pass(es) per extractor, one process")
    print("\n| extractor | F1 (± bootstrap sd) | precision | recall | pages/s CPU | pages/s wall | vs trafilatura defaults "
          "(CPU / wall) | pages sent to trafilatura |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        esc = f"{r['escalated']} of {len(pages)}" if r["escalated"] is not None else "—"
        print(f"| {name} | {r['f1']:.3f} ± {r['f1_std']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{r['pages_per_s']:.1f} | {r['wall_pages_per_s']:.1f} | {r['pages_per_s'] / ref['pages_per_s']:.1f}x / "
              f"{r['wall_pages_per_s'] / ref['wall_pages_per_s']:.1f}x | {esc} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
