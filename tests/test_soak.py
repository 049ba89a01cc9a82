"""Soak: 20 concurrent lineage queries for 60 s while `curaline run` writes (issue 17).

Every call must answer (exit 0, valid JSON) with whole results: the notes source always
has its 20 records, a traced record its origin, never a half-replaced file's rows.
Set CURALINE_SOAK_SECONDS to shorten it locally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests_support import make_project

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_concurrent_lineage_queries_while_a_run_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curaline.cli import run_pipeline

    project = make_project(tmp_path / "proj")
    env = {**os.environ, "DAGSTER_HOME": str(project.dagster_home), "PYTHONPATH": os.pathsep.join(
        [str(REPO), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    monkeypatch.setenv("DAGSTER_HOME", str(project.dagster_home))
    assert run_pipeline(project, echo=lambda _: None)
    root = project.root

    def lineage(*args: str) -> tuple[int, str, str]:
        res = subprocess.run([str(BIN / "curaline"), "lineage", *args, "--project", str(root), "--json"],
                             capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
        return res.returncode, res.stdout, res.stderr

    rc, out, err = lineage("sql", "SELECT min(doc_id) AS d FROM records WHERE source_id = 'notes'")
    assert rc == 0, err
    doc = json.loads(out)[0]["d"]

    # new input, so the run really rewrites outputs, ledger and events while we read
    more = root / "corpus" / "notes.jsonl"
    more.write_text(more.read_text() + "".join(f'{{"id": "m{i}", "text": "More note {i} here."}}\n' for i in range(30)))
    writer = subprocess.Popen([str(BIN / "curaline"), "run", "--project", str(root)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + float(os.environ.get("CURALINE_SOAK_SECONDS", "60"))
    failures: list[str] = []
    calls = [0]
    lock = threading.Lock()

    def worker(i: int) -> None:
        while time.monotonic() < deadline and not failures:
            kind = ("sources", "trace", "sql")[i % 3]
            if kind == "sources":
                rc, out, err = lineage("sources")
                reads = {r["source"]: r["read"] for r in json.loads(out)} if rc == 0 else {}
                ok = reads.get("notes") in (20, 50) and reads.get("chat") == 4
            elif kind == "trace":
                rc, out, err = lineage("trace", doc)
                ok = rc == 0 and json.loads(out)["doc_id"] == doc and json.loads(out)["origin"] is not None
            else:
                rc, out, err = lineage("sql", "SELECT count(*) AS n FROM records WHERE source_id = 'notes'")
                ok = rc == 0 and json.loads(out)[0]["n"] in (20, 50)  # before or after, never in between
            with lock:
                calls[0] += 1
                if not ok:
                    failures.append(f"{kind}: rc={rc} out={out[:300]!r} err={err[-500:]!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    output, _ = writer.communicate(timeout=600)
    assert not failures, failures[:3]
    assert calls[0] >= 20
    assert writer.returncode == 0, output[-3000:]
    rc, out, err = lineage("sql", "SELECT count(*) AS n FROM records WHERE source_id = 'notes'")
    assert rc == 0 and json.loads(out)[0]["n"] == 50
