"""Lineage knows release versions: which versions hold a record, when and why one lost it.

A tmp project with contract-conformant release files: r1 v1 holds notes A and B and forum
F; B is then taken down (ingest drops it and writes its `takedown` ledger row, as
`curaline.takedown` does), and r1 v2 holds A and F only; r2 v1 (blocked) holds A.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from lineage_fixtures import (
    doc_id,
    make_project,
    release_record,
    run_pipeline_with_lineage,
    shard_file,
    write_release_version,
)

from curaline.kernels.base import make_events
from curaline.ledger import ledger_path, write_ledger
from curaline.lineage.cli import lineage
from curaline.lineage.emitter import LineageEmitter
from curaline.project import Project
from curaline.sources import catalog_table, load_manifests
from curaline.store import write_parquet

A, B, F = doc_id("notes", "n1"), doc_id("notes", "n2"), doc_id("forum", "f1")
V1_AT = "2024-03-01T09:00:00+00:00"
REQUEST = "td-20240302T100000Z-0123abcd"
TAKEDOWN_RUN = "7d1f0c2e-2b1a-4c55-9a0e-5b9d7c3e1f00"
OTHER_RELEASE_RUN = "0e9b1d2c-7a64-4f3e-8c21-9d8e7f6a5b40"


def forum(doc: str) -> dict[str, object]:
    return release_record(doc, source="forum", license="CC-BY-SA-4.0", license_class="share-alike")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, str]]:
    root = tmp_path_factory.mktemp("releases")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("OPENLINEAGE"):
                mp.delenv(key)
        mp.chdir(root)
        mp.setenv("HOME", str(root))
        project = make_project(root / "proj")
        manifests, _ = load_manifests(project.sources_dir)
        write_parquet(project.stage_path("source_catalog"), catalog_table(manifests))
        run_pipeline_with_lineage(project, LineageEmitter(project))
        write_release_version(project, "r1", 1, [release_record(A), release_record(B, "validation", 2),
                                                 forum(F)], created_at=V1_AT)  # fmt: skip
        # B is taken down: ingest leaves it out of its output and says so in the ledger
        for stage in ("raw_records", "quality_filtered"):
            path = shard_file(project, stage, "notes")
            table = pq.read_table(path)
            write_parquet(path, table.filter(pc.not_equal(table["doc_id"], B)))
        write_ledger(project, make_events([B], "takedown", "takedown_request", detail=REQUEST),
                     stage="raw_records", partition="notes", run_id=TAKEDOWN_RUN)  # fmt: skip
        # another release's build left B out: that is not why r1 lost it
        write_ledger(project, make_events([B], "drop", "mix_downsampled"), stage="release", partition="r2",
                     run_id=OTHER_RELEASE_RUN)  # fmt: skip
        v2_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)).isoformat(timespec="seconds")
        write_release_version(project, "r1", 2, [release_record(A), forum(F)], created_at=v2_at)
        write_release_version(project, "r2", 1, [release_record(A, "test")], created_at=v2_at, status="blocked",
                              use="commercial")  # fmt: skip
        yield project, v2_at


def cli(project: Project, *args: str) -> Result:
    return CliRunner().invoke(lineage, [*args, "--project", str(project.root)])


def as_json(project: Project, *args: str) -> object:
    result = cli(project, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def recorded_at(project: Project, stage: str, partition: str, run_id: str) -> str:
    return pq.read_table(ledger_path(project, stage, partition, run_id))["recorded_at"][0].as_py().isoformat()


def test_trace_of_a_taken_down_record_names_the_version_that_lost_it_and_why(released: tuple[Project, str]) -> None:
    project, _ = released
    takedown_at = recorded_at(project, "raw_records", "notes", TAKEDOWN_RUN)
    t = as_json(project, "trace", B)
    assert isinstance(t, dict)
    assert t["origin"] is None  # no longer in the current raw_records output
    takedown = {"action": "takedown", "reason": "takedown_request", "value": None, "threshold": None,
                "detail": REQUEST, "related_doc_id": None, "partition": "notes", "run_id": TAKEDOWN_RUN,
                "recorded_at": takedown_at}  # fmt: skip
    assert t["stages"] == [
        {"stage": "raw_records", "status": "taken down", "events": [takedown]},
        {"stage": "release", "status": "dropped", "events": [
            {"action": "drop", "reason": "mix_downsampled", "value": None, "threshold": None, "detail": None,
             "related_doc_id": None,
             "partition": "r2", "run_id": OTHER_RELEASE_RUN,
             "recorded_at": recorded_at(project, "release", "r2", OTHER_RELEASE_RUN)}]},
    ]  # fmt: skip
    assert t["releases"] == [{"release": "r1", "version": 1, "split": "validation", "copies": 2, "status": "released",
                              "created_at": V1_AT, "latest": False}]  # fmt: skip
    assert t["removed_from_releases"] == [{
        "release": "r1", "last_version": 1, "first_version_without": 2, "latest_version": 2,
        "removed_by": [{"stage": "raw_records", **takedown, "current": True}]}]  # fmt: skip

    text = cli(project, "trace", B).stdout.splitlines()
    assert "origin   not in the current raw_records output (see history)" in text
    i = text.index("release  version  split       copies  status                created")
    assert text[i + 2 :] == [
        "r1       v1       validation  2       released, superseded  2024-03-01T09:00:00",
        f"removed  from r1 in v2 (last in v1, latest v2): takedown takedown_request at raw_records ({REQUEST})",
        # this fixture writes the ledger row alone: the trace says the request file is missing, not who asked
        f"takedown {REQUEST}: request file unreadable: [Errno 2] No such file or directory: "
        f"'{project.lineage_dir / 'takedowns' / (REQUEST + '.json')}'",
    ]
    assert [td["id"] for td in t["takedowns"]] == [REQUEST] and "problem" in t["takedowns"][0]


def test_trace_of_a_kept_record_lists_every_version_holding_it(released: tuple[Project, str]) -> None:
    project, v2_at = released
    t = as_json(project, "trace", A)
    assert isinstance(t, dict)
    assert t["releases"] == [
        {"release": "r1", "version": 1, "split": "train", "copies": 1, "status": "released", "created_at": V1_AT,
         "latest": False},
        {"release": "r1", "version": 2, "split": "train", "copies": 1, "status": "released", "created_at": v2_at,
         "latest": True},
        {"release": "r2", "version": 1, "split": "test", "copies": 1, "status": "blocked", "created_at": v2_at,
         "latest": True},
    ]  # fmt: skip
    assert t["removed_from_releases"] == []
    assert [(s["stage"], s["status"]) for s in t["stages"]] == [("raw_records", "kept"), ("quality_filtered", "kept")]
    text = cli(project, "trace", A).stdout.splitlines()
    i = text.index("release  version  split  copies  status                created")
    assert text[i + 2 :] == [
        "r1       v1       train  1       released, superseded  2024-03-01T09:00:00",
        f"r1       v2       train  1       released              {v2_at[:19]}",
        f"r2       v1       test   1       blocked               {v2_at[:19]}",
    ]


def test_impact_lists_the_release_versions_holding_the_source(released: tuple[Project, str]) -> None:
    project, v2_at = released
    result = as_json(project, "impact", "notes")
    assert isinstance(result, dict)
    assert result["releases"] == [
        {"release": "r1", "version": 1, "records": 2, "rows": 3, "status": "released", "created_at": V1_AT,
         "latest": False},
        {"release": "r1", "version": 2, "records": 1, "rows": 1, "status": "released", "created_at": v2_at,
         "latest": True},
        {"release": "r2", "version": 1, "records": 1, "rows": 1, "status": "blocked", "created_at": v2_at,
         "latest": True},
    ]  # fmt: skip
    forum = as_json(project, "impact", "forum")
    assert [(r["release"], r["version"], r["records"], r["latest"]) for r in forum["releases"]] == [  # type: ignore[index]
        ("r1", 1, 1, False), ("r1", 2, 1, True)]  # fmt: skip
    text = cli(project, "impact", "notes").stdout.splitlines()
    i = text.index("release  version  status                records  rows")
    assert text[i + 2 :] == [
        "r1       v1       released, superseded  2        3",
        "r1       v2       released              1        1",
        "r2       v1       blocked               1        1",
    ]


def test_sources_of_a_release_version_default_to_the_latest(released: tuple[Project, str]) -> None:
    project, _ = released

    def in_release(*args: str) -> list[tuple[object, ...]]:
        rows = as_json(project, "sources", *args)
        assert isinstance(rows, list)
        return [(r["source"], r["release"], r["release_version"], r["in_release"]) for r in rows]

    assert in_release("--release", "r1") == [("forum", "r1", 2, 1), ("notes", "r1", 2, 1)]
    assert in_release("--release", "r1@v1") == [("forum", "r1", 1, 1), ("notes", "r1", 1, 2)]
    assert in_release("--release", "r1@2") == in_release("--release", "r1")
    assert in_release("--release", "r2") == [("notes", "r2", 1, 1)]
    every = as_json(project, "sources")
    assert isinstance(every, list)
    notes = next(r for r in every if r["source"] == "notes")
    # the takedown happened at ingest: read, never ingested; the other release's choice is no removal
    assert notes == {**notes, "read": 20, "ingested": 19, "removed_by_stage": {"raw_records": 1, "quality_filtered": 2},
                     "kept": 17}  # fmt: skip
    header = cli(project, "sources", "--release", "r1@v1").stdout.splitlines()[0]
    assert header.split() == ["source", "license", "class", "obtained", "read", "quarantined", "removed", "by",
                              "stage", "kept", "in", "r1@v1"]  # fmt: skip


@pytest.mark.parametrize(
    ("release", "message"),
    [
        ("r9", "unknown release 'r9' (releases: r1, r2)"),
        ("r1@v3", "release 'r1' has no version v3 (versions: v1, v2)"),
        ("r1@latest", "bad release 'r1@latest': use NAME or NAME@vN"),
    ],
)
def test_a_bad_release_reference_is_a_one_line_error(released: tuple[Project, str], release: str, message: str) -> None:
    result = cli(released[0], "sources", "--release", release)
    assert (result.exit_code, result.stderr.splitlines(), result.stdout) == (2, [f"curaline: error: {message}"], "")


def test_releases_and_release_records_views(released: tuple[Project, str]) -> None:
    project, v2_at = released
    rows = as_json(project, "sql", "SELECT * FROM releases")
    assert isinstance(rows, list)
    for row in rows:
        row["created_at"] = dt.datetime.fromisoformat(row["created_at"])
    at1, at2 = dt.datetime.fromisoformat(V1_AT), dt.datetime.fromisoformat(v2_at)
    assert rows == [
        {"release": "r1", "version": 1, "created_at": at1, "records": 3, "tokens": 40, "status": "released",
         "superseded": True, "dvc_md5": f"{1:032x}.dir", "git_tag": "release/r1/v1"},
        {"release": "r1", "version": 2, "created_at": at2, "records": 2, "tokens": 20, "status": "released",
         "superseded": False, "dvc_md5": f"{2:032x}.dir", "git_tag": "release/r1/v2"},
        {"release": "r2", "version": 1, "created_at": at2, "records": 1, "tokens": 10, "status": "blocked",
         "superseded": False, "dvc_md5": f"{1:032x}.dir", "git_tag": "release/r2/v1"},
    ]  # fmt: skip
    records = as_json(project, "sql", "SELECT release, version, doc_id, split, copies FROM release_records "
                                      "WHERE source_id = 'notes' ORDER BY ALL")  # fmt: skip
    assert records == [
        {"release": "r1", "version": 1, "doc_id": A, "split": "train", "copies": 1},
        {"release": "r1", "version": 1, "doc_id": B, "split": "validation", "copies": 2},
        {"release": "r1", "version": 2, "doc_id": A, "split": "train", "copies": 1},
        {"release": "r2", "version": 1, "doc_id": A, "split": "test", "copies": 1},
    ]  # fmt: skip


def test_sql_help_documents_every_lineage_view() -> None:
    from curaline.lineage.views import LINEAGE_VIEWS, VIEW_DOCS

    assert list(VIEW_DOCS) == list(LINEAGE_VIEWS)
    help_text = CliRunner().invoke(lineage, ["sql", "--help"]).stdout
    assert all(f"  {name} " in help_text for name in LINEAGE_VIEWS)
    assert "superseded" in help_text and "license_class" in help_text


def test_releases_view_is_empty_with_its_columns_before_any_release(tmp_path: Path) -> None:
    from curaline.lineage.views import RELEASES_COLUMNS, open_views

    con = open_views(Project.at(tmp_path))
    assert con.sql("SELECT * FROM releases").columns == [n for n, _ in RELEASES_COLUMNS]
    assert con.sql("SELECT count(*) FROM releases").fetchall() == [(0,)]
