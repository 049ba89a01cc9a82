"""Peak memory of ingesting one 200 MB JSON line between good ones (issue 17).

Writes a jsonl file (2 good records, one 200 MB record, 2 good records) to a temp folder,
ingests it with `ingest_source` and prints the quarantine reasons and the process's peak
RSS (ru_maxrss). Run it once per checkout to compare:

    PYTHONPATH=. python benchmarks/measure_oversize.py
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from curaline.ingest import ingest_source
from curaline.project import Project
from curaline.sources import parse_manifest

MB = 1 << 20


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sources").mkdir()
        good = [b'{"id": "g%d", "text": "A good record %d."}\n' % (i, i) for i in range(4)]
        with (root / "big.jsonl").open("wb") as fh:
            fh.writelines(good[:2])
            fh.write(b'{"id": "big", "text": "')
            chunk = b"x" * MB
            for _ in range(200):
                fh.write(chunk)
            fh.write(b'"}\n')
            fh.writelines(good[2:])
        (root / "sources" / "big.yaml").write_text(yaml.safe_dump({
            "id": "big", "location": "../big.jsonl", "format": "jsonl", "kind": "document", "fields": {"id": "id"},
            "license": "MIT", "obtained": "public-dataset"}))  # fmt: skip
        project = Project.at(root)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        stats = ingest_source(parse_manifest(root / "sources" / "big.yaml"), root / "r.parquet", root / "q.parquet",
                              project.config.ingest)  # fmt: skip
        elapsed = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        q = pq.read_table(root / "q.parquet", columns=["line", "reason", "detail"]).to_pylist()
        print(f"ingested {stats.ingested}, quarantined {q}")
        print(f"peak RSS {peak / 1024:.0f} MiB (before ingest {before / 1024:.0f} MiB), {elapsed:.1f} s")


if __name__ == "__main__":
    main()
