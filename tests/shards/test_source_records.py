"""The sharded per-source step end to end: `curaline run --workers 2` on a project whose source is
six shards; each asset keeps its own materialization, checks and OpenLineage events; a kill -9 in
the per-source phase resumes byte-identical; killed runs do not stay STARTED."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml
from shard_project import write_project

from curaline import stages
from curaline.cli import HOST_TAG, PID_TAG, fail_killed_runs, run_pipeline
from curaline.project import Project

CURALINE = Path(sys.executable).parent / "curaline"


def digests(root: Path, folder: str) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted((root / folder).rglob("*.parquet"))}  # fmt: skip


def release_md5s(root: Path) -> dict[str, str]:
    manifest = json.loads((root / "data" / "releases" / "r" / "manifest.json").read_text())
    return {f["path"]: f["md5"] for f in manifest["files"]}


def kill_when(root: Path, marker: str, env: dict[str, str]) -> None:
    """Run `curaline run` and kill -9 it as soon as it prints a line starting with marker (no sleep)."""
    proc = subprocess.Popen([str(CURALINE), "run", "--workers", "2", "--project", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(marker):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=300)
    assert proc.returncode == -9, f"the run ended before printing {marker!r}"


def dvc_outs(root: Path) -> dict[str, str]:
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    return {o["path"]: o["md5"] for name, s in lock.items() if name.startswith(stages.SOURCE_RECORDS) for o in s["outs"]}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("ran") / "p", release=True)
    env = {"DAGSTER_HOME": str(root / ".dagster"), "OPENLINEAGE_DISABLED": ""}
    old = {k: os.environ.get(k) for k in env}
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    os.environ.pop("OPENLINEAGE_DISABLED", None)
    try:
        assert run_pipeline(Project.at(root), workers=2, echo=lambda s: None)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return root


def test_each_sharded_asset_has_its_materialization_checks_and_lineage(ran: Path, shared_dir: Path) -> None:
    from curaline.lineage.validate import EventValidator

    with dg.DagsterInstance.from_config(str(ran / ".dagster")) as instance:
        for name in stages.SHARDED_STAGES:
            event = instance.get_latest_materialization_event(dg.AssetKey(name))
            assert event is not None and event.dagster_event is not None, name
            mat = event.dagster_event.step_materialization_data.materialization
            assert mat.partition == "web"
            folder = Path(mat.metadata["path"].value)
            assert folder == ran / "data" / name / "web" and len(list(folder.glob("shard-*.parquet"))) == 6
            assert pq.read_table(folder).num_rows == mat.metadata["dagster/row_count"].value
            records = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey(name), "raw_schema" if name == "raw_records" else
                                 "quarantine_schema" if name == "quarantined_records" else f"{name}_schema"), limit=1)
            assert records and records[0].evaluation is not None and records[0].evaluation.passed, name
    events = [json.loads(line) for line in (ran / "lineage" / "events" / "openlineage.jsonl").read_text().splitlines()]
    jobs = {(e["job"]["name"], e["eventType"]) for e in events}
    assert all((name, t) in jobs for name in stages.SHARDED_STAGES for t in ("START", "COMPLETE"))
    validator = EventValidator(shared_dir / "openlineage-spec")
    outputs = [e for e in events if e["job"]["name"] == "quality_filtered" and e["eventType"] == "COMPLETE"]
    assert outputs and not validator.validate(outputs[0])
    (dataset,) = outputs[0]["outputs"]
    assert Path(dataset["name"]) == ran / "data" / "quality_filtered" / "web"  # the folder the event names exists
    assert dataset["facets"]["dataQualityMetrics"]["fileCount"] == 6


def test_lineage_sources_counts_the_shards(ran: Path) -> None:
    out = subprocess.run([str(CURALINE), "lineage", "sources", "--json", "--project", str(ran)], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout  # fmt: skip
    (web,) = [r for r in json.loads(out) if r["source"] == "web"]
    assert web["ingested"] == pq.read_table(ran / "data" / "raw_records" / "web").num_rows == 230
    assert web["quarantined"] == 10 and web["quarantined_by_reason"] == {"malformed_json": 5, "duplicate_source_id": 5}


def test_workers_and_lock_options_are_in_the_help() -> None:
    out = subprocess.run([str(CURALINE), "run", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--workers" in out and "--wait" in out


def test_kill_9_in_the_per_source_phase_resumes_byte_identical(ran: Path, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", release=True)
    env = {**os.environ, "DAGSTER_HOME": str(root / ".dagster"), "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("OPENLINEAGE_DISABLED", None)
    kill_when(root, "per-source shards: 2/", env)  # two shards committed: the progress line says so
    committed = len(list((root / ".curaline" / "shards" / "web").glob("shard-*.json")))
    assert 2 <= committed < 6
    rerun = subprocess.run([str(CURALINE), "run", "--workers", "2", "--project", str(root)], capture_output=True,
                           text=True, env=env, timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "already committed" in rerun.stderr or "already committed" in rerun.stdout
    for folder in ("data/raw_records", "data/quarantined_records", "data/normalized", "data/toxicity_screened",
                   "data/deduplicated", "data/decontaminated"):
        assert digests(root, folder) == digests(ran, folder), folder
    assert dvc_outs(root) == dvc_outs(ran)
    assert release_md5s(root) == release_md5s(ran)
    for stage in ("raw_records", "normalized", "toxicity_screened"):
        names = [p.name for p in (root / "lineage/ledger" / f"stage={stage}" / "partition=web").iterdir()]
        assert sorted(n.split(".shard=")[1] for n in names) == [f"{i:05d}-of-00006.parquet" for i in range(6)]


def test_kill_9_during_dedup_and_during_the_release_resumes_byte_identical(ran: Path, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", release=True)
    env = {**os.environ, "DAGSTER_HOME": str(root / ".dagster"), "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("OPENLINEAGE_DISABLED", None)
    kill_when(root, "  web ", env)  # the per-source run is done: the global run (dedup) starts now
    kill_when(root, "  global stages", env)  # dedup done: the release run starts now
    rerun = subprocess.run([str(CURALINE), "run", "--workers", "2", "--project", str(root)], capture_output=True,
                           text=True, env=env, timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for folder in ("data/toxicity_screened", "data/deduplicated", "data/decontaminated", "data/releases"):
        assert digests(root, folder) == digests(ran, folder), folder
    assert dvc_outs(root) == dvc_outs(ran) and release_md5s(root) == release_md5s(ran)
    # what the killed runs left in their spill folders (DuckDB's files, the release's parts) is gone
    spill = root / ".curaline" / "tmp"
    leftovers = [p.relative_to(spill) for p in spill.rglob("*") if p.is_file() and p.name != ".lock"] if spill.exists() else []
    assert leftovers == []
    with dg.DagsterInstance.from_config(str(root / ".dagster")) as instance:  # no run left STARTED by the kills
        assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))


def test_runs_a_killed_run_left_started_are_marked_failed(tmp_path: Path) -> None:
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live_pid = os.getpid()
    with dg.DagsterInstance.ephemeral() as instance:
        job = dg.define_asset_job("j", selection="a").resolve(
            asset_graph=dg.Definitions(assets=[dg.asset(name="a")(lambda: None)]).resolve_asset_graph())
        runs = {}
        for name, pid in (("killed", dead.pid), ("alive", live_pid)):
            run = instance.create_run_for_job(job, tags={PID_TAG: str(pid), HOST_TAG: socket.gethostname()})
            instance.handle_run_event(run.run_id, dg.DagsterEvent(event_type_value="PIPELINE_START", job_name="j"))
            runs[name] = run.run_id
        said: list[str] = []
        assert fail_killed_runs(instance, said.append) == 1
        assert instance.get_run_by_id(runs["killed"]).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(runs["alive"]).status == dg.DagsterRunStatus.STARTED
        assert "was left STARTED by a killed run: marked failed" in said[0]


def test_trace_and_the_release_read_the_ledger_of_every_shard(ran: Path) -> None:
    """The current ledger of a sharded stage is one file per shard: a record dropped in any shard
    traces as dropped (not as history), and the release's reports count every shard's drops."""
    import duckdb

    from curaline.lineage.queries import trace
    from curaline.records import make_doc_id, own_key
    from curaline.reports.release_data import load_release

    project = Project.at(ran)
    for i in (5, 67, 191):  # "too short" documents in shards 0, 1 and 4: dropped by the quality rules
        story = trace(project, make_doc_id("web", own_key(f"d{i}")))
        (quality,) = [s for s in story["stages"] if s["stage"] == "quality_filtered"]
        assert quality["status"] == "dropped" and quality["events"][0]["action"] == "drop", (i, quality)
        assert not [h for h in story["history"] if h["stage"] == "quality_filtered"]
    folder = ran / "lineage" / "ledger" / "stage=quality_filtered" / "partition=web"
    with duckdb.connect() as con:
        (dropped,) = con.execute("SELECT count(DISTINCT doc_id) FROM read_parquet(?) WHERE action = 'drop'",
                                 [str(folder / "*.parquet")]).fetchone()  # fmt: skip
    assert dropped >= 6  # one short document per 31 lines, in several shards
    assert load_release(project, "r").ledger_counts()["quality_filtered"]["removed"] == dropped
