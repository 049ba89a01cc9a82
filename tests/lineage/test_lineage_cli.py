"""`curaline lineage ...` answers, from a small curated project with a real ledger."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from lineage_fixtures import (
    DAGSTER_RUN,
    doc_id,
    make_project,
    release_record,
    run_pipeline_with_lineage,
    shard_file,
    write_release_version,
)

from curaline.lineage.cli import lineage
from curaline.lineage.emitter import LineageEmitter
from curaline.project import Project
from curaline.sources import catalog_table, load_manifests
from curaline.store import file_digest, write_parquet


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("OPENLINEAGE"):
                mp.delenv(key)
        mp.chdir(root)
        mp.setenv("HOME", str(root))
        project = make_project(root / "proj")
        manifests, _ = load_manifests(project.sources_dir)
        write_parquet(project.stage_path("source_catalog"), catalog_table(manifests, project.root))
        run_pipeline_with_lineage(project, LineageEmitter(project))
        # a release version, as the release stage writes them: the notes that survived
        kept = pq.read_table(project.stage_path("quality_filtered", "notes"), columns=["doc_id"])["doc_id"]
        write_release_version(project, "r1", 1, [release_record(d) for d in kept.to_pylist()],
                              created_at="2024-03-01T09:00:00+00:00")  # fmt: skip
        yield project


def cli(project: Project, *args: str) -> Result:
    return CliRunner().invoke(lineage, [*args, "--project", str(project.root)])


def as_json(project: Project, *args: str) -> object:
    result = cli(project, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_trace_shows_origin_and_every_stage_of_a_record(curated: Project) -> None:
    t = as_json(curated, "trace", doc_id("notes", "n3"))
    assert isinstance(t, dict)
    assert t["source"] == {**t["source"], "id": "notes", "license": "CC-BY-4.0", "license_class": "commercial",
                           "obtained": "public-dataset"}  # fmt: skip
    assert t["origin"] == {**t["origin"], "file": "notes.jsonl", "line": 4, "row": None, "source_record_id": "n3",
                           "path": str(curated.root / "corpus" / "notes.jsonl")}  # fmt: skip
    # the catalog stores the manifest relative to the project (clone-reproducible), trace resolves it
    stored = pq.read_table(curated.stage_path("source_catalog"), columns=["manifest"])["manifest"].to_pylist()
    assert "sources/notes.yaml" in stored and not any(Path(m).is_absolute() for m in stored)
    raw, quality = t["stages"]
    assert (raw["stage"], raw["status"], raw["events"]) == ("raw_records", "kept", [])
    assert raw["version"] == file_digest(shard_file(curated, "raw_records", "notes"))
    assert (quality["stage"], quality["status"]) == ("quality_filtered", "changed")
    assert [(e["action"], e["reason"], e["detail"], e["run_id"]) for e in quality["events"]] == [
        ("modify", "digit_three_marked", "marks=1", DAGSTER_RUN)]  # fmt: skip
    assert quality["dataset"] == str(shard_file(curated, "quality_filtered", "notes"))
    assert t["releases"] == [{"release": "r1", "version": 1, "split": "train", "copies": 1, "status": "released",
                              "created_at": "2024-03-01T09:00:00+00:00", "latest": True}]  # fmt: skip
    assert t["removed_from_releases"] == []


def test_trace_of_a_dropped_record_says_where_and_why(curated: Project) -> None:
    t = as_json(curated, "trace", doc_id("notes", "n7"))
    assert isinstance(t, dict)
    dropped = t["stages"][-1]
    assert (dropped["stage"], dropped["status"], "dataset" in dropped) == ("quality_filtered", "dropped", False)
    assert [(e["action"], e["reason"], e["value"], e["threshold"]) for e in dropped["events"]] == [
        ("drop", "has_digit_seven", 1.0, 0.0)]  # fmt: skip
    assert t["releases"] == []
    text = cli(curated, "trace", doc_id("notes", "n7")).stdout
    assert "quality_filtered  dropped" in text and "drop has_digit_seven value=1 threshold=0 (digits=1)" in text


def test_trace_of_a_record_no_stage_touched(curated: Project) -> None:
    t = as_json(curated, "trace", doc_id("notes", "n1"))
    assert isinstance(t, dict)
    assert [(s["stage"], s["status"], s["events"]) for s in t["stages"]] == [
        ("raw_records", "kept", []), ("quality_filtered", "kept", [])]  # fmt: skip


def test_impact_lists_every_dataset_version_and_removal_of_a_source(curated: Project) -> None:
    result = as_json(curated, "impact", "notes")
    assert isinstance(result, dict)
    assert [(d["asset"], d["records"], d["version"]) for d in result["datasets"]] == [
        ("raw_records", 20, file_digest(shard_file(curated, "raw_records", "notes"))),
        ("quality_filtered", 18, file_digest(shard_file(curated, "quality_filtered", "notes")))]  # fmt: skip
    assert result["ledger"] == [
        {"stage": "quality_filtered", "action": "drop", "reason": "has_digit_seven", "records": 2},
        {"stage": "quality_filtered", "action": "modify", "reason": "digit_three_marked", "records": 2}]  # fmt: skip
    assert {h["asset"] for h in result["history"]} == {"raw_records", "quality_filtered"}
    assert result["releases"] == [{"release": "r1", "version": 1, "records": 18, "rows": 18, "status": "released",
                                   "created_at": "2024-03-01T09:00:00+00:00", "latest": True}]  # fmt: skip


def test_sources_show_licence_class_and_what_was_kept(curated: Project) -> None:
    rows = {r["source"]: r for r in as_json(curated, "sources")}  # type: ignore[union-attr]
    assert {s: r["license_class"] for s, r in rows.items()} == {
        "chat": "non-commercial", "forum": "share-alike", "notes": "commercial"}  # fmt: skip
    assert rows["chat"] == {**rows["chat"], "obtained": "licensed", "read": 4, "ingested": 2, "quarantined": 2,
                            "quarantined_by_reason": {"malformed_json": 1, "empty_text": 1}, "kept": 2}  # fmt: skip
    assert rows["notes"] == {**rows["notes"], "read": 20, "removed_by_stage": {"quality_filtered": 2},
                             "changed_by_stage": {"quality_filtered": 2}, "kept": 18}  # fmt: skip
    assert rows["forum"]["obtained"] == "web-crawl" and rows["forum"]["kept"] == 5
    released = as_json(curated, "sources", "--release", "r1")
    assert isinstance(released, list)
    assert [(r["source"], r["release"], r["release_version"], r["in_release"]) for r in released] == [("notes", "r1", 1, 18)]
    table = cli(curated, "sources").stdout
    assert "chat    CC-BY-NC-4.0  non-commercial  licensed" in table


def test_runs_show_history_with_versions_and_checks(curated: Project) -> None:
    runs = as_json(curated, "runs", "--asset", "quality_filtered")
    assert isinstance(runs, list) and len(runs) == 2
    assert {r["partition"] for r in runs} == {"notes", "forum"}
    notes = next(r for r in runs if r["partition"] == "notes")
    assert notes["status"] == "COMPLETE" and notes["parent_run_id"] == DAGSTER_RUN
    assert notes["outputs"] == [{"dataset": str(shard_file(curated, "quality_filtered", "notes")),
                                 "version": file_digest(shard_file(curated, "quality_filtered", "notes")), "rows": 18}]  # fmt: skip
    assert {c["name"]: c["passed"] for c in notes["checks"]} == {"rows_balance": True, "text_not_null": True}
    assert len(as_json(curated, "runs")) == 5  # type: ignore[arg-type]


def test_sql_runs_read_only_queries_over_the_views(curated: Project) -> None:
    rows = as_json(curated, "sql", "SELECT partition, action, count(*) AS n FROM ledger GROUP BY ALL ORDER BY ALL")
    assert rows == [{"partition": "forum", "action": "modify", "n": 1},  # "Forum post 3."
                    {"partition": "notes", "action": "drop", "n": 2},
                    {"partition": "notes", "action": "modify", "n": 2}]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sql", "DELETE FROM ledger"], "curaline: error: only SELECT queries are allowed, got DELETE"),
        (["sql", "SELECT * FROM nowhere"], "curaline: error: 'nowhere' is not a lineage view: only the views `curaline lineage sql --help` lists can be queried"),
        (["sql", "SELEC 1"], 'curaline: error: bad SQL: Parser Error: syntax error at or near "SELEC"'),
        (["trace", "notes:0123456789abcdef"], "curaline: error: unknown doc id 'notes:0123456789abcdef': not in any "
                                              "output or ledger of {root}"),
        (["trace", "not-an-id"], "curaline: error: 'not-an-id' is not a curaline doc id (<source>:<16 hex digits>)"),
        (["impact", "wiki"], "curaline: error: unknown source 'wiki' (sources: chat, forum, notes)"),
        (["runs", "--asset", "deduped"], "curaline: error: no runs of asset 'deduped' (assets with runs: "
                                         "quality_filtered, raw_records)"),
        (["sources", "--release", "r9"], "curaline: error: unknown release 'r9' (releases: r1)"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_and_exit_2(curated: Project, args: list[str], message: str) -> None:
    result = cli(curated, *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [message.format(root=curated.root)]
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["sources"], ["runs"], ["sql", "SELECT 1 AS x"], ["trace", "x:0000000000000000"]])
def test_an_empty_project_says_there_are_no_runs_yet(tmp_path: Path, command: list[str]) -> None:
    project = Project.at(tmp_path)
    result = cli(project, *command)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("curaline: error: ")


def test_every_command_takes_json_and_project(curated: Project) -> None:
    for args in (["sources"], ["trace", doc_id("chat", "x")], ["impact", "chat"], ["runs"], ["sql", "SELECT 1 AS x"]):
        if args[0] == "trace":
            args = ["trace", str(as_json(curated, "sql", "SELECT min(doc_id) AS d FROM records WHERE source_id = 'chat'")[0]["d"])]  # type: ignore[index]
        json.loads(cli(curated, *args, "--json").stdout)
    for name, command in lineage.commands.items():
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert {"--json", "--project"} <= options, name
        assert command.help, name


def test_records_view_and_release_hook_hold_no_text(curated: Project) -> None:
    rows = as_json(curated, "sql", "SELECT * FROM records WHERE source_id = 'notes' ORDER BY source_line LIMIT 1")
    assert rows == [{"doc_id": doc_id("notes", "n0"), "source_id": "notes", "source_file": "notes.jsonl",
                     "source_line": 1, "source_row": None, "source_record_id": "n0", "license": "CC-BY-4.0",
                     "content_hash": rows[0]["content_hash"]}]  # type: ignore[index]  # fmt: skip
    assert pa.__version__  # parquet written with pyarrow, read through DuckDB only
