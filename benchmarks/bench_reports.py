"""Benchmark a release and its compliance documents at corpus scale.

1. Writes a project over the 100k benchmark corpus (../shared/bench/corpus-100k) as three
   sources with different licences and provenance (shards 0-9 a public dataset, 10-14
   licensed, 15-19 synthetic), and one research release spec of all of them.
2. Runs `curaline run` on it (every stage, DVC tracking, lineage, the release and its
   three report assets), as an operator would, and times it.
3. Times `curaline report eu-ai-act | art10 | card [--format croissant] R` as compliance
   staff run them: a new process each call, Python start included, median of --calls.

Usage: python benchmarks/bench_reports.py [--keep DIR] [--reuse] [--calls 5]
Prints a Markdown table of the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "bench" / "corpus-100k"
CURALINE = Path(sys.executable).parent / "curaline"
RELEASE = "bench-research"

#: id -> (shard glob, licence, manifest extras)
SOURCES = {
    "tech-docs": ("0000[0-9].jsonl.gz", "MIT", {"obtained": "public-dataset", "collected": "2025-06-01",
                                                "license_url": "https://spdx.org/licenses/MIT.html",
                                                "domain": "docs"}),
    "vendor-manuals": ("0001[0-4].jsonl.gz", "LicenseRef-Vendor-Manuals", {
        "obtained": "licensed", "collected": "2025-07-15", "license_url": "https://example.com/vendor-agreement.pdf",
        "domain": "manuals"}),
    "generated-howtos": ("0001[5-9].jsonl.gz", "Apache-2.0", {
        "obtained": "synthetic", "collected": "2025-08-30", "domain": "howto",
        "synthetic": {"generator": "Qwen2.5-7B-Instruct", "terms_url": "https://www.apache.org/licenses/LICENSE-2.0"}}),
}  # fmt: skip


def write_project(root: Path) -> None:
    (root / "sources").mkdir(parents=True)
    (root / "releases").mkdir()
    for sid, (pattern, licence, extra) in SOURCES.items():
        manifest = {"id": sid, "description": f"benchmark corpus shards {pattern}", "location": str(CORPUS / pattern),
                    "format": "jsonl.gz", "kind": "document", "fields": {"id": "id", "text": "text"},
                    "license": licence, "personal_data": "expected", "languages": ["en"],
                    "owner": "bench@example.com", "legal_basis": "benchmark use", **extra}  # fmt: skip
        (root / "sources" / f"{sid}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    spec = {"name": RELEASE, "description": "All three benchmark sources, for research models.", "use": "research",
            "sources": "all", "languages": ["en"], "quality": "default", "dedup": True, "decontaminate": False,
            "mix": {"by": "source", "weights": {"tech-docs": 0.5, "vendor-manuals": 0.25, "generated-howtos": 0.25}},
            "splits": {"train": 0.98, "validation": 0.01, "test": 0.01, "seed": 1}}  # fmt: skip
    (root / "releases" / f"{RELEASE}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    # the vendor agreement allows research use: without this the licence gate blocks the release
    (root / "curaline.yaml").write_text(yaml.safe_dump({"license_classes": {"LicenseRef-Vendor-Manuals": "non-commercial"},
                                                        "ingest": {"allowed_roots": [str(CORPUS)]}}))  # fmt: skip


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return elapsed, res.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="build the project here and keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: time the reports of the project built there")
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"needs the benchmark corpus at {CORPUS}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="curaline-bench-reports-")) / "proj"
    rows: list[tuple[str, str]] = []
    if not (args.reuse and (root / "releases").is_dir()):
        if root.exists():
            shutil.rmtree(root)
        write_project(root)
        run_s, out = timed([str(CURALINE), "run", "--project", str(root)])
        print(out[-2500:])
        rows.append(("`curaline run`: 100k documents, 3 sources, every stage, DVC, lineage, release + 3 reports",
                     f"{run_s:.0f} s"))  # fmt: skip
    manifest = json.loads((root / "data" / "releases" / RELEASE / "manifest.json").read_text())
    rows.append(("release", f"{manifest['records']:,} records, {manifest['tokens']:,} tokens, "
                            f"{sum(1 for f in manifest['files'] if f['kind'])} shards"))  # fmt: skip
    base = [str(CURALINE), "report"]
    proj = ["--project", str(root)]
    for label, cmd in (("report eu-ai-act", [*base, "eu-ai-act", RELEASE, *proj]),
                       ("report eu-ai-act --format json", [*base, "eu-ai-act", RELEASE, "--format", "json", *proj]),
                       ("report art10", [*base, "art10", RELEASE, *proj]),
                       ("report card", [*base, "card", RELEASE, *proj]),
                       ("report card --format croissant", [*base, "card", RELEASE, "--format", "croissant", *proj]),
                       ("report eu-ai-act R@v1 (from the lineage history)", [*base, "eu-ai-act", f"{RELEASE}@v1", *proj])):  # fmt: skip
        times = []
        size = 0
        for _ in range(args.calls):
            elapsed, out = timed(cmd)
            times.append(elapsed)
            size = len(out.encode())
        rows.append((f"`curaline {label}`", f"median {statistics.median(times) * 1000:.0f} ms "
                                             f"(min {min(times) * 1000:.0f}), {size:,} bytes"))  # fmt: skip
    print("| what | figure |\n|---|---|")
    for what, figure in rows:
        print(f"| {what} | {figure} |")
    print(f"\nproject: {root}")


if __name__ == "__main__":
    main()
