"""A licence-blocked release, as the operator meets it in Dagster and the sensors.

The release step fails (its partition is failed, not green) with the gate report as the
failure's description; the gate's check result is failed for that partition only; the
source sensor holds the wave with a note saying what to change in the spec, and lets it
go once the spec changes (the new build takes over) or is removed.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
import yaml
from test_sensor_flow import Flow
from tests_support import jsonl, make_project, prose, spec

from curaline.release.versions import blocked, versions


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    from curaline.dvc_cli import sync_project
    from curaline.versioning import ensure_repo

    project = make_project(tmp_path_factory.mktemp("blocked") / "proj")
    root = project.root
    (root / "corpus" / "notes.jsonl").write_text(jsonl([prose(i) for i in range(20)], ids="n"))
    (root / "corpus" / "club.jsonl").write_text(jsonl([prose(100 + i) for i in range(10)], ids="c"))
    (root / "sources" / "club.yaml").write_text(yaml.safe_dump({
        "id": "club", "location": "../corpus/club.jsonl", "format": "jsonl", "kind": "document",
        "fields": {"id": "id"}, "license": "CC-BY-NC-4.0", "obtained": "public-dataset"}))  # fmt: skip
    (root / "releases").mkdir()
    shop = {**spec("shop", ["notes", "club"], {"notes": 1, "club": 1}), "use": "commercial"}
    (root / "releases" / "shop.yaml").write_text(yaml.safe_dump(shop))
    ensure_repo(project)
    sync_project(project)
    mp = pytest.MonkeyPatch()
    mp.setenv("CURALINE_PROJECT", str(root))
    import definitions

    with dg.instance_for_test() as instance:
        yield Flow(project, definitions.build_definitions(project), instance)
    mp.undo()


def _failed_partitions(instance: dg.DagsterInstance) -> set[str]:
    key = dg.AssetKey("release")
    failed = instance.get_materialized_partitions(key)  # what succeeded; failures come from the runs
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="release_job", statuses=[dg.DagsterRunStatus.FAILURE]))
    return {r.tags["dagster/partition"] for r in runs} - failed


def test_a_blocked_release_is_a_failed_partition_with_the_gate_report(flow: Flow) -> None:
    ticks = flow.settle()
    assert ticks[-1] == [("release_job", "shop")]
    [run] = flow.instance.get_runs(filters=dg.RunsFilter(job_name="release_job", tags={"dagster/partition": "shop"}))
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert "shop" not in flow.instance.get_materialized_partitions(dg.AssetKey("release"))
    assert _failed_partitions(flow.instance) == {"shop"}
    # the step's failure is the gate report, with its metadata, not an asset-check stack trace
    [failure] = [e for e in flow.instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.is_step_failure]
    data = failure.dagster_event.step_failure_data
    assert data.user_failure_data is not None
    assert data.user_failure_data.description.startswith("Licence gate BLOCKED commercial release shop (shop.yaml)")
    assert "source club: CC-BY-NC-4.0 -> non-commercial (" in data.user_failure_data.description
    meta = data.user_failure_data.metadata
    assert meta["status"].value == "blocked" and "remove these sources" in meta["fix"].value
    assert meta["violations"].value.records[0].data["source"] == "club"
    # the gate's check result belongs to this partition
    gate = flow.check("release_license_gate")
    assert not gate.passed and gate.partition == "shop" and gate.description.startswith("Licence gate BLOCKED")
    assert blocked(flow.project, "shop") is not None and versions(flow.project, "shop") == []


def test_the_sensor_holds_the_wave_with_what_to_change_then_lets_it_go(flow: Flow) -> None:
    assert flow.tick() == []  # re-executing cannot help, so nothing is requested
    reason = flow.last["source_sensor"].skip_reason.skip_message
    assert "release shop is blocked by the licence gate for commercial use: club (CC-BY-NC-4.0, non-commercial)" in reason
    assert "remove these sources from releases/shop.yaml `sources` or change its `use`" in reason
    assert "re-execute" not in reason
    path = flow.project.releases_dir / "shop.yaml"
    fixed = yaml.safe_load(path.read_text())
    fixed["sources"], fixed["mix"]["weights"] = ["notes"], {"notes": 1}
    path.write_text(yaml.safe_dump(fixed))  # the operator follows the note
    assert flow.settle() == [[("release_job", "shop")]]
    assert [m["version"] for m in versions(flow.project, "shop")] == [1]
    assert blocked(flow.project, "shop") is None
    assert flow.check("release_license_gate").passed
    assert "blocked" not in flow.last["source_sensor"].skip_reason.skip_message


def test_a_removed_spec_lets_a_blocked_wave_go(flow: Flow) -> None:
    path = flow.project.releases_dir / "shop.yaml"
    again = yaml.safe_load(path.read_text())
    again["sources"], again["mix"]["weights"] = ["notes", "club"], {"notes": 1, "club": 1}
    path.write_text(yaml.safe_dump(again))
    assert flow.settle() == [[("release_job", "shop")]]
    assert "blocked by the licence gate" in flow.last["source_sensor"].skip_reason.skip_message
    assert flow.tick() == []
    path.unlink()
    assert flow.tick() == []
    reason = flow.last["source_sensor"].skip_reason.skip_message
    assert "blocked" not in reason and "waiting" not in reason, reason
