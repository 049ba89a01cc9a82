"""Peak memory of ingesting a large WARC.gz: generated here, read by curaline.ingest, deleted after.

The file mixes what a real crawl holds: HTML pages (about a tenth of the bytes), large
binary responses (images, archives: incompressible, most of the bytes), redirects, and a
page over the payload cap. Peak RSS is the ingesting process's own (getrusage), imports
included; the generator runs in another process.

    nice -n 10 .venv/bin/python benchmarks/bench_warc_memory.py --gb 1.0 [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = ("river stone garden bridge market lantern harbour meadow orchard valley winter library council "
         "festival recipe journey station repair museum season village morning evening weather").split()  # fmt: skip


def generate(path: Path, target: int, seed: int = 1) -> dict[str, int]:
    from curaline.web.warcfile import Record, http_response, warcinfo, write_warc

    rng = random.Random(seed)
    counts = {"pages": 0, "binary": 0, "redirects": 0, "oversize": 0}
    with path.open("wb") as fh:
        size = write_warc(fh, [warcinfo("bench", "2024-01-01T00:00:00Z")])
        n = 0
        while size < target:
            n += 1
            date = f"2024-01-{1 + n % 28:02d}T10:{n % 60:02d}:00Z"
            if n % 40 == 0:  # a 1-8 MB binary response: incompressible
                body = rng.randbytes(rng.randint(1, 8) * 1024 * 1024)
                rec = Record(f"https://cdn{n % 50}.example/f{n}.bin", date,
                             http_response(200, [("Content-Type", "application/octet-stream")], body))
                counts["binary"] += 1
            elif n % 97 == 0:
                rec = Record(f"https://site{n % 300}.example/old{n}", date,
                             http_response(301, [("Location", "/new"), ("Content-Type", "text/html")], b""))
                counts["redirects"] += 1
            elif n == 5001:  # one page over the 16 MiB payload cap
                rec = Record("https://huge.example/", date, http_response(
                    200, [("Content-Type", "text/html")], b"<html><body>" + b"<p>x</p>" * (3 * 1024 * 1024)))
                counts["oversize"] += 1
            else:
                paras = "".join("<p>" + " ".join(rng.choices(WORDS, k=rng.randint(40, 120))) + ".</p>"
                                for _ in range(rng.randint(5, 25)))  # fmt: skip
                body = (f"<!doctype html><html><head><title>Page {n}</title></head><body><nav><a href='/'>Home</a>"
                        f"</nav><article><h1>Page {n}</h1>{paras}</article><footer>(c)</footer></body></html>").encode()
                rec = Record(f"https://site{n % 300}.example/p{n}", date,
                             http_response(200, [("Content-Type", "text/html; charset=utf-8")], body))
                counts["pages"] += 1
            size += write_warc(fh, [rec])
    return counts


def ingest(path: Path) -> None:
    """Child process: ingest the file as a warc source; print counts, seconds and peak RSS."""
    import yaml

    from curaline.ingest import ingest_source
    from curaline.sources import parse_manifest

    folder = path.parent
    manifest = folder / "big.yaml"
    manifest.write_text(yaml.safe_dump({
        "id": "big", "location": path.name, "format": "warc", "kind": "document", "license": "CC-BY-4.0",
        "obtained": "web-crawl", "crawl": {"crawler": "b", "user_agent": "b", "respects_robots_txt": True,
                                           "tdm_opt_out": "honoured", "period_start": "2024-01-01",
                                           "period_end": "2024-01-31"}}))  # fmt: skip
    start = time.perf_counter()
    stats = ingest_source(parse_manifest(manifest), folder / "records.parquet", folder / "quarantine.parquet")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"read {stats.read}, ingested {stats.ingested}, quarantined {dict(stats.quarantined)}, "
          f"skipped {dict(stats.skipped)}; {seconds:.1f} s; peak RSS {peak:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.0, help="compressed size to generate (GB, 10^9 bytes)")
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        ingest(args.child)
        return
    folder = Path(tempfile.mkdtemp(prefix="curaline-warc-bench-"))
    path = folder / "big.warc.gz"
    try:
        start = time.perf_counter()
        counts = generate(path, int(args.gb * 1e9))
        print(f"generated {path.stat().st_size / 1e9:.2f} GB ({counts}) in {time.perf_counter() - start:.0f} s", flush=True)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        subprocess.run([sys.executable, __file__, "--child", str(path)], check=True, env=env)
    finally:
        if not args.keep:
            for p in folder.iterdir():
                p.unlink()
            folder.rmdir()


if __name__ == "__main__":
    main()
