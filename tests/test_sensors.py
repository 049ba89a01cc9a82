"""The source sensor's requests and waves on a real DagsterInstance (the full flow: test_sensor_flow.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest
import yaml
from tests_support import make_project, spec

from curaline.release.spec import load_spec
from curaline.sources import load_manifests
from resources.project import ProjectResource
from sensors.sources import releases_including
from sensors.waves import EXECUTOR_ENV, INTERVAL_ENV, interval_seconds, run_config


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    project = make_project(tmp_path / "proj")
    (project.root / "releases").mkdir()
    (project.root / "releases" / "main.yaml").write_text(yaml.safe_dump(spec("main", "all", {"notes": 1, "chat": 1})))
    monkeypatch.setenv("CURALINE_PROJECT", str(project.root))
    import definitions

    defs = definitions.build_definitions(project)
    with dg.instance_for_test() as instance:
        yield project, defs, instance


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("source_sensor")
    resources = {"project": ProjectResource(root=os.environ["CURALINE_PROJECT"])}
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources))
    for req in result.dynamic_partitions_requests or []:  # what the daemon does first
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def requested(result: dg.SensorResult) -> list[tuple[str, str | None]]:
    return [(r.job_name, r.partition_key) for r in result.run_requests or []]


def test_releases_including(tmp_path: Path) -> None:
    root = tmp_path / "p"
    make_project(root)
    (root / "sources" / "exam.yaml").write_text(yaml.safe_dump({
        "id": "exam", "location": "../corpus/notes.jsonl", "format": "jsonl", "kind": "evaluation",
        "license": "MIT", "obtained": "public-dataset", "fields": {"id": "id"}}))  # fmt: skip
    manifests, problems = load_manifests(root / "sources", strict=False)
    assert not problems, problems
    (root / "releases").mkdir()
    specs = []
    for s in (spec("all-of-it", "all", {"notes": 1}), spec("chat-only", ["chat"], {"chat": 1}),
              {**spec("raw-notes", ["notes"], {"notes": 1}), "decontaminate": False}):  # fmt: skip
        path = root / "releases" / f"{s['name']}.yaml"
        path.write_text(yaml.safe_dump(s))
        specs.append(load_spec(path, manifests))
    assert releases_including(specs, manifests, {"notes"}) == ["all-of-it", "raw-notes"]
    assert releases_including(specs, manifests, {"chat"}) == ["all-of-it", "chat-only"]
    # an evaluation source reaches every release that decontaminates against it
    assert releases_including(specs, manifests, {"exam"}) == ["all-of-it", "chat-only"]
    assert releases_including(specs, manifests, set()) == []


def test_interval_and_executor_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    assert (interval_seconds(), run_config()) == (30, None)
    monkeypatch.setenv(INTERVAL_ENV, "3")
    monkeypatch.setenv(EXECUTOR_ENV, "in_process")
    assert (interval_seconds(), run_config()) == (3, {"execution": {"config": {"in_process": {}}}})
    monkeypatch.setenv(EXECUTOR_ENV, "threads")
    with pytest.raises(ValueError, match=r"\$CURALINE_SENSOR_EXECUTOR: 'threads'; allowed: in_process, multiprocess"):
        run_config()


def test_changes_start_waves_and_a_failed_run_holds_its_wave(setup) -> None:
    project, defs, instance = setup
    first = tick(defs, instance, None)
    assert requested(first) == [("catalog_job", None), ("per_source_job", "chat"), ("per_source_job", "notes")]
    assert sorted(instance.get_dynamic_partitions("sources")) == ["chat", "notes"]
    assert instance.get_dynamic_partitions("releases") == ["main"]
    wave = first.run_requests[1].tags["curaline/source_wave"]
    assert first.run_requests[1].tags["curaline/source_phase"] == "sources"
    assert first.run_requests[1].run_key == f"source:{wave}:sources:chat"

    # nothing ran yet: the wave waits, and says so
    waiting = tick(defs, instance, first.cursor)
    assert not waiting.run_requests
    assert waiting.skip_reason.skip_message == f"wave {wave}: waiting for sources runs of chat, notes"

    # touching a file without changing its content is not a change
    notes = project.root / "corpus" / "notes.jsonl"
    notes.write_bytes(notes.read_bytes())
    assert not tick(defs, instance, waiting.cursor).run_requests

    # chat's run fails (its manifest broke after the request): the wave holds and asks for a re-execution
    manifest = project.sources_dir / "chat.yaml"
    good = manifest.read_text()
    manifest.write_text(good.replace("format: jsonl", "format: xml"))
    job = defs.resolve_job_def("per_source_job")
    for req in first.run_requests[1:]:
        job.execute_in_process(instance=instance, partition_key=req.partition_key, tags=req.tags, raise_on_error=False)
    held = tick(defs, instance, waiting.cursor)
    assert requested(held) == [("catalog_job", None)]  # the manifest problem, for the UI
    held = tick(defs, instance, held.cursor)
    assert not held.run_requests
    assert f"wave {wave}: sources run for 'chat' failure" in held.skip_reason.skip_message
    assert "re-execute it" in held.skip_reason.skip_message

    # the manifest is fixed: a new wave for chat alone; the held wave (chat and notes) stays
    manifest.write_text(good)
    again = tick(defs, instance, held.cursor)
    assert requested(again) == [("catalog_job", None), ("per_source_job", "chat")]
    waves = json.loads(again.cursor)["waves"]
    assert [w["sources"] for w in waves] == [["chat", "notes"], ["chat"]]

    # a change of every source of a held wave replaces it
    chat = project.root / "corpus" / "chat.jsonl"
    # a change of every source of a held wave replaces it
    notes.write_text(notes.read_text() + '{"id": "n99", "text": "A late note."}\n')
    chat.write_bytes(chat.read_bytes() + b'{"q": "More?", "a": "No."}\n')
    replaced = tick(defs, instance, again.cursor)
    assert requested(replaced) == [("per_source_job", "chat"), ("per_source_job", "notes")]
    assert [w["sources"] for w in json.loads(replaced.cursor)["waves"]] == [["chat", "notes"]]


def test_invalid_manifest_is_reported_and_the_sensor_survives(setup) -> None:
    project, defs, instance = setup
    first = tick(defs, instance, None)
    (project.sources_dir / "broken.yaml").write_text("id: broken\nformat: xml\n")
    result = tick(defs, instance, first.cursor)
    assert requested(result) == [("catalog_job", None)]  # the check shows the problems
    defs.resolve_job_def("catalog_job").execute_in_process(instance=instance)
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("source_catalog"), "manifests_valid")]
    )
    evaluation = next(iter(check.values())).event.dagster_event.asset_check_evaluation_data
    assert not evaluation.passed
    again = tick(defs, instance, result.cursor)
    assert "manifest problem(s)" in again.skip_reason.skip_message and "broken.yaml: format" in again.skip_reason.skip_message


def test_a_reset_cursor_never_reuses_a_run_key(setup) -> None:
    """The daemon skips a run key it has seen: a new daemon or a reset sensor (no cursor) must
    not ask for the same keys again, or its catalog and wave runs would silently never run."""
    _, defs, instance = setup
    first = tick(defs, instance, None)
    again = tick(defs, instance, None)
    assert requested(again) == requested(first)
    assert not {r.run_key for r in first.run_requests} & {r.run_key for r in again.run_requests}


def test_the_cursor_is_a_small_digest_and_the_detail_lives_in_project_storage(setup) -> None:
    """The UI shows the cursor: it must not list every file. What was seen is in a file named by
    the cursor's digest; without that file the sensor acts as on a first tick (rebuilds nothing
    current), never crashes."""
    from sensors.sources import state_dir

    project, defs, instance = setup
    for i in range(40):  # a source of many files: the old cursor listed each with size, mtime, hash
        (project.root / "corpus" / f"part-{i:03d}.jsonl").write_text(f'{{"id": "p{i}", "text": "Part {i}."}}\n')
    (project.sources_dir / "parts.yaml").write_text(yaml.safe_dump({
        "id": "parts", "location": "../corpus/part-*.jsonl", "format": "jsonl", "kind": "document",
        "fields": {"id": "id"}, "license": "CC-BY-4.0", "obtained": "public-dataset"}))  # fmt: skip
    first = tick(defs, instance, None)
    cursor = json.loads(first.cursor)
    assert set(cursor) == {"state", "catalog", "waves", "seq", "catalog_runs"}
    assert "part-0" not in first.cursor and len(first.cursor) < 1200, len(first.cursor)
    detail = json.loads((state_dir(project) / f"{cursor['state']}.json").read_text())
    assert len([f for f in detail["files"] if "part-" in f]) == 40 and set(detail["sources"]) == {"chat", "notes", "parts"}
    # the same state again: the same digest, no new file
    again = tick(defs, instance, first.cursor)
    assert json.loads(again.cursor)["state"] == cursor["state"]
    assert not again.run_requests
    # the detail is gone (a wiped .dagster): a first tick's judgement, from what was materialized
    # (nothing here, so every source is due again, in one wave that replaces the waiting one)
    for f in state_dir(project).glob("*.json"):
        f.unlink()
    lost = tick(defs, instance, again.cursor)
    assert requested(lost) == [("per_source_job", "chat"), ("per_source_job", "notes"), ("per_source_job", "parts")]
    assert len(json.loads(lost.cursor)["waves"]) == 1


def test_annotation_assets_run_only_for_annotation_sources(setup) -> None:
    from curaline.cli import per_source_assets

    project, defs, instance = setup
    annotation = {dg.AssetKey(k) for k in ("annotation_agreement", "adjudicated_labels", "review_queue")}
    first = tick(defs, instance, None)
    per_source = [r for r in first.run_requests if r.job_name == "per_source_job"]
    assert [r.partition_key for r in per_source] == ["chat", "notes"]
    for req in per_source:  # document and instruction sources: the job without the annotation group
        assert req.asset_selection and not annotation & set(req.asset_selection)
        assert dg.AssetKey("toxicity_screened") in req.asset_selection
    job = defs.resolve_job_def("per_source_job")
    assert per_source_assets(job, "annotation") is None  # an annotation source runs the whole job
    assert set(per_source_assets(job, "document") or []) == set(job.asset_layer.selected_asset_keys) - annotation
