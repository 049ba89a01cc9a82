"""The Dagster side for real: in-process runs against a DAGSTER_HOME, CLI selection, loading."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from tests_support import make_project

from curaline.project import Project

REPO = Path(__file__).resolve().parents[1]

BIN = Path(sys.executable).parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    proj = make_project(tmp_path / "proj")
    monkeypatch.setenv("DAGSTER_HOME", str(proj.dagster_home))
    monkeypatch.setenv("CURALINE_PROJECT", str(proj.root))
    return proj


def test_run_pipeline_materializes_every_source_into_the_instance(project: Project) -> None:
    from curaline.cli import ingest_summary, run_pipeline

    assert run_pipeline(project, echo=lambda _: None)
    summary = {r["source"]: r for r in ingest_summary(project)}
    assert summary["notes"]["read"] == 20 and summary["notes"]["quarantined"] == 0
    assert summary["chat"]["by_reason"] == {"malformed_json": 1, "empty_text": 1}
    assert summary["chat"]["kept"] == 2

    with dg.DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions("sources")) == ["chat", "notes"]
        events = instance.fetch_materializations(dg.AssetKey("raw_records"), limit=10).records
        by_partition = {e.partition_key: e.asset_materialization for e in events}
        meta = by_partition["chat"].metadata
        assert meta["dagster/row_count"].value == 2
        assert meta["records_read"].value == 4 and meta["records_quarantined"].value == 2
        assert {r.data["reason"] for r in meta["quarantined_by_reason"].value.records} == {"malformed_json", "empty_text"}
        assert meta["license"].value == "CC-BY-4.0"
        assert "data:image/svg+xml;base64," in meta["report"].value
        assert [c.name for c in meta["dagster/column_schema"].schema.columns][:4] == [
            "doc_id", "source_id", "license", "content_hash",
        ]  # fmt: skip
        key = dg.AssetCheckKey(dg.AssetKey("raw_records"), "read_balance")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        evaluation = record.event.dagster_event.asset_check_evaluation_data  # evaluated, stored, and passed
        assert evaluation.passed and evaluation.metadata["read"].value > 0
        catalog = instance.fetch_materializations(dg.AssetKey("source_catalog"), limit=1).records[0]
        assert catalog.asset_materialization.metadata["dagster/row_count"].value == 2

    # a rerun is idempotent: same bytes, same ids
    def shard_bytes() -> dict[str, bytes]:  # the output of a per-record stage is a folder of shards
        return {p.name: p.read_bytes() for p in project.stage_path("raw_records", "notes").glob("*.parquet")}

    before = shard_bytes()
    assert before and run_pipeline(project, echo=lambda _: None)
    assert shard_bytes() == before


def test_a_run_without_any_valid_manifest_is_refused_with_every_problem(project: Project) -> None:
    """With some valid sources the run goes on without the invalid ones (tests/test_hostile_inputs.py)."""
    from curaline.cli import UserError, run_pipeline

    for path in project.sources_dir.glob("*.yaml"):
        path.unlink()
    (project.sources_dir / "bad.yaml").write_text("id: bad\nlocation: x\nformat: xml\nkind: document\nlicense: Nope\n")
    with pytest.raises(UserError) as err:
        run_pipeline(project)
    message = str(err.value.format_message())
    assert "bad.yaml: format" in message and "bad.yaml: license" in message and "bad.yaml: obtained" in message


def test_assets_have_description_group_owner_and_schema_checks() -> None:
    import definitions

    defs = definitions.build_definitions(Project.at(REPO))
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert node.group_name and node.group_name != "default", key
        assert node.owners, key
        assert node.code_version, key
    check_names = {k.name for k in graph.asset_check_keys}
    assert {"raw_schema", "read_balance", "quarantine_schema", "catalog_schema"} <= check_names


def dagster_cli(project: Project, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CURALINE_PROJECT": str(project.root), "DAGSTER_HOME": str(project.dagster_home)}
    project.dagster_home.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(BIN / "dagster"), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_definitions_load_as_dagster_dev_would(project: Project) -> None:
    proc = dagster_cli(project, "definitions", "validate", "-w", "workspace.yaml")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "curaline" in proc.stdout + proc.stderr


def test_string_asset_selection_works_from_the_cli(project: Project) -> None:
    """Guards the antlr conflict (dagster#27487): dvc pulls antlr 4.9, which breaks --select."""
    proc = dagster_cli(project, "asset", "materialize", "-m", "definitions", "--select", "source_catalog")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert pq.read_table(project.stage_path("source_catalog")).num_rows == 2
    proc = dagster_cli(project, "asset", "materialize", "-m", "definitions", "--select", "key:source_catalog or group:nothing")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_curaline_run_command_prints_the_summary(project: Project) -> None:
    from click.testing import CliRunner

    from curaline.cli import main

    result = CliRunner().invoke(main, ["run", "--project", str(project.root)])
    assert result.exit_code == 0, result.output
    assert "TOTAL" in result.output and "malformed_json=1" in result.output
    check = CliRunner().invoke(main, ["sources", "check", "--project", str(project.root)])
    assert check.exit_code == 0 and "2 valid manifest(s), 0 invalid" in check.output
