"""The trace index is a cache: missing, corrupt, outdated, busy or stale, the answer is the same."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from lineage_fixtures import DAGSTER_RUN, doc_id, make_project, run_pipeline_with_lineage, shard_file

from curaline.kernels.base import make_events
from curaline.ledger import LEDGER_SCHEMA, ledger_path, to_ledger, write_ledger
from curaline.lineage import index as lineage_index
from curaline.lineage import queries
from curaline.lineage.emitter import LineageEmitter
from curaline.lineage.index import FORMAT, LineageIndex, index_path, stat_of
from curaline.project import Project
from curaline.sources import catalog_table, load_manifests
from curaline.store import write_parquet

REPO = Path(__file__).resolve().parents[2]
#: notes n3 is modified by the stage, n7 dropped, n1 untouched
DOCS = [doc_id("notes", "n3"), doc_id("notes", "n7"), doc_id("notes", "n1"), doc_id("chat", "x")]


@pytest.fixture()
def curated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    project = make_project(tmp_path / "proj")
    manifests, _ = load_manifests(project.sources_dir)
    write_parquet(project.stage_path("source_catalog"), catalog_table(manifests))
    run_pipeline_with_lineage(project, LineageEmitter(project))
    yield project


def traces(project: Project) -> list[dict[str, Any] | str]:
    out: list[dict[str, Any] | str] = []
    for d in DOCS:
        try:
            out.append(queries.trace(project, d))
        except queries.LineageQueryError as exc:
            out.append(str(exc))
    return out


def index_format(project: Project) -> str:
    con = sqlite3.connect(index_path(project))
    try:
        return str(con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0])
    finally:
        con.close()


def test_writing_a_ledger_file_indexes_it(curated: Project) -> None:
    path = ledger_path(curated, "quality_filtered", "notes", DAGSTER_RUN)
    with LineageIndex(curated) as index:
        row = index.con.execute("SELECT role, size, mtime_ns, inode, entries FROM files WHERE path = ?",
                                (path.relative_to(curated.root).as_posix(),)).fetchone()  # fmt: skip
    assert row == ("ledger", *stat_of(path), 4)  # type: ignore[misc]


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a database at all " * 100)


def _truncated(path: Path) -> None:
    with LineageIndex(Project.at(path.parents[2])):
        pass  # checkpointed on close: the whole index is in the main file
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _other_format(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = 'old' WHERE key = 'format'")
    con.commit()
    con.close()


def _missing(path: Path) -> None:
    for p in path.parent.iterdir():
        p.unlink()
    path.parent.rmdir()


@pytest.mark.parametrize("damage", [_missing, _garbage, _truncated, _other_format])
def test_a_missing_corrupt_or_outdated_index_is_rebuilt_and_the_answer_is_the_same(curated: Project, damage: Any) -> None:
    before = traces(curated)
    assert isinstance(before[0], dict) and before[0]["stages"][1]["status"] == "changed"
    assert before[3] == f"unknown doc id {DOCS[3]!r}: not in any output or ledger of {curated.root}"
    damage(index_path(curated))
    assert traces(curated) == before
    assert index_format(curated) == FORMAT


def test_a_changed_or_removed_ledger_file_is_reindexed_before_it_is_read(curated: Project) -> None:
    path = ledger_path(curated, "quality_filtered", "notes", DAGSTER_RUN)
    n3, n7 = DOCS[0], DOCS[1]
    # rewritten in place by something other than write_ledger: the index cannot know but by its stat
    events = make_events([n3], "drop", "rewritten_rule", value=[2.5], threshold=1.0, detail="by hand")
    write_parquet(path, to_ledger(events, stage="quality_filtered", partition="notes", run_id=DAGSTER_RUN), LEDGER_SCHEMA)
    t = queries.trace(curated, n3)
    assert [(s["stage"], s["status"], [(e["action"], e["reason"], e["value"], e["detail"]) for e in s["events"]])
            for s in t["stages"]] == [("raw_records", "kept", []),  # n3 is still in both outputs: "kept", with the row
                                      ("quality_filtered", "kept", [("drop", "rewritten_rule", 2.5, "by hand")])]  # fmt: skip
    assert [s["stage"] for s in queries.trace(curated, n7)["stages"]] == ["raw_records"]  # its row is gone
    path.unlink()
    assert [(s["stage"], s["events"]) for s in queries.trace(curated, n3)["stages"]] == [
        ("raw_records", []), ("quality_filtered", [])]  # fmt: skip
    with LineageIndex(curated) as index:
        assert index.prune() == 1
        known = [k for (k,) in index.con.execute("SELECT path FROM files WHERE role = 'ledger'")]
    assert path.relative_to(curated.root).as_posix() not in known


def test_a_busy_index_answers_from_memory(curated: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = shard_file(curated, "raw_records", "notes")
    write_parquet(raw, pq.read_table(raw))  # same rows, a new file (whose version lineage never recorded)
    before = traces(curated)
    write_parquet(raw, pq.read_table(raw))  # and again: the reader must re-index it, but cannot write
    monkeypatch.setattr(lineage_index, "BUSY_TIMEOUT_S", 0.05)
    blocker = sqlite3.connect(index_path(curated), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process writing for longer than a reader waits
    try:
        assert traces(curated) == before
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert traces(curated) == before


def test_the_index_holds_no_record_text(curated: Project) -> None:
    traces(curated)
    texts = {t for p in (curated.data_dir / "raw_records").glob("*/*.parquet")
             for name in ("text", "prompt", "response") if name in pq.read_schema(p).names
             for t in pq.read_table(p, columns=[name])[name].to_pylist() if t}  # fmt: skip
    assert "Note number 3 about curation." in texts
    with LineageIndex(curated):
        pass
    blob = b"".join(p.read_bytes() for p in index_path(curated).parent.iterdir())
    assert not [t for t in texts if t.encode() in blob]


def test_a_cli_trace_starts_neither_duckdb_nor_pyarrow(curated: Project) -> None:
    traces(curated)  # the index is warm, as after any run
    probe = (
        "import sys\n"
        "from curaline.cli import main\n"
        "try:\n"
        f"    main(['lineage', 'trace', {DOCS[0]!r}, '--project', {str(curated.root)!r}, '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'numpy', 'dagster') if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "[]"
    assert json.loads(proc.stdout)["doc_id"] == DOCS[0]


def test_a_global_file_holding_several_sources_is_exact(curated: Project) -> None:
    # one file, two sources whose ids share the 16 hex digits: each trace sees only its own rows
    twin_notes, twin_chat = "notes:00000000000000ab", "chat:00000000000000ab"
    events = make_events([twin_chat, twin_notes, twin_notes], "merge-into", ["near_duplicate", "exact", "near_duplicate"],
                         detail=["kept=chat:1", "kept=notes:1", "kept=notes:2"])  # fmt: skip
    write_ledger(curated, events, stage="deduplicated", partition=None, run_id="run-g")
    rows = {d: [(e["reason"], e["detail"]) for s in queries.trace(curated, d)["stages"] for e in s["events"]]
            for d in (twin_notes, twin_chat)}  # fmt: skip
    assert rows == {twin_notes: [("exact", "kept=notes:1"), ("near_duplicate", "kept=notes:2")],
                    twin_chat: [("near_duplicate", "kept=chat:1")]}  # fmt: skip


@pytest.mark.parametrize(
    ("relative", "content", "message"),
    [
        ("lineage/ledger/stage=quality_filtered/partition=notes/run=broken.parquet", b"PAR1 not really",
         "not a readable parquet file"),
        ("lineage/releases/release=r1/v1.json", b'{"name": "r1", "version": ',
         "not a JSON release manifest"),
    ],
)  # fmt: skip
def test_an_unreadable_lineage_file_is_a_one_line_error_naming_it(curated: Project, relative: str, content: bytes,
                                                                    message: str) -> None:  # fmt: skip
    from click.testing import CliRunner

    from curaline.lineage.cli import lineage

    path = curated.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    result = CliRunner().invoke(lineage, ["trace", DOCS[0], "--project", str(curated.root)])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"curaline: error: {path}: {message} (")
