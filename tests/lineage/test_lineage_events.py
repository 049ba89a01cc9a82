"""Emitted events: valid against the official OpenLineage schemas, complete, stored."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from lineage_fixtures import DAGSTER_RUN, make_project, read_jsonl, run_pipeline_with_lineage, shard_file

from curaline.lineage.custom_facets import FACET_SCHEMA_DIR, SCHEMA_BASE
from curaline.lineage.emitter import LineageEmitter, default_events_file
from curaline.lineage.store import EVENTS_SCHEMA
from curaline.lineage.validate import EventValidator
from curaline.project import Project


@pytest.fixture
def no_ol_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The client's own config lookups (env, cwd, ~/.openlineage) find nothing here."""
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def validator(shared_dir: Path) -> EventValidator:
    spec = shared_dir / "openlineage-spec"
    if not spec.is_dir():
        pytest.skip(f"needs the OpenLineage spec at {spec}")
    return EventValidator(spec)


@pytest.fixture
def curated(tmp_path: Path, no_ol_env: None) -> Project:
    project = make_project(tmp_path / "proj")
    emitter = LineageEmitter(project)
    run_pipeline_with_lineage(project, emitter)
    return project


def test_every_emitted_event_validates_against_the_official_schemas(curated: Project, validator: EventValidator) -> None:
    events = list(read_jsonl(default_events_file(curated)))
    # 3 raw materializations + 2 quality ones, START and COMPLETE each
    assert [e["eventType"] for e in events].count("START") == 5
    assert [e["eventType"] for e in events].count("COMPLETE") == 5
    for event in events:
        assert validator.validate(event) == [], event["job"]["name"]
    keys = {k for e in events for ds in e["outputs"] for k in ds["facets"]}
    assert {"schema", "version", "dataQualityMetrics", "dataQualityAssertions", "documentation", "ownership",
            "curaline_sourceDeclaration", "curaline_licenseMix", "curaline_removals"} <= keys  # fmt: skip
    assert {k for e in events for k in e["run"]["facets"]} >= {"parent", "processing_engine", "tags"}


def test_the_events_name_files_and_versions_anyone_can_open(curated: Project) -> None:
    from curaline.store import file_digest

    complete = [e for e in read_jsonl(default_events_file(curated)) if e["eventType"] == "COMPLETE"]
    raw_notes = next(e for e in complete if e["job"]["name"] == "raw_records"
                     and e["run"]["facets"]["tags"]["tags"][0]["value"] == "notes")  # fmt: skip
    out = raw_notes["outputs"][0]
    assert out["namespace"] == "file://"
    path = Path(out["name"])
    assert path == shard_file(curated, "raw_records", "notes") and path.is_absolute()
    assert out["facets"]["version"]["datasetVersion"] == file_digest(path)
    assert out["outputFacets"]["outputStatistics"] == {**out["outputFacets"]["outputStatistics"],
                                                       "rowCount": 20, "size": path.stat().st_size, "fileCount": 1}  # fmt: skip
    assert raw_notes["inputs"][0]["name"] == str(curated.root / "corpus" / "notes.jsonl")
    assert raw_notes["run"]["facets"]["parent"]["run"]["runId"] == DAGSTER_RUN
    assert raw_notes["run"]["facets"]["parent"]["job"]["name"] == "per_source_job"
    schema = [f["name"] for f in out["facets"]["schema"]["fields"]]
    assert schema[:4] == ["doc_id", "source_id", "license", "content_hash"]
    assert out["facets"]["schema"]["fields"][0]["description"].startswith("stable id")
    # the quality stage's input is the raw file, at the version raw_records wrote
    quality = next(e for e in complete if e["job"]["name"] == "quality_filtered"
                   and e["run"]["facets"]["tags"]["tags"][0]["value"] == "notes")  # fmt: skip
    assert quality["inputs"][0]["name"] == str(path)
    assert quality["inputs"][0]["facets"]["version"]["datasetVersion"] == out["facets"]["version"]["datasetVersion"]


def test_curaline_facets_carry_licence_mix_removals_and_declaration(curated: Project) -> None:
    complete = [e for e in read_jsonl(default_events_file(curated)) if e["eventType"] == "COMPLETE"]
    by = {(e["job"]["name"], e["run"]["facets"]["tags"]["tags"][0]["value"]): e for e in complete}
    chat = by[("raw_records", "chat")]["outputs"][0]["facets"]
    assert chat["curaline_licenseMix"]["licenses"] == [{"license": "CC-BY-NC-4.0", "licenseClass": "non-commercial",
                                                        "records": 2}]  # fmt: skip
    assert chat["curaline_removals"]["quarantined"] == {"malformed_json": 1, "empty_text": 1}
    assert chat["curaline_removals"]["rowsIn"] == 4 and chat["curaline_removals"]["rowsOut"] == 2
    forum = by[("raw_records", "forum")]["outputs"][0]["facets"]["curaline_sourceDeclaration"]
    assert forum["obtained"] == "web-crawl" and forum["licenseClass"] == "share-alike"
    assert forum["crawl"] == {"crawler": "testbot", "userAgent": "testbot/1.0", "respectsRobotsTxt": True,
                              "tdmOptOut": "honoured", "periodStart": "2024-01-01", "periodEnd": "2024-02-01"}  # fmt: skip
    quality = by[("quality_filtered", "notes")]["outputs"][0]["facets"]
    # "Note number 7", "... 17" hold a 7; "3" and "13" a 3
    assert quality["curaline_removals"]["removed"] == {"quality_filtered": {"has_digit_seven": 2}}
    assert quality["curaline_removals"]["changed"] == {"quality_filtered": {"digit_three_marked": 2}}
    assert quality["dataQualityMetrics"]["rowCount"] == 18
    assert quality["dataQualityMetrics"]["columnMetrics"]["digit_count"] == {"nullCount": 0, "min": 1.0, "max": 2.0}
    checks = {a["name"]: a for a in quality["dataQualityAssertions"]["assertions"]}
    assert checks["text_not_null"] == {"assertion": "not_null", "name": "text_not_null", "success": True,
                                       "column": "text"}  # fmt: skip


def test_a_failed_materialization_emits_fail_with_the_error(tmp_path: Path, no_ol_env: None,
                                                            validator: EventValidator) -> None:  # fmt: skip
    project = make_project(tmp_path / "proj")
    emitter = LineageEmitter(project)
    with pytest.raises(RuntimeError, match="stage broke"):
        with emitter.materialization("raw_records", parent_run_id=DAGSTER_RUN, partition="notes"):
            raise RuntimeError("stage broke\nsecond line that may quote data")
    start, fail = read_jsonl(default_events_file(project))
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert start["run"]["runId"] == fail["run"]["runId"]
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == "RuntimeError: stage broke" and error["programmingLanguage"] == "python"
    assert "second line" not in json.dumps(fail)
    assert validator.validate(fail) == []


def test_a_document_output_names_the_file_with_format_version_and_size(tmp_path: Path, no_ol_env: None,
                                                                        validator: EventValidator) -> None:  # fmt: skip
    from curaline.store import file_digest

    project = make_project(tmp_path / "proj")
    report = project.data_dir / "reports" / "main" / "card.md"
    report.parent.mkdir(parents=True)
    report.write_text("# main\n\nA card.\n")
    export = project.data_dir / "exports" / "main" / "dpo" / "train.jsonl"
    export.parent.mkdir(parents=True)
    export.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n' * 3)
    with LineageEmitter(project).materialization("dataset_card", parent_run_id=DAGSTER_RUN, partition="main",
                                                  description="the card", owners=["team:curation"]) as run:  # fmt: skip
        run.document(report, file_format="markdown")
        run.document(export, file_format="jsonl", version="given-md5", rows=3)
    start, complete = read_jsonl(default_events_file(project))
    assert validator.validate(start) == [] and validator.validate(complete) == []
    card, jsonl = complete["outputs"]
    assert card["name"] == str(report.resolve()) and card["facets"]["storage"]["fileFormat"] == "markdown"
    assert card["facets"]["version"]["datasetVersion"] == file_digest(report)
    assert card["outputFacets"]["outputStatistics"] == {**card["outputFacets"]["outputStatistics"],
                                                        "size": report.stat().st_size, "fileCount": 1}  # fmt: skip
    assert "rowCount" not in card["outputFacets"]["outputStatistics"]  # a document has no rows
    assert card["facets"]["documentation"]["description"] == "the card" and "ownership" in card["facets"]
    assert jsonl["facets"]["version"]["datasetVersion"] == "given-md5"
    assert jsonl["outputFacets"]["outputStatistics"]["rowCount"] == 3
    assert "schema" not in jsonl["facets"] and "curaline_licenseMix" not in jsonl["facets"]


def test_the_lineage_store_holds_one_file_per_run_with_both_events(curated: Project) -> None:
    files = sorted((curated.lineage_dir / "events").glob("job=*/run=*.parquet"))
    assert len(files) == 5
    table = pq.read_table(files[0])
    assert table.schema.equals(EVENTS_SCHEMA, check_metadata=False)
    assert table["event_type"].to_pylist() == ["START", "COMPLETE"]
    row = table.slice(1).to_pylist()[0]
    assert row["parent_run_id"] == DAGSTER_RUN and row["outputs"][0]["version"]
    assert json.loads(row["output_facets"])  # facets kept as JSON
    assert not list(curated.lineage_dir.rglob("*.tmp"))


def test_validator_accepts_the_spec_examples_and_rejects_broken_facets(validator: EventValidator, shared_dir: Path) -> None:
    tests = shared_dir / "openlineage-spec" / "spec" / "tests"
    checked = 0
    for example in sorted(tests.glob("*/*.json")):
        schema = json.loads((tests.parent / "facets" / f"{example.parent.name}.json").read_text())
        assert validator.validate_document(json.loads(example.read_text()), schema["$id"]) == [], example
        checked += 1
    assert checked >= 40
    facet = {"_producer": "https://x.org", "_schemaURL": f"{SCHEMA_BASE}/CuralineLicenseMixDatasetFacet.json"
             "#/$defs/CuralineLicenseMixDatasetFacet", "records": 3, "licenses": [], "classes": {"free": 3}}  # fmt: skip
    errors = validator.validate_facet("curaline_licenseMix", facet)
    assert any("classes" in e and "free" in e for e in errors), errors
    assert validator.validate_facet("licenseMix", {**facet, "classes": {}})[0].endswith(
        "defines this facet under curaline_licenseMix")  # fmt: skip
    unknown = {"_producer": "https://x.org", "_schemaURL": "https://example.org/Nope.json#/$defs/Nope"}
    assert "unknown facet schema" in validator.validate_facet("nope", unknown)[0]


def test_custom_facet_schemas_are_proper_openlineage_facet_files() -> None:
    for path in sorted(FACET_SCHEMA_DIR.glob("*.json")):
        doc = json.loads(path.read_text())
        name = path.stem
        assert doc["$id"] == f"{SCHEMA_BASE}/{name}.json"
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        base = doc["$defs"][name]["allOf"][0]["$ref"]
        assert base == "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet"
        (key,) = doc["properties"]
        assert key.startswith("curaline_") and doc["properties"][key]["$ref"] == f"#/$defs/{name}"
