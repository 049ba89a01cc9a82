"""End to end with the real daemon: `dagster-daemon run` in a temporary DAGSTER_HOME builds a
small project from nothing, then picks up a dropped manifest and publishes a release with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from tests_support import jsonl, make_project, prose, spec, stop_process_group

from curaline.project import Project

#: minutes, not seconds: the fast set (`pytest -m "not slow"`) leaves them out, CI runs them
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def release_sources(project: Project, version: int) -> set[str]:
    path = project.lineage_dir / "releases" / "release=main" / f"v{version}.parquet"
    return set(pq.read_table(path, columns=["source_id"])["source_id"].to_pylist()) if path.exists() else set()


def runs_summary(home: Path) -> str:
    """Every run the daemon launched, for a failure message."""
    code = ("import dagster as dg\nwith dg.DagsterInstance.get() as i:\n"
            "    print([(r.job_name, r.tags.get('dagster/partition'), r.status.value) for r in i.get_runs()])")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "DAGSTER_HOME": str(home)},
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    return out.stdout + out.stderr[-2000:]


def wait_for(what: str, done: Callable[[], bool], seconds: float, proc: subprocess.Popen, home: Path, log: Path) -> float:
    start = time.monotonic()
    while not done():
        if proc.poll() is not None or time.monotonic() - start > seconds:
            pytest.fail(f"{what}: not within {seconds:.0f} s (daemon exit code {proc.poll()})\n"
                        f"runs: {runs_summary(home)}\ndaemon log (tail):\n{log.read_text()[-4000:]}")  # fmt: skip
        time.sleep(1)
    return time.monotonic() - start


def test_the_daemon_builds_the_project_then_publishes_a_dropped_source(tmp_path: Path) -> None:
    from curaline.dvc_cli import sync_project
    from curaline.versioning import ensure_repo

    project = make_project(tmp_path / "proj")
    (project.root / "corpus" / "notes.jsonl").write_text(jsonl([prose(i) for i in range(20)], ids="n"))
    (project.root / "releases").mkdir()
    main = spec("main", "all", {"notes": 1, "chat": 1, "more": 1})
    (project.root / "releases" / "main.yaml").write_text(yaml.safe_dump(main))
    ensure_repo(project)
    sync_project(project)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    log = tmp_path / "daemon.log"
    env = {**os.environ, "DAGSTER_HOME": str(home), "CURALINE_PROJECT": str(project.root),
           "CURALINE_SENSOR_INTERVAL": "3", "CURALINE_SENSOR_EXECUTOR": "in_process"}  # fmt: skip

    def restore_signals() -> None:  # background shells may hand down ignored SIGINT/SIGTERM
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    with log.open("w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=restore_signals)  # fmt: skip
    try:
        built = wait_for("the first release from the sensors alone", lambda: release_sources(project, 1) == {"chat", "notes"},
                         240, proc, home, log)  # fmt: skip

        (project.root / "corpus" / "more.jsonl").write_text(jsonl([prose(1000 + i, 140) for i in range(10)]))
        (project.sources_dir / "more.yaml").write_text(yaml.safe_dump({
            "id": "more", "location": "../corpus/more.jsonl", "format": "jsonl", "kind": "document",
            "license": "CC-BY-4.0", "obtained": "public-dataset"}))  # fmt: skip
        picked = wait_for("a new release version with the dropped source", lambda: "more" in release_sources(project, 2),
                          150, proc, home, log)  # fmt: skip
        manifest = json.loads((project.data_dir / "releases" / "main" / "manifest.json").read_text())
        assert manifest["version"] == 2 and "more" in {s["id"] for s in manifest["sources"]}
        print(f"daemon: first release after {built:.0f} s, the dropped source released after {picked:.0f} s")
    finally:
        stop_process_group(proc)
