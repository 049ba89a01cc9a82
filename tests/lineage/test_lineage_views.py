"""The DuckDB views: no text ever, the current ledger, and reads while a run writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from lineage_fixtures import doc_id, make_project, run_pipeline_with_lineage

from curaline.kernels.base import make_events
from curaline.ledger import LEDGER_SCHEMA, ledger_path, write_ledger
from curaline.lineage import queries
from curaline.lineage.emitter import LineageEmitter
from curaline.lineage.store import EVENTS_SCHEMA
from curaline.lineage.views import (
    EVENT_COLUMNS,
    HIDDEN_COLUMNS,
    LEDGER_COLUMNS,
    LINEAGE_VIEWS,
    ledger_files,
    open_views,
    retry_replaced,
)
from curaline.project import Project
from curaline.records import TEXT_COLUMNS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("views")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("OPENLINEAGE"):
                mp.delenv(key)
        mp.chdir(root)
        mp.setenv("HOME", str(root))
        project = make_project(root / "proj")
        run_pipeline_with_lineage(project, LineageEmitter(project))
        yield project


def view_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]


def test_no_view_exposes_a_text_column_or_any_record_text(curated: Project) -> None:
    texts: set[str] = set()
    for path in (curated.data_dir / "raw_records").glob("*/*.parquet"):
        table = pq.read_table(path)
        for name in table.column_names:
            if name in {c for cols in TEXT_COLUMNS.values() for c in cols}:
                texts |= {t for t in table[name].to_pylist() if t}
    assert "Note number 3 about curation." in texts
    con = open_views(curated)
    names = view_names(con)
    assert set(LINEAGE_VIEWS) | {"raw_records", "quarantined_records", "quality_filtered"} <= set(names)
    for name in names:
        rel = con.sql(f"SELECT * FROM {name}")
        assert not set(rel.columns) & set(HIDDEN_COLUMNS), name
        for column, dtype in zip(rel.columns, rel.dtypes, strict=True):
            if str(dtype) == "VARCHAR":
                values = {v for (v,) in con.sql(f'SELECT DISTINCT "{column}" FROM {name}').fetchall()}
                assert not values & texts, (name, column)
    # the JSON facet columns are VARCHAR too: no record text inside either
    facets = " ".join(v for (v,) in con.sql("SELECT output_facets || run_facets || job_facets FROM events").fetchall())
    assert not any(t in facets for t in texts)


def test_lineage_views_declare_the_store_schemas(curated: Project) -> None:
    con = duckdb.connect()
    ledger = next((curated.lineage_dir / "ledger").rglob("*.parquet"))
    events = next((curated.lineage_dir / "events").rglob("*.parquet"))
    for path, columns, schema in ((ledger, LEDGER_COLUMNS, LEDGER_SCHEMA), (events, EVENT_COLUMNS, EVENTS_SCHEMA)):
        rel = con.sql(f"SELECT * FROM read_parquet('{path}', hive_partitioning = false)")
        assert [n for n, _ in columns] == rel.columns == schema.names
        assert [t for _, t in columns] == [str(t) for t in rel.dtypes]


def test_views_exist_with_their_columns_before_any_run(tmp_path: Path) -> None:
    con = open_views(Project.at(tmp_path))
    assert sorted(view_names(con)) == sorted(LINEAGE_VIEWS)
    assert con.sql("SELECT count(*) FROM runs").fetchall() == [(0,)]
    assert con.sql("SELECT * FROM ledger").columns == [n for n, _ in LEDGER_COLUMNS]


def test_ledger_view_holds_only_each_stage_and_partitions_latest_run(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    ids = ["notes:00000000000000a1", "notes:00000000000000a2"]
    first = write_ledger(project, make_events(ids, "drop", "too_short"), stage="quality", partition="notes",
                         run_id="run-9")  # fmt: skip
    second = write_ledger(project, make_events(ids[:1], "drop", "too_short"), stage="quality", partition="notes",
                          run_id="run-2")  # fmt: skip
    write_ledger(project, make_events(ids[1:], "redact", "email"), stage="pii", partition="notes", run_id="run-1")
    # the order is what the files record, not their mtimes (a clone or `dvc pull` sets those anew)
    os.utime(first, ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))
    os.utime(second, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    con = open_views(project)
    current = con.sql("SELECT stage, run_id, doc_id FROM ledger ORDER BY ALL").fetchall()
    assert current == [("pii", "run-1", ids[1]), ("quality", "run-2", ids[0])]
    assert con.sql("SELECT count(*) FROM ledger_history").fetchall() == [(4,)]
    assert ledger_files(project, partition="notes", latest=False)[-2:] == [first, second]
    # a rerun with nothing to drop still supersedes: its empty file is the latest
    write_ledger(project, make_events([], "drop", "too_short"), stage="quality", partition="notes", run_id="run-0")
    assert open_views(project).sql("SELECT stage FROM ledger").fetchall() == [("pii",)]


def test_a_ledger_file_written_before_related_doc_id_reads_with_it(tmp_path: Path) -> None:
    """Old files carried the kept doc of a merge and the eval item of a contamination in `detail`."""
    project = make_project(tmp_path / "proj")
    merge = make_events(["a:0000000000000001"], "merge-into", "near_duplicate", detail="into=b:0000000000000002;cluster=c")
    path = write_ledger(project, merge, stage="deduplicated", partition=None, run_id="old")
    pq.write_table(pq.read_table(path).drop_columns(["related_doc_id"]), path)  # as the old writer wrote it
    drop = make_events(["a:0000000000000003"], "drop", "contaminated_eval_ngram",
                       detail="eval_item=ev:0000000000000004 eval_source=ev")  # fmt: skip
    old = write_ledger(project, drop, stage="decontaminated", partition=None, run_id="old")
    pq.write_table(pq.read_table(old).drop_columns(["related_doc_id"]), old)
    new = make_events(["a:0000000000000005"], "merge-into", "exact_duplicate", related_doc_id=["b:0000000000000006"])
    write_ledger(project, new, stage="deduplicated", partition="web", run_id="new")
    rows = open_views(project).sql("SELECT doc_id, related_doc_id FROM ledger_history ORDER BY doc_id").fetchall()
    assert rows == [("a:0000000000000001", "b:0000000000000002"), ("a:0000000000000003", "ev:0000000000000004"),
                    ("a:0000000000000005", "b:0000000000000006")]  # fmt: skip


def count(project: Project, what: str) -> list[tuple[int]]:
    con = open_views(project)
    try:
        return con.sql(f"SELECT count(*) FROM {what}").fetchall()
    finally:
        con.close()


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pyarrow as pa
    from curaline.kernels.base import make_events
    from curaline.ledger import write_ledger
    from curaline.lineage.store import write_run
    from curaline.project import Project
    from curaline.store import write_parquet

    project = Project.at(sys.argv[1])
    deadline = time.monotonic() + float(sys.argv[2])
    template = __import__("json").loads(Path(sys.argv[3]).read_text())
    raw = project.stage_path("raw_records", "notes") / "shard-00000.parquet"  # the one shard of its folder
    base = __import__("pyarrow.parquet").parquet.read_table(raw)
    i = 0
    while time.monotonic() < deadline:
        i += 1
        ids = [f"notes:{n:016x}" for n in range(i * 50, i * 50 + 4999)] + ["notes:00000000ffffffff"]
        write_ledger(project, make_events(ids, "drop", "writer_test"), stage="quality_filtered", partition="notes",
                     run_id=f"w{i}")
        write_parquet(raw, pa.concat_tables([base] * (1 + i % 3)))
        ev = dict(template, run=dict(template["run"], runId=f"00000000-0000-4000-8000-{i:012d}"))
        write_run(project, [ev])
        if i == 1:
            print("started", flush=True)  # the reader starts once there is something to race with
    print(i)
    """
)


#: In every ledger file the writer writes
WRITER_DOC = "notes:00000000ffffffff"


def test_queries_work_while_a_writer_process_writes(curated: Project, tmp_path: Path) -> None:
    import json

    from lineage_fixtures import read_jsonl

    from curaline.lineage.emitter import default_events_file

    template = tmp_path / "event.json"
    template.write_text(json.dumps(next(read_jsonl(default_events_file(curated)))))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(curated.root), "4", str(template)], env=env,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    reads = 0
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "started\n"
        while writer.poll() is None:
            # readers go through retry_replaced, as the CLI does: a file renamed over between
            # DuckDB reading its footer and its pages is simply read again
            (n_ledger,), = retry_replaced(lambda: count(curated, "ledger WHERE stage = 'quality_filtered' AND partition = 'notes'"))
            assert n_ledger in (4, 5000)  # the fixture's run, or a writer's: a whole file, never half of one
            (n_raw,), = retry_replaced(lambda: count(curated, "raw_records WHERE source_id = 'notes'"))
            assert n_raw in (20, 40, 60)
            retry_replaced(lambda: count(curated, "runs"))
            queries.sources_report(curated)
            queries.impact(curated, "notes")
            # the trace index: the writer's ledger hook and this reader both update it meanwhile
            written = queries.trace(curated, WRITER_DOC)["stages"]
            assert [(s["stage"], s["status"], [(e["action"], e["reason"]) for e in s["events"]]) for s in written] == [
                ("quality_filtered", "dropped", [("drop", "writer_test")])]  # fmt: skip
            kept = queries.trace(curated, doc_id("notes", "n1"))
            assert kept["origin"]["source_record_id"] == "n1" and kept["stages"][0]["status"] == "kept"
            reads += 1
    finally:
        out, _ = writer.communicate(timeout=30)
    assert writer.returncode == 0
    assert int(out) >= 3 and reads >= 3


def test_sources_counts_from_footers_equal_counts_from_the_rows(tmp_path: Path) -> None:
    from curaline.kernels.base import FLAG_ACTIONS
    from curaline.ledger import REMOVAL_ACTIONS, SUMMARY_KEY, to_ledger
    from curaline.lineage import views
    from curaline.store import write_parquet

    assert views.REMOVAL_ACTIONS == REMOVAL_ACTIONS and queries.SUMMARY_KEY == SUMMARY_KEY
    assert views.FLAG_ACTIONS == FLAG_ACTIONS
    project = Project.at(tmp_path)
    a, b = "notes:00000000000000a1", "notes:00000000000000a2"
    events = make_events([a, a, b], "drop", ["too_short", "too_long", "too_short"])
    write_ledger(project, events, stage="quality", partition="notes", run_id="r1")
    write_ledger(project, make_events([a], "redact", "email"), stage="pii", partition="notes", run_id="r1")
    flags = make_events([a, b], "flag", "tdm_reserved", detail="host=x.example; header:tdm-reservation=1")
    flagged = write_ledger(project, flags, stage="raw_records", partition="notes", run_id="r1")  # an observation
    footer = json.loads(pq.read_metadata(flagged).metadata[SUMMARY_KEY.encode()])
    assert footer["sources"] == {"notes": {"removed": 0, "changed": 0, "flagged": 2}}
    assert footer["reasons"] == {"flag": {"tdm_reserved": 2}}
    con = duckdb.connect()
    from_footers = queries.ledger_counts(project, con)
    # the same rows written without the footer counts (as files from before they existed)
    for stage, ev in (("quality", events), ("pii", make_events([a], "redact", "email")), ("raw_records", flags)):
        path = ledger_path(project, stage, "notes", "r1")
        write_parquet(path, to_ledger(ev, stage=stage, partition="notes", run_id="r1"), LEDGER_SCHEMA)
    assert from_footers == queries.ledger_counts(project, con) == {
        "notes": {"quality": {"removed": 2, "changed": 0}, "pii": {"removed": 0, "changed": 1},
                  "raw_records": {"removed": 0, "changed": 0}}}  # fmt: skip


def test_a_footer_read_from_the_replacing_file_is_retried_and_a_real_error_is_not() -> None:
    """Under load, DuckDB read one shard's footer from the file renamed over it and thrift said
    "don't know what type" (tests/test_soak.py): a read to retry, not the user's bad SQL."""
    import duckdb

    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise duckdb.InvalidInputException("Invalid Input Error: don't know what type: \x0e")
        return "read"

    assert retry_replaced(flaky) == "read" and len(calls) == 3

    def wrong() -> None:
        calls.append(1)
        duckdb.connect().execute("SELECT no_such_column FROM range(1)")

    calls.clear()
    with pytest.raises(duckdb.BinderException):
        retry_replaced(wrong)
    assert len(calls) == 1  # the user's own mistake is said at once
