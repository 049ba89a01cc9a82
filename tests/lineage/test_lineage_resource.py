"""The Dagster resource in real materializations, used exactly as the assets will use it."""

# no `from __future__ import annotations`: Dagster reads the context annotation at definition time

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from lineage_fixtures import make_project, read_jsonl

from assets.common import OWNER, SOURCING, schema_check_result, source_partitions
from curaline.ingest import ingest_source
from curaline.lineage.emitter import default_events_file
from curaline.lineage.validate import EventValidator
from curaline.project import Project
from curaline.schemas import RECORD_MODELS, QuarantineRow, SourceCatalogRow, validate_file
from curaline.sources import catalog_table, load_manifests
from curaline.store import file_digest, write_parquet
from resources.lineage import LineageResource
from resources.project import ProjectResource

RAW = dg.AssetKey("raw_records")
QUARANTINE = dg.AssetKey("quarantined_records")


@dg.asset(group_name=SOURCING, owners=[OWNER], description="Every source manifest, validated.")
def source_catalog(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    proj = project.project
    path = proj.stage_path("source_catalog")
    with lineage.materialization(context) as run:
        manifests, _ = load_manifests(proj.sources_dir, strict=False)
        write_parquet(path, catalog_table(manifests))
        check = schema_check_result(validate_file(path, SourceCatalogRow), "catalog_schema")
        run.output(path, asset_key=context.asset_key, model=SourceCatalogRow, licence_mix=False)
        run.checks(path, [check])
    return dg.MaterializeResult(data_version=dg.DataVersion(file_digest(path)))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(RAW, group_name=SOURCING, owners=[OWNER], deps=["source_catalog"],
                     description="The source's records as read from its files."),
        dg.AssetSpec(QUARANTINE, group_name=SOURCING, owners=[OWNER], deps=["source_catalog"],
                     description="Input that could not become a record."),
    ],
    check_specs=[dg.AssetCheckSpec("read_balance", asset=RAW, blocking=True)],
    partitions_def=source_partitions,
)  # fmt: skip
def raw_records(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    # the usage example handed to the lead, verbatim in spirit: see the final report
    proj = project.project
    manifest = project.manifest(context.partition_key)
    records_path = proj.stage_path("raw_records", manifest.id) / "shard-00000.parquet"  # a one-shard folder
    quarantine_path = proj.stage_path("quarantined_records", manifest.id) / "shard-00000.parquet"
    model = RECORD_MODELS[manifest.kind]
    with lineage.materialization(context) as run:
        run.source(manifest)
        if manifest.id == "broken":
            raise RuntimeError("cannot ingest this source")
        stats = ingest_source(manifest, records_path, quarantine_path, proj.config.ingest)
        raw_version, quarantine_version = file_digest(records_path), file_digest(quarantine_path)
        balance = dg.AssetCheckResult(check_name="read_balance", asset_key=RAW, passed=stats.balanced,
                                      metadata={"read": stats.read, "ingested": stats.ingested})  # fmt: skip
        run.output(records_path, asset_key=RAW, model=model, version=raw_version, rows=stats.ingested,
                   rows_in=stats.read, quarantined=dict(stats.quarantined), source=manifest)  # fmt: skip
        run.output(quarantine_path, asset_key=QUARANTINE, model=QuarantineRow, version=quarantine_version,
                   rows=stats.quarantined_total, licence_mix=False)  # fmt: skip
        run.checks(records_path, [balance])
    yield dg.MaterializeResult(asset_key=RAW, data_version=dg.DataVersion(raw_version))
    yield dg.MaterializeResult(asset_key=QUARANTINE, data_version=dg.DataVersion(quarantine_version))
    yield balance


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    yield make_project(tmp_path / "proj")


def resources(project: Project, **kwargs: object) -> dict[str, object]:
    proj = ProjectResource(root=str(project.root))
    return {"project": proj, "lineage": LineageResource(project=proj, **kwargs)}


def test_materializations_emit_valid_events_parented_to_the_dagster_run(project: Project, shared_dir: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("sources", ["notes", "chat"])
    catalog = dg.materialize([source_catalog], resources=resources(project), instance=instance)
    raw = dg.materialize([raw_records], partition_key="chat", resources=resources(project), instance=instance,
                         selection=[RAW, QUARANTINE])  # fmt: skip
    assert catalog.success and raw.success
    events = list(read_jsonl(default_events_file(project)))
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("source_catalog", "START"), ("source_catalog", "COMPLETE"), ("raw_records", "START"), ("raw_records", "COMPLETE")]  # fmt: skip
    done = events[-1]
    assert done["run"]["facets"]["parent"]["run"]["runId"] == raw.run_id
    assert done["run"]["facets"]["parent"]["job"]["name"] == "__ephemeral_asset_job__"
    assert {t["key"]: t["value"] for t in done["run"]["facets"]["tags"]["tags"]}["partition"] == "chat"
    assert done["run"]["facets"]["processing_engine"]["version"] == dg.__version__
    # inputs: the upstream asset's file (found from the asset's deps) and the source's own file
    assert [i["name"] for i in done["inputs"]] == [str(project.stage_path("source_catalog")),
                                                   str(project.root / "corpus" / "chat.jsonl")]  # fmt: skip
    assert done["inputs"][0]["facets"]["version"] == {**done["inputs"][0]["facets"]["version"],
                                                      "datasetVersion": events[1]["outputs"][0]["facets"]["version"]["datasetVersion"]}  # fmt: skip
    raw_out, quarantine_out = done["outputs"]
    assert raw_out["facets"]["documentation"]["description"] == "The source's records as read from its files."
    assert raw_out["facets"]["ownership"]["owners"] == [{"name": "team:data-curation", "type": "OWNER"}]
    assert raw_out["facets"]["dataQualityAssertions"]["assertions"] == [
        {"assertion": "read_balance", "name": "read_balance", "success": True, "severity": "error"}]  # fmt: skip
    assert quarantine_out["facets"]["documentation"]["description"] == "Input that could not become a record."
    spec = shared_dir / "openlineage-spec"
    if spec.is_dir():
        validator = EventValidator(spec)
        assert [validator.validate(e) for e in events] == [[], [], [], []]


def test_a_failing_asset_emits_fail_and_the_run_fails(project: Project) -> None:
    (project.sources_dir / "broken.yaml").write_text((project.sources_dir / "notes.yaml").read_text().replace(
        "id: notes", "id: broken"))  # fmt: skip
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("sources", ["broken"])
    result = dg.materialize([raw_records], partition_key="broken", resources=resources(project), instance=instance,
                            selection=[RAW, QUARANTINE], raise_on_error=False)  # fmt: skip
    assert not result.success
    start, fail = read_jsonl(default_events_file(project))
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert fail["run"]["facets"]["errorMessage"]["message"] == "RuntimeError: cannot ingest this source"
    assert fail["outputs"] == []


def test_disabled_lineage_emits_nothing_and_the_asset_still_runs(project: Project) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("sources", ["notes"])
    result = dg.materialize([raw_records], partition_key="notes", resources=resources(project, enabled=False),
                            instance=instance, selection=[RAW, QUARANTINE])  # fmt: skip
    assert result.success
    assert not default_events_file(project).exists() and not (project.lineage_dir / "events").exists()
