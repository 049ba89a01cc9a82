"""Takedown requests: the CLI and its refusals, the ingest matcher, status, and the sensor on a real instance."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from tests_support import make_project

from assets.common import release_partitions, source_partitions
from curaline.cli import main
from curaline.kernels.base import EVENT_SCHEMA
from curaline.ledger import write_ledger
from curaline.project import Project
from curaline.records import make_doc_id
from curaline.takedown import (
    TakedownError,
    affected,
    load_requests,
    matcher,
    new_request,
    pending_requests,
    project_matcher,
    record_request,
    request_status,
    statuses,
    takedown_trace,
)
from resources.project import ProjectResource
from sensors.takedown import make_takedown_sensor

NOTES = [make_doc_id("notes", f"own:n{i}") for i in range(6)]
CHAT = [make_doc_id("chat", f"own:c{i}") for i in range(3)]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj")


def cli(project: Project, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["takedown", *args, "--project", str(project.root)], env=env)


def request_files(project: Project) -> list[Path]:
    return sorted((project.lineage_dir / "takedowns").glob("*.json"))


# ---- the CLI ------------------------------------------------------------------------------


def test_cli_records_a_source_request_with_who_when_why(project: Project) -> None:
    result = cli(project, "--source", "notes", "--reason", "licence withdrawn (ticket 42)", env={"USER": "alice"})
    assert result.exit_code == 0, result.output
    [path] = request_files(project)
    data = json.loads(path.read_text())
    assert data["id"] == path.stem and data["id"] in result.output
    assert data["requested_by"] == "alice" and data["reason"] == "licence withdrawn (ticket 42)"
    assert data["selector"] == {"kind": "source", "value": "notes"}
    at = dt.datetime.fromisoformat(data["requested_at"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - at).total_seconds()) < 60
    assert "What happens next" in result.output and "takedown-status" in result.output
    assert [line for line in result.output.splitlines() if line.strip().startswith("sources")] == ["  sources       notes"]


def test_cli_doc_ids_file_and_json_output(project: Project, tmp_path: Path) -> None:
    ids = tmp_path / "erase.txt"
    ids.write_text(f"# erasure request 7\n{NOTES[1]}\n\n{CHAT[0]}\n{NOTES[1]}\n")
    result = cli(project, "--doc-ids", str(ids), "--reason", "GDPR art. 17", "--requested-by", "dpo@example.com", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["selector"] == {"kind": "doc_ids", "value": sorted([NOTES[1], CHAT[0]]), "file": str(ids.resolve())}
    assert out["requested_by"] == "dpo@example.com" and out["affected_sources"] == ["chat", "notes"]
    assert out["sources_without_manifest"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "nope"], "--source: unknown source 'nope' (valid manifests in {root}/sources: chat, notes)"),
        (["--url-pattern", "(unclosed"], "--url-pattern: invalid regular expression '(unclosed' (RE2 syntax)"),
        (["--url-pattern", "(?!x)y"], "--url-pattern: invalid regular expression '(?!x)y' (RE2 syntax)"),
        (["--url-pattern", "a*"], "--url-pattern: 'a*' matches the empty string, so every URL"),
        (["--url-pattern", ""], "--url-pattern: empty pattern"),
        ([], "give exactly one of --source, --doc-ids, --url-pattern"),
        (["--source", "notes", "--url-pattern", "^x"], "give exactly one of --source, --doc-ids, --url-pattern (got --source, --url-pattern)"),
    ],
)  # fmt: skip
def test_cli_refuses_bad_selectors_with_one_line(project: Project, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["takedown", *args, "--reason", "r", "--project", str(project.root)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curaline: error: " + message.format(root=project.root))
    assert request_files(project) == []


def test_cli_names_file_and_line_of_a_malformed_doc_id(project: Project, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{NOTES[0]}\n\nnotes:XYZ\n")
    result = cli(project, "--doc-ids", str(ids), "--reason", "r")
    assert result.exit_code == 2
    assert result.output.strip() == (f"curaline: error: --doc-ids: {ids}:3: malformed doc id 'notes:XYZ' "
                                     "(expected <source id>:<16 hex digits>, e.g. notes:0123456789abcdef)")  # fmt: skip
    ids.write_bytes(NOTES[0].encode() + b"\n\xff\xfe\n")
    assert cli(project, "--doc-ids", str(ids), "--reason", "r").output.strip() == f"curaline: error: --doc-ids: {ids}:2: not UTF-8 text"
    ids.write_text("# only a comment\n\n")
    assert cli(project, "--doc-ids", str(ids), "--reason", "r").output.strip() == f"curaline: error: --doc-ids: {ids}: no doc ids in the file"
    missing = tmp_path / "missing.txt"
    assert cli(project, "--doc-ids", str(missing), "--reason", "r").output.strip() == (
        f"curaline: error: --doc-ids: cannot read {missing}: No such file or directory")
    assert cli(project, "--source", "notes", "--reason", "  ").output.strip() == (
        "curaline: error: --reason: must say why (it is the audit record)")
    assert request_files(project) == []


def test_requests_are_append_only_and_damaged_files_are_reported(project: Project) -> None:
    req = new_request(project, source="notes", reason="r", requested_by="a")
    record_request(project, req)
    with pytest.raises(TakedownError, match="already exists"):
        record_request(project, req)
    bad = project.lineage_dir / "takedowns" / "td-20250101T000000Z-0000beef.json"
    bad.write_text('{"id": "td-20250101T000000Z-0000beef",\n "requested_by": "x",,}')
    requests, problems = load_requests(project, strict=False)
    assert [r.id for r in requests] == [req.id]
    assert problems == [f"{bad}: line 2: not valid JSON: Expecting property name enclosed in double quotes"]
    with pytest.raises(TakedownError, match="unreadable takedown request"):
        project_matcher(project)
    bad.write_text(json.dumps({**req.to_json(), "id": bad.stem, "selector": {"kind": "doc_ids", "value": ["nope"]}}))
    assert load_requests(project, strict=False)[1] == [f"{bad}: selector.value[0]: malformed doc id 'nope'"]


def test_status_command_lists_requests(project: Project) -> None:
    record_request(project, new_request(project, source="chat", reason="r", requested_by="a"))
    out = CliRunner().invoke(main, ["takedown-status", "--project", str(project.root), "--json"])
    assert out.exit_code == 0
    [entry] = json.loads(out.output)["requests"]
    assert (entry["status"], entry["affected_sources"], entry["records_taken_down"]) == ("pending", ["chat"], 0)


# ---- the matcher ----------------------------------------------------------------------------


def _records(ids: list[str], source: str, urls: list[str | None] | None = None) -> pa.Table:
    cols: dict[str, pa.Array] = {"doc_id": pa.array(ids), "source_id": pa.array([source] * len(ids))}
    if urls is not None:
        cols["url"] = pa.array(urls, pa.string())
    return pa.table(cols)


def test_matcher_by_source_doc_ids_and_url(project: Project) -> None:
    by_source = new_request(project, source="chat", reason="r", requested_by="a")
    by_ids = new_request(project, doc_ids=[NOTES[1], NOTES[4], CHAT[2], make_doc_id("notes", "own:absent")], reason="r", requested_by="a")
    by_url = new_request(project, url_pattern=r"^https://blocked\.example/", reason="r", requested_by="a")
    match = matcher([by_source, by_ids, by_url])

    urls = ["https://ok.example/a", "https://blocked.example/x", None, "http://blocked.example/", "https://blocked.example/y", None]
    notes = _records(NOTES, "notes", urls)
    keep, events = match(notes, "notes")
    assert keep.tolist() == [True, False, True, True, False, True]
    assert events.schema == EVENT_SCHEMA
    assert events.select(["doc_id", "action", "reason", "detail"]).to_pylist() == [
        {"doc_id": NOTES[1], "action": "takedown", "reason": "takedown_request", "detail": by_ids.id},
        {"doc_id": NOTES[1], "action": "takedown", "reason": "takedown_request", "detail": by_url.id},
        {"doc_id": NOTES[4], "action": "takedown", "reason": "takedown_request", "detail": by_ids.id},
        {"doc_id": NOTES[4], "action": "takedown", "reason": "takedown_request", "detail": by_url.id},
    ]
    assert events["value"].null_count == 4 and events["threshold"].null_count == 4

    # no url column: patterns match nothing, ids still do; a chunked table works the same
    chunked = pa.concat_tables([_records(NOTES[:3], "notes"), _records(NOTES[3:], "notes")])
    keep, events = match(chunked, "notes")
    assert keep.tolist() == [True, False, True, True, False, True]
    assert events["detail"].to_pylist() == [by_ids.id, by_ids.id]

    # a source request takes every record of its source, ids of that source add their own events
    keep, events = match(_records(CHAT, "chat"), "chat")
    assert not keep.any()
    assert sorted(zip(events["doc_id"].to_pylist(), events["detail"].to_pylist(), strict=True)) == sorted(
        [(d, by_source.id) for d in CHAT] + [(CHAT[2], by_ids.id)])

    keep, events = match(_records([], "notes", []), "notes")
    assert keep.size == 0 and events.num_rows == 0
    assert matcher([])(notes, "notes")[0].all()


def test_matcher_is_vectorized_on_a_large_batch(project: Project) -> None:
    ids = [make_doc_id("notes", f"own:{i}") for i in range(200_000)]
    req = new_request(project, doc_ids=ids[::1000], reason="r", requested_by="a")
    table = _records(ids, "notes", [f"https://site{i % 97}.example/p{i}" for i in range(200_000)])
    url_req = new_request(project, url_pattern=r"^https://site13\.example/", reason="r", requested_by="a")
    import time

    t0 = time.perf_counter()
    keep, events = matcher([req, url_req])(table, "notes")
    elapsed = time.perf_counter() - t0
    expected = np.zeros(200_000, bool)
    expected[::1000] = True
    expected[np.arange(200_000) % 97 == 13] = True
    assert (~keep == expected).all() and events.num_rows == 200 + int((np.arange(200_000) % 97 == 13).sum())
    assert elapsed < 2.0, elapsed


# ---- status ------------------------------------------------------------------------------------


def write_release(project: Project, name: str, version: int, doc_ids: list[str]) -> None:
    n = len(doc_ids)
    table = pa.table({
        "release": pa.array([name] * n), "version": pa.array([version] * n, pa.int32()), "doc_id": pa.array(doc_ids, pa.string()),
        "source_id": pa.array([d.split(":")[0] for d in doc_ids], pa.string()), "kind": pa.array(["document"] * n),
        "license": pa.array(["CC-BY-4.0"] * n), "license_class": pa.array(["commercial"] * n),
        "split": pa.array(["train"] * n), "copies": pa.array([1] * n, pa.int16()),
    })  # fmt: skip
    folder = project.lineage_dir / "releases" / f"release={name}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"v{version}.parquet")


def test_status_goes_pending_applied_complete(project: Project) -> None:
    write_release(project, "main", 1, NOTES + CHAT)
    write_release(project, "chat-only", 1, CHAT)
    write_release(project, "notes-only", 1, NOTES)
    req = new_request(project, doc_ids=[NOTES[2]], reason="erasure", requested_by="dpo")
    record_request(project, req)
    assert req.release_versions == {"main": 1, "chat-only": 1, "notes-only": 1}
    assert request_status(project, req) == "pending"
    assert affected(project, req).releases == ["main", "notes-only"]
    assert [r.id for r in pending_requests(project)] == [req.id]

    # ingest of notes applies it: the ledger holds the takedown row
    keep, events = project_matcher(project)(_records(NOTES, "notes"), "notes")
    write_ledger(project, events, stage="raw_records", partition="notes", run_id="run-1")
    [st] = statuses(project, [req])
    assert (st.status, st.records_taken_down, st.releases_pending) == ("applied", 1, {"main": 1, "notes-only": 1})
    assert pending_requests(project) == []

    # one release rebuilt without it; another rebuilt but still holding it (built from stale data)
    write_release(project, "main", 2, [d for d in NOTES + CHAT if d != NOTES[2]])
    write_release(project, "notes-only", 2, NOTES)
    [st] = statuses(project, [req])
    assert (st.status, st.releases_pending) == ("applied", {"notes-only": 1})
    write_release(project, "notes-only", 3, NOTES[:2])
    assert request_status(project, req) == "complete"
    # the old versions still hold the record, for audit
    assert NOTES[2] in pq.read_table(project.lineage_dir / "releases" / "release=main" / "v1.parquet")["doc_id"].to_pylist()
    # what `lineage trace` shows: the request, and per release the first version without the record
    [trace] = takedown_trace(project, NOTES[2])
    assert (trace["id"], trace["requested_by"], trace["reason"], trace["status"]) == (req.id, "dpo", "erasure", "complete")
    assert trace["releases"] == {"main": {"last_with": 1, "first_without": 2}, "notes-only": {"last_with": 2, "first_without": 3}}
    assert takedown_trace(project, NOTES[0]) == []


def test_source_and_url_requests_find_their_releases(project: Project) -> None:
    write_release(project, "main", 1, NOTES + CHAT)
    src = new_request(project, source="chat", reason="r", requested_by="a")
    assert affected(project, src).releases == ["main"]
    # a url pattern: sources are those whose raw records match, releases those holding the ledger's records
    raw = project.stage_path("raw_records", "notes") / "shard-00000.parquet"  # a sharded stage's folder
    raw.parent.mkdir(parents=True)
    pq.write_table(_records(NOTES, "notes", [None, "https://x.example/1", None, None, None, None]), raw)
    url = new_request(project, url_pattern=r"x\.example/1$", reason="r", requested_by="a")
    assert affected(project, url) == affected(project, url).__class__(sources=["notes"], releases=[])
    _, events = matcher([url])(pq.read_table(raw), "notes")
    write_ledger(project, events, stage="raw_records", partition="notes", run_id="run-2")
    assert affected(project, url).releases == ["main"] and request_status(project, url) == "applied"


def test_a_request_that_matched_nothing_is_applied_once_its_sources_were_reingested(project: Project) -> None:
    req = new_request(project, doc_ids=[make_doc_id("notes", "own:never")], reason="r", requested_by="a",
                      now=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))  # fmt: skip
    assert request_status(project, req) == "pending"
    write_ledger(project, EVENT_SCHEMA.empty_table(), stage="raw_records", partition="notes", run_id="run-3")
    assert request_status(project, req) == "complete"  # no release ever held it


# ---- the sensor against a real instance -------------------------------------------------------


def _sensor_defs(project: Project):
    @dg.asset(partitions_def=source_partitions)
    def tiny_raw(context, project: ProjectResource) -> None:
        proj, sid = project.project, context.partition_key
        table = pq.read_table(proj.root / "input" / f"{sid}.parquet")
        keep, events = project_matcher(proj)(table, sid)
        out = proj.stage_path("raw_records", sid) / "shard-00000.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.filter(pa.array(keep)), out)
        write_ledger(proj, events, stage="raw_records", partition=sid, run_id=context.run_id)

    @dg.asset(deps=[tiny_raw])
    def tiny_global(project: ProjectResource) -> None:
        proj = project.project
        if (proj.root / "fail_global").exists():
            raise RuntimeError("planted failure")
        tables = [pq.read_table(p) for p in sorted((proj.data_dir / "raw_records").glob("*/*.parquet"))]
        pq.write_table(pa.concat_tables(tables), proj.stage_path("deduplicated"))

    @dg.asset(partitions_def=release_partitions, deps=[tiny_global])
    def tiny_release(context, project: ProjectResource) -> None:
        proj = project.project
        folder = proj.lineage_dir / "releases" / f"release={context.partition_key}"
        version = len(list(folder.glob("v*.parquet"))) + 1
        write_release(proj, context.partition_key, version, pq.read_table(proj.stage_path("deduplicated"))["doc_id"].to_pylist())

    per_source = dg.define_asset_job("per_source_job", selection=[tiny_raw], partitions_def=source_partitions)
    global_job = dg.define_asset_job("global_job", selection=[tiny_global])
    release_job = dg.define_asset_job("release_job", selection=[tiny_release], partitions_def=release_partitions)
    return dg.Definitions(assets=[tiny_raw, tiny_global, tiny_release], jobs=[per_source, global_job, release_job],
                          sensors=[make_takedown_sensor(per_source, global_job, release_job)],
                          resources={"project": ProjectResource(root=str(project.root))})  # fmt: skip


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None, project: Project) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("takedown_sensor")
    resources = {"project": ProjectResource(root=str(project.root))}
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources))


def _launch(defs: dg.Definitions, instance: dg.DagsterInstance, result: dg.SensorResult) -> list[tuple[str, str | None]]:
    """What the daemon would do with the requests: run each job with its partition and tags."""
    done = []
    for req in result.run_requests or []:
        job = defs.resolve_job_def(req.job_name)
        job.execute_in_process(instance=instance, partition_key=req.partition_key, tags=req.tags, raise_on_error=False)
        done.append((req.job_name, req.partition_key))
    return done


def test_sensor_runs_sources_then_global_then_releases(project: Project) -> None:
    (project.root / "input").mkdir()
    pq.write_table(_records(NOTES, "notes"), project.root / "input" / "notes.parquet")
    pq.write_table(_records(CHAT, "chat"), project.root / "input" / "chat.parquet")
    defs = _sensor_defs(project)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("sources", ["notes", "chat"])
        instance.add_dynamic_partitions("releases", ["main", "other"])
        for sid in ("notes", "chat"):
            defs.resolve_job_def("per_source_job").execute_in_process(instance=instance, partition_key=sid)
        defs.resolve_job_def("global_job").execute_in_process(instance=instance)
        defs.resolve_job_def("release_job").execute_in_process(instance=instance, partition_key="main")
        write_release(project, "other", 1, NOTES[:1])  # holds nothing taken down below

        first = _tick(defs, instance, None, project)
        assert first.skip_reason.skip_message == "no new takedown request"

        by_id = new_request(project, doc_ids=[NOTES[3]], reason="erasure", requested_by="dpo")
        by_source = new_request(project, source="chat", reason="licence withdrawn", requested_by="legal")
        record_request(project, by_id)
        record_request(project, by_source)
        bad = project.lineage_dir / "takedowns" / "td-20250101T000000Z-0000beef.json"
        bad.write_text("{not json")

        sources_tick = _tick(defs, instance, first.cursor, project)
        assert [(r.job_name, r.partition_key) for r in sources_tick.run_requests] == [("per_source_job", "chat"), ("per_source_job", "notes")]
        assert sources_tick.run_requests[0].tags["curaline/takedown_phase"] == "sources"
        # nothing ran yet: the wave waits, and says so
        waiting = _tick(defs, instance, sources_tick.cursor, project)
        assert not waiting.run_requests and "waiting for sources runs of chat, notes" in waiting.skip_reason.skip_message
        assert f"1 unreadable request file(s): {bad}: line 1" in waiting.skip_reason.skip_message
        # ingest refuses to run while a request file is unreadable: records must not slip back in
        _launch(defs, instance, sources_tick)
        held = _tick(defs, instance, sources_tick.cursor, project)
        assert not held.run_requests
        assert "sources run for 'chat' failure" in held.skip_reason.skip_message
        bad.unlink()
        _launch(defs, instance, sources_tick)  # the operator's re-execution, same tags
        assert {s.request.id: s.status for s in statuses(project, [by_id, by_source])} == {by_id.id: "applied", by_source.id: "applied"}

        (project.root / "fail_global").touch()
        global_tick = _tick(defs, instance, sources_tick.cursor, project)
        assert [(r.job_name, r.partition_key) for r in global_tick.run_requests] == [("global_job", None)]
        _launch(defs, instance, global_tick)
        failed = _tick(defs, instance, global_tick.cursor, project)
        assert not failed.run_requests and "global run for 'global_job' failure" in failed.skip_reason.skip_message
        assert "re-execute it" in failed.skip_reason.skip_message
        (project.root / "fail_global").unlink()
        _launch(defs, instance, global_tick)  # the operator's re-execution, same tags

        release_tick = _tick(defs, instance, failed.cursor, project)
        assert [(r.job_name, r.partition_key) for r in release_tick.run_requests] == [("release_job", "main")]
        assert {s.request.id: s.status for s in statuses(project, [by_id, by_source])} == {by_id.id: "applied", by_source.id: "applied"}
        _launch(defs, instance, release_tick)

        final = _tick(defs, instance, release_tick.cursor, project)
        assert not final.run_requests and final.skip_reason.skip_message.startswith("no new takedown request")
        assert json.loads(final.cursor) == {"done": sorted([by_id.id, by_source.id]), "waves": []}
        assert {s.request.id: s.status for s in statuses(project, [by_id, by_source])} == {by_id.id: "complete", by_source.id: "complete"}
        releases = project.lineage_dir / "releases" / "release=main"
        assert sorted(pq.read_table(releases / "v2.parquet")["doc_id"].to_pylist()) == sorted(d for d in NOTES if d != NOTES[3])
        assert set(pq.read_table(releases / "v1.parquet")["doc_id"].to_pylist()) == set(NOTES + CHAT)

        # a request that is already complete when first seen requests nothing
        again = new_request(project, source="chat", reason="repeat", requested_by="legal")
        record_request(project, again)
        defs.resolve_job_def("per_source_job").execute_in_process(instance=instance, partition_key="chat")
        later = _tick(defs, instance, final.cursor, project)
        assert not later.run_requests and again.id in json.loads(later.cursor)["done"]
