"""The driver's peak RSS per Dagster step of one `curaline run` on an existing project.

Runs `curaline run --workers 2 --project DIR`, samples the driver's RSS every 50 ms, then
attributes the samples to the steps by the STEP_START / STEP_SUCCESS times in the project's
Dagster event log. On a project whose shards are all committed (e.g. one kept by
`bench_million.py --keep`) this reruns the per-source record-keeping, the global stages and
the release: where the driver's memory goes, step by step.

    PYTHONPATH=. .venv/bin/python benchmarks/driver_rss_by_step.py DIR
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    root = Path(sys.argv[1]).resolve()
    curaline = Path(sys.executable).parent / "curaline"
    proc = psutil.Popen([str(curaline), "run", "--workers", "2", "--project", str(root)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    samples: list[tuple[float, float]] = []
    while proc.poll() is None:
        try:
            samples.append((time.time(), proc.memory_info().rss / 2**20))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    if proc.returncode != 0 or not samples:
        raise SystemExit(f"curaline run failed ({proc.returncode})")
    t0 = samples[0][0]
    steps = []
    for db in sorted((root / ".dagster" / "history" / "runs").glob("*-*.db")):
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT timestamp, step_key, dagster_event_type FROM event_logs WHERE dagster_event_type "
                               "IN ('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') ORDER BY id").fetchall()  # fmt: skip
        started: dict[str, float] = {}
        for stamp, key, kind in rows:
            at = dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC).timestamp()
            if kind == "STEP_START":
                started[key] = at
            elif key in started and started[key] >= t0 - 1:
                steps.append((started.pop(key), at, key))
    print(f"run {samples[-1][0] - t0:.1f} s, driver peak {max(r for _, r in samples):,.0f} MiB\n")
    print("| step | s | RSS at start, MiB | peak, MiB |\n|---|---:|---:|---:|")
    for start, end, key in sorted(steps):
        inside = [r for t, r in samples if start <= t <= end]
        if inside:
            print(f"| {key} | {end - start:.1f} | {inside[0]:,.0f} | {max(inside):,.0f} |")


if __name__ == "__main__":
    main()
