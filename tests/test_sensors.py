"""Sensors evaluated against a real DagsterInstance, their requests executed for real."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
import yaml
from tests_support import make_project

from curaline.project import Project
from resources.project import ProjectResource


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    project = make_project(tmp_path / "proj")
    monkeypatch.setenv("CURALINE_PROJECT", str(project.root))
    import definitions

    defs = definitions.build_definitions(project)
    with dg.instance_for_test() as instance:
        yield project, defs, instance


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def("source_sensor")
    resources = {"project": ProjectResource(root=os.environ["CURALINE_PROJECT"])}
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources)
    result = sensor(ctx)
    return result


def apply(defs: dg.Definitions, instance: dg.DagsterInstance, result: dg.SensorResult) -> list[str]:
    """Do what the daemon does with a sensor result: add partitions, launch the runs."""
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    launched = []
    for run in result.run_requests or []:
        job = defs.resolve_job_def(run.job_name)
        assert job.execute_in_process(instance=instance, partition_key=run.partition_key).success
        launched.append(run.partition_key or run.job_name)
    return launched


def test_new_and_changed_sources_request_only_their_partition(setup) -> None:
    project, defs, instance = setup
    first = tick(defs, instance, None)
    assert sorted(apply(defs, instance, first)) == ["catalog_job", "chat", "notes"]
    assert sorted(instance.get_dynamic_partitions("sources")) == ["chat", "notes"]

    second = tick(defs, instance, first.cursor)
    assert not second.run_requests and "no new or changed source" in second.skip_reason.skip_message

    # touching a file without changing its content is not a change
    notes = project.root / "corpus" / "notes.jsonl"
    notes.write_bytes(notes.read_bytes())
    assert not tick(defs, instance, second.cursor).run_requests

    # a content change reruns only that source
    notes.write_text(notes.read_text() + '{"id": "n99", "text": "A late note."}\n')
    third = tick(defs, instance, second.cursor)
    assert [r.partition_key for r in third.run_requests] == ["notes"]
    apply(defs, instance, third)
    assert Project.at(project.root).stage_path("raw_records", "notes").exists()

    # a new manifest adds a partition and requests its run
    (project.root / "corpus" / "more.jsonl").write_text('{"text": "More text."}\n')
    (project.sources_dir / "more.yaml").write_text(yaml.safe_dump({
        "id": "more", "location": "../corpus/more.jsonl", "format": "jsonl", "kind": "document",
        "license": "MIT", "obtained": "public-dataset"}))  # fmt: skip
    fourth = tick(defs, instance, third.cursor)
    assert [r.partition_key for r in fourth.run_requests] == ["more"]
    assert fourth.dynamic_partitions_requests[0].partition_keys == ["more"]


def test_invalid_manifest_is_reported_and_the_sensor_survives(setup) -> None:
    project, defs, instance = setup
    first = tick(defs, instance, None)
    apply(defs, instance, first)
    (project.sources_dir / "broken.yaml").write_text("id: broken\nformat: xml\n")
    result = tick(defs, instance, first.cursor)
    assert [r.job_name for r in result.run_requests] == ["catalog_job"]  # the check shows the problems
    apply(defs, instance, result)
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("source_catalog"), "manifests_valid")]
    )
    evaluation = next(iter(check.values())).event.dagster_event.asset_check_evaluation_data
    assert not evaluation.passed
    again = tick(defs, instance, result.cursor)
    assert "manifest problem(s)" in again.skip_reason.skip_message and "broken.yaml: format" in again.skip_reason.skip_message
